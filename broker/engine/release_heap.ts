/**
 * A min-heap of `(time, sequence)` pairs: when locked or delayed messages become visible. Entries
 * are never removed early; a popped entry is checked against the message's current state, so a
 * changed lock leaves a harmless stale entry behind (lazy deletion).
 *
 * @module
 */
import { emptyArray, ownArray } from "./shared_empty.ts";

/**
 * Binary min-heap ordered by time, then sequence.
 *
 * @example
 * ```ts
 * const heap = new ReleaseHeap();
 * heap.push(2_000, 7);
 * heap.peekTime(); // 2000
 * ```
 */
export class ReleaseHeap {
  #times: number[] = emptyArray();
  #sequences: number[] = emptyArray();

  get size(): number {
    return this.#times.length;
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

  push(time: number, sequence: number): void {
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
    return this.#times.length > 0 ? this.#times[0] : Infinity;
  }

  /** How many entries are due at `now` (stale ones included), counting up to `limit`. */
  countDue(now: number, limit: number): number {
    // Walk the heap from the root: a subtree whose root is not due holds nothing due.
    const times = this.#times;
    let count = 0;
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

  /** Removes the smallest entry and returns its sequence. */
  pop(): number {
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

  /**
   * Calls `visit(time, sequence)` for entries with `time <= until`, earliest first, until it
   * returns false. Changes nothing and touches only the visited entries and their children: the
   * walk keeps a frontier (itself a small heap of positions), so visiting k entries costs
   * O(k log k) however large the heap is.
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
    while (frontier.length > 0) {
      const at = pop();
      if (!visit(this.#times[at], this.#sequences[at])) return;
      push(2 * at + 1);
      push(2 * at + 2);
    }
  }

  clear(): void {
    this.#times = emptyArray();
    this.#sequences = emptyArray();
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return 32 + this.#times.length * 16;
  }
}
