/**
 * A small sorted set of numbers in a plain array (binary search, splice). Used for the few
 * messages of a queue that are ready for redelivery and the FIFO groups ready to deliver: sets
 * that stay small, where an array beats a tree.
 *
 * @module
 */
import { emptyArray, ownArray } from "./shared_empty.ts";

/**
 * Sorted number set.
 *
 * @example
 * ```ts
 * const set = new SortedNumbers();
 * set.add(3);
 * set.add(1);
 * set.at(0); // 1
 * ```
 */
export class SortedNumbers {
  #values: number[] = emptyArray();

  /** Members. */
  get size(): number {
    return this.#values.length;
  }

  #search(value: number): number {
    let low = 0;
    let high = this.#values.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#values[middle] < value) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Adds `value`; false when present. */
  add(value: number): boolean {
    const at = this.#search(value);
    if (this.#values[at] === value) return false;
    this.#values = ownArray(this.#values);
    this.#values.splice(at, 0, value);
    return true;
  }

  /** Removes `value`; false when absent. */
  delete(value: number): boolean {
    const at = this.#search(value);
    if (this.#values[at] !== value) return false;
    this.#values.splice(at, 1);
    return true;
  }

  has(value: number): boolean {
    return this.#values[this.#search(value)] === value;
  }

  /** The member at rank `index`. */
  at(index: number): number | undefined {
    return this.#values[index];
  }

  /** Removes every member below `value`. */
  trimBelow(value: number): void {
    const below = this.#search(value);
    if (below > 0) this.#values.splice(0, below);
  }

  clear(): void {
    this.#values = emptyArray();
  }

  /** A copy of the members, ascending. */
  toArray(): number[] {
    return this.#values.slice();
  }

  /** Bytes held (estimate: 8 per member plus the array). */
  memoryBytes(): number {
    return 16 + this.#values.length * 8;
  }
}
