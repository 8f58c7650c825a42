/**
 * How a `RaftReplica` persists what a Ready asks for: entries appended with one fsync (group
 * commit), the time stamps Raft leaves open, and the hard state — term and vote before any
 * message goes out, the commit index now and then beside the Ready loop.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SegmentLog } from "../../storage/mod.ts";
import type { Entry, HardState } from "../../raft/mod.ts";
import type { ClockLike } from "./types.ts";
import { type RaftLogStorage, toLogEntry } from "./log_storage.ts";

/** When the commit index is written although term and vote did not change. */
export interface CommitPersistPolicy {
  intervalMs: number;
  entries: number;
  /**
   * Payload bytes appended since it was last written: what a restart reads back through Raft
   * (copied, before it is applied) stays bounded however big the entries are.
   */
  bytes: number;
}

/** The persisting half of a replica's Ready handling. */
export class RaftLogWriter {
  readonly #log: SegmentLog;
  readonly #storage: RaftLogStorage;
  readonly #clock: ClockLike;
  readonly #policy: CommitPersistPolicy;
  /** Timestamp of the last entry in the log (the floor for entries Raft creates itself). */
  #tailTimestamp: number;
  /** Hard state of the last persisted Ready (its commit refers to durable entries only). */
  #durableHard: HardState;
  #writtenHard: HardState;
  #writtenAt: number;
  /** Payload bytes appended since the hard state was last written. */
  #appendedBytes = 0;
  #commitWrite: Promise<void> | null = null;

  constructor(
    parts: { log: SegmentLog; storage: RaftLogStorage; clock: ClockLike },
    options: { tailTimestamp: number; policy: CommitPersistPolicy },
  ) {
    this.#log = parts.log;
    this.#storage = parts.storage;
    this.#clock = parts.clock;
    this.#policy = options.policy;
    this.#tailTimestamp = options.tailTimestamp;
    const hard = parts.log.readHardState();
    this.#writtenHard = { term: hard.term, vote: hard.vote, commit: hard.commit } as HardState;
    this.#writtenAt = parts.clock.now();
    this.#durableHard = parts.storage.initialState().hardState;
  }

  /** Timestamp of the log's last entry. */
  get tailTimestamp(): number {
    return this.#tailTimestamp;
  }

  set tailTimestamp(timestamp: number) {
    this.#tailTimestamp = timestamp;
  }

  /**
   * Appends `entries` (truncating the log first when they overwrite its tail) and resolves once
   * they are durable. `onTruncate(first)` runs before a truncation, with the first index lost.
   */
  async append(entries: Entry[], onTruncate: (first: number) => void): Promise<void> {
    const log = this.#log;
    const first = entries[0].index;
    const waits: Promise<void>[] = [];
    try {
      if (first <= log.lastIndex) {
        onTruncate(first);
        this.#storage.forgetFrom(first);
        const truncated = log.truncateSuffix(first);
        waits.push(truncated);
        // Cut at once in memory; not cut means it failed (and changed nothing): its error is why.
        if (log.lastIndex >= first) await truncated;
        // Below the log's first entry is the snapshot point (nothing before it is ever cut).
        this.#tailTimestamp = first - 1 >= log.firstIndex
          ? log.entry(first - 1).timestamp
          : this.#storage.snapshotTimestamp() ?? this.#tailTimestamp;
      }
      const previous = this.stamp(entries);
      log.append(entries.map(toLogEntry));
      for (const entry of entries) this.#appendedBytes += entry.data.length;
      this.#storage.remember(entries);
      this.#tailTimestamp = previous;
      waits.push(log.sync());
    } catch (error) {
      // The truncation's flush is on its way and may fail too (the disk that failed the append
      // fails it): nobody awaits it now, and an unhandled rejection would end the process.
      for (const wait of waits) wait.catch(() => {});
      throw error;
    }
    // Without a truncation only the sync is awaited: no Promise.all (its array and promises).
    if (waits.length === 1) await waits[0];
    else await Promise.all(waits);
  }

  /**
   * Entries Raft makes itself (no-ops, config changes) carry no time: they take the previous
   * entry's, which every later proposal is at or above, so the log's time never goes back.
   * Returns the last entry's timestamp; stamping twice changes nothing.
   */
  stamp(entries: Entry[]): number {
    let previous = this.#tailTimestamp;
    for (const entry of entries) {
      entry.timestamp ??= previous;
      if (!(entry.timestamp >= previous)) {
        // A leader's append going back was dropped before (the Raft core's `timestampsFollow`).
        assert.fail(
          `timestamp of entry ${entry.index} goes back (${entry.timestamp} < ${previous})`,
        );
      }
      previous = entry.timestamp;
    }
    return previous;
  }

  /** A Ready's hard state: written at once when term or vote changed, else remembered. */
  async persistHardState(hardState: HardState): Promise<void> {
    const written = this.#writtenHard;
    this.#durableHard = { ...hardState };
    if (hardState.term !== written.term || hardState.vote !== written.vote) {
      await this.#write(hardState);
    }
  }

  /** Whether the remembered commit index should be written now (see the policy). */
  commitPersistDue(): boolean {
    if (this.#commitWrite !== null) return false;
    const behind = this.#durableHard.commit - this.#writtenHard.commit;
    if (behind <= 0) return false;
    return behind >= this.#policy.entries || this.#appendedBytes >= this.#policy.bytes ||
      this.#clock.now() - this.#writtenAt >= this.#policy.intervalMs;
  }

  /**
   * Writes the commit index beside the Ready loop (it is advisory: Raft re-learns it): its temp
   * file, two fsyncs and rename took 2–6 ms, a stall for every write waiting behind it. Hard
   * state writes are serialized by the log, so a term or vote written later still lands last.
   * `onDone` runs when it finished, with the error if it failed.
   */
  persistCommitInBackground(onDone: (error?: unknown) => void): void {
    this.#commitWrite = this.#write(this.#durableHard).then(
      () => {
        this.#commitWrite = null;
        onDone();
      },
      (error) => {
        this.#commitWrite = null;
        onDone(error);
      },
    );
  }

  /** Writes the last persisted Ready's hard state (on close), after any write in flight. */
  async flush(): Promise<void> {
    await this.#commitWrite;
    await this.#write(this.#durableHard);
  }

  async #write(hardState: HardState): Promise<void> {
    const state = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    this.#appendedBytes = 0; // appended after this point: the next write's
    await this.#log.writeHardState(state);
    this.#writtenHard = state;
    this.#writtenAt = this.#clock.now();
    this.#storage.setHardState(state);
  }
}
