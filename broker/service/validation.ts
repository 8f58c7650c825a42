/**
 * Request validation of the service: every rule of the API contract that can be checked before proposing,
 * with the field path in the error (`messages.3.body`). Nothing is proposed when one fails.
 *
 * @module
 */
import {
  BrokerError,
  checkInteger,
  invalidParameter,
  listLimits,
  messageLimits,
  namePattern,
  type SendCommandMessage,
  utf8,
} from "../engine/mod.ts";
import type {
  ReceiveMessagesRequest,
  RedriveRequest,
  VisibilityEntry,
} from "../../sdk/protocol.ts";
import type { ListQueuesOptions } from "./types.ts";
import { refuseReservedKey } from "./reserved_keys.ts";

const entryKeys = new Set(["body", "delaySeconds", "groupId", "dedupId", "attributes"]);

/** Throws unless `name` is a valid queue name. */
export function checkName(name: unknown, field = "queue"): string {
  if (typeof name !== "string" || !namePattern.test(name)) {
    throw invalidParameter(
      field,
      "must be 1-64 characters: a letter, then letters, digits, '-' or '_'",
    );
  }
  return name;
}

/** True for a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Throws unless `value` is an array of 1..256 entries (BatchTooLarge above). */
export function checkBatch(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw invalidParameter(field, "must be an array");
  if (value.length === 0) throw invalidParameter(field, "must not be empty");
  if (value.length > messageLimits.batchEntriesMax) {
    throw new BrokerError(
      "BatchTooLarge",
      `${field}: ${value.length} entries, at most ${messageLimits.batchEntriesMax}`,
      { field },
    );
  }
  return value;
}

function checkText(value: unknown, field: string, charsMax: number): string {
  if (typeof value !== "string") throw invalidParameter(field, "must be a string");
  if (value.length === 0 || value.length > charsMax) {
    throw invalidParameter(field, `must be 1-${charsMax} characters`);
  }
  checkWellFormed(value, field);
  return value;
}

/**
 * Refuses a lone surrogate: stored as UTF-8 it would come back as U+FFFD, another text than was
 * sent (two dedupIds or groupIds differing only there would even become one).
 */
export function checkWellFormed(value: string, field: string): void {
  if (!value.isWellFormed()) {
    throw invalidParameter(field, "must be well-formed Unicode (a lone surrogate)");
  }
}

/** Validates message attributes (≤ 10 string pairs, none named `__proto__`); returns a clean copy. */
export function checkMessageAttributes(value: unknown, field: string): Record<string, string> {
  if (!isRecord(value)) throw invalidParameter(field, "must be an object of strings");
  const entries = Object.entries(value);
  if (entries.length > messageLimits.attributesMax) {
    throw invalidParameter(field, `at most ${messageLimits.attributesMax} attributes`);
  }
  refuseReservedKey(value, field);
  const clean: [string, string][] = [];
  for (const [key, text] of entries) {
    checkText(key, `${field}.${key}`, messageLimits.attributeKeyCharsMax);
    if (typeof text !== "string") throw invalidParameter(`${field}.${key}`, "must be a string");
    checkWellFormed(text, `${field}.${key}`);
    if (text.length > messageLimits.attributeValueCharsMax) {
      throw invalidParameter(
        `${field}.${key}`,
        `at most ${messageLimits.attributeValueCharsMax} characters`,
      );
    }
    clean.push([key, text]);
  }
  return Object.fromEntries(clean);
}

