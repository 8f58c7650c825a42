/**
 * Request validation of the topic calls: every rule that can be checked before proposing, with
 * the field path in the error (`messages.3.tags.0`). Nothing is proposed when one fails. The
 * rules of tags and keys are the engine's (`topic_filter.ts`); this adds shapes and sizes.
 *
 * @module
 */
import {
  BrokerError,
  filterProblem,
  invalidParameter,
  messageLimits,
  type PublishCommandMessage,
  type TopicFilterType,
  utf8ByteLength,
  validateMessageTags,
  validateRoutingKey,
} from "../engine/mod.ts";
import { checkBatch, checkMessageAttributes, checkWellFormed, isRecord } from "./validation.ts";

const entryKeys = new Set(["body", "tags", "routingKey", "attributes"]);

function checkTags(value: unknown, field: string, filterType: TopicFilterType): string[] {
  if (filterType !== "tag") {
    throw invalidParameter(field, "the topic filters by routingKey; use routingKey");
  }
  if (!Array.isArray(value)) throw invalidParameter(field, "must be an array of strings");
  value.forEach((tag, index) => {
    if (typeof tag !== "string") throw invalidParameter(`${field}.${index}`, "must be a string");
  });
  const problem = validateMessageTags(value);
  if (problem !== null) filterProblem(problem, field.slice(0, -"tags".length));
  return [...value];
}

function checkRoutingKey(value: unknown, field: string, filterType: TopicFilterType): string {
  if (filterType !== "routingKey") {
    throw invalidParameter(field, "the topic filters by tag; use tags");
  }
  if (typeof value !== "string") throw invalidParameter(field, "must be a string");
  const problem = validateRoutingKey(value);
  if (problem !== null) filterProblem(problem, field.slice(0, -"routingKey".length));
  return value;
}

/**
 * Validates a publish batch against the topic's `maxMessageBytes` and filter type; returns the
 * clean messages.
 */
export function checkPublishEntries(
  value: unknown,
  topic: { maxMessageBytes: number; filterType: TopicFilterType },
): PublishCommandMessage[] {
  const entries = checkBatch(value, "messages");
  let totalBytes = 0;
  return entries.map((entry, index) => {
    const field = `messages.${index}`;
    if (!isRecord(entry)) throw invalidParameter(field, "must be an object");
    for (const key of Object.keys(entry)) {
      if (!entryKeys.has(key)) throw invalidParameter(`${field}.${key}`, "unknown field");
    }
    if (typeof entry.body !== "string") throw invalidParameter(`${field}.body`, "must be a string");
    checkWellFormed(entry.body, `${field}.body`);
    const bytes = utf8ByteLength(entry.body);
    if (bytes > topic.maxMessageBytes) {
      throw new BrokerError(
        "MessageTooLarge",
        `${field}.body: ${bytes} bytes exceed maxMessageBytes ${topic.maxMessageBytes}`,
        { field: `${field}.body` },
      );
    }
    totalBytes += bytes;
    if (totalBytes > messageLimits.requestBytesMax) {
      throw new BrokerError(
        "RequestTooLarge",
        `messages: more than ${messageLimits.requestBytesMax} bytes`,
        { field: "messages" },
      );
    }
    const message: PublishCommandMessage = { body: entry.body };
    if (entry.tags !== undefined) {
      message.tags = checkTags(entry.tags, `${field}.tags`, topic.filterType);
    }
    if (entry.routingKey !== undefined) {
      message.routingKey = checkRoutingKey(
        entry.routingKey,
        `${field}.routingKey`,
        topic.filterType,
      );
    }
    if (entry.attributes !== undefined) {
      message.attributes = checkMessageAttributes(entry.attributes, `${field}.attributes`);
    }
    return message;
  });
}

/**
 * The text of a new subscription's URL, beyond what the engine's `checkPushUrl` checks (which
 * the engine also applies to entries already in logs, so it stays as it was): whitespace,
 * control characters, backslashes and lone surrogates are refused rather than cleaned up by the
 * URL parser, and so are an empty fragment (`…/#`) or empty credentials (`http://:@host/`),
 * which the parsed URL no longer shows, a scheme not followed by exactly `//` (the parser would find
 * the host elsewhere than a reader does), and port 0 (nothing listens there). The URL is stored as
 * given and pushed to as the URL parser reads it.
 */
export function checkPushUrlText(url: unknown, field = "endpoint.url"): void {
  if (typeof url !== "string") return; // the engine's check names the mistake
  if (!url.isWellFormed()) throw invalidParameter(field, "must be well-formed Unicode");
  // deno-lint-ignore no-control-regex -- control characters are what it looks for
  if (/[\s\u0000-\u001f\u007f\\]/.test(url)) {
    throw invalidParameter(field, "must not contain whitespace, control characters or backslashes");
  }
  if (url.includes("#")) throw invalidParameter(field, "must not have a fragment");
  const scheme = /^https?:/i.exec(url)?.[0]; // other schemes: the engine's check refuses them
  // `http:host/`, `http:/host/` and `http:///host/` parse as `http://host/`: the host is where the
  // parser finds it, not where a reader does (and `http:/:@host/` hides empty credentials).
  if (scheme !== undefined && !/^\/\/[^/]/.test(url.slice(scheme.length))) {
    throw invalidParameter(field, `must have exactly two slashes after '${scheme}'`);
  }
  const authority = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").split(/[/?]/, 1)[0];
  if (authority.includes("@")) throw invalidParameter(field, "must not carry credentials");
  if (URL.parse(url)?.port === "0") throw invalidParameter(field, "must not name port 0");
}
