/**
 * Recovery scan: reads a segment file from its start with a reused 1 MiB buffer, verifies every
 * record (length bounds, CRC, contiguous index, non-decreasing term and timestamp) and rebuilds
 * the segment's indexes. The scan stops at the first record that fails; the caller cuts the log
 * there and removes every later segment.
 *
 * @module
 */
import type { CorruptionDetail } from "./errors.ts";
import { type FileSystem, joinPath } from "./file_io.ts";
import type { LogStart } from "./hard_state.ts";
import { inspectRecord, newRecordHeader, type RecordHeader, recordLengthAt } from "./record.ts";
import { parseSegmentFileName, Segment, segmentFileName } from "./segment.ts";

/** What recovery found and did. */
export interface RecoveryReport {
  /** Segments kept. */
  segments: number;
  /** Entries kept. */
  entries: number;
  /** Bytes cut from segment tails plus bytes of removed later segments. */
  truncatedBytes: number;
  /** The first bad record, when the log was cut. A torn tail reads "incomplete record". */
  corruptAt?: CorruptionDetail;
}

/** How a scan ended. */
export interface ScanResult {
  /** Bytes of valid records from the start of the file. */
  validBytes: number;
  /** Why the scan stopped before the end of the file, if it did. */
  failure?: CorruptionDetail;
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
  while (position < fileBytes) {
    const view = scanBuffer.subarray(0, bufferLength);
    const status = inspectRecord(view, position - bufferStart, { header, verify: true });
    if (status === "incomplete") {
      if (bufferStart + bufferLength >= fileBytes) {
        reason = "incomplete record";
        break;
      }
      const needed = Math.max(recordLengthAt(view, position - bufferStart), 0);
      const length = Math.min(fileBytes - position, Math.max(needed, scanBufferBytes));
      if (length > scanBuffer.length) scanBuffer = new Uint8Array(length);
      bufferLength = handle.readSync(position, scanBuffer.subarray(0, length));
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
  return {
    validBytes: position,
    failure: { index: segment.lastIndex + 1, file: handle.path, offset: position, reason },
  };
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
 * Opens, scans and verifies every segment of `dir` in index order. The log is cut at the first
 * bad record (the file truncated there, later segments removed); empty segments and leftovers
 * of an interrupted `resetTo` (at or below the log start) are removed. What remains is synced.
 */
export async function recoverSegments(
  fs: FileSystem,
  options: { dir: string; logStart: LogStart; indexIntervalBytes: number },
): Promise<{ segments: Segment[]; report: RecoveryReport }> {
  const { dir, logStart } = options;
  const report: RecoveryReport = { segments: 0, entries: 0, truncatedBytes: 0 };
  const segments: Segment[] = [];
  const bases = fs.readDir(dir)
    .map((name) => parseSegmentFileName(name))
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  let changed = false;
  let previous = { term: logStart.term, timestamp: -Infinity };
  for (const base of bases) {
    const path = joinPath(dir, segmentFileName(base));
    const expected = segments.length > 0 ? segments[segments.length - 1].lastIndex + 1 : base;
    const handle = fs.open(path);
    const leftover = base <= logStart.index;
    if (leftover || report.corruptAt !== undefined || base !== expected) {
      if (!leftover && report.corruptAt === undefined) {
        const reason = "segment does not continue the log";
        report.corruptAt = { index: expected, file: path, offset: 0, reason };
      }
      if (!leftover) report.truncatedBytes += handle.size();
      handle.close();
      fs.remove(path);
      changed = true;
      continue;
    }
    const segment = new Segment(handle, {
      baseIndex: base,
      indexIntervalBytes: options.indexIntervalBytes,
    });
    const scan = scanSegment(segment, previous);
    if (scan.failure !== undefined) {
      report.corruptAt = scan.failure;
      report.truncatedBytes += handle.size() - scan.validBytes;
      handle.truncate(scan.validBytes);
      changed = true;
    }
    if (segment.entryCount === 0) {
      handle.close();
      fs.remove(path);
      changed = true;
      continue;
    }
    segments.push(segment);
    previous = { term: segment.lastTerm, timestamp: segment.lastTimestamp };
  }
  // What a killed process left in the page cache is on disk only after this.
  for (const segment of segments) await segment.handle.syncData();
  if (changed) await fs.syncDir(dir);
  report.segments = segments.length;
  for (const segment of segments) report.entries += segment.entryCount;
  return { segments, report };
}
