/**
 * Recovery scan: reads a segment file from its start with a reused 1 MiB buffer, verifies every
 * record (length bounds, CRC, contiguous index, non-decreasing term and timestamp) and rebuilds
 * the segment's indexes. The scan stops at the first record that fails, or that the disk refuses
 * to read (an unreadable sector is damage too: the node still starts, with the log cut before it
 * and the cut recorded); the caller cuts the log there and removes every later segment. A sealed segment whose persisted index checks out
 * (`sealed_indexes.ts`) is restored from it instead of scanned; the last one is always scanned.
 *
 * @module
 */
import type { CorruptionDetail } from "./errors.ts";
import { type FileHandle, type FileSystem, joinPath } from "./file_io.ts";
import type { LogStart } from "./hard_state.ts";
import {
  inspectRecord,
  newRecordHeader,
  type RecordHeader,
  recordHeaderBytes,
  recordLengthAt,
} from "./record.ts";
import { parseSegmentFileName, Segment, segmentFileName } from "./segment.ts";
import type { SealedIndexes } from "./sealed_indexes.ts";

/** What recovery found and did. */
export interface RecoveryReport {
  /** Segments kept. */
  segments: number;
  /** Entries kept. */
  entries: number;
  /** Bytes cut from segment tails plus bytes of removed later segments. */
  truncatedBytes: number;
  /** Segments restored from their persisted index without a scan. */
  indexedSegments?: number;
  /** Segments read and verified record by record, and their bytes. */
  scannedSegments?: number;
  scannedBytes?: number;
  /** The first bad record, when the log was cut. A torn tail reads "incomplete record". */
  corruptAt?: CorruptionDetail;
  /** With `corruptAt`: whether the cut looks like an interrupted write (see `PlannedCut`). */
  tornTail?: boolean;
  /**
   * A damage record was on disk before this open (set by `SegmentLog`): what `SegmentLog.damage`
   * holds is not this open's cut alone but merged into it.
   */
  earlierDamage?: boolean;
}

/** How a scan ended. */
export interface ScanResult {
  /** Bytes of valid records from the start of the file. */
  validBytes: number;
  /** Why the scan stopped before the end of the file, if it did. */
  failure?: CorruptionDetail;
  /** With `failure`: the disk refused to read the record's bytes (damage, never a torn write). */
  unreadable?: boolean;
}

const scanBufferBytes = 1024 * 1024;
let scanBuffer = new Uint8Array(scanBufferBytes);
const header = newRecordHeader();

/**
 * Scans `segment`'s file, feeding every valid record to `segment.noteRecord`. `previous` holds
 * the term and timestamp of the entry before the segment (zeros for the first).
 */
export function scanSegment(
  segment: Segment,
  previous: { term: number; timestamp: number },
): ScanResult {
  const handle = segment.handle;
  const fileBytes = handle.size();
  let term = previous.term;
  let timestamp = previous.timestamp;
  let position = 0;
  let bufferStart = 0;
  let bufferLength = 0;
  let reason: string | null = null;
  let unreadable = false;
  // After a read the disk refused, one record at a time: the cut lands at the record it holds.
  let narrow = false;
  while (position < fileBytes) {
    const view = scanBuffer.subarray(0, bufferLength);
    const status = inspectRecord(view, position - bufferStart, { header, verify: true });
    if (status === "incomplete") {
      if (bufferStart + bufferLength >= fileBytes) {
        reason = "incomplete record";
        break;
      }
      const needed = Math.max(recordLengthAt(view, position - bufferStart), 0);
      const wanted = narrow ? (needed > 0 ? needed : recordHeaderBytes) : scanBufferBytes;
      const length = Math.min(fileBytes - position, Math.max(needed, wanted));
      if (length > scanBuffer.length) scanBuffer = new Uint8Array(length);
      try {
        bufferLength = handle.readSync(position, scanBuffer.subarray(0, length));
      } catch (error) {
        [bufferStart, bufferLength] = [position, 0];
        if (!narrow) {
          narrow = true;
          continue;
        }
        reason = `read failed: ${(error as Error)?.message ?? String(error)}`;
        unreadable = true;
        break;
      }
      bufferStart = position;
      if (bufferLength < length) {
        reason = "file shorter than its size";
        break;
      }
      continue;
    }
    reason = status !== "ok" ? status : checkOrder(header, {
      index: segment.lastIndex + 1,
      term,
      timestamp,
    });
    if (reason !== null) break;
    segment.noteRecord({
      index: header.index,
      term: header.term,
      timestamp: header.timestamp,
      position,
      bytes: header.bytes,
    });
    term = header.term;
    timestamp = header.timestamp;
    position += header.bytes;
  }
  if (scanBuffer.length > scanBufferBytes) scanBuffer = new Uint8Array(scanBufferBytes);
  if (reason === null) return { validBytes: position };
  const failure = { index: segment.lastIndex + 1, file: handle.path, offset: position, reason };
  return unreadable
    ? { validBytes: position, failure, unreadable }
    : { validBytes: position, failure };
}

