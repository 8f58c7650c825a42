/**
 * The replica of one replication group on this node: it owns the group's log and state machine
 * and turns proposals into applied results.
 *
 * Today a group has one voter, so a proposal is committed as soon as it is durable on this
 * node's disk: `propose` stamps the entry with the leader's clock (never going backwards),
 * appends it with group commit (every proposal that arrives while an fdatasync is in flight joins
 * the next one), and applies it once the fsync that covers it returned. The Raft issue slides
 * the consensus core between "append" and "apply" without changing this class's contract.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { LogEntry, SegmentLog } from "../storage/mod.ts";
import { ApiError } from "./errors.ts";
import type { AppliedEntry, LogReader, Proposer } from "./engine_types.ts";

/** The clock the leader stamps commands with. Only `main.ts` wires the real one. */
export interface Clock {
  now(): number;
}

/** The part of the state machine the replica drives. */
export interface ApplyTarget {
  apply(entry: AppliedEntry): unknown;
}

/** Options of a `Replica`. */
export interface ReplicaOptions {
  log: SegmentLog;
  machine: ApplyTarget;
  clock: Clock;
  /** The Raft term stamped into entries (1 for a one-voter group). */
  term?: number;
  /** Proposals waiting for the log at once; past it `propose` answers 503 NotReady. */
  pendingProposalsMax?: number;
  /** Called after each applied batch with the last applied index (snapshots, metrics). */
  onApplied?: (index: number) => void;
}

interface Pending {
  entry: LogEntry;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * One group's log + state machine behind the `Proposer` and `LogReader` contracts.
 *
 * @example
 * ```ts
 * const replica = new Replica({ log, machine, clock: { now: () => Date.now() } });
 * const result = await replica.propose(commandType, payload);
 * ```
 */
export class Replica implements Proposer, LogReader {
  readonly #log: SegmentLog;
  readonly #machine: ApplyTarget;
  readonly #clock: Clock;
  readonly #term: number;
  readonly #pendingMax: number;
  readonly #onApplied?: (index: number) => void;
  /** Proposals stamped and numbered but not yet handed to the log. */
  #batch: Pending[] = [];
  /** Proposals handed to the log, waiting for their fsync, in index order. */
  #inflight: Pending[] = [];
  #flushScheduled = false;
  #lastIndex: number;
  #lastTimestamp: number;
  #appliedIndex: number;
  #closed = false;
  #failure: Error | null = null;

  constructor(options: ReplicaOptions) {
    this.#log = options.log;
    this.#machine = options.machine;
    this.#clock = options.clock;
    this.#term = options.term ?? 1;
    this.#pendingMax = options.pendingProposalsMax ?? 100_000;
    this.#onApplied = options.onApplied;
    this.#lastIndex = options.log.lastIndex;
    this.#appliedIndex = options.log.lastIndex;
    this.#lastTimestamp = this.#lastIndex >= options.log.firstIndex && this.#lastIndex > 0
      ? options.log.entry(this.#lastIndex).timestamp
      : 0;
  }

  /** Highest index applied to the state machine. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** Proposals accepted but not yet applied. */
  get pendingCount(): number {
    return this.#batch.length + this.#inflight.length;
  }

  /** The wall clock, for timers only. */
  now(): number {
    return this.#clock.now();
  }

  /** Appends a command and resolves with the state machine's result once it is durable. */
  propose(type: number, payload: Uint8Array): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ApiError("NotReady", "node is shutting down"));
    if (this.#failure) {
      return Promise.reject(new ApiError("NotReady", "log unavailable: " + this.#failure.message));
    }
    if (this.pendingCount >= this.#pendingMax) {
      return Promise.reject(
        new ApiError("NotReady", "too many writes in flight", { retryAfterSeconds: 1 }),
      );
    }
    // The leader's clock may step back (NTP); commands must not, or expiry would run backwards.
    const timestamp = Math.max(this.#lastTimestamp, this.#clock.now());
    this.#lastTimestamp = timestamp;
    const entry: LogEntry = {
      term: this.#term,
      index: ++this.#lastIndex,
      timestamp,
      type,
      payload,
    };
    return new Promise((resolve, reject) => {
      this.#batch.push({ entry, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Proposals made in this turn share one append; the log itself merges appends that
        // arrive while an fdatasync is in flight into the next one (group commit).
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /** Reads a committed entry back (bodies live only in the log). */
  entry(index: number): AppliedEntry {
    assert.ok(index <= this.#appliedIndex, "reading an entry that is not applied yet");
    return this.#log.entry(index);
  }

  /** Stops taking proposals and waits until every accepted one was applied or failed. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.pendingCount > 0) {
      if (this.#batch.length > 0 && !this.#flushScheduled) this.#flush();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#inflight.push(...batch);
    const entries = batch.map((pending) => pending.entry);
    this.#log.appendDurable(entries).then(
      () => this.#applyThrough(entries[entries.length - 1].index),
      (error) => this.#fail(error),
    );
  }

  #applyThrough(index: number): void {
    while (this.#inflight.length > 0 && this.#inflight[0].entry.index <= index) {
      const pending = this.#inflight.shift()!;
      assert.equal(pending.entry.index, this.#appliedIndex + 1, "entries apply in index order");
      let result: unknown;
      try {
        result = this.#machine.apply(pending.entry);
      } catch (error) {
        // apply validates before it mutates; a throw here is a bug. The entry is durable, so the
        // node must not go on as if it was not: stop taking writes and say why, loudly.
        console.error(`apply of entry ${pending.entry.index} failed:`, error);
        this.#appliedIndex = pending.entry.index;
        pending.reject(new ApiError("InternalError", "apply failed"));
        this.#fail(error);
        return;
      }
      this.#appliedIndex = pending.entry.index;
      if (result instanceof Error) pending.reject(result);
      else pending.resolve(result);
    }
    this.#onApplied?.(this.#appliedIndex);
  }

  #fail(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#failure ??= failure;
    for (const pending of [...this.#inflight, ...this.#batch]) {
      pending.reject(new ApiError("NotReady", "log unavailable: " + failure.message));
    }
    this.#inflight = [];
    this.#batch = [];
  }
}
