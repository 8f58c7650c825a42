/**
 * The on-disk record of one log entry and its codec.
 *
 * Byte layout of a record, all integers little-endian:
 *
 * | offset | bytes | field     | meaning                                                        |
 * |-------:|------:|-----------|----------------------------------------------------------------|
 * |      0 |     4 | length    | u32, bytes after this field: 29 + payload bytes                |
 * |      4 |     4 | crc       | u32, CRC-32C of bytes [8, 4 + length): term through payload    |
 * |      8 |     8 | term      | u64 as (u32 low, u32 high); a safe integer (< 2^53)            |
 * |     16 |     8 | index     | u64 as (u32 low, u32 high); a safe integer, ≥ 1                |
 * |     24 |     8 | timestamp | f64, milliseconds since the Unix epoch (leader's clock)        |
 * |     32 |     1 | type      | u8, meaning owned by the caller (Raft: normal, config, ...)    |
 * |     33 |     n | payload   | the entry's bytes                                              |
 *
 * A record is at most {@link recordBytesMax} bytes in total; a bigger one is a programming error.
 * The length comes first so a scanner can skip records; the CRC covers every field after itself
 * so a flipped bit anywhere in term, index, timestamp, type or payload is detected. A flipped
 * bit in the length either fails the bounds check or misaligns the CRC window.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { crc32c } from "./crc32c.ts";
import { CorruptLogError } from "./errors.ts";

/** One entry of the replicated log. */
export interface LogEntry {
  term: number;
  index: number;
  /** Milliseconds since the epoch; non-decreasing along the log. */
  timestamp: number;
  /** u8 tag owned by the caller. */
  type: number;
  payload: Uint8Array;
}

/** Bytes before the payload: length, crc, term, index, timestamp, type. */
export const recordHeaderBytes = 33;
/** Bytes of the length field, which the CRC does not cover. */
const lengthFieldBytes = 4;
/** Offset of the first byte covered by the CRC. */
const checkedStart = 8;
/** Largest record, header included (8 MiB). */
export const recordBytesMax = 8 * 1024 * 1024;
/** Largest payload that fits in {@link recordBytesMax}. */
export const payloadBytesMax = recordBytesMax - recordHeaderBytes;

const twoPower32 = 0x1_0000_0000;
/** Scratch for f64 conversion without allocating a DataView per call. */
const floatScratch = new Float64Array(1);
const floatScratchBytes = new Uint8Array(floatScratch.buffer);

/** Header fields read by {@link inspectRecord}; reused by scanners to avoid allocation. */
export interface RecordHeader {
  /** Total bytes of the record, header included. */
  bytes: number;
  term: number;
  index: number;
  timestamp: number;
  type: number;
}

/** Result of {@link inspectRecord}. */
export type RecordStatus = "ok" | "incomplete" | "bad length" | "bad crc";

/** A fresh {@link RecordHeader} for scanners to reuse. */
export function newRecordHeader(): RecordHeader {
  return { bytes: 0, term: 0, index: 0, timestamp: 0, type: 0 };
}

/** Total bytes of the record holding `payloadBytes` bytes of payload. */
export function recordBytes(payloadBytes: number): number {
  return recordHeaderBytes + payloadBytes;
}

/**
 * Encodes `entry` into a new buffer.
 *
 * @example
 * ```ts
 * const bytes = encodeRecord({ term: 1, index: 1, timestamp: Date.now(), type: 0, payload });
 * const back = decodeRecord(bytes);
 * ```
 */
export function encodeRecord(entry: LogEntry): Uint8Array {
  const target = new Uint8Array(recordBytes(entry.payload.length));
  encodeRecordInto(entry, target, 0);
  return target;
}

