/**
 * The digests SQS returns beside a message so clients can check what arrived:
 *
 * - `MD5OfMessageBody`: MD5 of the body's UTF-8 bytes, lowercase hex (the SDK checks it on
 *   every send and receive and fails the call when it differs).
 * - `MD5OfMessageAttributes`: MD5 over the attributes sorted by name, each encoded as
 *   name, data type and value, every one of them as a 4-byte big-endian length followed by its
 *   bytes, with one transport byte between type and value (1 for String and Number types, 2 for
 *   Binary). String values count as UTF-8, Binary values as their decoded bytes.
 *
 * WebCrypto has no MD5. Body digests, one per message sent or received, use the MD5 of
 * `md5_core.ts` (cheaper per message than `node:crypto`'s hash objects), or for a batch the
 * many-lane one of `md5_lanes.ts`; the attribute digest, only for messages that carry
 * attributes, uses `node:crypto`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { md5HexOfText } from "./md5_core.ts";
import { md5HexOfTexts } from "./md5_lanes.ts";

/** One message attribute in SQS's shape. */
export interface SqsAttributeValue {
  DataType: string;
  StringValue?: string;
  /** Base64, as the JSON protocol carries blobs. */
  BinaryValue?: string;
}

const utf8 = new TextEncoder();

/** Lowercase hex MD5 of `bytes`. */
export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** `MD5OfMessageBody` / `MD5OfBody` of a body. */
export function md5OfBody(body: string): string {
  // Lone surrogates count as U+FFFD, as TextEncoder encodes them.
  return md5HexOfText(body);
}

/** `md5OfBody` of each body of a batch, in order (up to twelve at a time: `md5_lanes.ts`). */
export function md5OfBodies(bodies: readonly string[]): string[] {
  return md5HexOfTexts(bodies);
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array[] {
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, bytes.length);
  return [length, bytes];
}

/** Decodes base64 (the door checked it on the way in). */
export function base64Bytes(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (character) => character.charCodeAt(0));
}

/** Compares names by their UTF-16 code units, the order SQS sorts attribute names in. */
function byName(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/** `MD5OfMessageAttributes` of a set of attributes; undefined when there are none. */
export function md5OfMessageAttributes(
  attributes: Record<string, SqsAttributeValue>,
): string | undefined {
  const names = Object.keys(attributes).sort(byName);
  if (names.length === 0) return undefined;
  const parts: Uint8Array[] = [];
  for (const name of names) {
    const attribute = attributes[name];
    parts.push(...lengthPrefixed(utf8.encode(name)));
    parts.push(...lengthPrefixed(utf8.encode(attribute.DataType)));
    if (attribute.BinaryValue !== undefined) {
      parts.push(Uint8Array.of(2), ...lengthPrefixed(base64Bytes(attribute.BinaryValue)));
    } else {
      parts.push(Uint8Array.of(1), ...lengthPrefixed(utf8.encode(attribute.StringValue ?? "")));
    }
  }
  const hash = createHash("md5");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}
