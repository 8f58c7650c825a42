/**
 * The scrubber: reads the sealed segments that were restored from their persisted index at open
 * (so never read since; of one a Raft cut made the log's last again, what the cut kept), a
 * bounded number of bytes per step, and checks every record as the open
 * scan would have — CRC, contiguous index, the term the index claims, timestamps that never
 * decrease, the index's points at the positions it claims, its time points (taken at those
 * points where the timestamp grew, as a scan takes them: a rewind by time starts from them) and
 * its first and last timestamps, and the segment's length. The caller paces the steps (bytes per
 * second) and decides what a damage means for the process.
 *
 * Damage is handed to the log's damage path before the step resolves: a damage record (not a
 * torn write: the segment had been sealed and synced), written durably, and the segment's index
 * file removed, durably. The next open therefore scans that segment, cuts the log at the first
 * bad record and distrusts it, exactly as if the open had found the damage itself.
 *
 * @module
 */
import type { CorruptionDetail } from "./errors.ts";
import { inspectRecord, newRecordHeader, recordLengthAt } from "./record.ts";
import type { Segment } from "./segment.ts";
import type { ScrubBound, SealedIndexes } from "./sealed_indexes.ts";

/** What one {@link LogScrubber.step} did. */
export interface ScrubStep {
  /** Bytes read and checked. */
  bytes: number;
  /** True once every segment to verify was read (or left the log). */
  done: boolean;
  /** The damage found (already recorded durably), if any; the scrubber then stops. */
  damage: CorruptionDetail | null;
}

/** Bytes read at once at most (a record longer than this is read whole). */
export const scrubReadBytesMax = 1024 * 1024;

/** Verifies the segments a log trusted by their index; see the module comment. */
export class LogScrubber {
  readonly #indexes: SealedIndexes;
  readonly #noteDamage: (detail: CorruptionDetail) => Promise<void>;
  #segment: Segment | null = null;
  #position = 0;
  #nextIndex = 0;
  #pointSlot = 0;
  /** The next time point to meet, and the timestamps of the last one met and the last record. */
  #timeSlot = 0;
  #timePointTimestamp = -Infinity;
  #timestamp = -Infinity;
  #buffer = new Uint8Array(0);
  #header = newRecordHeader();
  #failed: CorruptionDetail | null = null;
  #verifiedSegments = 0;

  constructor(indexes: SealedIndexes, noteDamage: (detail: CorruptionDetail) => Promise<void>) {
    this.#indexes = indexes;
    this.#noteDamage = noteDamage;
  }

  /** Segments read whole and found as their index says. */
  get verifiedSegments(): number {
    return this.#verifiedSegments;
  }

  /** Segments still to read (the one in progress included). */
  get remainingSegments(): number {
    return this.#indexes.unverified().length;
  }

