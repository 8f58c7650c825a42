/**
 * A set of non-negative integers kept as sorted, disjoint, non-touching half-open runs
 * `[start, end)` in one Float64Array. Contiguous deletes of a queue collapse into one run, so
 * the memory follows the number of gaps, not the number of members.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import type { ByteReader, ByteWriter } from "./binary.ts";

/** Zero-length, so never written: a set with no runs holds no array of its own. */
const noRuns = new Float64Array(0);

/**
 * Run-length integer set.
 *
 * @example
 * ```ts
 * const set = new RunSet();
 * set.addRange(1, 5);
 * set.has(3); // true
 * set.nextAbsent(1); // 5
 * ```
 */
export class RunSet {
  #data = noRuns;
  #runs = 0;
  #size = 0;

  /** Members. */
  get size(): number {
    return this.#size;
  }

  /** Runs. */
  get runCount(): number {
    return this.#runs;
  }

  /** Bytes held by the typed array. */
  memoryBytes(): number {
    return this.#data.byteLength;
  }

  #start(index: number): number {
    return this.#data[2 * index];
  }

  #end(index: number): number {
    return this.#data[2 * index + 1];
  }

  /** First run whose end is > value (or `#runs`). */
  #firstEndAbove(value: number): number {
    let low = 0;
    let high = this.#runs;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#end(middle) > value) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** First run whose start is > value (or `#runs`). */
  #firstStartAbove(value: number): number {
    let low = 0;
    let high = this.#runs;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#start(middle) > value) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  #splice(index: number, removeCount: number, pieces: number[]): void {
    const insertCount = pieces.length / 2;
    const newRuns = this.#runs - removeCount + insertCount;
    if (2 * newRuns > this.#data.length) {
      const grown = new Float64Array(Math.max(2 * newRuns, this.#data.length * 2, 8));
      grown.set(this.#data.subarray(0, 2 * this.#runs));
      this.#data = grown;
    }
    this.#data.copyWithin(
      2 * (index + insertCount),
      2 * (index + removeCount),
      2 * this.#runs,
    );
    this.#data.set(pieces, 2 * index);
    this.#runs = newRuns;
    if (this.#data.length > 64 && 8 * newRuns < this.#data.length) {
      this.#data = this.#data.slice(0, Math.max(8, 4 * newRuns));
    }
  }

  /** True when `value` is a member. */
  has(value: number): boolean {
    const index = this.#firstEndAbove(value);
    return index < this.#runs && this.#start(index) <= value;
  }

  /** Adds one member; returns true when it was absent. */
  add(value: number): boolean {
    return this.addRange(value, value + 1) === 1;
  }

  /** Adds `[start, end)`; returns how many members were new. */
  addRange(start: number, end: number): number {
    if (end <= start) return 0;
    const first = this.#firstEndAbove(start - 1); // touching runs merge too
    const last = this.#firstStartAbove(end); // runs [first, last) overlap or touch
    let mergedStart = start;
    let mergedEnd = end;
    let covered = 0;
    for (let index = first; index < last; index++) {
      covered += this.#end(index) - this.#start(index);
      mergedStart = Math.min(mergedStart, this.#start(index));
      mergedEnd = Math.max(mergedEnd, this.#end(index));
    }
    const added = mergedEnd - mergedStart - covered;
    this.#splice(first, last - first, [mergedStart, mergedEnd]);
    this.#size += added;
    return added;
  }

  /** Removes `[start, end)`; returns how many members were removed. */
  removeRange(start: number, end: number): number {
    if (end <= start) return 0;
    const first = this.#firstEndAbove(start);
    const last = this.#firstStartAbove(end - 1);
    if (first >= last) return 0;
    let removed = 0;
    for (let index = first; index < last; index++) {
      removed += Math.min(end, this.#end(index)) - Math.max(start, this.#start(index));
    }
    const pieces: number[] = [];
    if (this.#start(first) < start) pieces.push(this.#start(first), start);
    if (this.#end(last - 1) > end) pieces.push(end, this.#end(last - 1));
    this.#splice(first, last - first, pieces);
    this.#size -= removed;
    invariant(this.#size >= 0);
    return removed;
  }

  /**
   * Adds every member of `other` in `[start, end)`; returns how many were new. Linear in the
   * runs of both sets (one merge), however many runs it adds.
   */
  addFrom(other: RunSet, start: number, end: number): number {
    const incoming: number[] = [];
    if (end <= start) return 0;
    for (let index = other.#firstEndAbove(start); index < other.#runs; index++) {
      if (other.#start(index) >= end) break;
      incoming.push(Math.max(start, other.#start(index)), Math.min(end, other.#end(index)));
    }
    if (incoming.length === 0) return 0;
    const merged: number[] = [];
    let mine = 0;
    let theirs = 0;
    while (mine < this.#runs || theirs < incoming.length / 2) {
      const takeMine = theirs >= incoming.length / 2 ||
        (mine < this.#runs && this.#start(mine) <= incoming[2 * theirs]);
      const runStart = takeMine ? this.#start(mine) : incoming[2 * theirs];
      const runEnd = takeMine ? this.#end(mine++) : incoming[2 * theirs++ + 1];
      const last = merged.length - 1;
      if (last > 0 && runStart <= merged[last]) merged[last] = Math.max(merged[last], runEnd);
      else merged.push(runStart, runEnd);
    }
    const before = this.#size;
    this.#data = Float64Array.from(merged);
    this.#runs = merged.length / 2;
    this.#size = 0;
    for (let index = 0; index < this.#runs; index++) {
      this.#size += this.#end(index) - this.#start(index);
    }
    return this.#size - before;
  }

  /** Removes one member; returns true when it was present. */
  delete(value: number): boolean {
    return this.removeRange(value, value + 1) === 1;
  }

  /** Members in `[start, end)`. */
  countRange(start: number, end: number): number {
    let count = 0;
    for (let index = this.#firstEndAbove(start); index < this.#runs; index++) {
      if (this.#start(index) >= end) break;
      count += Math.min(end, this.#end(index)) - Math.max(start, this.#start(index));
    }
    return count;
  }

  /** The smallest value ≥ `value` that is not a member. */
  nextAbsent(value: number): number {
    const index = this.#firstEndAbove(value);
    if (index < this.#runs && this.#start(index) <= value) return this.#end(index);
    return value;
  }

  /** The end of the run containing `value`, or `value` when absent (same as nextAbsent). */
  runEnd(value: number): number {
    return this.nextAbsent(value);
  }

  /** The smallest member ≥ `value`, or `Infinity`. */
  nextMember(value: number): number {
    const index = this.#firstEndAbove(value);
    if (index >= this.#runs) return Infinity;
    return Math.max(value, this.#start(index));
  }

  /** Removes every member below `value`. */
  trimBelow(value: number): number {
    return this.#runs === 0 ? 0 : this.removeRange(Math.min(this.#start(0), value), value);
  }

  /** Removes every member. */
  clear(): void {
    this.#data = noRuns;
    this.#runs = 0;
    this.#size = 0;
  }

  /** The runs as `[start, end)` pairs, ascending. */
  *ranges(): Generator<[number, number]> {
    for (let index = 0; index < this.#runs; index++) yield [this.#start(index), this.#end(index)];
  }

  /** Serializes: `u32 runs, runs × (f64 start, f64 end)`. */
  write(writer: ByteWriter): void {
    writer.u32(this.#runs);
    for (let index = 0; index < 2 * this.#runs; index++) writer.f64(this.#data[index]);
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): RunSet {
    const set = new RunSet();
    const runs = reader.u32();
    for (let index = 0; index < runs; index++) {
      const start = reader.uint();
      set.addRange(start, reader.uint());
    }
    return set;
  }
}
