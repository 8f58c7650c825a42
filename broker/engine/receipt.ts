/**
 * Message ids and receipt handles. Both are pure functions of replicated state, so every replica
 * computes the same strings.
 *
 * - Message id: 24 lowercase hex digits, the queue incarnation (the log index of its CreateQueue
 *   entry, 12 digits) then the sequence (12 digits). Unique within a Raft group, since two
 *   queues never share a create index. A message moved to a dead-letter queue keeps its id.
 * - Receipt handle: base64url (no padding) of 29 bytes, little-endian:
 *   `[u8 version=1][f64 incarnation][f64 sequence][f64 deliveryIndex][u32 tag]`, where
 *   `deliveryIndex` is the log index of the receive that delivered the message and `tag` is a
 *   32-bit keyed hash of the three numbers with the queue's salt (chosen at random by the service
 *   when it proposes CreateQueue). The tag is not cryptographic; it tells a handle this queue
 *   issued (then "stale" if it no longer names the current delivery) from garbage or a forgery
 *   ("invalid").
 *
 * @module
 */

/** Bytes of a decoded receipt handle. */
export const receiptHandleBytes = 29;
const handleVersion = 1;

/** The fields a receipt handle carries. */
export interface ReceiptFields {
  incarnation: number;
  sequence: number;
  deliveryIndex: number;
  tag: number;
}

/**
 * The message id of `sequence` in the queue incarnation `incarnation`.
 *
 * @example
 * ```ts
 * messageId(3, 1); // "000000000003000000000001"
 * ```
 */
export function messageId(incarnation: number, sequence: number): string {
  if (incarnation >= 2 ** 48 || sequence >= 2 ** 48) {
    return incarnation.toString(16).padStart(12, "0") + sequence.toString(16).padStart(12, "0");
  }
  hexInto(idCodes, 0, incarnation);
  hexInto(idCodes, 12, sequence);
  return asciiOf(idCodes);
}

// Ids and handles are written as character codes and made into a string at once: built by `+`
// they were trees of small strings (a kilobyte of garbage per handle) that `JSON.stringify`
// walks on its slow path, and every receive answer carries them.
const idCodes = new Array<number>(24).fill(0);
const hexDigits = Uint8Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0));

/** The 12 lowercase hex digits of `value` (below 2^48) into `codes` from `at`. */
function hexInto(codes: number[], at: number, value: number): void {
  let low = value % 2 ** 24;
  let high = (value - low) / 2 ** 24;
  for (let index = at + 11; index >= at + 6; index--, low >>>= 4) {
    codes[index] = hexDigits[low & 15];
  }
  for (let index = at + 5; index >= at; index--, high >>>= 4) codes[index] = hexDigits[high & 15];
}

/**
 * The one-byte string of ASCII `codes`: a plain array of small integers, which `apply` passes
 * without copying it (a typed array would be copied into a list first, garbage per string).
 */
function asciiOf(codes: number[]): string {
  return String.fromCharCode.apply(null, codes);
}

function mix(hash: number, word: number): number {
  hash = Math.imul(hash ^ word, 0x9e3779b1);
  return (hash << 13) | (hash >>> 19);
}

/** Mixes both 32-bit halves of a safe integer. */
function mixNumber(hash: number, value: number): number {
  return mix(mix(hash, value >>> 0), Math.floor(value / 0x1_0000_0000) >>> 0);
}

