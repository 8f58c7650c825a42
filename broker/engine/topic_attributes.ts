/**
 * Topic and subscription attribute validation and defaults (the API contract's "Topics" and "Limits and
 * defaults"). The service checks a request with these before proposing; the state machine runs
 * the same checks on the command, so a command that reached the log can never make an invalid
 * topic or subscription.
 *
 * Decisions where the API contract is silent:
 * - `filterType` and a subscription's `endpoint` are immutable (CMQ fixes both at creation).
 * - `filterTags` on a routing-key topic and `bindingKeys` on a tag topic are refused rather than
 *   ignored: a filter that silently does nothing is worse than an error.
 * - `retryPolicy` and `format` belong to URL endpoints; a queue endpoint refuses them (CMQ
 *   allows only `SIMPLIFIED` there, which is what a queue copy is anyway). URL endpoints default
 *   to `exponentialDecay` and `json`.
 * - A URL is `http:` or `https:`, absolute, at most 1024 bytes, without credentials (they would
 *   show in every subscription listing) and without a fragment.
 *
 * @module
 */
import { invalidParameter } from "./errors.ts";
import { namePattern, subscriptionLimits, topicLimits } from "./limits.ts";
import { checkInteger } from "./queue_attributes.ts";
import { utf8ByteLength, validateBindingKeys, validateFilterTags } from "./topic_filter.ts";
import type {
  PushFormat,
  RetryPolicy,
  SubscriptionAttributes,
  SubscriptionAttributesInput,
  SubscriptionEndpoint,
  TopicAttributes,
  TopicAttributesInput,
  TopicFilterType,
} from "./types.ts";

const topicKeys = new Set(["filterType", "maxMessageBytes", "retentionSeconds"]);
const subscriptionKeys = new Set([
  "endpoint",
  "filterTags",
  "bindingKeys",
  "retryPolicy",
  "format",
]);
const filterTypes: readonly TopicFilterType[] = ["tag", "routingKey"];
const retryPolicies: readonly RetryPolicy[] = ["exponentialDecay", "backoff"];
const pushFormats: readonly PushFormat[] = ["json", "simplified"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw invalidParameter(field, `must be one of ${allowed.map((v) => `"${v}"`).join(", ")}`);
  }
  return value as T;
}

/** Checks a topic create/update body; returns a clean copy (known keys only). */
export function checkTopicAttributesInput(input: unknown): TopicAttributesInput {
  if (input === undefined || input === null) return {};
  if (!isRecord(input)) throw invalidParameter("attributes", "must be an object");
  const clean: TopicAttributesInput = {};
  for (const [key, value] of Object.entries(input)) {
    if (!topicKeys.has(key)) throw invalidParameter(key, "unknown attribute");
    if (value === undefined) continue;
    if (key === "filterType") clean.filterType = checkEnum(value, filterTypes, key);
    else if (key === "maxMessageBytes") {
      checkInteger(value, topicLimits.maxMessageBytes, key);
      clean.maxMessageBytes = value as number;
    } else {
      checkInteger(value, topicLimits.retentionSeconds, key);
      clean.retentionSeconds = value as number;
    }
  }
  return clean;
}

/** The attributes of a new topic: defaults for what `input` leaves out. */
export function resolveTopicCreate(input: unknown): TopicAttributes {
  const clean = checkTopicAttributesInput(input);
  return {
    filterType: clean.filterType ?? "tag",
    maxMessageBytes: clean.maxMessageBytes ?? topicLimits.maxMessageBytes.default,
    retentionSeconds: clean.retentionSeconds ?? topicLimits.retentionSeconds.default,
  };
}

/** `current` with an update applied (`filterType` is immutable). */
export function resolveTopicUpdate(current: TopicAttributes, input: unknown): TopicAttributes {
  const clean = checkTopicAttributesInput(input);
  if (clean.filterType !== undefined && clean.filterType !== current.filterType) {
    throw invalidParameter("filterType", "is immutable");
  }
  return { ...current, ...clean };
}

/** Equality of resolved topic attributes (create idempotency). */
export function sameTopicAttributes(left: TopicAttributes, right: TopicAttributes): boolean {
  return left.filterType === right.filterType && left.maxMessageBytes === right.maxMessageBytes &&
    left.retentionSeconds === right.retentionSeconds;
}

