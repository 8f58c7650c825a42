/**
 * When locked or delayed messages become visible: `(time, sequence)` pairs, taken earliest first
 * (by time, then sequence). Entries are never removed early; a popped entry is checked against
 * the message's current state, so a changed lock leaves a harmless stale entry behind (lazy
 * deletion).
 *
 * Nearly every entry arrives in order: a lock ends at now + the queue's visibility timeout, and
 * now only grows. Those go to a **run**, a sorted ring buffer read from its head, so pushing and
 * popping them costs O(1). Only an entry that would break the run's order (a receive with a
 * shorter timeout, a delay, a changed visibility) goes to a binary heap beside it; the earliest of
 * the two heads comes out first. With a binary heap alone every pop sifted down through the stale
 * entries of the timeout window (millions under load: each delete leaves one), and its JS arrays
 * of millions of numbers cost 0.2–0.3 µs per `push`; the run is two typed arrays whose capacity
 * doubles when full and halves when a quarter full (measured with 4M entries: 0.36–0.81 µs per
 * push + pop before, 0.015–0.045 after).
 *
 * @module
 */
import { emptyArray, ownArray } from "./shared_empty.ts";

/** The run's capacity once it holds something (see the module doc for how it changes). */
const runCapacityMin = 16;
/** A run that holds nothing shares this (no buffers of its own on an idle queue). */
const noRun = new Float64Array(0);

/**
 * Earliest-first queue of `(time, sequence)` pairs: an in-order run plus a binary min-heap.
 *
 * @example
 * ```ts
 * const heap = new ReleaseHeap();
 * heap.push(2_000, 7);
 * heap.peekTime(); // 2000
 * ```
 */
export class ReleaseHeap {
  /** The binary heap of entries that arrived out of order. */
  #times: number[] = emptyArray();
  #sequences: number[] = emptyArray();
  /**
   * The run: a ring buffer sorted by (time, sequence), `#runCount` entries from `#runHead`; the
   * capacity is 0 or a power of two.
   */
  #runTimes = noRun;
  #runSequences = noRun;
  #runHead = 0;
  #runCount = 0;

  get size(): number {
    return this.#times.length + this.#runCount;
  }

  /** Physical slot of the run's `offset`-th entry. */
  #runSlot(offset: number): number {
    return (this.#runHead + offset) & (this.#runTimes.length - 1);
  }