  /**
   * Reads and checks about `bytesMax` bytes (at least one record) of the next segment to verify.
   * On damage, records it (see the module comment) before resolving.
   */
  async step(bytesMax: number): Promise<ScrubStep> {
    if (this.#failed !== null) return { bytes: 0, done: true, damage: this.#failed };
    const segment = this.#current();
    if (segment === null) return { bytes: 0, done: true, damage: null };
    const bound = this.#indexes.scrubBound(segment)!;
    const budget = Math.min(Math.max(bytesMax, 1), scrubReadBytesMax);
    const result = this.#checkSome(segment, bound, budget);
    if (result.damage === null) return { bytes: result.bytes, done: false, damage: null };
    this.#failed = result.damage;
    await this.#noteDamage(result.damage);
    await this.#indexes.distrust(segment);
    return { bytes: result.bytes, done: true, damage: result.damage };
  }

  /** The segment being read, moving on when it is done or left the log; null when none. */
  #current(): Segment | null {
    const segment = this.#segment;
    if (segment !== null && this.#indexes.isUnverified(segment)) return segment;
    const next = this.#indexes.unverified()[0];
    if (next === undefined) {
      this.#buffer = new Uint8Array(0); // done: the buffer goes with it
      return (this.#segment = null);
    }
    this.#segment = next;
    this.#position = 0;
    this.#nextIndex = next.baseIndex;
    this.#pointSlot = 0;
    this.#timeSlot = 0;
    [this.#timePointTimestamp, this.#timestamp] = [-Infinity, -Infinity];
    return next;
  }

  #checkSome(
    segment: Segment,
    bound: ScrubBound,
    bytesMax: number,
  ): { bytes: number; damage: CorruptionDetail | null } {
    const start = this.#position;
    const damage = (reason: string): { bytes: number; damage: CorruptionDetail } => ({
      bytes: this.#position - start,
      damage: {
        index: this.#nextIndex,
        file: segment.handle.path,
        offset: this.#position,
        reason: `scrub: ${reason}`,
      },
    });
    let window: Uint8Array;
    try {
      window = this.#read(segment, bound.bytes, bytesMax);
    } catch (error) {
      return damage(`read failed: ${(error as Error).message}`);
    }
    let offset = 0;
    while (this.#position < bound.bytes) {
      const status = inspectRecord(window, offset, { header: this.#header, verify: true });
      if (status === "incomplete") {
        if (offset === 0) return damage("incomplete record");
        break; // the rest is read by the next step
      }
      if (status !== "ok") return damage(status);
      const reason = this.#mismatch(segment);
      if (reason !== null) return damage(reason);
      offset += this.#header.bytes;
      this.#position += this.#header.bytes;
      this.#nextIndex++;
    }
    // Past the bound only when a cut came below where this scrub had read to: all read then.
    if (this.#position >= bound.bytes) {
      if (this.#position === bound.bytes && this.#nextIndex !== bound.endIndex) {
        return damage("fewer records than indexed");
      }
      const times = segment.timeIndex;
      if (
        this.#position === bound.bytes && bound.endIndex === segment.lastIndex + 1 &&
        this.#timeSlot < times.count
      ) {
        return damage("time point past the last record");
      }
      this.#indexes.verified(segment);
      this.#verifiedSegments++;
    }
    return { bytes: this.#position - start, damage: null };
  }

  /**
   * Bytes from the current position up to `end`: about `bytesMax`, or the whole next record if
   * longer.
   */
  #read(segment: Segment, end: number, bytesMax: number): Uint8Array {
    const window = this.#readAt(segment, Math.min(end - this.#position, bytesMax));
    const recordLength = recordLengthAt(window, 0);
    if (recordLength > window.length && this.#position + recordLength <= end) {
      return this.#readAt(segment, recordLength);
    }
    return window;
  }

  /**
   * `length` bytes from the current position, in the one buffer every step reuses (grown to the
   * longest read): a fresh one per record longer than a step's budget was a quarter-megabyte
   * array buffer ten times a second with big batches, the C heap's pages held until a trim.
   */
  #readAt(segment: Segment, length: number): Uint8Array {
    if (this.#buffer.length < length) this.#buffer = new Uint8Array(length);
    const target = this.#buffer.subarray(0, length);
    return target.subarray(0, segment.handle.readSync(this.#position, target));
  }

  /** Why the record just read is not the one the index describes here, or null. */
  #mismatch(segment: Segment): string | null {
    const header = this.#header;
    if (header.index !== this.#nextIndex) return "index not contiguous";
    if (header.index > segment.lastIndex) return "more records than indexed";
    if (header.term !== segment.termOf(header.index)) return "term differs from the index";
    if (header.timestamp < this.#timestamp) return "timestamp decreased";
    this.#timestamp = header.timestamp;
    const points = segment.offsetIndex;
    const relative = header.index - segment.baseIndex;
    if (relative === 0 && header.timestamp !== segment.firstTimestamp) {
      return "first timestamp differs from the index";
    }
    let atPoint = false;
    if (this.#pointSlot < points.count && points.relativeIndexAt(this.#pointSlot) === relative) {
      if (points.positionAt(this.#pointSlot) !== this.#position) return "index point misplaced";
      this.#pointSlot++;
      atPoint = true;
    }
    if (!this.#timePointMatches(segment, relative, atPoint)) {
      return "time point differs from the records";
    }
    if (header.index === segment.lastIndex && header.timestamp !== segment.lastTimestamp) {
      return "last timestamp differs from the index";
    }
    return null;
  }

  /**
   * Whether the index has a time point at the record just read exactly when a scan would take
   * one (at an index point, where the timestamp grew past the last time point's), with its time.
   */
  #timePointMatches(segment: Segment, relative: number, atPoint: boolean): boolean {
    const times = segment.timeIndex;
    const slot = this.#timeSlot;
    const present = slot < times.count && times.relativeIndexAt(slot) === relative;
    const expected = atPoint && this.#header.timestamp > this.#timePointTimestamp;
    if (present !== expected) return false;
    if (!present) return true;
    if (times.timestampAt(slot) !== this.#header.timestamp) return false;
    this.#timeSlot++;
    this.#timePointTimestamp = this.#header.timestamp;
    return true;
  }
}
