/**
 * One segment of the log: a file of consecutive records named by the index of its first entry,
 * with its in-memory sparse offset and time indexes, and the read path (memory map when
 * possible, positioned reads otherwise).
 *
 * File name: the base index as 20 decimal digits, zero-padded, then ".log"
 * (`00000000000000000001.log`), so names sort like the indexes they hold.
 *
 * @module
 */
import assert from "node:assert/strict";
import { invariant } from "./invariant.ts";
import { type CorruptionDetail, CorruptLogError } from "./errors.ts";
import type { FileHandle, MappedRegion } from "./file_io.ts";
import { OffsetIndex } from "./offset_index.ts";
import {
  inspectRecord,
  type LogEntry,
  newRecordHeader,
  type RecordHeader,
  recordHeaderBytes,
  recordLengthAt,
} from "./record.ts";
import { TimeIndex } from "./time_index.ts";
import type { SegmentSummary } from "./segment_index_file.ts";

/** The file name ending of segments. */
export const segmentSuffix = ".log";
const segmentNamePattern = /^(\d{20})\.log$/;
/** Bytes fetched per positioned read by sequential range reads (fewer syscalls). */
const rangeReadWindowBytes = 64 * 1024;
/** The read buffer of a segment that has none. */
const empty = new Uint8Array(0);

/** The file name of the segment starting at `baseIndex`. */
export function segmentFileName(baseIndex: number): string {
  invariant(Number.isSafeInteger(baseIndex) && baseIndex >= 1, "base index must be ≥ 1");
  return String(baseIndex).padStart(20, "0") + segmentSuffix;
}

/** The base index encoded in a segment file name, or null if `name` is not a segment. */
export function parseSegmentFileName(name: string): number | null {
  const match = segmentNamePattern.exec(name);
  if (match === null) return null;
  const baseIndex = Number(match[1]);
  return Number.isSafeInteger(baseIndex) && baseIndex >= 1 ? baseIndex : null;
}

/** Facts about one appended record, passed to {@link Segment.noteRecord}. */
export interface RecordFacts {
  index: number;
  term: number;
  timestamp: number;
  position: number;
  bytes: number;
}

/** A segment file and what is known about its records. */
export class Segment {
  readonly baseIndex: number;
  readonly handle: FileHandle;
  /** Index of the last record; baseIndex - 1 while empty. */
  lastIndex: number;
  lastTerm = 0;
  firstTimestamp = 0;
  lastTimestamp = 0;
  /** Bytes of valid records (the file's size once appends are written). */
  sizeBytes = 0;
  /** Byte position of the last record (0 while empty). */
  lastRecordPosition = 0;
  readonly offsetIndex = new OffsetIndex();
  readonly timeIndex = new TimeIndex();
  #indexIntervalBytes: number;
  #lastPointPosition = -Infinity;
  #region: MappedRegion | null = null;
  #scratch = new Uint8Array(0);
  #windowStart = 0;
  #windowLength = 0;
  /** Bytes per positioned read: one index interval, or more during a range or one-time read. */
  #readWindowBytes: number;
  /** True during {@link Segment.readOnce}: the map, if any, is not used. */
  #bypassMap = false;
  #header: RecordHeader = newRecordHeader();
  /** Term runs: entries from #runStarts[i] on have term #runTerms[i]; terms change rarely. */
  #runStarts: number[] = [];
  #runTerms: number[] = [];

  /** Hears of every record a read finds damaged, before the error is thrown. */
  readonly #onCorrupt: (detail: CorruptionDetail) => void;

  constructor(
    handle: FileHandle,
    options: {
      baseIndex: number;
      indexIntervalBytes: number;
      onCorrupt?: (detail: CorruptionDetail) => void;
    },
  ) {
    this.handle = handle;
    this.#onCorrupt = options.onCorrupt ?? (() => {});
    this.baseIndex = options.baseIndex;
    this.lastIndex = options.baseIndex - 1;
    this.#indexIntervalBytes = options.indexIntervalBytes;
    this.#readWindowBytes = options.indexIntervalBytes + recordHeaderBytes;
  }

