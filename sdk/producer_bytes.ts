/**
 * What a `Producer`'s send weighs in a `sendMessages` request, as JSON carries it, for its batches'
 * byte budget (`batchBytesMax`, and the broker's bound on a request).
 *
 * @module
 */
import { jsonBytes } from "./json_bytes.ts";
import type { SendMessageEntry } from "./protocol.ts";

/** The broker's bound on a request body (4 MiB): no batch is counted above it. */
export const requestBytesMax = 4 * 1024 * 1024;
/** What a send request adds around its entries: `{"messages":[]}`. */
export const requestEnvelopeBytes = 15;
/**
 * Beside its strings, what a message adds to a request at most: its field names, quotes,
 * braces, a comma and `delaySeconds` (75 bytes with every field).
 */
const entryOverheadBytes = 128;
/** Beside its key and value, what an attribute adds: two pairs of quotes, a colon, a comma. */
const attributeOverheadBytes = 6;

/** A send's weights, each worked out once. */
export interface Weighed {
  entry: SendMessageEntry;
  /** Its bytes in the request (`exactBytes`), once counted. */
  bytes: number | undefined;
  /** The most its bytes can be (`mostBytes`), once worked out. */
  mostBytes: number | undefined;
}

/**
 * What a send can weigh at most: six bytes per UTF-16 code unit of its strings (a control
 * character or a lone surrogate, JSON-escaped as `\u0001`), plus the JSON around them.
 */
export function mostBytes(pending: Weighed): number {
  return pending.mostBytes ??= entryBytes(pending.entry, (text) => text.length * 6);
}

/** What a send weighs in the request, as JSON carries it. */
export function exactBytes(pending: Weighed): number {
  return pending.bytes ??= entryBytes(pending.entry, jsonBytes);
}

/** The fields of the API's entry; `delaySeconds`, a number, is in `entryOverheadBytes`. */
const entryFields: ReadonlySet<string> = new Set([
  "body",
  "groupId",
  "dedupId",
  "attributes",
  "delaySeconds",
]);

/**
 * The bytes of an entry in a request, its strings (body, `groupId`, `dedupId`, attribute keys
 * and values) weighed by `weigh`, plus the JSON around them. From JavaScript a field may be of
 * another type, and an entry may carry fields the API does not have (the broker refuses either,
 * naming the message — its entries are strict, so an extra field is sent, not dropped: a typo
 * such as `dedupID` fails loudly rather than sending without dedup); they are weighed by their
 * JSON, at most three bytes per character, as the request carries them too.
 */
function entryBytes(entry: SendMessageEntry, weigh: (text: string) => number): number {
  const field = (value: unknown): number => {
    if (typeof value === "string") return weigh(value);
    if (value === undefined) return 0;
    try {
      return (JSON.stringify(value)?.length ?? 0) * 3;
    } catch {
      return 0; // A value JSON can't carry (a BigInt) fails its batch's request however counted.
    }
  };
  let bytes = entryOverheadBytes + field(entry.body) + field(entry.groupId) + field(entry.dedupId);
  const attributes: unknown = entry.attributes;
  if (typeof attributes === "object" && attributes !== null) {
    for (const [key, value] of Object.entries(attributes)) {
      bytes += attributeOverheadBytes + weigh(key) + field(value);
    }
  } else {
    bytes += field(attributes);
  }
  if (typeof entry.delaySeconds !== "number") bytes += field(entry.delaySeconds);
  for (const key in entry) {
    if (entryFields.has(key) || !Object.hasOwn(entry, key)) continue;
    bytes += attributeOverheadBytes + weigh(key) + field((entry as Record<string, unknown>)[key]);
  }
  return bytes;
}
