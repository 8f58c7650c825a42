/**
 * Sparse time index of one segment (Kafka's `.timeindex`, kept in memory): points
 * (timestamp, relative index) taken at the offset index's points, only where the timestamp
 * grew. Since timestamps never decrease along the log, the first entry at or after a time lies
 * after the last point strictly before it. Derived data: rebuilt by scanning on open.
 *
 * @module
 */
import { invariant } from "./invariant.ts";

const initialCapacity = 16;

/** Timestamp → relative index; timestamps strictly increasing. */
export class TimeIndex {
  #timestamps: Float64Array = new Float64Array(initialCapacity);
  #relativeIndexes: Uint32Array = new Uint32Array(initialCapacity);
  #count = 0;

  /** Number of points. */
  get count(): number {
    return this.#count;
  }

  /** Adds a point if `timestamp` is newer than the last one (older or equal adds nothing). */
  add(timestamp: number, relativeIndex: number): void {
    if (this.#count > 0) {
      invariant(relativeIndex > this.#relativeIndexes[this.#count - 1], "index points must grow");
      if (timestamp <= this.#timestamps[this.#count - 1]) return;
    }
    if (this.#count === this.#timestamps.length) this.#grow();
    this.#timestamps[this.#count] = timestamp;
    this.#relativeIndexes[this.#count] = relativeIndex;
    this.#count++;
  }

  /** The timestamp of point `slot` (< count). */
  timestampAt(slot: number): number {
    invariant(slot >= 0 && slot < this.#count, "no such time point");
    return this.#timestamps[slot];
  }

  /** The relative index of point `slot` (< count). */
  relativeIndexAt(slot: number): number {
    invariant(slot >= 0 && slot < this.#count, "no such time point");
    return this.#relativeIndexes[slot];
  }

  /** Relative index of the last point with timestamp < `timestamp`, or -1 if none. */
  lastBefore(timestamp: number): number {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.#timestamps[middle] < timestamp) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? -1 : this.#relativeIndexes[found];
  }

  /** Drops every point with relative index ≥ `relativeIndex`. */
  truncateFrom(relativeIndex: number): void {
    while (this.#count > 0 && this.#relativeIndexes[this.#count - 1] >= relativeIndex) {
      this.#count--;
    }
  }

  /** Copies of the points (for a persisted index). */
  points(): { timestamps: Float64Array; relativeIndexes: Uint32Array } {
    return {
      timestamps: this.#timestamps.slice(0, this.#count),
      relativeIndexes: this.#relativeIndexes.slice(0, this.#count),
    };
  }

  /** Replaces every point with `points` (checked growing by the persisted index's reader). */
  restore(points: { timestamps: Float64Array; relativeIndexes: Uint32Array }): void {
    invariant(points.timestamps.length === points.relativeIndexes.length);
    this.#timestamps = points.timestamps;
    this.#relativeIndexes = points.relativeIndexes;
    this.#count = points.timestamps.length;
  }

  #grow(): void {
    const capacity = Math.max(this.#timestamps.length * 2, initialCapacity);
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.#timestamps);
    const relativeIndexes = new Uint32Array(capacity);
    relativeIndexes.set(this.#relativeIndexes);
    this.#timestamps = timestamps;
    this.#relativeIndexes = relativeIndexes;
  }
}
