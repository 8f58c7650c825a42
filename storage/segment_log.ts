/**
 * The segment log: the node's Raft log as a directory of segment files, with crash recovery,
 * group commit, memory-mapped reads, suffix truncation, prefix deletion and Raft's hard state.
 *
 * Directory contents:
 * - `NNNNNNNNNNNNNNNNNNNN.log`: segments (see `segment.ts`, records in `record.ts`);
 * - `hard_state`: Raft's term, vote and commit (see `hard_state.ts`);
 * - `log_start`: index and term of the entry before the log, written by `resetTo`;
 * - `NNNNNNNNNNNNNNNNNNNN.index`: a sealed segment's persisted index (`sealed_indexes.ts`);
 * - `*.tmp`: leftovers of interrupted atomic writes, removed on open.
 *
 * Durability: `append` writes with one `writeSync` per batch and syncs nothing; `sync` and
 * `appendDurable` share fdatasync rounds (group commit, `sync_scheduler.ts`). A new segment's
 * name is made durable by a directory fsync in the same round as its first entries, and by no
 * directory fsync before the bytes written before it are durable (`name_order.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { invariant } from "./invariant.ts";
import { type FileHandle, type FileSystem, joinPath } from "./file_io.ts";
import {
  type DamageRecord,
  type HardState,
  loadLogStart,
  type LogStart,
  storeLogStart,
} from "./hard_state.ts";
import { HardStateWrites } from "./hard_state_writes.ts";
import { type DamageNote, LogDamage } from "./log_damage.ts";
import { LogScrubber } from "./log_scrubber.ts";
import { NameOrder } from "./name_order.ts";
import { SealedIndexes } from "./sealed_indexes.ts";
import { type CorruptionDetail, CorruptLogError } from "./errors.ts";
import type { LogEntry } from "./record.ts";
import { EntryWriter } from "./entry_writer.ts";
import { assertAppendable } from "./append_check.ts";
import { rejecting } from "./rejecting.ts";
import { recoverSegments, type RecoveryReport } from "./recovery.ts";
import {
  payloadBytesBetween,
  readEntries,
  Segment,
  segmentFileName,
  segmentSlot,
  segmentSlotAtOrAfterTime,
} from "./segment.ts";
import { RemovedFiles } from "./removed_files.ts";
import { SegmentMaps } from "./segment_maps.ts";
import { prepareLogDir } from "./format_check.ts";
import { type FlushPlan, SyncScheduler } from "./sync_scheduler.ts";
import { flushPlan } from "./flush_plan.ts";
import {
  type SegmentLogOptions,
  segmentLogSizes,
  type SegmentLogStats,
} from "./segment_log_options.ts";

export type { SegmentLogOptions, SegmentLogStats };

const constructionToken = Symbol("SegmentLog.open");

/**
 * The replicated log of one Raft group on one node.
 *
 * @example
 * ```ts
 * const log = await SegmentLog.open("data/group-1", { fs: new RealFileSystem() });
 * const payload = new TextEncoder().encode("hello");
 * await log.appendDurable([
 *   { term: 1, index: log.lastIndex + 1, timestamp: Date.now(), type: 0, payload },
 * ]);
 * log.entry(log.lastIndex).payload; // a copy of "hello"
 * await log.close();
 * ```
 */