  /** Number of entries. */
  get entryCount(): number {
    return this.lastIndex - this.baseIndex + 1;
  }

  /** True while some memory map of this segment is live. */
  get mapped(): boolean {
    return this.#region !== null;
  }

  /** Records one more record, written at `facts.position`, in the bookkeeping and indexes. */
  noteRecord(facts: RecordFacts): void {
    invariant(facts.index === this.lastIndex + 1, "records must be contiguous");
    invariant(facts.position === this.sizeBytes, "records must be adjacent");
    const relativeIndex = facts.index - this.baseIndex;
    if (relativeIndex === 0) this.firstTimestamp = facts.timestamp;
    if (facts.position - this.#lastPointPosition >= this.#indexIntervalBytes) {
      this.offsetIndex.add(relativeIndex, facts.position);
      this.timeIndex.add(facts.timestamp, relativeIndex);
      this.#lastPointPosition = facts.position;
    }
    if (this.#runTerms.length === 0 || this.#runTerms[this.#runTerms.length - 1] !== facts.term) {
      this.#runStarts.push(facts.index);
      this.#runTerms.push(facts.term);
    }
    this.lastIndex = facts.index;
    this.lastTerm = facts.term;
    this.lastTimestamp = facts.timestamp;
    this.lastRecordPosition = facts.position;
    this.sizeBytes += facts.bytes;
  }

