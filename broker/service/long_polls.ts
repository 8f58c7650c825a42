/**
 * Long-poll parking: receives that found nothing wait here, per queue, until the state machine
 * reports their queue available, a lock or delay ends (`nextVisibleAt`), their deadline, an
 * abort, or the service answers them all (leadership moved, shutdown).
 *
 * @module
 */
import type { Timers } from "../replication/mod.ts";

/** What the parking lot needs to know of the service around it. */
export interface LongPollsOptions {
  timers: Timers;
  /** The wall clock the deadlines are in. */
  now(): number;
  /** When a lock or delay on `queue` ends next (maybe earlier), or null. */
  nextVisibleAt(queue: string): number | null;
}

interface Waiter {
  /** Resolves the park; with an error, the parked receive answers with it. */
  wake(failure?: Error): void;
}

/**
 * Receives parked per queue.
 *
 * @example
 * ```ts
 * const polls = new LongPolls({ timers: clock, now: () => clock.now(),
 *   nextVisibleAt: (queue) => machine.nextVisibleAt(queue) });
 * const failure = await polls.park("jobs", clock.now() + 20_000);
 * ```
 */
export class LongPolls {
  readonly #options: LongPollsOptions;
  readonly #waiters = new Map<string, Set<Waiter>>();

  constructor(options: LongPollsOptions) {
    this.#options = options;
  }

  /** Receivers parked now. */
  get size(): number {
    let count = 0;
    for (const waiters of this.#waiters.values()) count += waiters.size;
    return count;
  }

  /**
   * Waits until `queue` may have a message, a lock/delay ends, the deadline, or abort. Resolves
   * with the failure the receive should answer with, or undefined to re-check the queue.
   */
  park(queue: string, deadline: number, signal?: AbortSignal): Promise<Error | undefined> {
    const { timers, now } = this.#options;
    return new Promise((resolve) => {
      const nextVisible = this.#options.nextVisibleAt(queue);
      const until = nextVisible === null ? deadline : Math.min(deadline, nextVisible);
      let waiters = this.#waiters.get(queue);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waiters.set(queue, waiters);
      }
      const onAbort = () => waiter.wake();
      const waiter: Waiter = {
        wake: (failure?: Error) => {
          timers.clearTimer(timer);
          signal?.removeEventListener("abort", onAbort);
          const set = this.#waiters.get(queue);
          set?.delete(waiter);
          if (set?.size === 0) this.#waiters.delete(queue);
          resolve(failure);
        },
      };
      waiters.add(waiter);
      const timer = timers.setTimer(Math.max(0, until - now()), () => waiter.wake());
      signal?.addEventListener("abort", onAbort);
    });
  }

  /** Wakes the receivers parked on `queue` (each re-checks it). */
  wake(queue: string): void {
    const waiters = this.#waiters.get(queue);
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) waiter.wake();
  }

  /** Wakes every parked receiver (each re-checks its queue once). */
  wakeAll(): void {
    for (const queue of [...this.#waiters.keys()]) this.wake(queue);
  }

  /** Answers every parked receiver with `failure` now. */
  failAll(failure: Error): void {
    for (const waiters of [...this.#waiters.values()]) {
      for (const waiter of [...waiters]) waiter.wake(failure);
    }
  }
}
