/**
 * The log's damage record on disk and in memory (see `DamageRecord` in `hard_state.ts`): what
 * `SegmentLog` notes when recovery cuts the log, when a write or fsync fails (fsyncgate: the
 * page cache may show entries the disk does not hold), and what its owner clears once repaired.
 *
 * @module
 */
import type { LogDirectoryFiles } from "./name_order.ts";
import {
  type DamageRecord,
  loadDamageRecord,
  mergeDamage,
  removeDamageRecord,
  storeDamageRecord,
} from "./hard_state.ts";
import { type CorruptionDetail, CorruptLogError } from "./errors.ts";

/** How `SegmentLog.noteDamage` records a cut: torn or not, and in which term (default: current). */
export type DamageNote = { torn: boolean; term?: number };

/** The damage record of one log directory. */
export class LogDamage {
  readonly #files: LogDirectoryFiles;
  #record: DamageRecord | null;
  /** The record of a failed write or fsync being written (see `noteFailure`). */
  #failureNoted: Promise<void> = Promise.resolve();
  /**
   * The last write or removal of the file: each runs after the one before, so two never share
   * the temp file (one renaming the other's before its fsync) and none merges a stale record.
   */
  #writes: Promise<void> = Promise.resolve();

  /** Reads the record of `files.dir`; a removal's directory fsync goes as `files` says. */
  constructor(files: LogDirectoryFiles) {
    this.#files = files;
    this.#record = loadDamageRecord(files.fs, files.dir);
  }

  /** A copy of the record; null when there is none. */
  get record(): DamageRecord | null {
    return this.#record === null ? null : structuredClone(this.#record);
  }