function checkOrder(
  found: RecordHeader,
  expected: { index: number; term: number; timestamp: number },
): string | null {
  if (found.index !== expected.index) return "index not contiguous";
  if (found.term < expected.term) return "term decreased";
  if (found.timestamp < expected.timestamp) return "timestamp decreased";
  return null;
}

/**
 * What a cut is about to remove, handed to `beforeCut` while the bad bytes are still on disk.
 * `torn` is true when the damage looks like a write a crash interrupted: the first bad record is
 * in the last segment and is cut short by the end of the file or followed by zeros only (what a
 * file system may leave after a power cut). Anything else — a record that fails its CRC with
 * data after it, bytes the disk refuses to read, a gap between segments, bad records in an
 * earlier segment — is damage to data
 * that had been written completely, which a torn write cannot produce.
 *
 * A damaged length field that makes a record reach past the end of the file looks cut short too;
 * it is told apart by searching for a valid record of the next index after it. Only in the very
 * last record is it indistinguishable from a torn write.
 */
export interface PlannedCut {
  detail: CorruptionDetail;
  torn: boolean;
}

/**
 * Opens, scans and verifies every segment of `dir` in index order. The log is cut at the first
 * bad record (the file truncated there, later segments removed); empty segments, the newest
 * segments when a crash left them blank (empty or zeros: the end of the log, not a gap) and
 * leftovers of an interrupted `resetTo` (at or below the log start) are removed. What remains is
 * synced.
 *
 * The scan changes nothing; `beforeCut` runs (and is awaited) after it and before the first
 * byte is cut, so the caller can record the damage durably while its evidence still exists.
 */
export async function recoverSegments(
  fs: FileSystem,
  options: {
    dir: string;
    logStart: LogStart;
    indexIntervalBytes: number;
    beforeCut?: (cut: PlannedCut) => Promise<void>;
    /** Persisted indexes of sealed segments: trusted when they check out, else rewritten. */
    indexes?: SealedIndexes;
    /** False scans every segment (after recorded damage), rewriting their indexes. */
    trustIndexes?: boolean;
    /** Given to every segment: hears of damage its reads find. */
    onCorrupt?: (detail: CorruptionDetail) => void;
  },
): Promise<{ segments: Segment[]; report: RecoveryReport }> {
  const { dir, logStart } = options;
  const report: RecoveryReport = { segments: 0, entries: 0, truncatedBytes: 0 };
  const segments: Segment[] = [];
  const bases = fs.readDir(dir)
    .map((name) => parseSegmentFileName(name))
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  const removals: string[] = [];
  // Data is synced in segment order, but a directory sync may already have made the names of
  // newer segments durable: a crash can leave the last segments without any of their bytes
  // (empty, or zeros). They are the end of what was written, not a gap in the log: removed like
  // empty segments, and a torn record before them is still a torn tail.
  while (bases.length > 0 && isBlank(fs, joinPath(dir, segmentFileName(bases.at(-1)!)))) {
    removals.push(joinPath(dir, segmentFileName(bases.pop()!)));
  }
  let truncation: { segment: Segment; validBytes: number } | null = null;
  let previous = { term: logStart.term, timestamp: -Infinity };
  let tornCandidate = false;
  for (const base of bases) {
    const path = joinPath(dir, segmentFileName(base));
    const expected = segments.length > 0 ? segments[segments.length - 1].lastIndex + 1 : base;
    const leftover = base <= logStart.index;
    if (leftover || report.corruptAt !== undefined || base !== expected) {
      if (!leftover) {
        if (report.corruptAt === undefined) {
          const reason = "segment does not continue the log";
          report.corruptAt = { index: expected, file: path, offset: 0, reason };
        }
        // Data after the first bad record: whatever it was, it was not a torn tail.
        tornCandidate = false;
        const handle = fs.open(path);
        report.truncatedBytes += handle.size();
        handle.close();
      }
      removals.push(path);
      continue;
    }
    const segment = new Segment(fs.open(path), {
      baseIndex: base,
      indexIntervalBytes: options.indexIntervalBytes,
      onCorrupt: options.onCorrupt,
    });
    const trusted = options.trustIndexes === false ? undefined : options.indexes;
    if (base !== bases.at(-1) && restoreFromIndex(segment, previous, trusted)) {
      segments.push(segment);
      previous = { term: segment.lastTerm, timestamp: segment.lastTimestamp };
      report.indexedSegments = (report.indexedSegments ?? 0) + 1;
      continue;
    }
    const scan = scanSegment(segment, previous);
    report.scannedSegments = (report.scannedSegments ?? 0) + 1;
    report.scannedBytes = (report.scannedBytes ?? 0) + scan.validBytes;
    if (scan.failure !== undefined) {
      report.corruptAt = scan.failure;
      report.truncatedBytes += segment.handle.size() - scan.validBytes;
      truncation = { segment, validBytes: scan.validBytes };
      // Bytes the disk refuses to read are damage, whatever follows them (and are not read again).
      const cutShort = scan.unreadable !== true && (scan.failure.reason === "incomplete record" ||
        zerosFrom(segment.handle, scan.validBytes));
      // A torn write is the end of what was written: a good record of the next index after it
      // means the bad one's length field was damaged in the middle of the log.
      tornCandidate = cutShort &&
        !recordFollows(segment.handle, scan.validBytes, segment.lastIndex + 2);
    }
    segments.push(segment);
    previous = { term: segment.lastTerm, timestamp: segment.lastTimestamp };
  }
  if (report.corruptAt !== undefined) {
    report.tornTail = tornCandidate;
    await options.beforeCut?.({ detail: report.corruptAt, torn: tornCandidate });
  }
  for (const path of removals) fs.remove(path);
  if (truncation !== null) {
    truncation.segment.handle.truncate(truncation.validBytes);
  }
  const kept = segments.filter((segment) => {
    if (segment.entryCount > 0) return true;
    segment.handle.close();
    fs.remove(segment.handle.path);
    return false;
  });
  // What a killed process left in the page cache is on disk only after this.
  for (const segment of kept) await segment.handle.syncData();
  if (options.indexes !== undefined) indexKept(kept, options.indexes);
  // Always: a segment (or a renamed file) a killed process created before its directory sync
  // is in the page cache, not on disk, and this open is about to trust it (a follower reports
  // its entries to the leader, which may commit on them).
  await fs.syncDir(dir);
  report.segments = kept.length;
  for (const segment of kept) report.entries += segment.entryCount;
  return { segments: kept, report };
}

