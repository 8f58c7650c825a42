/**
 * Simulated time for the whole-cluster simulation: one event queue ordered by time, ties broken
 * by a sequence number, so a seed replays exactly. After each instant's events the async work
 * they started (the replicas' I/O on the simulated file systems) gets a fixed number of
 * microtask turns, and `runFor` begins and ends with a larger fixed number.
 *
 * Nothing here waits for a macrotask. It once settled each `runFor` with a message on a
 * `MessageChannel`, a macrotask meant to run after every pending microtask; but its delivery
 * sometimes landed in the middle of a chain (a restart's 21 segment syncs, cut after 19 in one
 * process and not in another), so a seed's run depended on the machine's timing and on the seeds
 * that ran before it in the same process (3 of 30 seeds at 120 steps ran differently after
 * others than alone). Counted turns leave no such choice to the event loop.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Timers } from "../../broker/testing.ts";

/** Microtask turns granted after each instant's events (deeper chains continue later). */
const microtaskTurns = 64;
/** Microtask turns at the start and the end of each `runFor` (deeper chains go on in the next). */
const settleTurns = 1024;

async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await null;
}

interface SimEvent {
  at: number;
  sequence: number;
  run: () => void;
}

/**
 * The event queue (a binary heap on `(at, sequence)`).
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler(1_700_000_000_000);
 * scheduler.schedule(10, () => console.log("ten ms later"));
 * await scheduler.runFor(1000);
 * ```
 */
export class Scheduler {
  #now: number;
  #sequence = 0;
  #heap: SimEvent[] = [];
  #cancelled = new Set<number>();
  /** Events run so far. */
  eventsRun = 0;

  constructor(start: number) {
    this.#now = start;
  }

  get now(): number {
    return this.#now;
  }

  /** Runs `run` `delayMs` from now; returns a handle for `cancel`. */
  schedule(delayMs: number, run: () => void): number {
    const event = { at: this.#now + Math.max(0, delayMs), sequence: ++this.#sequence, run };
    this.#push(event);
    return event.sequence;
  }

  cancel(handle: number): void {
    this.#cancelled.add(handle);
  }

  /** Resolves after `delayMs` of simulated time. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(delayMs, resolve));
  }

  /** Timers on a node's clock (its skew does not change durations). */
  timers(): Timers {
    return {
      setTimer: (delayMs, callback) => this.schedule(delayMs, callback),
      clearTimer: (handle) => this.cancel(handle as number),
    };
  }

  /** Runs events until simulated time passes `durationMs` from now. */
  async runFor(durationMs: number): Promise<void> {
    const until = this.#now + durationMs;
    await turns(settleTurns);
    while (this.#heap.length > 0 && this.#heap[0].at <= until) {
      const at = this.#heap[0].at;
      this.#now = at;
      // Every event due at this instant runs, then the async work they started settles.
      while (this.#heap.length > 0 && this.#heap[0].at === at) {
        const event = this.#pop();
        if (this.#cancelled.delete(event.sequence)) continue;
        this.eventsRun++;
        event.run();
      }
      // Let the async work these events started run a bounded number of microtask turns: the
      // order stays deterministic, and what needs longer simply finishes after later events,
      // like I/O that takes time.
      await turns(microtaskTurns);
    }
    await turns(settleTurns);
    this.#now = until;
  }

  #push(event: SimEvent): void {
    const heap = this.#heap;
    heap.push(event);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index], heap[parent])) break;
      [heap[index], heap[parent]] = [heap[parent], heap[index]];
      index = parent;
    }
  }

  #pop(): SimEvent {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
        if (smallest === index) break;
        [heap[index], heap[smallest]] = [heap[smallest], heap[index]];
        index = smallest;
      }
    }
    assert.ok(top.at >= this.#now, "time never runs backwards");
    return top;
  }
}

function before(left: SimEvent, right: SimEvent): boolean {
  return left.at < right.at || (left.at === right.at && left.sequence < right.sequence);
}