/** Validates a send batch against the queue's `maxMessageBytes`; returns the clean messages. */
export function checkSendEntries(value: unknown, maxMessageBytes: number): SendCommandMessage[] {
  const entries = checkBatch(value, "messages");
  let boundBytes = 0;
  let withinBound = true;
  for (const entry of entries) {
    const length = isRecord(entry) && typeof entry.body === "string" ? entry.body.length : 0;
    boundBytes += 3 * length;
    if (3 * length > maxMessageBytes) withinBound = false;
  }
  if (boundBytes > messageLimits.requestBytesMax) withinBound = false;
  let totalBytes = 0;
  return entries.map((entry, index) => {
    const field = `messages.${index}`;
    if (!isRecord(entry)) throw invalidParameter(field, "must be an object");
    for (const key of Object.keys(entry)) {
      if (!entryKeys.has(key)) throw invalidParameter(`${field}.${key}`, "unknown field");
    }
    if (typeof entry.body !== "string") throw invalidParameter(`${field}.body`, "must be a string");
    checkWellFormed(entry.body, `${field}.body`);
    // A UTF-16 code unit is at most 3 UTF-8 bytes: a batch whose bound passes both limits needs
    // no exact count (the command encoder writes the bytes anyway); others pay for one.
    const bytes = withinBound ? 0 : utf8(entry.body).length;
    if (bytes > maxMessageBytes) {
      throw new BrokerError(
        "MessageTooLarge",
        `${field}.body: ${bytes} bytes exceed maxMessageBytes ${maxMessageBytes}`,
        { field: `${field}.body` },
      );
    }
    totalBytes += bytes;
    if (totalBytes > messageLimits.requestBytesMax) {
      throw new BrokerError(
        "RequestTooLarge",
        `messages: more than ${messageLimits.requestBytesMax} bytes`,
        {
          field: "messages",
        },
      );
    }
    const message: SendCommandMessage = { body: entry.body, delaySeconds: 0 };
    if (entry.delaySeconds !== undefined) {
      checkInteger(entry.delaySeconds, messageLimits.delaySeconds, `${field}.delaySeconds`);
      message.delaySeconds = entry.delaySeconds as number;
    }
    if (entry.groupId !== undefined) {
      message.groupId = checkText(entry.groupId, `${field}.groupId`, messageLimits.groupIdCharsMax);
    }
    if (entry.dedupId !== undefined) {
      message.dedupId = checkText(entry.dedupId, `${field}.dedupId`, messageLimits.dedupIdCharsMax);
    }
    if (entry.attributes !== undefined) {
      message.attributes = checkMessageAttributes(entry.attributes, `${field}.attributes`);
    }
    return message;
  });
}

/**
 * The messages a receive of `maxMessages` may take from a queue of `maxMessageBytes`: no more
 * than one answer holds (`messageLimits.receiveBodyBytesMax`), and at least 1.
 */
export function fittingReceive(maxMessages: number, maxMessageBytes: number): number {
  const fitting = Math.floor(messageLimits.receiveBodyBytesMax / maxMessageBytes);
  return maxMessages > fitting ? Math.max(1, fitting) : maxMessages;
}

/**
 * Validates a receive request; its `maxMessages` is cut to what a queue of `maxMessageBytes`
 * answers in one receive (`messageLimits.receiveBodyBytesMax`).
 */
export function checkReceive(request: unknown, maxMessageBytes = 0):
  & Required<
    Pick<ReceiveMessagesRequest, "maxMessages">
  >
  & ReceiveMessagesRequest {
  if (request === undefined || request === null) return { maxMessages: 1 };
  if (!isRecord(request)) throw invalidParameter("body", "must be an object");
  for (const key of Object.keys(request)) {
    if (
      !["maxMessages", "visibilityTimeoutSeconds", "waitSeconds", "deleteReceiptHandles"].includes(
        key,
      )
    ) {
      throw invalidParameter(key, "unknown field");
    }
  }
  const clean: ReceiveMessagesRequest & { maxMessages: number } = { maxMessages: 1 };
  if (request.maxMessages !== undefined) {
    checkInteger(
      request.maxMessages,
      { min: 1, max: messageLimits.batchEntriesMax },
      "maxMessages",
    );
    clean.maxMessages = request.maxMessages as number;
  }
  clean.maxMessages = fittingReceive(clean.maxMessages, maxMessageBytes);
  if (request.visibilityTimeoutSeconds !== undefined) {
    checkInteger(request.visibilityTimeoutSeconds, {
      min: 1,
      max: messageLimits.visibilityTimeoutSeconds.max,
    }, "visibilityTimeoutSeconds");
    clean.visibilityTimeoutSeconds = request.visibilityTimeoutSeconds as number;
  }
  if (request.waitSeconds !== undefined) {
    checkInteger(request.waitSeconds, messageLimits.waitSeconds, "waitSeconds");
    clean.waitSeconds = request.waitSeconds as number;
  }
  if (request.deleteReceiptHandles !== undefined) {
    clean.deleteReceiptHandles = checkHandles(
      request.deleteReceiptHandles,
      "deleteReceiptHandles",
      true,
    );
  }
  return clean;
}

/** Validates a list of receipt handle strings. */
export function checkHandles(value: unknown, field: string, allowEmpty = false): string[] {
  if (allowEmpty && Array.isArray(value) && value.length === 0) return [];
  return checkBatch(value, field).map((handle, index) => {
    if (typeof handle !== "string") throw invalidParameter(`${field}.${index}`, "must be a string");
    return handle;
  });
}