/** Encodes `entry` into `target` at `offset` and returns the bytes written. */
export function encodeRecordInto(entry: LogEntry, target: Uint8Array, offset: number): number {
  assertEncodable(entry);
  const total = recordBytes(entry.payload.length);
  invariant(offset + total <= target.length, "record does not fit the target buffer");
  writeU32(target, offset, total - lengthFieldBytes);
  writeU64(target, offset + 8, entry.term);
  writeU64(target, offset + 16, entry.index);
  floatScratch[0] = entry.timestamp;
  target.set(floatScratchBytes, offset + 24);
  target[offset + 32] = entry.type;
  target.set(entry.payload, offset + recordHeaderBytes);
  writeU32(target, offset + 4, crc32c(target.subarray(offset + checkedStart, offset + total)));
  return total;
}

function assertEncodable(entry: LogEntry): void {
  invariant(Number.isSafeInteger(entry.term), "term must be a safe integer");
  invariant(entry.term >= 0, "term must not be negative");
  invariant(Number.isSafeInteger(entry.index), "index must be a safe integer");
  invariant(entry.index >= 1, "index must be at least 1");
  invariant(Number.isFinite(entry.timestamp), "timestamp must be finite");
  invariant(Number.isInteger(entry.type), "type must be an integer");
  invariant(entry.type >= 0 && entry.type <= 255, "type must fit in a u8");
  invariant(entry.payload.length <= payloadBytesMax, "payload exceeds payloadBytesMax");
}

/**
 * Reads the header of the record at `offset` into `header` and checks it.
 * "incomplete" means `bytes` ends before the record does (a torn tail, or read more);
 * with `verify` false the CRC is not computed (for skipping over records already verified).
 */
export function inspectRecord(
  bytes: Uint8Array,
  offset: number,
  options: { header: RecordHeader; verify: boolean },
): RecordStatus {
  const available = bytes.length - offset;
  if (available < lengthFieldBytes) return "incomplete";
  const total = readU32(bytes, offset) + lengthFieldBytes;
  if (total < recordHeaderBytes || total > recordBytesMax) return "bad length";
  if (available < total) return "incomplete";
  const header = options.header;
  header.bytes = total;
  if (options.verify) {
    const computed = crc32c(bytes.subarray(offset + checkedStart, offset + total));
    if (computed !== readU32(bytes, offset + 4)) return "bad crc";
  }
  header.term = readU64(bytes, offset + 8);
  header.index = readU64(bytes, offset + 16);
  floatScratchBytes.set(bytes.subarray(offset + 24, offset + 32));
  header.timestamp = floatScratch[0];
  header.type = bytes[offset + 32];
  return "ok";
}

const decodeHeader = newRecordHeader();

/**
 * Decodes and verifies the record at `offset` of `bytes`. The payload is a copy, so the result
 * stays valid after `bytes` (possibly mapped memory) goes away.
 * Throws {@link CorruptLogError} when the record is damaged or cut short.
 */
export function decodeRecord(bytes: Uint8Array, offset = 0): LogEntry {
  const status = inspectRecord(bytes, offset, { header: decodeHeader, verify: true });
  if (status !== "ok") {
    throw new CorruptLogError({ file: "<buffer>", offset, reason: status });
  }
  return {
    term: decodeHeader.term,
    index: decodeHeader.index,
    timestamp: decodeHeader.timestamp,
    type: decodeHeader.type,
    payload: bytes.slice(offset + recordHeaderBytes, offset + decodeHeader.bytes),
  };
}

/**
 * Total bytes of the record at `offset` according to its length field, or -1 when the field is
 * out of bounds or not all present. Used to skip records without decoding them.
 */
export function recordLengthAt(bytes: Uint8Array, offset: number): number {
  if (bytes.length - offset < lengthFieldBytes) return -1;
  const total = readU32(bytes, offset) + lengthFieldBytes;
  return total < recordHeaderBytes || total > recordBytesMax ? -1 : total;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

function readU64(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) + readU32(bytes, offset + 4) * twoPower32;
}

function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  writeU32(bytes, offset, value % twoPower32);
  writeU32(bytes, offset + 4, Math.floor(value / twoPower32));
}
