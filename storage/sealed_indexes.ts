/**
 * The persisted indexes of a log's sealed segments (`segment_index_file.ts`): checking one at
 * open, writing one once a segment is sealed and durable, removing one when its segment changes
 * or goes, and the list of segments trusted without a scan that the scrubber still has to read.
 * A Raft cut that makes such a segment the log's last again keeps what the cut leaves of it on
 * that list: those records were never read either.
 *
 * When an index is trusted (see {@link SealedIndexes.load}): the file's own CRC checks out; its
 * base index is the one in the segment's file name; the segment file is exactly as long as the
 * index says; and the last record, read from the file, is a valid record with the index's last
 * index, term, timestamp and CRC. A segment is only ever appended to, so one that is as long as
 * when it was indexed and ends with the same record holds the same records — and where a Raft
 * conflict truncated and re-filled it, its last entry has a newer term (two entries with the
 * same index and term are the same entry, Raft's log matching), which the check sees. Whatever
 * fails is scanned as before and indexed again; the last (active) segment is always scanned.
 *
 * Writes: temp file, fdatasync, rename, directory fsync, only after the segment's bytes are
 * durable (an index never describes bytes a crash can still take away), and the directory fsync
 * only once a newer segment's name may be durable too (see `NameOrder`). They are derived data,
 * so a failed write is dropped: the next open scans that segment. A failed directory fsync is
 * not dropped: the log fails, as after its own (see the constructor).
 *
 * @module
 */
import { type FileSystem, joinPath } from "./file_io.ts";
import { invariant } from "./invariant.ts";
import type { DirectorySyncGate } from "./name_order.ts";
import { inspectRecord, newRecordHeader, recordBytesMax } from "./record.ts";
import type { Segment } from "./segment.ts";
import {
  decodeSegmentIndex,
  encodeSegmentIndex,
  segmentIndexBytesMax,
  segmentIndexFileName,
  segmentIndexSuffix,
  type SegmentSummary,
} from "./segment_index_file.ts";
import { temporarySuffix } from "./snapshot_file.ts";

/** What of an unverified segment the scrubber reads: `bytes`, the records before `endIndex`. */
export interface ScrubBound {
  /** Bytes from the segment's start. */
  bytes: number;
  /** The index after the last record within `bytes`. */
  endIndex: number;
}

/** The persisted indexes of one log directory. */
export class SealedIndexes {
  readonly #fs: FileSystem;
  readonly #dir: string;
  /**
   * Sealed segments whose index is queued or being written, each with the token of its seal;
   * `forget` cancels. A write serves only the seal it was queued for: after a cut, a segment
   * refilled and sealed again is not durable where the write queued before the cut assumed.
   */
  readonly #pending = new Map<Segment, object>();
  /**
   * Segments restored from their index at open that no scrub has read yet (index order), with
   * what of each is left to read (all of it, or what a cut kept).
   */
  readonly #unverified = new Map<Segment, ScrubBound>();
  /** Seal tokens whose write is queued. */
  readonly #queued = new Set<object>();
  #writes: Promise<void> = Promise.resolve();
  #written = 0;
  readonly #onDirectoryFailure: (error: unknown) => void;
  readonly #syncDirectory: DirectorySyncGate;
  /**
   * The last record of every segment restored at open is read here: a fresh buffer each (a
   * quarter megabyte per segment with big batches) left the C heap tens of megabytes high at
   * ready, until a trim.
   */
  #scratch = new Uint8Array(0);

  /**
   * `onDirectoryFailure` hears of a directory fsync that failed: not derived data any more, as
   * the directory holds the log's own names, and a later sync may not report the error again.
   * Every directory fsync runs through `syncDirectory` (the log's `NameOrder`: it makes every
   * name durable, a newer segment's too).
   */
  constructor(
    fs: FileSystem,
    dir: string,
    onDirectoryFailure: (error: unknown) => void = () => {},
    syncDirectory: DirectorySyncGate = (sync) => sync(),
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#onDirectoryFailure = onDirectoryFailure;
    this.#syncDirectory = syncDirectory;
  }

  /** Index files written since open. */
  get written(): number {
    return this.#written;
  }