/** Restores `segment` from its persisted index if that checks out; true when it did. */
function restoreFromIndex(
  segment: Segment,
  previous: { term: number; timestamp: number },
  indexes: SealedIndexes | undefined,
): boolean {
  if (indexes === undefined) return false;
  const summary = indexes.load(segment, previous);
  if ("refused" in summary) return false;
  segment.restore(summary);
  indexes.trusted(segment);
  return true;
}

/**
 * After recovery: keeps the index files of segments restored from them, removes every other
 * (orphans, the active segment's, refused ones) and queues an index write for each sealed
 * segment that was scanned (its bytes are durable: recovery synced them). The removals are made
 * durable by the open's directory sync after it.
 */
function indexKept(kept: Segment[], indexes: SealedIndexes): void {
  indexes.loaded();
  const trusted = new Set<number>();
  for (const segment of kept) {
    if (indexes.isUnverified(segment)) trusted.add(segment.baseIndex);
  }
  indexes.removeOthers(trusted);
  for (const segment of kept.slice(0, -1)) {
    if (!trusted.has(segment.baseIndex)) indexes.seal(segment);
  }
  // Recovery synced every kept segment.
  indexes.durableUpTo(kept.at(-1)?.lastIndex ?? 0);
}

/** True when a valid record of `index` starts anywhere after `offset` (a slow search, rarely run). */
function recordFollows(handle: FileHandle, offset: number, index: number): boolean {
  const rest = new Uint8Array(Math.max(handle.size() - offset, 0));
  if (!readsWhole(handle, offset, rest)) return true; // unreadable after the cut: not torn
  const view = new DataView(rest.buffer);
  const found = newRecordHeader();
  for (let position = 1; position + recordHeaderBytes <= rest.length; position++) {
    // The index field (u64 at +16) first: a CRC only where it matches.
    if (view.getUint32(position + 16, true) !== index % 0x1_0000_0000) continue;
    if (inspectRecord(rest, position, { header: found, verify: true }) !== "ok") continue;
    if (found.index === index) return true;
  }
  return false;
}

/** Reads `target` from `position`; false when the disk refuses (an unreadable sector). */
function readsWhole(handle: FileHandle, position: number, target: Uint8Array): boolean {
  try {
    handle.readSync(position, target);
    return true;
  } catch {
    return false;
  }
}

/** True when the file at `path` holds no byte but zeros (or none); false when unreadable. */
function isBlank(fs: FileSystem, path: string): boolean {
  const handle = fs.open(path);
  try {
    return zerosFrom(handle, 0);
  } finally {
    handle.close();
  }
}

/**
 * True when every byte of the file from `offset` on is zero; false where the disk refuses a read
 * (not known to be zeros: the caller then reads it as damage). The first 16 bytes are read alone:
 * where data starts (a record's nonzero length) that is all it reads.
 */
function zerosFrom(handle: FileHandle, offset: number): boolean {
  const size = handle.size();
  const chunk = new Uint8Array(Math.min(scanBufferBytes, Math.max(size - offset, 0)));
  let step = Math.min(16, chunk.length);
  for (let position = offset; position < size; position += step, step = chunk.length) {
    const view = chunk.subarray(0, Math.min(step, size - position));
    if (!readsWhole(handle, position, view)) return false;
    if (view.some((byte) => byte !== 0)) return false;
  }
  return true;
}