  /** Runs `change` of the file after every change before it (see `#writes`). */
  #serially(change: () => Promise<void>): Promise<void> {
    const run = this.#writes.catch(() => {}).then(change);
    this.#writes = run;
    return run;
  }

  /** Records damage durably, merged with what is recorded (see `mergeDamage`). */
  note(
    detail: CorruptionDetail,
    options: { torn: boolean; term: number; unsyncedFrom?: number },
  ): Promise<void> {
    return this.#serially(async () => {
      const record = mergeDamage(this.#record, { detail, ...options });
      await storeDamageRecord(this.#files.fs, this.#files.dir, record);
      this.#record = record;
    });
  }

  /**
   * Forgets the record durably. The removal's directory fsync runs through `syncDirectory` (after
   * the bytes before the newest segment, see `NameOrder`) once the name is gone, outside the
   * file's queue: a flush it waits for may fail and record that first. A directory fsync that
   * fails fails the log (`onFailure`; fsyncgate: a later one may report success without the
   * removal) and the record stays, merged into the failure's. The record of a failed write or
   * fsync (`unsyncedFrom`) is not cleared: only the next open's cut of that tail drops it.
   */
  async clear(): Promise<void> {
    const { fs, dir, syncDirectory, onFailure } = this.#files;
    let removed: DamageRecord | null = null;
    await this.#serially(() => {
      const record = this.#record;
      if (record?.unsyncedFrom !== undefined) {
        return Promise.reject(
          new Error(
            `the log failed (entries from ${record.unsyncedFrom} may not be durable): its ` +
              `damage record stays until the next open cuts them`,
          ),
        );
      }
      if (record !== null) removeDamageRecord(fs, dir);
      removed = record;
      return Promise.resolve();
    });
    if (removed === null) return;
    await syncDirectory(async () => {
      try {
        await fs.syncDir(dir);
      } catch (error) {
        throw onFailure(error);
      }
    });
    // A note since the removal merged into the removed record and wrote it again: it stays.
    if (this.#record === removed) this.#record = null;
  }

  /**
   * A write or fsync failed before this open (`unsyncedFrom`): what the files show past the last
   * good fsync may exist only in the page cache, so it is cut, durably, and recorded as a torn
   * tail (never acknowledged: nobody counts an entry before its fsync). The cut reads the record
   * before it: one that fails its check or that the disk refuses to read is damage, as where
   * the open's scan meets it: recorded (`noteDamage`, not torn) and the log cut before it.
   */
  async cutUnsyncedTail(log: {
    firstIndex: number;
    lastIndex: number;
    logStartIndex: number;
    truncateSuffix(from: number): Promise<void>;
    noteDamage(detail: CorruptionDetail): Promise<void>;
  }): Promise<void> {
    const from = this.#record?.unsyncedFrom;
    if (from === undefined) return;
    // All but the log start's successor can go; cutting that too would lose the start's term
    // (only after a prefix deletion; the one kept entry is then trusted like any other).
    const floor = log.firstIndex - 1 === log.logStartIndex ? log.firstIndex : log.firstIndex + 1;
    let cutFrom = Math.max(from, floor);
    const cuts = cutFrom <= log.lastIndex;
    while (cuts) {
      try {
        await log.truncateSuffix(cutFrom);
        break;
      } catch (error) {
        // A failed cut changed nothing (see `SegmentLog.truncateSuffix`): a lower one can follow.
        const bad = error instanceof CorruptLogError ? error.detail.index : undefined;
        if (bad === undefined || bad >= cutFrom || bad < floor) throw error;
        await log.noteDamage((error as CorruptLogError).detail);
        cutFrom = bad;
      }
    }
    await this.#unsyncedTailCut(cuts ? cutFrom : null);
  }

  /**
   * After the unsynced tail was cut (from `cutFrom`, or nothing was left to cut: null): records
   * the cut as a torn tail and drops `unsyncedFrom`, durably.
   */
  #unsyncedTailCut(cutFrom: number | null): Promise<void> {
    return this.#serially(() => this.#dropUnsyncedFrom(cutFrom));
  }

  async #dropUnsyncedFrom(cutFrom: number | null): Promise<void> {
    const record = this.#record;
    if (record?.unsyncedFrom === undefined) return;
    let next = record;
    if (cutFrom !== null) {
      next = mergeDamage(record, {
        detail: {
          index: cutFrom,
          file: this.#files.dir,
          offset: 0,
          reason: `entries from ${cutFrom} were not known durable when a write or fsync failed`,
        },
        torn: true,
        term: record.term,
      });
    }
    const { unsyncedFrom: _cut, ...rest } = next;
    await storeDamageRecord(this.#files.fs, this.#files.dir, rest);
    this.#record = rest;
  }

  /**
   * Records that entries from `from` on may be only in the page cache. Best effort: the disk
   * that just failed may refuse this write too (the restart then finds the log as the kernel
   * shows it, and only a CRC can catch what is missing). Never rejects.
   */
  noteFailure(error: unknown, options: { from: number; term: number }): Promise<void> {
    const reason = `write or fsync failed: ${(error as Error)?.message ?? String(error)}`;
    this.#failureNoted = this.note(
      { index: options.from, file: this.#files.dir, offset: 0, reason },
      { torn: true, term: options.term, unsyncedFrom: options.from },
    ).catch(() => {});
    return this.#failureNoted;
  }

  /**
   * A read after open found a damaged record (under a persisted index the open trusted): recorded
   * as damage, not a torn write, so the next open scans every segment and cuts the log there.
   * Best effort and once (a recorded damage already makes the next open do that); never rejects;
   * awaited by `failureRecorded`.
   */
  noteRead(detail: CorruptionDetail, term: number): void {
    if (this.#record !== null && !this.#record.torn) return;
    this.#failureNoted = this.#failureNoted
      .then(() => this.note(detail, { torn: false, term }))
      .catch(() => {});
  }

  /** Resolves once the record of a failed write or fsync, and every other change of the file
   * begun so far, is written (or gave up). */
  get failureRecorded(): Promise<void> {
    return this.#failureNoted.then(() => this.#writes).catch(() => {});
  }
}