/** Validates visibility entries. */
export function checkVisibilityEntries(value: unknown): VisibilityEntry[] {
  return checkBatch(value, "entries").map((entry, index) => {
    const field = `entries.${index}`;
    if (!isRecord(entry)) throw invalidParameter(field, "must be an object");
    if (typeof entry.receiptHandle !== "string") {
      throw invalidParameter(`${field}.receiptHandle`, "must be a string");
    }
    checkInteger(
      entry.visibilityTimeoutSeconds,
      messageLimits.visibilityTimeoutSeconds,
      `${field}.visibilityTimeoutSeconds`,
    );
    return {
      receiptHandle: entry.receiptHandle,
      visibilityTimeoutSeconds: entry.visibilityTimeoutSeconds as number,
    };
  });
}

/** Validates a rewind request: exactly one of `timestamp` and `sequence`. */
export function checkRewind(request: unknown): { timestamp?: number; sequence?: number } {
  if (!isRecord(request)) throw invalidParameter("body", "must be an object");
  const hasTimestamp = request.timestamp !== undefined;
  if (hasTimestamp === (request.sequence !== undefined)) {
    throw invalidParameter("timestamp", "give exactly one of timestamp and sequence");
  }
  const field = hasTimestamp ? "timestamp" : "sequence";
  checkInteger(request[field], { min: 0, max: Number.MAX_SAFE_INTEGER }, field);
  return { [field]: request[field] as number };
}

/** Below this a Unix time in milliseconds would be before 1973: plainly seconds. */
const secondsLikeBelow = 1e11;

/**
 * The refusal of a rewind `timestamp` before the window; a value that looks like Unix seconds (as
 * CMQ's startConsumeTime takes) while the broker's time does not gets a hint on the unit.
 */
export function rewindTooEarly(timestamp: number, windowStart: number, now: number): string {
  const refusal = `before the rewind window (starts at ${windowStart})`;
  if (timestamp >= secondsLikeBelow || now < secondsLikeBelow) return refusal;
  return `${refusal}; timestamps are Unix epoch milliseconds, and ${timestamp} looks like seconds`;
}

/**
 * Refuses a rewind to `target` that queue `name`'s window (`rewindSeconds`, 0: rewind disabled)
 * does not hold at `now`: a timestamp before the window (unless `fromWindow`: it then rewinds
 * from the window's start) or after `now`.
 */
export function checkRewindWindow(
  name: string,
  rewindSeconds: number,
  target: { timestamp?: number; sequence?: number },
  now: number,
  fromWindow = false,
): void {
  const field = target.timestamp !== undefined ? "timestamp" : "sequence";
  if (rewindSeconds === 0) throw invalidParameter(field, `rewind is disabled on queue '${name}'`);
  const windowStart = now - rewindSeconds * 1000;
  if (target.timestamp !== undefined && target.timestamp < windowStart && !fromWindow) {
    throw invalidParameter(field, rewindTooEarly(target.timestamp, windowStart, now));
  }
  if (target.timestamp !== undefined && target.timestamp > now) {
    throw invalidParameter(field, `in the future (the broker's time is ${now})`);
  }
}

/** Validates a redrive request. */
export function checkRedrive(
  request: unknown,
  messagesMax: number,
): { destination?: string; maxMessages: number } {
  const body = (request ?? {}) as RedriveRequest;
  if (!isRecord(body)) throw invalidParameter("body", "must be an object");
  const clean: { destination?: string; maxMessages: number } = { maxMessages: messagesMax };
  if (body.destination !== undefined) {
    clean.destination = checkName(body.destination, "destination");
  }
  if (body.maxMessages !== undefined) {
    checkInteger(body.maxMessages, { min: 1, max: messagesMax }, "maxMessages");
    clean.maxMessages = body.maxMessages as number;
  }
  return clean;
}

/** Validates list options and applies the default limit. */
export function checkList(options: ListQueuesOptions): ListQueuesOptions & { limit: number } {
  const clean = { limit: listLimits.limit.default } as ListQueuesOptions & { limit: number };
  if (options.prefix !== undefined) {
    if (typeof options.prefix !== "string" || options.prefix.length > 64) {
      throw invalidParameter("prefix", "must be a string of at most 64 characters");
    }
    clean.prefix = options.prefix;
  }
  if (options.after !== undefined) {
    if (typeof options.after !== "string" || options.after.length > 64) {
      throw invalidParameter("after", "must be a string of at most 64 characters");
    }
    clean.after = options.after;
  }
  if (options.offset !== undefined) {
    checkInteger(options.offset, { min: 0, max: Number.MAX_SAFE_INTEGER }, "offset");
    clean.offset = options.offset;
  }
  if (options.limit !== undefined) {
    checkInteger(options.limit, listLimits.limit, "limit");
    clean.limit = options.limit;
  }
  return clean;
}
