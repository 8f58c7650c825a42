/**
 * Recovery scan: reads a segment file from its start with a reused 1 MiB buffer, verifies every
 * record (length bounds, CRC, contiguous index, non-decreasing term and timestamp) and rebuilds
 * the segment's indexes. The scan stops at the first record that fails; the caller cuts the log
 * there.
 *
 * @module
 */
import type { CorruptionDetail } from "./errors.ts";
import { inspectRecord, newRecordHeader, type RecordHeader, recordLengthAt } from "./record.ts";
import type { Segment } from "./segment.ts";

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