  /** What a persisted index of this segment holds, given its last record's CRC field. */
  summary(lastRecordCrc: number): SegmentSummary {
    invariant(this.entryCount > 0, "an empty segment has no index");
    return {
      baseIndex: this.baseIndex,
      lastIndex: this.lastIndex,
      lastTerm: this.lastTerm,
      firstTimestamp: this.firstTimestamp,
      lastTimestamp: this.lastTimestamp,
      sizeBytes: this.sizeBytes,
      lastRecordPosition: this.lastRecordPosition,
      lastRecordCrc,
      offsetPoints: this.offsetIndex.points(),
      timePoints: this.timeIndex.points(),
      termRuns: { starts: [...this.#runStarts], terms: [...this.#runTerms] },
    };
  }

  /**
   * Takes the bookkeeping and indexes from a persisted index that was checked against this
   * file (`sealed_indexes.ts`), instead of scanning it. The segment must be empty.
   */
  restore(summary: SegmentSummary): void {
    invariant(this.entryCount === 0 && summary.baseIndex === this.baseIndex);
    this.offsetIndex.restore(summary.offsetPoints);
    this.timeIndex.restore(summary.timePoints);
    this.#runStarts = [...summary.termRuns.starts];
    this.#runTerms = [...summary.termRuns.terms];
    const positions = summary.offsetPoints.positions;
    this.#lastPointPosition = positions[positions.length - 1];
    this.lastIndex = summary.lastIndex;
    this.lastTerm = summary.lastTerm;
    this.firstTimestamp = summary.firstTimestamp;
    this.lastTimestamp = summary.lastTimestamp;
    this.lastRecordPosition = summary.lastRecordPosition;
    this.sizeBytes = summary.sizeBytes;
  }

  /** Term of the entry at `index`, from memory (no I/O). */
  termOf(index: number): number {
    invariant(index >= this.baseIndex && index <= this.lastIndex, "index outside the segment");
    let low = 0;
    let high = this.#runStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.#runStarts[middle] <= index) low = middle;
      else high = middle - 1;
    }
    return this.#runTerms[low];
  }

  /** Maps the file (`lengthBytes` may exceed its size for a growing segment). */
  map(lengthBytes: number): boolean {
    if (this.#region !== null) return true;
    if (lengthBytes <= 0) return false;
    this.#region = this.handle.map(lengthBytes);
    return this.#region !== null;
  }

  /** Releases the memory map, if any. Must precede any truncate or removal of the file. */
  unmap(): void {
    this.#region?.unmap();
    this.#region = null;
  }

  /**
   * Bytes [position, position + length) of the file (of the record of `index`), fetched by
   * mapping or positioned read. A read the disk refuses, or a file shorter than its records, is
   * damage to that record (an unreadable sector: the open then cuts the log there).
   */
  #load(position: number, length: number, index: number): { bytes: Uint8Array; offset: number } {
    // Random reads fetch one index interval (the hops to the entry and usually the entry
    // itself) in one syscall; range reads fetch more at a time.
    const end = position + length;
    invariant(end <= this.sizeBytes, "read past the segment's valid bytes");
    const region = this.#region;
    if (region !== null && end <= region.bytes.length && !this.#bypassMap) {
      return { bytes: region.bytes, offset: position };
    }
    const windowEnd = this.#windowStart + this.#windowLength;
    if (position < this.#windowStart || end > windowEnd) {
      const want = Math.min(this.sizeBytes - position, Math.max(length, this.#readWindowBytes));
      if (this.#scratch.length < want) this.#scratch = new Uint8Array(Math.max(want, 4096));
      this.#windowLength = 0; // the buffer is overwritten: nothing of the old window is left
      const read = this.#readWindow(position, want, length, index);
      this.#windowStart = position;
      this.#windowLength = read;
    }
    return { bytes: this.#scratch, offset: position - this.#windowStart };
  }

  /**
   * Reads `want` bytes at `position` into the read buffer, or, when the disk refuses that, the
   * `length` bytes asked for alone: only bytes of the record of `index` that can't be read are
   * its damage, not those of a record later in the window. Returns the bytes read.
   */
  #readWindow(position: number, want: number, length: number, index: number): number {
    let read: number;
    try {
      read = this.handle.readSync(position, this.#scratch.subarray(0, want));
    } catch (error) {
      if (want === length) {
        const reason = `read failed: ${(error as Error)?.message ?? String(error)}`;
        throw this.#corrupt({ index, position, reason });
      }
      return this.#readWindow(position, length, length, index);
    }
    if (read !== want) {
      throw this.#corrupt({ index, position, reason: "file shorter than its records" });
    }
    return read;
  }

  /** Total bytes of the record at `position`, checked against the segment's bounds. */
  #recordLength(position: number, index: number): number {
    const view = this.#load(position, Math.min(4, this.sizeBytes - position), index);
    // No view bounded to the 4 bytes: recordLengthAt reads only those, and answers -1 alike
    // when fewer are there.
    const total = recordLengthAt(view.bytes, view.offset);
    if (total < 0 || position + total > this.sizeBytes) {
      throw this.#corrupt({ index, position, reason: "bad length" });
    }
    return total;
  }

  /** Byte position of the record of `index`, scanning from the nearest index point. */
  positionOf(index: number): number {
    invariant(index >= this.baseIndex && index <= this.lastIndex, "index outside the segment");
    const slot = this.offsetIndex.floor(index - this.baseIndex);
    invariant(slot >= 0, "the first record always has an index point");
    let position = this.offsetIndex.positionAt(slot);
    for (let at = this.baseIndex + this.offsetIndex.relativeIndexAt(slot); at < index; at++) {
      position += this.#recordLength(position, at);
    }
    return position;
  }

  /**
   * Verifies the record of `index` at `position` and leaves its header in the returned object;
   * throws {@link CorruptLogError} if the bytes are not that record.
   */
  #verified(position: number, index: number): { bytes: Uint8Array; offset: number } {
    const total = this.#recordLength(position, index);
    const view = this.#load(position, total, index);
    const window = view.bytes.subarray(0, view.offset + total);
    const status = inspectRecord(window, view.offset, { header: this.#header, verify: true });
    if (status !== "ok") throw this.#corrupt({ index, position, reason: status });
    if (this.#header.index !== index) {
      throw this.#corrupt({ index, position, reason: "record holds another index" });
    }
    return view;
  }

  /** The entry at `index`, verified; its payload a copy, or with `copy` false a view. */
  read(index: number, copy = true): LogEntry {
    return this.#readAt(this.positionOf(index), index, copy);
  }

  /**
   * The entry at `index`, verified, its payload a view of this segment's read buffer (valid until
   * its next read), fetched with positioned reads of at least 64 KiB and never through the map.
   * For an entry read back once, soon after it was written: a receive's bodies. Through the map,
   * every page's first touch is a page fault, and on the VMs measured those cost more than the
   * read system call and its copy (a 17.7 KB entry: 27 µs the first time through the map, 9 µs
   * the second, ~5 µs as a read plus its CRC); the window lets the next entries in the file be
   * served from the same read.
   */
  readOnce(index: number): LogEntry {
    this.#bypassMap = true;
    const windowBytes = Math.max(rangeReadWindowBytes, this.#indexIntervalBytes);
    this.#readWindowBytes = windowBytes;
    try {
      return this.#readAt(this.positionOf(index), index, false);
    } finally {
      this.#bypassMap = false;
      this.#readWindowBytes = this.#indexIntervalBytes + recordHeaderBytes;
      // A buffer grown past the window for a large entry is not kept (the view returned holds
      // it): every segment a receive reads would otherwise keep one of its largest entry's size.
      if (this.#scratch.length > windowBytes) [this.#scratch, this.#windowLength] = [empty, 0];
    }
  }

  /** The entry at `position`, verified; its payload a copy, or a view of the read buffer. */
  #readAt(position: number, index: number, copy = true): LogEntry {
    const view = this.#verified(position, index);
    const header = this.#header;
    const start = view.offset + recordHeaderBytes;
    const end = view.offset + header.bytes;
    return {
      term: header.term,
      index,
      timestamp: header.timestamp,
      type: header.type,
      payload: copy ? view.bytes.slice(start, end) : view.bytes.subarray(start, end),
    };
  }

  /**
   * Appends entries [from, toExclusive) of this segment to `out`, stopping before the payload
   * total would pass `budget.bytesLeft` (the very first entry of `out` is always taken).
   * Returns false when the budget stopped it. With `visit`, each entry goes to it instead, its
   * payload a view of the read buffer that is valid only during the call (no copy), and the
   * budget is not used; `visit` must not read this log.
   */
  readRange(
    range: { from: number; toExclusive: number },
    output: { out: LogEntry[]; budget: { bytesLeft: number }; visit?: (entry: LogEntry) => void },
  ): boolean {
    const end = Math.min(range.toExclusive, this.lastIndex + 1);
    if (range.from >= end) return true;
    let position = this.positionOf(range.from);
    this.#readWindowBytes = Math.max(rangeReadWindowBytes, this.#indexIntervalBytes);
    try {
      for (let index = range.from; index < end; index++) {
        const entry = this.#readAt(position, index, output.visit === undefined);
        if (output.visit !== undefined) {
          position += this.#header.bytes;
          output.visit(entry);
          continue;
        }
        const bytes = entry.payload.length;
        if (output.out.length > 0 && bytes > output.budget.bytesLeft) return false;
        output.out.push(entry);
        output.budget.bytesLeft -= bytes;
        position += this.#header.bytes;
      }
      return true;
    } finally {
      this.#readWindowBytes = this.#indexIntervalBytes + recordHeaderBytes;
    }
  }

  /** The first index with timestamp ≥ `timestamp`, or null if every entry is older. */
  indexAtOrAfterTime(timestamp: number): number | null {
    if (this.entryCount === 0 || this.lastTimestamp < timestamp) return null;
    if (this.firstTimestamp >= timestamp) return this.baseIndex;
    const before = this.timeIndex.lastBefore(timestamp);
    const slot = this.offsetIndex.floor(Math.max(0, before));
    let position = this.offsetIndex.positionAt(slot);
    for (
      let index = this.baseIndex + this.offsetIndex.relativeIndexAt(slot);
      index <= this.lastIndex;
      index++
    ) {
      this.#verified(position, index);
      if (this.#header.timestamp >= timestamp) return index;
      position += this.#header.bytes;
    }
    assert.fail("lastTimestamp promised an entry at or after the time");
  }

  /**
   * Drops entries ≥ `fromIndex` (> baseIndex: an emptied segment is removed instead) from the
   * bookkeeping and cuts the file. The caller has unmapped the segment.
   */
  truncateFrom(fromIndex: number): void {
    invariant(this.#region === null, "never truncate a mapped segment");
    invariant(fromIndex > this.baseIndex && fromIndex <= this.lastIndex + 1);
    if (fromIndex > this.lastIndex) return;
    const previousPosition = this.positionOf(fromIndex - 1);
    this.#verified(previousPosition, fromIndex - 1);
    const position = previousPosition + this.#header.bytes;
    this.handle.truncate(position);
    this.offsetIndex.truncateFrom(fromIndex - this.baseIndex);
    this.timeIndex.truncateFrom(fromIndex - this.baseIndex);
    const points = this.offsetIndex.count;
    this.#lastPointPosition = points > 0 ? this.offsetIndex.positionAt(points - 1) : -Infinity;
    while (this.#runStarts.length > 0 && this.#runStarts[this.#runStarts.length - 1] >= fromIndex) {
      this.#runStarts.pop();
      this.#runTerms.pop();
    }
    this.sizeBytes = position;
    this.lastRecordPosition = previousPosition;
    this.lastIndex = fromIndex - 1;
    this.lastTerm = this.#header.term;
    this.lastTimestamp = this.#header.timestamp;
    this.#windowLength = 0;
  }

  #corrupt(at: { index: number; position: number; reason: string }): CorruptLogError {
    const detail = {
      index: at.index,
      file: this.handle.path,
      offset: at.position,
      reason: at.reason,
    };
    this.#onCorrupt(detail);
    return new CorruptLogError(detail);
  }
}

/**
 * The slot of the first segment whose last timestamp is ≥ `timestamp` (timestamps never decrease
 * along the log), or `segments.length` when every entry is older.
 */
export function segmentSlotAtOrAfterTime(segments: readonly Segment[], timestamp: number): number {
  let low = 0;
  let high = segments.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (segments[middle].lastTimestamp >= timestamp) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The slot of the segment holding `index` in `segments` (sorted by base index; binary search). */
export function segmentSlot(segments: readonly Segment[], index: number): number {
  let low = 0;
  let high = segments.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if (segments[middle].baseIndex <= index) low = middle;
    else high = middle - 1;
  }
  return low;
}

/**
 * Total payload bytes of entries [from, toExclusive) in `segments` (index order, all present),
 * from record positions: a few index hops per segment, no payload is read.
 */
export function payloadBytesBetween(
  segments: readonly Segment[],
  range: { from: number; toExclusive: number },
): number {
  const { from, toExclusive } = range;
  if (from >= toExclusive) return 0;
  invariant(
    segments.length > 0 && from >= segments[0].baseIndex &&
      toExclusive - 1 <= segments[segments.length - 1].lastIndex,
    `entries [${from}, ${toExclusive}) are in the log`,
  );
  let recordTotal = 0;
  for (let slot = segmentSlot(segments, from); slot < segments.length; slot++) {
    const segment = segments[slot];
    if (segment.baseIndex >= toExclusive) break;
    const start = segment.positionOf(Math.max(from, segment.baseIndex));
    const end = toExclusive > segment.lastIndex
      ? segment.sizeBytes
      : segment.positionOf(toExclusive);
    recordTotal += end - start;
  }
  return recordTotal - (toExclusive - from) * recordHeaderBytes;
}

/**
 * Entries [from, toExclusive) of `segments` (index order, all present), stopping before the
 * payload total would pass `bytesMax` (the first entry is always taken); see
 * `Segment.readRange` for `visit`. `prepare` runs before each segment is read (to map it).
 */
export function readEntries(
  segments: readonly Segment[],
  range: { from: number; toExclusive: number; bytesMax: number },
  options: { visit?: (entry: LogEntry) => void; prepare: ((segment: Segment) => void) | null },
): LogEntry[] {
  const out: LogEntry[] = [];
  const { from, toExclusive } = range;
  const budget = { bytesLeft: range.bytesMax };
  let slot = segmentSlot(segments, from);
  let next = from;
  while (next < toExclusive && slot < segments.length) {
    const segment = segments[slot];
    options.prepare?.(segment);
    const complete = segment.readRange({ from: next, toExclusive }, {
      visit: options.visit,
      out,
      budget,
    });
    if (!complete) break;
    next = segment.lastIndex + 1;
    slot++;
  }
  return out;
}
