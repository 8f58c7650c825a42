/**
 * Group commit: at most one flush (fdatasync round) in flight; every request made while one is
 * in flight is served by the next single flush; waiters resolve in order, each only after a
 * flush that covers it returned.
 *
 * A request is "index ≤ target durable", optionally "and by a flush that starts after now"
 * (`fresh`), which truncation and directory changes need: their effect is not an appended index
 * an earlier flush could have covered.
 *
 * @module
 */
import { invariant } from "./invariant.ts";

/** One flush round, prepared by the owner when it starts. */
export interface FlushPlan {
  /** Highest index whose bytes the flush makes durable. */
  cover: number;
  /** Performs the fsyncs; returns how many fsync calls it made. */
  run(): Promise<number>;
}

interface Waiter {
  target: number;
  /** Only a flush with sequence ≥ this counts. */
  afterSequence: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A flush round that took at least this long (from its start to its continuation) marks the disk
 * as stalling: owners that would block their thread on the next round's fdatasync should not.
 */
export const slowRoundMs = 50;

/** Timing counters of the flushes so far. */
export interface SyncStats {
  fsyncs: number;
  fsyncMsTotal: number;
  lastFsyncMs: number;
}

/** Schedules flushes for a log; see the module doc. */
export class SyncScheduler {
  #prepare: () => FlushPlan;
  #now: () => number;
  #onDurable: (durableIndex: number) => void;
  #waiters: Waiter[] = [];
  #durableIndex: number;
  #started = 0;
  #running = false;
  #clampedTo = Infinity;
  #failure: unknown = null;
  #idleWaiters: Array<() => void> = [];
  #stats: SyncStats = { fsyncs: 0, fsyncMsTotal: 0, lastFsyncMs: 0 };

  /** `onDurable` hears the durable index after every successful flush that raised it. */
  constructor(
    prepare: () => FlushPlan,
    options: {
      durableIndex: number;
      onDurable?: (durableIndex: number) => void;
      now?: () => number;
    },
  ) {
    this.#prepare = prepare;
    this.#now = options.now ?? (() => performance.now());
    this.#durableIndex = options.durableIndex;
    this.#onDurable = options.onDurable ?? (() => {});
  }

  /** Highest index known durable. */
  get durableIndex(): number {
    return this.#durableIndex;
  }

  /** True while a flush is in flight. */
  get running(): boolean {
    return this.#running;
  }

  /** The error that failed a flush, if any: after one, nothing is trusted (fsyncgate). */
  get failure(): unknown {
    return this.#failure;
  }

  get stats(): SyncStats {
    return { ...this.#stats };
  }

  /** Whether the last flush round took {@link slowRoundMs} or more. */
  get lastRoundSlow(): boolean {
    return this.#stats.lastFsyncMs >= slowRoundMs;
  }

  /** Resolves once every index ≤ `target` is durable (and, if `fresh`, a new flush ran). */
  request(target: number, options: { fresh?: boolean } = {}): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const fresh = options.fresh ?? false;
    if (!fresh && target <= this.#durableIndex) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const afterSequence = fresh ? this.#started + 1 : 0;
      this.#waiters.push({ target, afterSequence, resolve, reject });
      if (!this.#running) {
        // Start on a microtask: every call made in the same tick joins the first flush.
        this.#running = true;
        queueMicrotask(() => void this.#loop());
      }
    });
  }

  /**
   * The entries ≥ `fromIndex` were removed: they are no longer durable, and waiters for them
   * now wait for the removal itself to be durable (a fresh flush covering fromIndex - 1).
   */
  supersede(fromIndex: number): void {
    const floor = fromIndex - 1;
    this.#durableIndex = Math.min(this.#durableIndex, floor);
    this.#clampedTo = Math.min(this.#clampedTo, floor);
    for (const waiter of this.#waiters) {
      if (waiter.target > floor) {
        waiter.target = floor;
        waiter.afterSequence = this.#started + 1;
      }
    }
  }

  /**
   * A write of the owner failed outside a flush: from now on nothing is reported durable. Every
   * waiter is rejected with `error` (its entries may be what a crash loses, which the owner
   * records as from `durableIndex` + 1 on), and a flush in flight raises no index when it returns.
   */
  fail(error: unknown): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Sets the durable index outright; only while idle (after a reset made durable). */
  restart(durableIndex: number): void {
    invariant(!this.#running && this.#waiters.length === 0, "restart only while idle");
    this.#durableIndex = durableIndex;
  }

  /** Resolves when no flush is in flight and nobody waits. */
  idle(): Promise<void> {
    if (!this.#running && this.#waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  async #loop(): Promise<void> {
    invariant(this.#running, "the loop is started by request()");
    while (this.#waiters.length > 0 && this.#failure === null) {
      const sequence = ++this.#started;
      this.#clampedTo = Infinity;
      const startedAt = this.#now();
      try {
        const plan = this.#prepare();
        const calls = await plan.run();
        if (this.#failure !== null) break; // `fail` came meanwhile: nothing counts as durable
        const elapsedMs = this.#now() - startedAt;
        this.#stats.fsyncs += calls;
        this.#stats.fsyncMsTotal += elapsedMs;
        this.#stats.lastFsyncMs = elapsedMs;
        const covered = Math.min(plan.cover, this.#clampedTo);
        if (covered > this.#durableIndex) {
          this.#durableIndex = covered;
          this.#onDurable(covered);
        }
        this.#settle(sequence);
      } catch (error) {
        this.#failure ??= error;
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#running = false;
    const idle = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of idle) resolve();
  }

  #settle(sequence: number): void {
    const remaining: Waiter[] = [];
    const ready: Waiter[] = [];
    for (const waiter of this.#waiters) {
      const done = waiter.afterSequence <= sequence && waiter.target <= this.#durableIndex;
      (done ? ready : remaining).push(waiter);
    }
    this.#waiters = remaining;
    for (const waiter of ready) waiter.resolve();
  }
}
