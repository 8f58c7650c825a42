/**
 * The persisted index of a sealed segment (`<20-digit base index>.index`, beside its `.log`):
 * what a scan of the segment would rebuild — its offset and time index points, its term runs,
 * its last index, term and timestamp, its length — so that opening a big log need not read
 * every sealed segment. Derived data: written once a segment is sealed and durable, trusted only
 * when it checks out against the segment (see `sealed_indexes.ts`), otherwise rebuilt by a scan.
 *
 * Byte layout, little-endian; u64 fields as (u32 low, u32 high), safe integers:
 *
 * | offset | bytes | field                                                        |
 * |-------:|------:|--------------------------------------------------------------|
 * |      0 |     4 | magic "CMQX"                                                 |
 * |      4 |     4 | format version, u32 = 1                                      |
 * |      8 |     8 | base index (must match the file name)                        |
 * |     16 |     8 | last index                                                   |
 * |     24 |     8 | last term                                                    |
 * |     32 |     8 | segment length in bytes (must match the segment file's size) |
 * |     40 |     8 | position of the last record                                  |
 * |     48 |     4 | the last record's own CRC field                              |
 * |     52 |     4 | offset points n                                              |
 * |     56 |     4 | time points m                                                |
 * |     60 |     4 | term runs r                                                  |
 * |     64 |     8 | first timestamp, f64                                         |
 * |     72 |     8 | last timestamp, f64                                          |
 * |     80 |   8 n | offset points: (u32 relative index, u32 position)            |
 * |      … |  12 m | time points: (f64 timestamp, u32 relative index)             |
 * |      … |  16 r | term runs: (u64 first index of the run, u64 term)            |
 * |    end |     4 | CRC-32C of every byte before it                              |
 *
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { NewerFormatError } from "./errors.ts";

/** Everything a scan of a segment rebuilds, as a persisted index holds it. */
export interface SegmentSummary {
  baseIndex: number;
  lastIndex: number;
  lastTerm: number;
  firstTimestamp: number;
  lastTimestamp: number;
  /** Bytes of valid records: the segment file's size. */
  sizeBytes: number;
  lastRecordPosition: number;
  /** The CRC field of the last record (as stored in the record). */
  lastRecordCrc: number;
  offsetPoints: { relativeIndexes: Uint32Array; positions: Uint32Array };
  timePoints: { timestamps: Float64Array; relativeIndexes: Uint32Array };
  /** Entries from `starts[i]` on have term `terms[i]`. */
  termRuns: { starts: number[]; terms: number[] };
}

/** Suffix of a persisted segment index. */
export const segmentIndexSuffix = ".index";
const magic = 0x58514d43; // "CMQX" little-endian
const formatVersion = 1;
/** The format version of the index files this module writes (the newest it reads). */
export const segmentIndexFormatVersion = formatVersion;
const headerBytes = 80;
const twoPower32 = 0x1_0000_0000;
/** Bigger index files are refused unread (a 4 GiB segment at 1 point per byte stays below). */
export const segmentIndexBytesMax = 256 * 1024 * 1024;

/** The index file name of the segment starting at `baseIndex` (`<20 digits>.index`). */
export function segmentIndexFileName(baseIndex: number): string {
  return String(baseIndex).padStart(20, "0") + segmentIndexSuffix;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % twoPower32, true);
  view.setUint32(offset + 4, Math.floor(value / twoPower32), true);
}

function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * twoPower32;
}

/** Encodes a summary into the file layout above. */
export function encodeSegmentIndex(summary: SegmentSummary): Uint8Array {
  const points = summary.offsetPoints.positions.length;
  const times = summary.timePoints.timestamps.length;
  const runs = summary.termRuns.starts.length;
  const bytes = new Uint8Array(headerBytes + points * 8 + times * 12 + runs * 16 + 4);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic, true);
  view.setUint32(4, formatVersion, true);
  setU64(view, 8, summary.baseIndex);
  setU64(view, 16, summary.lastIndex);
  setU64(view, 24, summary.lastTerm);
  setU64(view, 32, summary.sizeBytes);
  setU64(view, 40, summary.lastRecordPosition);
  view.setUint32(48, summary.lastRecordCrc, true);
  view.setUint32(52, points, true);
  view.setUint32(56, times, true);
  view.setUint32(60, runs, true);
  view.setFloat64(64, summary.firstTimestamp, true);
  view.setFloat64(72, summary.lastTimestamp, true);
  let at = headerBytes;
  for (let i = 0; i < points; i++, at += 8) {
    view.setUint32(at, summary.offsetPoints.relativeIndexes[i], true);
    view.setUint32(at + 4, summary.offsetPoints.positions[i], true);
  }
  for (let i = 0; i < times; i++, at += 12) {
    view.setFloat64(at, summary.timePoints.timestamps[i], true);
    view.setUint32(at + 8, summary.timePoints.relativeIndexes[i], true);
  }
  for (let i = 0; i < runs; i++, at += 16) {
    setU64(view, at, summary.termRuns.starts[i]);
    setU64(view, at + 8, summary.termRuns.terms[i]);
  }
  view.setUint32(at, crc32c(bytes.subarray(0, at)), true);
  return bytes;
}

/** The format version in the first 8 bytes of an index file; -1 when they are not an index's. */
export function decodeSegmentIndexHead(head: Uint8Array): number {
  if (head.length < 8) return -1;
  const view = new DataView(head.buffer, head.byteOffset, 8);
  return view.getUint32(0, true) === magic ? view.getUint32(4, true) : -1;
}

