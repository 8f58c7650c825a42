/**
 * The write path of `SegmentLog.append`: entries encoded into one reused buffer and written with
 * one `writeSync` per segment touched (per 4 MiB), rolling to a new segment where the next
 * record would pass the segment size limit.
 *
 * @module
 */
import { encodeRecordInto, type LogEntry, recordBytes } from "./record.ts";
import type { Segment } from "./segment.ts";

/** Batches bigger than this are written in several writes (one record may still exceed it). */
const writeBufferBytesMax = 4 * 1024 * 1024;
const writeBufferBytesInitial = 64 * 1024;

/** Where {@link EntryWriter.write} writes: the log's segments. */
export interface WriteTarget {
  /** The active segment; undefined when the log has none. */
  last(): Segment | undefined;
  /** Creates the segment starting at `baseIndex`, the active one from now on. */
  roll(baseIndex: number): Segment;
  /** Hears of each write of `bytes` to `segment` before it is made. */
  writing(segment: Segment, bytes: number): void;
}

/** Encodes and writes entries for one log; see the module doc. */
export class EntryWriter {
  readonly #segmentBytesMax: number;
  readonly #target: WriteTarget;
  #buffer = new Uint8Array(writeBufferBytesInitial);

  constructor(segmentBytesMax: number, target: WriteTarget) {
    this.#segmentBytesMax = segmentBytesMax;
    this.#target = target;
  }

  /** Writes `entries` (checked to follow the log) to the end of the log. */
  write(entries: LogEntry[]): void {
    try {
      this.#write(entries, this.#target);
    } finally {
      if (this.#buffer.length > writeBufferBytesMax) {
        this.#buffer = new Uint8Array(writeBufferBytesInitial);
      }
    }
  }

  #write(entries: LogEntry[], target: WriteTarget): void {
    let segment = target.last();
    let pendingFrom = 0;
    let pendingBytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const size = recordBytes(entry.payload.length);
      const segmentBytes = (segment?.sizeBytes ?? 0) + pendingBytes;
      const roll = segment === undefined ||
        (segmentBytes > 0 && segmentBytes + size > this.#segmentBytesMax);
      if (roll || pendingBytes + size > Math.max(writeBufferBytesMax, size)) {
        if (pendingBytes > 0) this.#writePending(segment!, entries.slice(pendingFrom, i), target);
        pendingFrom = i;
        pendingBytes = 0;
        if (roll) segment = target.roll(entry.index);
      }
      if (pendingBytes + size > this.#buffer.length) this.#grow(pendingBytes + size);
      encodeRecordInto(entry, this.#buffer, pendingBytes);
      pendingBytes += size;
    }
    const rest = pendingFrom === 0 ? entries : entries.slice(pendingFrom);
    this.#writePending(segment!, rest, target);
  }

  #writePending(segment: Segment, entries: LogEntry[], target: WriteTarget): void {
    let position = segment.sizeBytes;
    let total = 0;
    for (const entry of entries) total += recordBytes(entry.payload.length);
    target.writing(segment, total);
    segment.handle.writeSync(this.#buffer.subarray(0, total));
    for (const entry of entries) {
      const bytes = recordBytes(entry.payload.length);
      const { index, term, timestamp } = entry;
      segment.noteRecord({ index, term, timestamp, position, bytes });
      position += bytes;
    }
  }

  #grow(bytes: number): void {
    const grown = new Uint8Array(Math.max(bytes, this.#buffer.length * 2));
    grown.set(this.#buffer);
    this.#buffer = grown;
  }
}