  #path(segment: Segment): string {
    return joinPath(this.#dir, segmentIndexFileName(segment.baseIndex));
  }

  /**
   * The persisted index of the (empty, just opened) `segment` if it checks out against the file
   * (see the module comment) and continues `previous`; else why not.
   */
  load(
    segment: Segment,
    previous: { term: number; timestamp: number },
  ): SegmentSummary | { refused: string } {
    const path = this.#path(segment);
    if (!this.#fs.exists(path)) return { refused: "missing" };
    const handle = this.#fs.open(path);
    let bytes: Uint8Array;
    try {
      if (handle.size() > segmentIndexBytesMax) return { refused: "too big" };
      bytes = new Uint8Array(handle.size());
      if (handle.readSync(0, bytes) !== bytes.length) return { refused: "short read" };
    } catch {
      return { refused: "unreadable" }; // derived data: the segment is scanned instead
    } finally {
      handle.close();
    }
    const summary = decodeSegmentIndex(bytes, path);
    if ("refused" in summary) return summary;
    if (summary.baseIndex !== segment.baseIndex) return { refused: "index of another segment" };
    if (summary.sizeBytes !== segment.handle.size()) return { refused: "segment length differs" };
    if (summary.termRuns.terms[0] < previous.term) return { refused: "term decreased" };
    if (summary.firstTimestamp < previous.timestamp) return { refused: "timestamp decreased" };
    const lastRecord = this.#checkLastRecord(segment, summary);
    return lastRecord === null ? summary : { refused: lastRecord };
  }

  /** Why the segment's last record is not the one the index names, or null. */
  #checkLastRecord(segment: Segment, summary: SegmentSummary): string | null {
    const length = summary.sizeBytes - summary.lastRecordPosition;
    if (length > recordBytesMax) return "last record too long";
    if (this.#scratch.length < length) this.#scratch = new Uint8Array(Math.max(length, 65536));
    const bytes = this.#scratch.subarray(0, length);
    let read: number;
    try {
      read = segment.handle.readSync(summary.lastRecordPosition, bytes);
    } catch {
      read = -1; // the scan that follows finds where the disk refuses, and cuts there
    }
    if (read !== length) return "last record unreadable";
    const header = newRecordHeader();
    const status = inspectRecord(bytes, 0, { header, verify: true });
    if (status !== "ok") return `last record: ${status}`;
    const crc = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
    const same = header.bytes === length && header.index === summary.lastIndex &&
      header.term === summary.lastTerm && header.timestamp === summary.lastTimestamp &&
      crc === summary.lastRecordCrc;
    return same ? null : "last record differs";
  }

  /** The open restored what it could: the buffer its last-record checks shared goes. */
  loaded(): void {
    this.#scratch = new Uint8Array(0);
  }

  /** Notes a segment restored from its index: the scrubber will read it once. */
  trusted(segment: Segment): void {
    this.#unverified.set(segment, { bytes: segment.sizeBytes, endIndex: segment.lastIndex + 1 });
  }

  /** Segments restored from their index that no scrub has read yet, in index order. */
  unverified(): Segment[] {
    return [...this.#unverified.keys()];
  }

  /** What of an unverified segment the scrubber has to read; undefined once it needs none. */
  scrubBound(segment: Segment): ScrubBound | undefined {
    return this.#unverified.get(segment);
  }

  /** True while `segment` is restored from its index, unread by a scrub, and still in the log. */
  isUnverified(segment: Segment): boolean {
    return this.#unverified.has(segment);
  }

  /** A scrub read the whole segment and found it as its index says. */
  verified(segment: Segment): void {
    this.#unverified.delete(segment);
  }

  /**
   * `segment` is sealed: its index is written once {@link durableUpTo} reports its last entry
   * durable, unless {@link forget} comes first.
   */
  seal(segment: Segment): void {
    this.#pending.set(segment, {});
  }

  /**
   * Every entry ≤ `durableIndex` is on disk (a flush returned): queues the index writes of the
   * sealed segments it covers. Writes run one at a time, beside the log's own flushes.
   */
  durableUpTo(durableIndex: number): void {
    for (const [segment, seal] of this.#pending) {
      if (segment.lastIndex > durableIndex || this.#queued.has(seal)) continue;
      this.#queued.add(seal);
      this.#writes = this.#writes.then(() => this.#write(segment, seal)).catch(() => {
        // Derived data: a failed write leaves at worst a temp file (removed at open) and a
        // segment that the next open scans.
      }).finally(() => this.#queued.delete(seal));
    }
  }

  async #write(segment: Segment, seal: object): Promise<void> {
    if (this.#pending.get(segment) !== seal) return;
    const head = new Uint8Array(8);
    segment.handle.readSync(segment.lastRecordPosition, head);
    const bytes = encodeSegmentIndex(segment.summary(new DataView(head.buffer).getUint32(4, true)));
    const path = this.#path(segment);
    const temporaryPath = path + temporarySuffix;
    this.#fs.remove(temporaryPath);
    const handle = this.#fs.open(temporaryPath, { create: true });
    try {
      handle.writeSync(bytes);
      await handle.syncData();
    } finally {
      handle.close();
    }
    // Checked and renamed in one synchronous step: a `forget` (or a later seal) during the
    // fsync wins.
    if (this.#pending.get(segment) !== seal) {
      this.#fs.remove(temporaryPath);
      return;
    }
    this.#pending.delete(segment);
    this.#fs.rename(temporaryPath, path);
    // A failed flush before it fails the write only (derived data): the log failed already.
    await this.#syncDirectory(() => this.#syncDirectoryOrFail());
    this.#written++;
  }

  /**
   * The segment changes (truncated, appended to again) or goes: cancels its index write and
   * removes its index file. True when a file name was removed (durable with the next directory
   * fsync, which the log's flush does when told its directory changed).
   */
  forget(segment: Segment): boolean {
    this.#pending.delete(segment);
    this.#unverified.delete(segment);
    const path = this.#path(segment);
    if (!this.#fs.exists(path)) return false;
    this.#fs.remove(path);
    return true;
  }

  /**
   * A Raft cut from `fromIndex` (in `segment` or right after it) leaves `segment` last, to be
   * appended to again: its index goes as with {@link forget}, but if no scrub has read it yet,
   * what the cut keeps of it stays to be read. Call after the cut. True as `forget`.
   */
  reopen(segment: Segment, fromIndex: number): boolean {
    const bound = this.#unverified.get(segment);
    const removed = this.forget(segment);
    if (bound === undefined) return removed;
    // After the cut (which may fail its check and change nothing, the bound included): what it
    // kept of the bound ends where the segment now ends. No read, so nothing here throws.
    invariant(segment.lastIndex < fromIndex, "the cut is done");
    const cut = bound.endIndex > fromIndex;
    this.#unverified.set(segment, cut ? { bytes: segment.sizeBytes, endIndex: fromIndex } : bound);
    return removed;
  }

  /**
   * A scrub found `segment` damaged: its index goes, durably, so the next open scans the
   * segment and cuts the log at the damage. A directory fsync that fails fails the log.
   */
  async distrust(segment: Segment): Promise<void> {
    this.forget(segment);
    await this.#syncDirectory(() => this.#syncDirectoryOrFail());
  }

  /** A directory fsync that, when it fails, fails the log (see the constructor). */
  async #syncDirectoryOrFail(): Promise<void> {
    try {
      await this.#fs.syncDir(this.#dir);
    } catch (error) {
      this.#onDirectoryFailure(error); // fsyncgate: the log's next sync could report success
      throw error;
    }
  }

  /** Removes index files whose base is not in `keep` (orphans, the active segment's). */
  removeOthers(keep: Set<number>): void {
    for (const name of this.#fs.readDir(this.#dir)) {
      if (!name.endsWith(segmentIndexSuffix)) continue;
      const base = Number(name.slice(0, -segmentIndexSuffix.length));
      if (keep.has(base)) continue;
      this.#fs.remove(joinPath(this.#dir, name));
    }
  }

  /** Resolves once every queued index write finished (or was dropped). */
  async settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.#writes;
      await current;
    } while (current !== this.#writes);
  }
}
