/**
 * An in-memory replication group of one: a log in an array plus an `Applier`, behind the
 * same `Proposer` and `LogReader` contracts as `replication/replica.ts`. Tests of the engine, the
 * HTTP routes and the SDK run on it; `ManualClock` lets them jump time and fire timers.
 *
 * @module
 */
import { ReplicationError } from "../errors.ts";
import type { AppliedEntry, Applier, ClockLike, LogReader, Proposer, Timers } from "../types.ts";

/**
 * A clock that moves only when told, with timers that fire as it passes them.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(1_000);
 * clock.setTimer(500, () => console.log("fired"));
 * clock.advance(500); // fires
 * ```
 */
export class ManualClock implements ClockLike, Timers {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Pending timers. */
  get timerCount(): number {
    return this.#timers.size;
  }

  setTimer(delayMs: number, callback: () => void): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].callback();
    }
    this.#now = target;
  }
}

/** Options of a `MemoryReplica`. */
export interface MemoryReplicaOptions<A extends Applier> {
  clock?: ClockLike;
  /** What committed entries are applied to (the engine's `StateMachine` in the broker's tests). */
  machine: A;
}

/**
 * Log + state machine in memory. `propose` appends at once (so index order is call order) and
 * applies after a microtask, like a replica whose write completed.
 *
 * @example
 * ```ts
 * const replica = new MemoryReplica({ machine: new StateMachine() });
 * const broker = new EngineService({ proposer: replica, machine: replica.machine, log: replica });
 * ```
 */
export class MemoryReplica<A extends Applier> implements Proposer, LogReader {
  readonly machine: A;
  readonly #clock: ClockLike;
  #entries: AppliedEntry[] = [];
  /** Index of `#entries[0]`. */
  #firstIndex: number;
  #lastTimestamp = 0;
  #applying: Promise<unknown> = Promise.resolve();
  #available = true;

  constructor(options: MemoryReplicaOptions<A>) {
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.machine = options.machine;
    this.#firstIndex = this.machine.appliedIndex + 1;
  }

  now(): number {
    return this.#clock.now();
  }

  /** Index of the last appended entry. */
  get lastIndex(): number {
    return this.#firstIndex + this.#entries.length - 1;
  }

  /** Makes `propose` reject with NotReady (false) or work again (true). */
  setAvailable(available: boolean): void {
    this.#available = available;
  }

  propose(type: number, payload: Uint8Array): Promise<unknown> {
    if (!this.#available) {
      return Promise.reject(
        new ReplicationError("NotReady", "replica is not ready", { retryAfterSeconds: 1 }),
      );
    }
    this.#lastTimestamp = Math.max(this.#lastTimestamp, this.#clock.now());
    const entry: AppliedEntry = {
      index: this.lastIndex + 1,
      timestamp: this.#lastTimestamp,
      type,
      payload: payload.slice(),
    };
    this.#entries.push(entry);
    const result = this.#applying.then(() => this.machine.apply(this.#copy(entry)));
    this.#applying = result.catch(() => undefined);
    return result;
  }

  #copy(entry: AppliedEntry): AppliedEntry {
    return { ...entry, payload: entry.payload.slice() };
  }

  entry(index: number): AppliedEntry {
    const entry = this.#entries[index - this.#firstIndex];
    if (entry === undefined) throw new RangeError(`log entry ${index} is not in the log`);
    return this.#copy(entry);
  }

  /** Drops the entries below `index` (what the node does after a snapshot). */
  compact(index: number): void {
    const drop = Math.min(this.#entries.length, index - this.#firstIndex);
    if (drop <= 0) return;
    this.#entries.splice(0, drop);
    this.#firstIndex += drop;
  }

  /** Resolves once every proposal so far is applied. */
  async settled(): Promise<void> {
    await this.#applying;
  }
}