/** Checks a push URL; returns it unchanged. */
export function checkPushUrl(value: unknown, field = "endpoint.url"): string {
  if (typeof value !== "string" || value.length === 0) {
    throw invalidParameter(field, "must be a non-empty string");
  }
  if (utf8ByteLength(value) > subscriptionLimits.urlBytesMax) {
    throw invalidParameter(field, `at most ${subscriptionLimits.urlBytesMax} bytes`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidParameter(field, "must be an absolute http or https URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidParameter(field, "must be an http or https URL");
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidParameter(field, "must not carry credentials");
  }
  if (url.hash !== "") throw invalidParameter(field, "must not have a fragment");
  return value;
}

function checkEndpoint(value: unknown): SubscriptionEndpoint {
  if (!isRecord(value)) throw invalidParameter("endpoint", "must be {queue} or {url}");
  const keys = Object.keys(value);
  for (const key of keys) {
    if (key !== "queue" && key !== "url") {
      throw invalidParameter(`endpoint.${key}`, "unknown field");
    }
  }
  if (keys.length !== 1) throw invalidParameter("endpoint", "give exactly one of queue and url");
  if (keys[0] === "queue") {
    if (typeof value.queue !== "string" || !namePattern.test(value.queue)) {
      throw invalidParameter(
        "endpoint.queue",
        "must be 1-64 characters: a letter, then letters, digits, '-' or '_'",
      );
    }
    return { queue: value.queue };
  }
  return { url: checkPushUrl(value.url) };
}

/** A filter validator's message as an `InvalidParameter` with a dotted field (`filterTags.2`). */
export function filterProblem(message: string, prefix = ""): never {
  const named = /^([A-Za-z]+)(?:\[(\d+)\])?:/.exec(message);
  const field = named === null
    ? prefix.replace(/\.$/, "") || "body"
    : `${prefix}${named[1]}${named[2] === undefined ? "" : `.${named[2]}`}`;
  throw invalidParameter(field, message.slice(named?.[0].length ?? 0).trim());
}

function checkStringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw invalidParameter(field, "must be an array of strings");
  value.forEach((item, index) => {
    if (typeof item !== "string") throw invalidParameter(`${field}.${index}`, "must be a string");
  });
  return [...value];
}

/**
 * Checks a subscribe or subscription update body against the topic's filter type; returns a
 * clean copy. Rules that need the endpoint (retry policy and format only for URLs) are in
 * `resolveSubscription`.
 */
export function checkSubscriptionInput(
  input: unknown,
  filterType: TopicFilterType,
): SubscriptionAttributesInput {
  if (input === undefined || input === null) return {};
  if (!isRecord(input)) throw invalidParameter("body", "must be an object");
  const clean: SubscriptionAttributesInput = {};
  for (const [key, value] of Object.entries(input)) {
    if (!subscriptionKeys.has(key)) throw invalidParameter(key, "unknown field");
    if (value === undefined) continue;
    if (key === "endpoint") clean.endpoint = checkEndpoint(value);
    else if (key === "retryPolicy") clean.retryPolicy = checkEnum(value, retryPolicies, key);
    else if (key === "format") clean.format = checkEnum(value, pushFormats, key);
    else if (key === "filterTags") {
      if (filterType !== "tag") {
        throw invalidParameter(key, "the topic filters by routingKey; use bindingKeys");
      }
      clean.filterTags = checkStringList(value, key);
      const problem = validateFilterTags(clean.filterTags);
      if (problem !== null) filterProblem(problem);
    } else {
      if (filterType !== "routingKey") {
        throw invalidParameter(key, "the topic filters by tag; use filterTags");
      }
      clean.bindingKeys = checkStringList(value, key);
      const problem = validateBindingKeys(clean.bindingKeys);
      if (problem !== null) filterProblem(problem);
    }
  }
  return clean;
}

/**
 * The attributes of a subscription: `current` (absent on create, where `endpoint` is required)
 * with `input` applied, defaults filled in for URL endpoints.
 */
export function resolveSubscription(
  current: SubscriptionAttributes | undefined,
  input: unknown,
  filterType: TopicFilterType,
): SubscriptionAttributes {
  const clean = checkSubscriptionInput(input, filterType);
  if (current === undefined && clean.endpoint === undefined) {
    throw invalidParameter("endpoint", "is required: {queue} or {url}");
  }
  if (
    current !== undefined && clean.endpoint !== undefined &&
    JSON.stringify(clean.endpoint) !== JSON.stringify(current.endpoint)
  ) {
    throw invalidParameter("endpoint", "is immutable; unsubscribe and subscribe again");
  }
  const endpoint = current?.endpoint ?? clean.endpoint!;
  const resolved: SubscriptionAttributes = {
    endpoint,
    filterTags: clean.filterTags ?? current?.filterTags ?? [],
    bindingKeys: clean.bindingKeys ?? current?.bindingKeys ?? [],
  };
  if ("url" in endpoint) {
    resolved.retryPolicy = clean.retryPolicy ?? current?.retryPolicy ?? "exponentialDecay";
    resolved.format = clean.format ?? current?.format ?? "json";
  } else {
    if (clean.retryPolicy !== undefined) {
      throw invalidParameter("retryPolicy", "applies to url endpoints only");
    }
    if (clean.format !== undefined) {
      throw invalidParameter("format", "applies to url endpoints only");
    }
  }
  return resolved;
}

/** Canonical form of resolved subscription attributes (idempotency, snapshots). */
export function canonicalSubscription(attributes: SubscriptionAttributes): string {
  return JSON.stringify([
    "queue" in attributes.endpoint ? ["queue", attributes.endpoint.queue] : [
      "url",
      attributes.endpoint.url,
    ],
    attributes.filterTags,
    attributes.bindingKeys,
    attributes.retryPolicy ?? null,
    attributes.format ?? null,
  ]);
}
