/**
 * Sparse offset index of one segment (Kafka's `.index`, kept in memory): one point per
 * `indexIntervalBytes` of log, mapping an entry's index relative to the segment's base to the
 * byte position of its record. A lookup finds the nearest point at or before an entry and scans
 * forward at most one interval. Derived data: rebuilt by scanning the segment on open.
 *
 * Memory: 8 bytes per point, one point per 4 KiB by default: 2 MiB per GiB of log.
 *
 * @module
 */
import { invariant } from "./invariant.ts";

const initialCapacity = 16;
const positionLimit = 0xffffffff;

/** Relative index → byte position, both strictly increasing. */
export class OffsetIndex {
  #relativeIndexes: Uint32Array = new Uint32Array(initialCapacity);
  #positions: Uint32Array = new Uint32Array(initialCapacity);
  #count = 0;

  /** Number of points. */
  get count(): number {
    return this.#count;
  }

  /** Adds a point after all existing ones. */
  add(relativeIndex: number, position: number): void {
    invariant(position <= positionLimit, "segment position beyond 4 GiB");
    if (this.#count > 0) {
      invariant(relativeIndex > this.#relativeIndexes[this.#count - 1], "index points must grow");
      invariant(position > this.#positions[this.#count - 1], "positions must grow");
    }
    if (this.#count === this.#positions.length) this.#grow();
    this.#relativeIndexes[this.#count] = relativeIndex;
    this.#positions[this.#count] = position;
    this.#count++;
  }

  /** Slot of the last point with relative index ≤ `relativeIndex`, or -1 if none. */
  floor(relativeIndex: number): number {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#relativeIndexes[middle] <= relativeIndex) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Relative index of the point in `slot`. */
  relativeIndexAt(slot: number): number {
    invariant(slot >= 0 && slot < this.#count);
    return this.#relativeIndexes[slot];
  }

  /** Byte position of the point in `slot`. */
  positionAt(slot: number): number {
    invariant(slot >= 0 && slot < this.#count);
    return this.#positions[slot];
  }

  /** Drops every point with relative index ≥ `relativeIndex`. */
  truncateFrom(relativeIndex: number): void {
    this.#count = this.floor(relativeIndex - 1) + 1;
  }

  /** Copies of the points (for a persisted index). */
  points(): { relativeIndexes: Uint32Array; positions: Uint32Array } {
    return {
      relativeIndexes: this.#relativeIndexes.slice(0, this.#count),
      positions: this.#positions.slice(0, this.#count),
    };
  }

  /** Replaces every point with `points` (checked growing by the persisted index's reader). */
  restore(points: { relativeIndexes: Uint32Array; positions: Uint32Array }): void {
    invariant(points.relativeIndexes.length === points.positions.length);
    this.#relativeIndexes = points.relativeIndexes;
    this.#positions = points.positions;
    this.#count = points.positions.length;
  }

  #grow(): void {
    const capacity = Math.max(this.#positions.length * 2, initialCapacity);
    const relativeIndexes = new Uint32Array(capacity);
    relativeIndexes.set(this.#relativeIndexes);
    const positions = new Uint32Array(capacity);
    positions.set(this.#positions);
    this.#relativeIndexes = relativeIndexes;
    this.#positions = positions;
  }
}
