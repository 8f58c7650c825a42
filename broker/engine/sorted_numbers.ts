/**
 * A sorted set of numbers in sorted blocks of at most `blockMax` members (binary search over the
 * blocks' last members, then within one block). Used for the messages of a standard queue that
 * are ready for redelivery and the FIFO groups ready to deliver. Either may hold a member per
 * message or group (every lock of a large backlog ending at once; 100,000 customer groups), and
 * is changed once or twice per delivered message in the apply path: an insert or delete moves at
 * most one block's members and the list of blocks, not the whole set.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { emptyArray, ownArray } from "./shared_empty.ts";

/** Members per block at most; a full block splits in two halves. */
const blockMax = 512;

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
  /** Non-empty sorted blocks, each below the next. */
  #blocks: number[][] = emptyArray();
  #size = 0;

  /** Members. */
  get size(): number {
    return this.#size;
  }

  /** The first block whose last member is at least `value` (the block count when none). */
  #blockOf(value: number): number {
    const blocks = this.#blocks;
    let low = 0;
    let high = blocks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const block = blocks[middle];
      if (block[block.length - 1] < value) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Adds `value`; false when present. */
  add(value: number): boolean {
    this.#blocks = ownArray(this.#blocks);
    const blocks = this.#blocks;
    if (blocks.length === 0) {
      blocks.push([value]);
      this.#size++;
      return true;
    }
    // Above every member: it goes at the end of the last block.
    const at = Math.min(this.#blockOf(value), blocks.length - 1);
    const block = blocks[at];
    const offset = search(block, value);
    if (block[offset] === value) return false;
    block.splice(offset, 0, value);
    this.#size++;
    if (block.length > blockMax) blocks.splice(at + 1, 0, block.splice(block.length >>> 1));
    return true;
  }

  /**
   * Adds `values`, ascending and each above every member, in full blocks (a restore, or many at
   * once: one `add` each would split every block at half its size).
   */
  appendSorted(values: number[]): void {
    if (values.length === 0) return;
    const blocks = this.#blocks = ownArray(this.#blocks);
    const last = blocks[blocks.length - 1];
    invariant(last === undefined || last[last.length - 1] < values[0], "appended above members");
    for (let at = 1; at < values.length; at++) {
      invariant(values[at - 1] < values[at], "appended values ascend");
    }
    for (let at = 0; at < values.length; at += blockMax) {
      blocks.push(values.slice(at, at + blockMax));
    }
    this.#size += values.length;
  }

  /** Removes `value`; false when absent. */
  delete(value: number): boolean {
    const at = this.#blockOf(value);
    const block = this.#blocks[at];
    if (block === undefined) return false;
    const offset = search(block, value);
    if (block[offset] !== value) return false;
    block.splice(offset, 1);
    this.#size--;
    if (block.length === 0) this.#blocks.splice(at, 1);
    return true;
  }

  has(value: number): boolean {
    const block = this.#blocks[this.#blockOf(value)];
    return block !== undefined && block[search(block, value)] === value;
  }

  /** The member at rank `index`. */
  at(index: number): number | undefined {
    let rest = index;
    for (const block of this.#blocks) {
      if (rest < block.length) return block[rest];
      rest -= block.length;
    }
    return undefined;
  }

  /** Removes every member below `value`. */
  trimBelow(value: number): void {
    const at = this.#blockOf(value);
    if (at === 0 && (this.#blocks[0]?.[0] ?? value) >= value) return;
    for (let index = 0; index < at; index++) this.#size -= this.#blocks[index].length;
    this.#blocks.splice(0, at);
    const block = this.#blocks[0];
    if (block === undefined) return;
    const below = search(block, value);
    block.splice(0, below);
    this.#size -= below;
  }

  clear(): void {
    this.#blocks = emptyArray();
    this.#size = 0;
  }

  /** A copy of the members, ascending. */
  toArray(): number[] {
    return this.#blocks.flat();
  }

  /** Bytes held (estimate: 8 per member plus the arrays). */
  memoryBytes(): number {
    return 16 + this.#size * 8 + this.#blocks.length * 16;
  }
}

/** The first index of `block` whose member is at least `value` (its length when none). */
function search(block: number[], value: number): number {
  let low = 0;
  let high = block.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (block[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