  /** Moves the run into buffers of `capacity` (a power of two ≥ its count), head at 0. */
  #resizeRun(capacity: number): void {
    const times = capacity === 0 ? noRun : new Float64Array(capacity);
    const sequences = capacity === 0 ? noRun : new Float64Array(capacity);
    if (this.#runCount > 0) {
      // Two stretches: from the head to the buffer's end, then from its start.
      const first = Math.min(this.#runCount, this.#runTimes.length - this.#runHead);
      const rest = this.#runCount - first;
      times.set(this.#runTimes.subarray(this.#runHead, this.#runHead + first));
      times.set(this.#runTimes.subarray(0, rest), first);
      sequences.set(this.#runSequences.subarray(this.#runHead, this.#runHead + first));
      sequences.set(this.#runSequences.subarray(0, rest), first);
    }
    this.#runTimes = times;
    this.#runSequences = sequences;
    this.#runHead = 0;
  }

  #less(left: number, right: number): boolean {
    const times = this.#times;
    return times[left] < times[right] ||
      (times[left] === times[right] && this.#sequences[left] < this.#sequences[right]);
  }

  #swap(left: number, right: number): void {
    [this.#times[left], this.#times[right]] = [this.#times[right], this.#times[left]];
    [this.#sequences[left], this.#sequences[right]] = [
      this.#sequences[right],
      this.#sequences[left],
    ];
  }

  /** Whether run entry `at` comes before heap entry `slot` (a missing heap entry comes last). */
  #runBefore(at: number, slot: number): boolean {
    if (slot >= this.#times.length) return true;
    const time = this.#runTimes[at];
    const heapTime = this.#times[slot];
    return time < heapTime || (time === heapTime && this.#runSequences[at] < this.#sequences[slot]);
  }

  push(time: number, sequence: number): void {
    const last = this.#runCount === 0 ? -1 : this.#runSlot(this.#runCount - 1);
    if (
      last === -1 || time > this.#runTimes[last] ||
      (time === this.#runTimes[last] && sequence > this.#runSequences[last])
    ) {
      if (this.#runCount === this.#runTimes.length) {
        this.#resizeRun(Math.max(runCapacityMin, 2 * this.#runTimes.length));
      }
      const slot = this.#runSlot(this.#runCount++);
      this.#runTimes[slot] = time;
      this.#runSequences[slot] = sequence;
      return;
    }
    if (this.#times.length === 0) {
      this.#times = ownArray(this.#times);
      this.#sequences = ownArray(this.#sequences);
    }
    this.#times.push(time);
    this.#sequences.push(sequence);
    let at = this.#times.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#less(at, parent)) break;
      this.#swap(at, parent);
      at = parent;
    }
  }

  /** The smallest time, or Infinity when empty. */
  peekTime(): number {
    const run = this.#runCount > 0 ? this.#runTimes[this.#runHead] : Infinity;
    const heap = this.#times.length > 0 ? this.#times[0] : Infinity;
    return run < heap ? run : heap;
  }

  /** The sequence of the entry `pop` takes next (the heap must not be empty). */
  peekSequence(): number {
    return this.#runCount > 0 && this.#runBefore(this.#runHead, 0)
      ? this.#runSequences[this.#runHead]
      : this.#sequences[0];
  }

  /** How many entries are due at `now` (stale ones included), counting up to `limit`. */
  countDue(now: number, limit: number): number {
    // The run is sorted: the due ones are a prefix from its head (found by bisection).
    let low = 0;
    let high = this.#runCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#runTimes[this.#runSlot(middle)] <= now) low = middle + 1;
      else high = middle;
    }
    let count = Math.min(limit, low);
    // Walk the heap from the root: a subtree whose root is not due holds nothing due.
    const times = this.#times;
    const stack = times.length > 0 && times[0] <= now ? [0] : [];
    while (stack.length > 0 && count < limit) {
      const at = stack.pop()!;
      count++;
      for (const child of [2 * at + 1, 2 * at + 2]) {
        if (child < times.length && times[child] <= now) stack.push(child);
      }
    }
    return count;
  }

  /** Removes the earliest entry and returns its sequence (the heap must not be empty). */
  pop(): number {
    if (this.#runCount > 0 && this.#runBefore(this.#runHead, 0)) {
      return this.#takeFromRun();
    }
    const sequence = this.#sequences[0];
    const lastTime = this.#times.pop()!;
    const lastSequence = this.#sequences.pop()!;
    if (this.#times.length > 0) {
      this.#times[0] = lastTime;
      this.#sequences[0] = lastSequence;
      let at = 0;
      for (;;) {
        const left = 2 * at + 1;
        const right = left + 1;
        let smallest = at;
        if (left < this.#times.length && this.#less(left, smallest)) smallest = left;
        if (right < this.#times.length && this.#less(right, smallest)) smallest = right;
        if (smallest === at) break;
        this.#swap(at, smallest);
        at = smallest;
      }
    }
    return sequence;
  }

  #takeFromRun(): number {
    const sequence = this.#runSequences[this.#runHead];
    this.#runHead = this.#runSlot(1);
    this.#runCount--;
    const capacity = this.#runTimes.length;
    if (this.#runCount === 0) this.#resizeRun(0);
    else if (capacity > runCapacityMin && this.#runCount <= capacity / 4) {
      this.#resizeRun(capacity / 2);
    }
    return sequence;
  }

  /**
   * Calls `visit(time, sequence)` for entries with `time <= until`, earliest first, until it
   * returns false. Changes nothing and touches only the visited entries (and, in the heap, their
   * children): the heap's walk keeps a frontier (itself a small heap of positions) merged with the
   * run, so visiting k entries costs O(k log k) however large the heap is.
   */
  visitUntil(until: number, visit: (time: number, sequence: number) => boolean): void {
    const frontier: number[] = [];
    const push = (at: number) => {
      if (at >= this.#times.length || this.#times[at] > until) return;
      frontier.push(at);
      let child = frontier.length - 1;
      while (child > 0) {
        const parent = (child - 1) >> 1;
        if (!this.#less(frontier[child], frontier[parent])) break;
        [frontier[child], frontier[parent]] = [frontier[parent], frontier[child]];
        child = parent;
      }
    };
    const pop = (): number => {
      const top = frontier[0];
      const last = frontier.pop()!;
      if (frontier.length > 0) {
        frontier[0] = last;
        for (let at = 0;;) {
          const left = 2 * at + 1;
          let smallest = at;
          if (left < frontier.length && this.#less(frontier[left], frontier[smallest])) {
            smallest = left;
          }
          if (left + 1 < frontier.length && this.#less(frontier[left + 1], frontier[smallest])) {
            smallest = left + 1;
          }
          if (smallest === at) break;
          [frontier[at], frontier[smallest]] = [frontier[smallest], frontier[at]];
          at = smallest;
        }
      }
      return top;
    };
    push(0);
    for (let offset = 0;;) {
      const run = offset < this.#runCount ? this.#runSlot(offset) : -1;
      const runDue = run !== -1 && this.#runTimes[run] <= until;
      if (runDue && (frontier.length === 0 || this.#runBefore(run, frontier[0]))) {
        if (!visit(this.#runTimes[run], this.#runSequences[run])) return;
        offset++;
        continue;
      }
      if (frontier.length === 0) return;
      const at = pop();
      if (!visit(this.#times[at], this.#sequences[at])) return;
      push(2 * at + 1);
      push(2 * at + 2);
    }
  }

  clear(): void {
    this.#times = emptyArray();
    this.#sequences = emptyArray();
    this.#runTimes = noRun;
    this.#runSequences = noRun;
    this.#runHead = 0;
    this.#runCount = 0;
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return 32 + (this.#times.length + this.#runTimes.length) * 16;
  }
}