export class SegmentLog {
  #fs: FileSystem;
  #dir: string;
  #segmentBytesMax: number;
  #indexIntervalBytes: number;
  #maps: SegmentMaps;
  /** Segments in index order; none is ever empty; the last is the active one. */
  #segments: Segment[] = [];
  #logStart: LogStart;
  readonly #hardState: HardStateWrites;
  readonly #damage: LogDamage;
  readonly #indexes: SealedIndexes;
  /** Holds every directory fsync after the bytes written before the newest segment. */
  readonly #names = new NameOrder(
    () => this.#scheduler.request(0, { fresh: true }),
    () => this.#busyWith,
  );
  #recovery: RecoveryReport = { segments: 0, entries: 0, truncatedBytes: 0 };
  #scheduler: SyncScheduler;
  /** Handles written or truncated since the last flush started, and the bytes written. */
  #dirtyHandles = new Set<FileHandle>();
  #dirtyBytes = 0;
  /** One-file rounds of at most this many bytes sync on this thread unless the last was slow. */
  inlineSyncBytesMax = 0;
  /** Names created or removed since the last flush started. */
  #directoryDirty = false;
  /** Handles of removed segments, discarded once their removal is durable. */
  readonly #removed = new RemovedFiles();
  readonly #writer: EntryWriter;
  #busyWith: Promise<void> | null = null;
  #closed = false;
  /** A failed write leaves the file's tail unknown: the log refuses work until reopened. */
  #writeFailure: unknown = null;

  /** Use {@link SegmentLog.open}. */
  constructor(token: symbol, options: SegmentLogOptions & { dir: string }) {
    assert.equal(token, constructionToken, "use SegmentLog.open");
    this.#fs = options.fs;
    this.#dir = options.dir;
    const { segmentBytesMax, indexIntervalBytes, mappedSegmentsMax } = segmentLogSizes(options);
    [this.#segmentBytesMax, this.#indexIntervalBytes] = [segmentBytesMax, indexIntervalBytes];
    this.#writer = new EntryWriter(this.#segmentBytesMax, {
      last: () => this.#segments.at(-1),
      roll: (baseIndex) => this.#roll(baseIndex),
      writing: (segment, bytes) => {
        this.#dirtyHandles.add(segment.handle);
        this.#dirtyBytes += bytes;
      },
    });
    this.#maps = new SegmentMaps({ limit: mappedSegmentsMax, enabled: options.mmap ?? true });
    this.#logStart = loadLogStart(this.#fs, this.#dir);
    const onFailure = (error: unknown) => this.#failWrites(error);
    const files = { fs: this.#fs, dir: this.#dir, syncDirectory: this.#gate, onFailure };
    [this.#hardState, this.#damage] = [new HardStateWrites(files), new LogDamage(files)];
    this.#indexes = new SealedIndexes(this.#fs, this.#dir, onFailure, this.#gate);
    const onDurable = (index: number) => this.#indexes.durableUpTo(index);
    const settings = { durableIndex: 0, onDurable, now: options.now };
    this.#scheduler = new SyncScheduler(() => this.#planFlush(), settings);
  }

  /**
   * Opens (creating if needed) the log in `dir` and recovers it: every segment is scanned and
   * verified, the log cut at the first bad record (see {@link SegmentLog.recovery}), the rest
   * synced, so `durableIndex === lastIndex` afterwards.
   */
  static async open(dir: string, options: SegmentLogOptions): Promise<SegmentLog> {
    prepareLogDir(options.fs, dir); // refuses a newer release's files first
    const log = new SegmentLog(constructionToken, { ...options, dir });
    await log.#recover();
    return log;
  }

  /** First index present; lastIndex + 1 when the log is empty. */
  get firstIndex(): number {
    return this.#segments.length > 0 ? this.#segments[0].baseIndex : this.#logStart.index + 1;
  }

  /** Last index present; firstIndex - 1 when the log is empty (0 for a new log). */
  get lastIndex(): number {
    return this.#segments.at(-1)?.lastIndex ?? this.#logStart.index;
  }

  /** Term of the last entry (of the log start when empty). */
  get lastTerm(): number {
    return this.#segments.at(-1)?.lastTerm ?? this.#logStart.term;
  }

  /** Timestamp of the last entry, from the segment's index (no read); null for an empty log. */
  get lastTimestamp(): number | null {
    return this.#segments.at(-1)?.lastTimestamp ?? null;
  }

  /** What recovery found when the log was opened. */
  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  /** The entry before the log as `resetTo` last wrote it (index 0, term 0 if it never ran). */
  get logStart(): LogStart {
    return { ...this.#logStart };
  }

  /** Highest index known fsynced. */
  get durableIndex(): number {
    return Math.min(this.#scheduler.durableIndex, this.lastIndex);
  }

  /**
   * Term of the entry at `index`, from memory. Also answers for firstIndex - 1 when that is the
   * log start (index 0 of a new log → 0; the snapshot point after `resetTo`); else RangeError.
   */
  term(index: number): number {
    const start = this.#logStart;
    if (index === start.index && index === this.firstIndex - 1) return start.term;
    this.#assertPresent(index);
    return this.#segmentFor(index).termOf(index);
  }

  /**
   * Appends entries (indexes lastIndex+1, +2, ...; terms and timestamps non-decreasing) with one
   * `writeSync` per segment touched. Nothing is synced: see {@link sync}, {@link appendDurable}.
   */
  append(entries: LogEntry[]): void {
    this.#assertWritable();
    if (entries.length === 0) return;
    assertAppendable(entries, {
      index: this.lastIndex,
      term: this.lastTerm,
      timestamp: this.lastTimestamp ?? -Infinity,
    });
    try {
      this.#writer.write(entries);
    } catch (error) {
      throw this.#failWrites(error);
    }
  }

  /**
   * fdatasyncs everything appended so far; shares a round with concurrent callers. A failed or
   * closed log answers with a rejected promise, never a throw (callers chain `.catch`).
   */
  sync(): Promise<void> {
    if (this.#busyWith !== null) return this.#busyWith.then(() => this.sync());
    return rejecting(() => {
      this.#assertUsable();
      return this.#scheduler.request(this.lastIndex);
    });
  }

  /**
   * Group commit: appends, then resolves once an fdatasync that covers these entries returned.
   * Calls made while a sync is in flight are synced together by the next single sync. If the
   * entries are removed by `truncateSuffix` before that, it resolves once the removal is durable.
   */
  appendDurable(entries: LogEntry[]): Promise<void> {
    return rejecting(() => {
      this.append(entries);
      return this.#scheduler.request(this.lastIndex);
    });
  }

  /** The entry at `index`, CRC-verified; its payload a copy, or with `copy` false a view valid
   * only until this log is next read or written, read without the map (`Segment.readOnce`: for
   * entries read back once, such as a receive's bodies). RangeError if absent. */
  entry(index: number, copy = true): LogEntry {
    this.#assertPresent(index);
    const segment = this.#segmentFor(index);
    if (!copy) return segment.readOnce(index);
    this.#prepareRead(segment);
    return segment.read(index, copy);
  }

  /**
   * Entries [from, toExclusive), stopping before the payload total would pass `bytesMax`
   * (always at least one entry when from < toExclusive). With `map: false`, segments not yet
   * mapped are read with positioned reads (for reads that stream through the log once). With
   * `visit`, entries go to it, payloads uncopied (see `Segment.readRange`), and none are returned.
   */
  entries(
    from: number,
    toExclusive: number,
    bytesMax = Infinity,
    options: { map?: boolean; visit?: (entry: LogEntry) => void } = {},
  ): LogEntry[] {
    if (from >= toExclusive) return [];
    this.#assertPresent(from);
    this.#assertPresent(toExclusive - 1);
    const prepare = options.map === false ? null : (segment: Segment) => this.#prepareRead(segment);
    return readEntries(this.#segments, { from, toExclusive, bytesMax }, { ...options, prepare });
  }

  /** Payload bytes of entries [from, toExclusive), from record positions (no payload read). */
  payloadBytesBetween(from: number, toExclusive: number): number {
    return payloadBytesBetween(this.#segments, { from, toExclusive });
  }

  /** First index whose timestamp is ≥ `timestamp`, or null when every entry is older. */
  indexAtOrAfterTime(timestamp: number): number | null {
    this.#assertUsable();
    const segment = this.#segments[segmentSlotAtOrAfterTime(this.#segments, timestamp)];
    if (segment === undefined) return null;
    this.#prepareRead(segment);
    return segment.indexAtOrAfterTime(timestamp);
  }

  /**
   * Removes entries ≥ `fromIndex` (a Raft conflict); at once in memory, so the next `append`
   * may follow without waiting; durable when the promise resolves. Removing every entry is
   * allowed only down to the log start (after `resetTo`), whose term is known. Failures reject,
   * never throw (see {@link sync}); a bad record before the cut leaves its segment uncut.
   */
  truncateSuffix(fromIndex: number): Promise<void> {
    return rejecting(() => this.#truncateSuffix(fromIndex));
  }

  #truncateSuffix(fromIndex: number): Promise<void> {
    this.#assertWritable();
    if (fromIndex > this.lastIndex) return Promise.resolve();
    if (fromIndex < this.firstIndex) {
      throw new RangeError(`cannot truncate from ${fromIndex}: log starts at ${this.firstIndex}`);
    }
    if (fromIndex === this.firstIndex && fromIndex - 1 !== this.#logStart.index) {
      throw new RangeError("truncating every entry would lose the last term; use resetTo");
    }
    const before = this.#segments.length;
    // A failed remove fails the log (an append could be durable before the removals were).
    try {
      while (this.#segments.length > 0 && this.#segments.at(-1)!.baseIndex >= fromIndex) {
        this.#dropSegment(this.#segments.at(-1)!);
        this.#segments.pop();
      }
    } catch (error) {
      throw this.#failWrites(error);
    }
    // Removals durable now, before the cut or an append into the segment left last (both durable
    // with that file's next sync, before the directory's): a crash in between would leave that
    // segment followed by one it overlaps or doesn't reach, which recovery must read as damage.
    // The bytes before the segment left last go first (`NameOrder.syncBeforeNewestSync`).
    // Synchronous, and rare (a cut across segments). A failed write leaves the tail unknown; a
    // record failing its check before the cut changed no byte (the caller may cut lower).
    const last = this.#segments.at(-1);
    try {
      if (this.#segments.length < before) {
        this.#names.syncBeforeNewestSync(this.#segments, this.#scheduler.durableIndex);
        this.#fs.syncDirSync(this.#dir);
      }
      if (last !== undefined && fromIndex <= last.lastIndex) {
        this.#maps.unmap(last);
        last.truncateFrom(fromIndex);
        this.#dirtyHandles.add(last.handle);
      }
      // After the cut: one that fails its check changed nothing, the scrub bound included.
      if (last !== undefined && this.#indexes.reopen(last, fromIndex)) this.#directoryDirty = true;
    } catch (error) {
      throw error instanceof CorruptLogError ? error : this.#failWrites(error);
    }
    this.#scheduler.supersede(fromIndex);
    return this.#scheduler.request(fromIndex - 1, { fresh: true });
  }

  /**
   * Removes whole segments whose entries are all < `beforeIndex` (retention, compaction after a
   * snapshot). The active segment always stays. Durable when the promise resolves. A failed or
   * closed log answers with a rejected promise, never a throw.
   */
  deletePrefix(beforeIndex: number): Promise<void> {
    return rejecting(() => {
      this.#assertWritable();
      let removed = 0;
      let failure: { error: unknown } | null = null;
      while (this.#segments.length > 1 && this.#segments[0].lastIndex < beforeIndex) {
        try {
          this.#dropSegment(this.#segments[0]);
        } catch (error) {
          // Its file stays, and so does the segment: the log on disk still starts with it (a valid
          // log, oldest first), and the next deletePrefix, or open, removes it. The promise says so.
          failure = { error };
          break;
        }
        this.#segments.shift();
        removed++;
      }
      const done = removed === 0 ? Promise.resolve() : this.#scheduler.request(0, { fresh: true });
      return failure === null ? done : done.then(() => Promise.reject(failure.error));
    });
  }

  /** The damage recorded and not yet cleared (see `LogDamage`); null when there is none. */
  get damage(): DamageRecord | null {
    return this.#damage.record;
  }

  /** Records damage durably, merged with what is recorded: in `term` (default: the current one),
   * torn only while every cut was, and the detail of the worse cut. */
  async noteDamage(detail: CorruptionDetail, options: DamageNote): Promise<void> {
    await this.#damage.note(detail, { term: this.#hardState.term, ...options });
  }

  /** Reads the sealed segments trusted by their index at open, and hands damage on; a damage
   * record that can't be written fails the log, as the index removal after it does. */
  scrubber(): LogScrubber {
    const fail = (error: unknown) => Promise.reject(this.#failWrites(error));
    return new LogScrubber(this.#indexes, (d) => this.noteDamage(d, { torn: false }).catch(fail));
  }

  /** Forgets the damage record durably (see `LogDamage.clear`); refused by a failed log. */
  async clearDamage(): Promise<void> {
    this.#assertUsable();
    await this.#damage.clear();
  }

  /** The hard state last written (or recovered). */
  readHardState(): HardState {
    return this.#hardState.state;
  }

  /**
   * Replaces the hard state durably (temp file, fsync, rename, directory fsync: two fsyncs, so
   * write it when term or vote change, not for every commit advance). Writes are serialized.
   * After a roll, its directory fsync waits for a flush round (see `NameOrder`): one that fails
   * fails the write (the log has failed then). Its own failed write or fsync fails the log as
   * an append's does (fsyncgate: a later directory fsync may report success without the
   * rename). A state that breaks the rules is refused and changes nothing.
   */
  writeHardState(state: HardState): Promise<void> {
    return rejecting(() => {
      this.#assertUsable();
      return this.#hardState.write(state);
    });
  }

  /**
   * Drops every entry; afterwards lastIndex = `index`, lastTerm = `term` and the next append is
   * index + 1 (installing a snapshot). Durable when it resolves; appends must wait for it. A
   * failed or closed log, or a bad index or term, answers with a rejected promise, never a throw.
   */
  resetTo(index: number, term: number): Promise<void> {
    return rejecting(() => {
      this.#assertWritable();
      invariant(Number.isSafeInteger(index) && index >= 0, "index must be a count");
      invariant(Number.isSafeInteger(term) && term >= 0, "term must be a count");
      const work = this.#reset({ index, term }).catch((error) => {
        this.#writeFailure = error; // half reset, neither log: refused until reopened (on disk
        this.#scheduler.fail(error); // either is a valid log: no damage to record)
        throw error;
      });
      this.#busyWith = work.finally(() => void (this.#busyWith = null));
      return this.#busyWith;
    });
  }

  async #reset(start: LogStart): Promise<void> {
    await this.#scheduler.idle();
    // Newest first: a crash part way leaves a prefix of the old log, which is a valid log.
    for (const segment of this.#segments.reverse()) {
      this.#maps.unmap(segment);
      this.#fs.remove(segment.handle.path);
      this.#removed.add(segment.handle);
      this.#indexes.forget(segment);
    }
    this.#segments = [];
    this.#dirtyHandles.clear();
    this.#dirtyBytes = 0;
    await this.#removed.afterDirectorySync(this.#fs.syncDir(this.#dir));
    await storeLogStart(this.#fs, this.#dir, start);
    this.#logStart = { ...start };
    this.#scheduler.restart(start.index);
  }

  /** Sizes and fsync timings. */
  stats(): SegmentLogStats {
    const bytes = this.#segments.reduce((total, segment) => total + segment.sizeBytes, 0);
    const [segments, mapped] = [this.#segments.length, this.#maps.any];
    return { segments, bytes, ...this.#scheduler.stats, mapped };
  }

  /** Syncs what was appended, waits for pending work, unmaps and closes every file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#busyWith !== null) await this.#busyWith.catch(() => {});
    if (this.#scheduler.failure === null && this.#writeFailure === null) await this.sync();
    await this.#hardState.settled();
    await this.#indexes.settled(); // before: one may fail the log (its directory sync)
    await this.#damage.failureRecorded;
    await this.#scheduler.idle();
    this.#closed = true;
    await this.#removed.settle();
    for (const segment of this.#segments) {
      this.#maps.unmap(segment);
      segment.handle.close();
    }
    this.#segments = [];
  }

  async #recover(): Promise<void> {
    const earlierDamage = this.#damage.record !== null;
    const recovered = await recoverSegments(this.#fs, {
      dir: this.#dir,
      logStart: this.#logStart,
      indexIntervalBytes: this.#indexIntervalBytes,
      beforeCut: (cut) => this.noteDamage(cut.detail, { torn: cut.torn }),
      indexes: this.#indexes,
      trustIndexes: this.#damage.record === null, // after damage, every segment is read again
      onCorrupt: (detail) => this.#damage.noteRead(detail, this.#hardState.term),
    });
    [this.#segments, this.#recovery] = [recovered.segments, recovered.report];
    if (earlierDamage) this.#recovery.earlierDamage = true;
    this.#scheduler.restart(this.lastIndex);
    // After a failed write or fsync, what the page cache shows past the last good fsync is cut.
    await this.#damage.cutUnsyncedTail({
      firstIndex: this.firstIndex,
      lastIndex: this.lastIndex,
      logStartIndex: this.#logStart.index,
      truncateSuffix: (from) => this.truncateSuffix(from),
      noteDamage: (detail) => this.noteDamage(detail, { torn: false }),
    });
  }

  // ---- writing ----

  /** Where the entries start that a failed write or fsync leaves unknown (see `LogDamage`). */
  #failedFrom(): { from: number; term: number } {
    return { from: this.#scheduler.durableIndex + 1, term: this.#hardState.term };
  }

  #roll(baseIndex: number): Segment {
    if (this.#segments.length > 0) this.#indexes.seal(this.#segments.at(-1)!);
    const path = joinPath(this.#dir, segmentFileName(baseIndex));
    // Handles append, so a stale file of the same name (never expected) must not be reused.
    this.#fs.remove(path);
    const handle = this.#fs.open(path, { create: true });
    const segment = new Segment(handle, {
      baseIndex,
      indexIntervalBytes: this.#indexIntervalBytes,
      onCorrupt: (detail) => this.#damage.noteRead(detail, this.#hardState.term),
    });
    this.#segments.push(segment);
    this.#names.rolled();
    this.#directoryDirty = true;
    this.#dirtyHandles.add(handle);
    return segment;
  }

  /** Runs a directory fsync of the log directory when it may (see `NameOrder`). */
  readonly #gate = (sync: () => Promise<void>) => this.#names.syncDirectory(sync);

  /** A write or directory sync failed outside a flush: the log refuses work until reopened and
   * answers no waiter (a round in flight would acknowledge entries the next open cuts). Once:
   * on a failed log, only returns `error` (which most likely says so). */
  #failWrites(error: unknown): unknown {
    if (this.#writeFailure !== null || this.#scheduler.failure !== null) return error;
    this.#writeFailure = error;
    this.#scheduler.fail(error);
    this.#damage.noteFailure(error, this.#failedFrom());
    return error;
  }

  /** Removes a segment's file; a failed remove throws and leaves the segment as it was (mapped
   * again when read), for the caller to keep. */
  #dropSegment(segment: Segment): void {
    this.#maps.unmap(segment);
    this.#fs.remove(segment.handle.path);
    this.#dirtyHandles.delete(segment.handle);
    this.#indexes.forget(segment);
    this.#directoryDirty = true;
    this.#removed.add(segment.handle); // see removed_files.ts
  }

  /** Called by the scheduler at the start of each flush round (none is in flight). */
  #planFlush(): FlushPlan {
    const handles = [...this.#dirtyHandles];
    this.#dirtyHandles.clear();
    const directory = this.#directoryDirty ? this.#dir : null;
    this.#directoryDirty = false;
    const noteFailure = (error: unknown) => this.#damage.noteFailure(error, this.#failedFrom());
    const [fs, removed, cover] = [this.#fs, this.#removed, this.lastIndex];
    const inline = handles.length === 1 && directory === null &&
      this.#dirtyBytes <= this.inlineSyncBytesMax && !this.#scheduler.lastRoundSlow;
    this.#dirtyBytes = 0;
    const names = this.#names.round(() => [...this.#dirtyHandles]);
    return flushPlan({ fs, handles, directory, removed, cover, noteFailure, inline, names });
  }

  // ---- reading ----

  #assertPresent(index: number): void {
    this.#assertUsable();
    if (!Number.isSafeInteger(index) || index < this.firstIndex || index > this.lastIndex) {
      throw new RangeError(
        `index ${index} outside the log [${this.firstIndex}, ${this.lastIndex}]`,
      );
    }
  }

  #segmentFor(index: number): Segment {
    return this.#segments[segmentSlot(this.#segments, index)];
  }

  /** Maps the segment for a read if allowed (see `SegmentMaps`). */
  #prepareRead(segment: Segment): void {
    const active = segment === this.#segments.at(-1);
    const length = active ? Math.max(this.#segmentBytesMax, segment.sizeBytes) : segment.sizeBytes;
    this.#maps.prepare(segment, length);
  }

  /** Unmaps every segment (mapped again when read): gives back the pages a replay touched. */
  releaseMappings(): void {
    this.#maps.releaseAll();
  }

  // ---- guards ----

  #assertUsable(): void {
    invariant(!this.#closed, "the log is closed");
    if (this.#writeFailure !== null) throw this.#writeFailure;
    const failure = this.#scheduler.failure;
    if (failure !== null) throw failure;
  }

  #assertWritable(): void {
    this.#assertUsable();
    invariant(this.#busyWith === null, "wait for resetTo before changing the log");
  }
}