/**
 * Decodes and checks an index file: its CRC, magic, version, lengths and that every series
 * grows as a scan would have built it. Returns the summary, or the reason it is refused (the
 * segment is then scanned and indexed again). A sound file of a newer format version throws
 * `NewerFormatError` naming `file`: a newer release wrote it, and it is not rebuilt over.
 */
export function decodeSegmentIndex(
  bytes: Uint8Array,
  file = "segment index",
): SegmentSummary | { refused: string } {
  if (bytes.length < headerBytes + 4) return { refused: "shorter than its header" };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const end = bytes.length - 4;
  if (view.getUint32(end, true) !== crc32c(bytes.subarray(0, end))) {
    return { refused: "bad crc" };
  }
  if (view.getUint32(0, true) !== magic) return { refused: "bad magic" };
  const version = view.getUint32(4, true);
  if (version > formatVersion) throw new NewerFormatError(file, version, formatVersion);
  if (version !== formatVersion) return { refused: "unknown format version" };
  const points = view.getUint32(52, true);
  const times = view.getUint32(56, true);
  const runs = view.getUint32(60, true);
  if (headerBytes + points * 8 + times * 12 + runs * 16 !== end) {
    return { refused: "length does not match its counts" };
  }
  const summary: SegmentSummary = {
    baseIndex: getU64(view, 8),
    lastIndex: getU64(view, 16),
    lastTerm: getU64(view, 24),
    sizeBytes: getU64(view, 32),
    lastRecordPosition: getU64(view, 40),
    lastRecordCrc: view.getUint32(48, true),
    firstTimestamp: view.getFloat64(64, true),
    lastTimestamp: view.getFloat64(72, true),
    offsetPoints: { relativeIndexes: new Uint32Array(points), positions: new Uint32Array(points) },
    timePoints: { timestamps: new Float64Array(times), relativeIndexes: new Uint32Array(times) },
    termRuns: { starts: [], terms: [] },
  };
  let at = headerBytes;
  for (let i = 0; i < points; i++, at += 8) {
    summary.offsetPoints.relativeIndexes[i] = view.getUint32(at, true);
    summary.offsetPoints.positions[i] = view.getUint32(at + 4, true);
  }
  for (let i = 0; i < times; i++, at += 12) {
    summary.timePoints.timestamps[i] = view.getFloat64(at, true);
    summary.timePoints.relativeIndexes[i] = view.getUint32(at + 8, true);
  }
  for (let i = 0; i < runs; i++, at += 16) {
    summary.termRuns.starts.push(getU64(view, at));
    summary.termRuns.terms.push(getU64(view, at + 8));
  }
  const reason = inconsistency(summary);
  return reason === null ? summary : { refused: reason };
}

/** Why a decoded summary cannot describe a segment a scan built, or null. */
function inconsistency(summary: SegmentSummary): string | null {
  const { baseIndex, lastIndex, sizeBytes, offsetPoints, termRuns } = summary;
  if (!(baseIndex >= 1 && lastIndex >= baseIndex)) return "bad index range";
  if (!(summary.lastRecordPosition < sizeBytes)) return "last record outside the segment";
  const relativeLast = lastIndex - baseIndex;
  const { relativeIndexes, positions } = offsetPoints;
  if (positions.length === 0 || relativeIndexes[0] !== 0 || positions[0] !== 0) {
    return "no index point at the first record";
  }
  for (let i = 1; i < positions.length; i++) {
    if (relativeIndexes[i] <= relativeIndexes[i - 1] || positions[i] <= positions[i - 1]) {
      return "offset points do not grow";
    }
  }
  if (relativeIndexes.at(-1)! > relativeLast || positions.at(-1)! > summary.lastRecordPosition) {
    return "offset points past the last record";
  }
  const reason = timeInconsistency(summary);
  if (reason !== null) return reason;
  const { starts, terms } = termRuns;
  if (starts.length === 0 || starts[0] !== baseIndex || terms.at(-1) !== summary.lastTerm) {
    return "term runs do not cover the segment";
  }
  for (let i = 1; i < starts.length; i++) {
    if (starts[i] <= starts[i - 1] || starts[i] > lastIndex || terms[i] <= terms[i - 1]) {
      return "term runs do not grow";
    }
  }
  if (!(summary.firstTimestamp <= summary.lastTimestamp)) return "timestamps go backwards";
  return null;
}

/**
 * Why the time points are not those a scan takes, as far as the index alone tells: one at the
 * first record with the first timestamp, then only at index points where the timestamp grew, none
 * past the last record (in index or time). Whether each holds its record's timestamp only a read
 * of the segment tells (the scrub's). A rewind by time trusts them as soon as the open did.
 */
function timeInconsistency(summary: SegmentSummary): string | null {
  const { timestamps: times, relativeIndexes: at } = summary.timePoints;
  if (times.length === 0 || at[0] !== 0 || times[0] !== summary.firstTimestamp) {
    return "no time point at the first record with its timestamp";
  }
  for (let i = 1; i < times.length; i++) {
    if (!(times[i] > times[i - 1]) || at[i] <= at[i - 1]) return "time points do not grow";
  }
  const relativeLast = summary.lastIndex - summary.baseIndex;
  if (at.at(-1)! > relativeLast || !(times.at(-1)! <= summary.lastTimestamp)) {
    return "time points past the last record";
  }
  const points = summary.offsetPoints.relativeIndexes;
  for (let i = 0, slot = 0; i < at.length; i++) {
    while (slot < points.length && points[slot] < at[i]) slot++;
    if (points[slot] !== at[i]) return "time point not at an index point";
  }
  return null;
}
