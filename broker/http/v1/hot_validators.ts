/**
 * Hand-written recognizers of the plainly valid requests of the hot routes (send, receive,
 * delete, and a topic's publish). Each returns what the route's zod schema would return for the input, or `null` when
 * the input is not plainly valid — then the route runs its zod validators, which produce the
 * error (or, for an odd but valid input, the value). So these never decide an error: a `null`
 * only costs the slow path, while accepting what zod refuses would change an answer.
 * `hot_validators_test.ts` runs both over generated inputs and holds them to that.
 *
 * Why: zod's parse of a 16-message send costs more than the service's own checks, and the
 * three routes carry nearly every request of a busy broker.
 *
 * @module
 */
import { messageLimits, namePattern, queueLimits, reservedKey } from "../../service/mod.ts";
import type {
  PublishEntry,
  ReceiveMessagesRequest,
  SendMessageEntry,
} from "../../../sdk/protocol.ts";

type Json = Record<string, unknown>;

/** True for a JSON object (what `JSON.parse` gives): not null, not an array. */
function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

function isStringOfLength(value: unknown, min: number, max: number): value is string {
  return typeof value === "string" && value.length >= min && value.length <= max;
}

/** The queue name of a path, when it matches the name rule. */
export function plainQueueName(value: unknown): string | null {
  return typeof value === "string" && namePattern.test(value) ? value : null;
}

/** A body of `POST /v1/queues/{queue}/messages` as the schema returns it, or null. */
export function plainSendRequest(value: unknown): { messages: SendMessageEntry[] } | null {
  return plainMessages(value, plainSendEntry);
}

/** `{ messages: [...] }` of 1 to the batch limit of entries `entryOf` recognizes, or null. */
function plainMessages<T>(
  value: unknown,
  entryOf: (entry: unknown) => T | null,
): { messages: T[] } | null {
  if (!isObject(value)) return null;
  for (const key in value) if (key !== "messages") return null;
  const messages = value.messages;
  if (!Array.isArray(messages)) return null;
  if (messages.length < 1 || messages.length > messageLimits.batchEntriesMax) return null;
  const entries: T[] = [];
  for (const message of messages) {
    const entry = entryOf(message);
    if (entry === null) return null;
    entries.push(entry);
  }
  return { messages: entries };
}

/**
 * A message entry (send or publish) as its schema returns it, or null: a string `body`,
 * `attributes`, and the fields `takeField` takes (it answers false for a key that is not one of
 * its own, or whose value is not plain).
 */
function plainEntry<E extends { body: string; attributes?: Record<string, string> }>(
  value: unknown,
  takeField: (entry: E, key: string, field: unknown) => boolean,
): E | null {
  if (!isObject(value) || typeof value.body !== "string") return null;
  const entry = { body: value.body } as E;
  for (const key in value) {
    if (key === "body") continue;
    const field = value[key];
    const taken = key === "attributes"
      ? takeAttributes(field, entry)
      : takeField(entry, key, field);
    if (!taken) return null;
  }
  return entry;
}

function plainSendEntry(value: unknown): SendMessageEntry | null {
  return plainEntry<SendMessageEntry>(value, takeSendField);
}

function takeSendField(entry: SendMessageEntry, key: string, field: unknown): boolean {
  switch (key) {
    case "delaySeconds":
      if (!isIntegerIn(field, messageLimits.delaySeconds.min, messageLimits.delaySeconds.max)) {
        return false;
      }
      entry.delaySeconds = field;
      return true;
    case "groupId":
      if (!isStringOfLength(field, 1, messageLimits.groupIdCharsMax)) return false;
      entry.groupId = field;
      return true;
    case "dedupId":
      if (!isStringOfLength(field, 1, messageLimits.dedupIdCharsMax)) return false;
      entry.dedupId = field;
      return true;
    default:
      return false;
  }
}

/**
 * A body of `POST /v1/topics/{topic}/messages` as the schema returns it, or null. The schema
 * takes tags and a routing key as any strings: the topic's kind and rules are the service's to
 * check, on either path.
 */
export function plainPublishRequest(value: unknown): { messages: PublishEntry[] } | null {
  return plainMessages(value, plainPublishEntry);
}

function plainPublishEntry(value: unknown): PublishEntry | null {
  return plainEntry<PublishEntry>(value, takePublishField);
}

function takePublishField(entry: PublishEntry, key: string, field: unknown): boolean {
  switch (key) {
    case "tags":
      if (!Array.isArray(field)) return false;
      for (const tag of field) if (typeof tag !== "string") return false;
      entry.tags = field.slice();
      return true;
    case "routingKey":
      if (typeof field !== "string") return false;
      entry.routingKey = field;
      return true;
    default:
      return false;
  }
}

/** Puts the plain attributes `field` on `entry`; false when they are not plain. */
function takeAttributes(field: unknown, entry: { attributes?: Record<string, string> }): boolean {
  const attributes = plainAttributes(field);
  if (attributes === null) return false;
  entry.attributes = attributes;
  return true;
}

function plainAttributes(value: unknown): Record<string, string> | null {
  if (!isObject(value)) return null;
  const attributes: Record<string, string> = {};
  let count = 0;
  for (const key in value) {
    // A reserved key (service/reserved_keys.ts): the zod route answers its 400.
    if (key === reservedKey) return null;
    const field = value[key];
    if (!isStringOfLength(key, 1, messageLimits.attributeKeyCharsMax)) return null;
    if (!isStringOfLength(field, 0, messageLimits.attributeValueCharsMax)) return null;
    attributes[key] = field;
    count++;
  }
  return count <= messageLimits.attributesMax ? attributes : null;
}

/** A body of `POST /v1/queues/{queue}/messages/receive` as the schema returns it, or null. */
export function plainReceiveRequest(value: unknown): ReceiveMessagesRequest | null {
  if (!isObject(value)) return null;
  const request: ReceiveMessagesRequest = {};
  for (const key in value) {
    const field = value[key];
    switch (key) {
      case "maxMessages":
        if (!isIntegerIn(field, 1, messageLimits.batchEntriesMax)) return null;
        request.maxMessages = field;
        break;
      case "visibilityTimeoutSeconds": {
        const range = queueLimits.visibilityTimeoutSeconds;
        if (!isIntegerIn(field, range.min, range.max)) return null;
        request.visibilityTimeoutSeconds = field;
        break;
      }
      case "waitSeconds":
        if (!isIntegerIn(field, messageLimits.waitSeconds.min, messageLimits.waitSeconds.max)) {
          return null;
        }
        request.waitSeconds = field;
        break;
      case "deleteReceiptHandles": {
        const handles = plainHandles(field, 0);
        if (handles === null) return null;
        request.deleteReceiptHandles = handles;
        break;
      }
      default:
        return null;
    }
  }
  return request;
}

/** A body of `POST /v1/queues/{queue}/messages/delete` as the schema returns it, or null. */
export function plainDeleteRequest(value: unknown): { receiptHandles: string[] } | null {
  if (!isObject(value)) return null;
  for (const key in value) if (key !== "receiptHandles") return null;
  const handles = plainHandles(value.receiptHandles, 1);
  return handles === null ? null : { receiptHandles: handles };
}

function plainHandles(value: unknown, entriesMin: number): string[] | null {
  if (!Array.isArray(value)) return null;
  if (value.length < entriesMin || value.length > messageLimits.batchEntriesMax) return null;
  for (const handle of value) if (typeof handle !== "string" || handle.length === 0) return null;
  return value.slice();
}
