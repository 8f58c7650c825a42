/**
 * A min-heap of `(time, sequence)` pairs: when locked or delayed messages become visible. Entries
 * are never removed early; a popped entry is checked against the message's current state, so a
 * changed lock leaves a harmless stale entry behind (lazy deletion).
 *
 * @module
 */

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
  #times: number[] = [];
  #sequences: number[] = [];

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
   * returns false. Touches only the due part of the heap plus its border (a best-first walk
   * whose frontier stays small when the walk is short), and changes nothing.
   */
  visitUntil(until: number, visit: (time: number, sequence: number) => boolean): void {
    const frontier: number[] = this.#times.length > 0 && this.#times[0] <= until ? [0] : [];
    while (frontier.length > 0) {
      let best = 0;
      for (let index = 1; index < frontier.length; index++) {
        if (this.#less(frontier[index], frontier[best])) best = index;
      }
      const at = frontier[best];
      frontier[best] = frontier[frontier.length - 1];
      frontier.pop();
      if (!visit(this.#times[at], this.#sequences[at])) return;
      for (const child of [2 * at + 1, 2 * at + 2]) {
        if (child < this.#times.length && this.#times[child] <= until) frontier.push(child);
      }
    }
  }

  clear(): void {
    this.#times = [];
    this.#sequences = [];
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return 32 + this.#times.length * 16;
  }
}