/** The keyed tag of a delivery (murmur3-style finalizer over the mixed words). */
export function receiptTag(salt: number, fields: Omit<ReceiptFields, "tag">): number {
  let hash = mixNumber(salt | 0, fields.incarnation);
  hash = mixNumber(hash, fields.sequence);
  hash = mixNumber(hash, fields.deliveryIndex);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The binary form of a handle. */
export function encodeReceiptBytes(fields: ReceiptFields): Uint8Array {
  return writeReceipt(fields).slice();
}

// Handles are built on every delivery: write them into one scratch buffer, not a new one each.
const scratch = new Uint8Array(receiptHandleBytes);
const scratchView = new DataView(scratch.buffer);

function writeReceipt(fields: ReceiptFields): Uint8Array {
  scratchView.setUint8(0, handleVersion);
  scratchView.setFloat64(1, fields.incarnation, true);
  scratchView.setFloat64(9, fields.sequence, true);
  scratchView.setFloat64(17, fields.deliveryIndex, true);
  scratchView.setUint32(25, fields.tag, true);
  return scratch;
}

// Decoding copies the 29 bytes here and reads them through one view (a DataView per handle was
// an allocation on every delete).
const readScratch = new Uint8Array(receiptHandleBytes);
const readView = new DataView(readScratch.buffer);

/** What a failure says of a handle `decodeReceiptBytes` can't parse. */
export const notAReceiptHandle = "not a receipt handle";

/** Parses the binary form; null when it is not a well-formed handle. */
export function decodeReceiptBytes(bytes: Uint8Array): ReceiptFields | null {
  if (bytes.length !== receiptHandleBytes || bytes[0] !== handleVersion) return null;
  readScratch.set(bytes);
  const incarnation = readView.getFloat64(1, true);
  const sequence = readView.getFloat64(9, true);
  const deliveryIndex = readView.getFloat64(17, true);
  if (!isCount(incarnation) || !isCount(sequence) || !isCount(deliveryIndex)) return null;
  return { incarnation, sequence, deliveryIndex, tag: readView.getUint32(25, true) };
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** The string handle given to clients. */
export function encodeReceiptHandle(fields: ReceiptFields): string {
  return base64UrlEncode(writeReceipt(fields));
}

/**
 * The binary form of a client's handle string, or an empty array when the string is not
 * base64url of the right length (the state machine then reports `ReceiptHandleInvalid`).
 */
export function receiptHandleToBytes(handle: string): Uint8Array {
  return receiptHandlesToBytes([handle])[0];
}

/**
 * `receiptHandleToBytes` of each handle, decoded into one buffer (a view each), as a receive or
 * a delete carries up to a batch of them.
 */
export function receiptHandlesToBytes(handles: string[]): Uint8Array[] {
  const buffer = new Uint8Array(handles.length * receiptHandleBytes);
  return handles.map((handle, index) => {
    const at = index * receiptHandleBytes;
    return isHandleText(handle) && base64UrlDecodeInto(handle, buffer, at)
      ? buffer.subarray(at, at + receiptHandleBytes)
      : new Uint8Array(0);
  });
}

/** Base64url of exactly `receiptHandleBytes` bytes is this many characters (no padding). */
const handleTextLength = Math.ceil((receiptHandleBytes * 4) / 3);

function isHandleText(handle: unknown): handle is string {
  return typeof handle === "string" && handle.length === handleTextLength;
}

/** The client string of a handle's bytes (inverse of `receiptHandleToBytes`). */
export function receiptBytesToHandle(bytes: Uint8Array): string {
  return base64UrlEncode(bytes);
}

// Handles are on every receive, delete and visibility change, so base64url is done by table:
// atob/btoa plus the character swaps cost about a fifth of a receive-and-delete round.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const sextets = new Int8Array(128).fill(-1);
for (let index = 0; index < alphabet.length; index++) sextets[alphabet.charCodeAt(index)] = index;

const alphabetCodes = Uint8Array.from(alphabet, (character) => character.charCodeAt(0));
const handleCodes = new Array<number>(handleTextLength).fill(0);

function base64UrlEncode(bytes: Uint8Array): string {
  const codes = bytes.length === receiptHandleBytes
    ? handleCodes
    : new Array<number>(Math.ceil((bytes.length * 4) / 3)).fill(0);
  let at = 0;
  let index = 0;
  for (; index + 2 < bytes.length; index += 3) {
    const word = (bytes[index] << 16) | (bytes[index + 1] << 8) | bytes[index + 2];
    codes[at++] = alphabetCodes[word >>> 18];
    codes[at++] = alphabetCodes[(word >>> 12) & 63];
    codes[at++] = alphabetCodes[(word >>> 6) & 63];
    codes[at++] = alphabetCodes[word & 63];
  }
  const rest = bytes.length - index;
  if (rest > 0) {
    const word = (bytes[index] << 16) | (rest === 2 ? bytes[index + 1] << 8 : 0);
    codes[at++] = alphabetCodes[word >>> 18];
    codes[at++] = alphabetCodes[(word >>> 12) & 63];
    if (rest === 2) codes[at++] = alphabetCodes[(word >>> 6) & 63];
  }
  return asciiOf(codes);
}

/**
 * Decodes base64url `text` (no padding) into `target` from `offset`; false, with `target` in an
 * unspecified state, when it is not canonical base64url or does not fit.
 */
function base64UrlDecodeInto(text: string, target: Uint8Array, offset: number): boolean {
  const rest = text.length % 4;
  if (rest === 1) return false;
  const length = ((text.length - rest) / 4) * 3 + (rest === 0 ? 0 : rest - 1);
  if (offset + length > target.length) return false;
  let out = offset;
  let index = 0;
  for (; index + 4 <= text.length; index += 4) {
    const a = sextet(text, index);
    const b = sextet(text, index + 1);
    const c = sextet(text, index + 2);
    const d = sextet(text, index + 3);
    if ((a | b | c | d) < 0) return false;
    const word = (a << 18) | (b << 12) | (c << 6) | d;
    target[out++] = word >>> 16;
    target[out++] = (word >>> 8) & 0xff;
    target[out++] = word & 0xff;
  }
  if (rest > 0) {
    const a = sextet(text, index);
    const b = sextet(text, index + 1);
    if ((a | b) < 0) return false;
    const high = (a << 6) | b;
    if (rest === 2) {
      // Leftover bits must be zero, or two strings would name the same handle.
      if ((high & 0xf) !== 0) return false;
      target[out] = high >>> 4;
    } else {
      const third = sextet(text, index + 2);
      if (third < 0 || (third & 0x3) !== 0) return false;
      const word = (high << 6) | third;
      target[out++] = word >>> 10;
      target[out] = (word >>> 2) & 0xff;
    }
  }
  return true;
}

/** The 6-bit value of a base64url character, or -1 for anything else. */
function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? sextets[code] : -1;
}
