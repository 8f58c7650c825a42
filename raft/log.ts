/**
 * The log as the core sees it: the persisted part read through `LogStorage`, followed by the
 * unstable tail (entries, or a snapshot, handed out in a Ready but not yet reported durable).
 *
 * Invariant: the log is `storage[firstIndex .. unstableOffset-1] ++ unstable`, so
 * `lastIndex() === unstableOffset + unstable.length - 1`. Storage may still hold stale entries at
 * or beyond `unstableOffset` (a truncation not yet persisted); they are shadowed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { entryBytes, type LogStorage } from "./log_storage.ts";
import {
  type Entry,
  type LogIndex,
  maxIndex,
  minIndex,
  nextIndex,
  prevIndex,
  type Snapshot,
  type Term,
} from "./types.ts";

/** The Raft log of one node. Internal to the core. */
export class RaftLog {
  readonly storage: LogStorage;
  /** Highest index known committed. */
  committed = 0 as LogIndex;
  /** Highest index handed to the application and reported applied. */
  applied = 0 as LogIndex;
  #unstable: Entry[] = [];
  #unstableOffset: LogIndex;
  #pendingSnapshot: Snapshot | null = null;

  constructor(storage: LogStorage, options: { committed: LogIndex; applied: LogIndex }) {
    this.storage = storage;
    this.#unstableOffset = nextIndex(storage.lastIndex());
    const first = storage.firstIndex();
    assert.ok(options.committed <= storage.lastIndex(), "commit index within the stored log");
    assert.ok(options.applied <= options.committed, "applied never exceeds commit");
    this.committed = maxIndex(options.committed, prevIndex(first));
    this.applied = maxIndex(options.applied, prevIndex(first));
  }

  firstIndex(): LogIndex {
    if (this.#pendingSnapshot !== null) return nextIndex(this.#pendingSnapshot.index);
    return this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return (this.#unstableOffset + this.#unstable.length - 1) as LogIndex;
  }

  lastTerm(): Term {
    const value = this.term(this.lastIndex());
    assert.ok(value !== undefined, "the last entry's term is always known");
    return value;
  }

  /** The term of entry `index`, or undefined if compacted or beyond the log. */
  term(index: LogIndex): Term | undefined {
    if (index > this.lastIndex()) return undefined;
    if (index >= this.#unstableOffset) return this.#unstable[index - this.#unstableOffset].term;
    const snapshot = this.#pendingSnapshot;
    if (snapshot !== null) return index === snapshot.index ? snapshot.term : undefined;
    return this.storage.term(index);
  }

  matchTerm(index: LogIndex, termValue: Term): boolean {
    return this.term(index) === termValue;
  }

  /** Raft's "at least as up-to-date" rule for granting votes (§5.4.1). */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [from, toExclusive) limited by `bytesMax` (at least one if the range is non-empty). */
  entries(from: LogIndex, toExclusive: LogIndex, bytesMax: number): Entry[] {
    if (!(from >= this.firstIndex())) assert.fail(`entry ${from} is compacted`);
    if (!(toExclusive <= this.lastIndex() + 1)) assert.fail("range inside the log");
    if (from >= toExclusive) return [];
    let result: Entry[] = [];
    if (from < this.#unstableOffset) {
      const end = minIndex(toExclusive, this.#unstableOffset);
      result = this.storage.entries(from, end, bytesMax);
      if (!(result.length > 0 && result[0].index === from)) {
        assert.fail("storage returns the asked range");
      }
      if (result.length < end - from) return result;
    }
    let bytes = result.reduce((sum, entry) => sum + entryBytes(entry), 0);
    for (let index = Math.max(from, this.#unstableOffset); index < toExclusive; index++) {
      const entry = this.#unstable[index - this.#unstableOffset];
      bytes += entryBytes(entry);
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  /** Appends entries, truncating any unstable suffix they replace. Returns the new last index. */
  append(entries: readonly Entry[]): LogIndex {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0].index;
    if (first <= this.committed) assert.fail(`entry ${first} would overwrite committed entries`);
    if (first > this.lastIndex() + 1) assert.fail("appended entries leave no gap");
    if (first >= this.#unstableOffset) {
      this.#unstable.length = first - this.#unstableOffset;
    } else {
      // The truncation reaches into persisted entries: everything from `first` becomes unstable
      // again and the next Ready tells storage to drop its stale copies.
      this.#unstable = [];
      this.#unstableOffset = first;
    }
    for (const entry of entries) {
      if (entry.index !== this.lastIndex() + 1) assert.fail("entries are contiguous");
      this.#unstable.push(entry);
    }
    return this.lastIndex();
  }

  /**
   * The time stamp an entry appended at `index` follows: that of the nearest stamped entry before
   * it (an entry without one is stamped with its predecessor's when stored), or undefined when
   * that is not known here (compacted below the snapshot point, or stored without one). At the
   * snapshot point it is the storage's `snapshotTimestamp`; at a received snapshot's point still
   * awaiting its install it is null: known only once installed (storage still has the old one).
   * Walks back the unstable entries only, then reads at most one stored entry.
   */
  timestampBefore(index: LogIndex): number | undefined | null {
    let position = Math.min(index - 1, this.lastIndex());
    for (; position >= this.#unstableOffset; position--) {
      const timestamp = this.#unstable[position - this.#unstableOffset].timestamp;
      if (timestamp !== undefined) return timestamp;
    }
    if (this.#pendingSnapshot !== null) return null; // (nothing before its point is kept)
    const first = this.storage.firstIndex();
    if (position === first - 1) return this.storage.snapshotTimestamp?.();
    if (position < first) return undefined;
    const at = position as LogIndex;
    return this.storage.entries(at, nextIndex(at), 0)[0]?.timestamp;
  }

  /**
   * The index of the first entry of `entries` that is not already in the log with the same term
   * (0 if all are present).
   */
  findConflict(entries: readonly Entry[]): LogIndex {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0 as LogIndex;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `termValue` (a compacted position counts as a
   * match: it is committed). Used on both ends of the fast back-off after a rejected append.
   */
  findConflictByTerm(index: LogIndex, termValue: Term): { index: LogIndex; term: Term } {
    let position = minIndex(index, this.lastIndex());
    while (position > 0) {
      const found = this.term(position);
      if (found === undefined) break;
      if (found <= termValue) return { index: position, term: found };
      position--;
    }
    return { index: position, term: this.term(position) ?? (0 as Term) };
  }

  commitTo(index: LogIndex): boolean {
    if (index <= this.committed) return false;
    if (!(index <= this.lastIndex())) {
      assert.fail(`commit ${index} beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
    return true;
  }

  appliedTo(index: LogIndex): void {
    if (!(index <= this.committed)) assert.fail("cannot apply uncommitted entries");
    if (!(index >= this.applied)) assert.fail("applied index never goes back");
    this.applied = index;
  }

  /** Committed entries not yet handed to the application, up to `bytesMax`. */
  nextCommittedEntries(bytesMax: number): Entry[] {
    const from = maxIndex(nextIndex(this.applied), this.firstIndex());
    if (from > this.committed) return [];
    return this.entries(from, nextIndex(this.committed), bytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return Math.max(this.applied + 1, this.firstIndex()) <= this.committed;
  }

  /** Replaces the log by a snapshot (not yet persisted). */
  restore(snapshot: Snapshot): void {
    assert.ok(snapshot.index > this.committed, "a snapshot only moves a log forward");
    this.#pendingSnapshot = snapshot;
    this.#unstable = [];
    this.#unstableOffset = nextIndex(snapshot.index);
    this.committed = snapshot.index;
  }

  hasUnstableEntries(): boolean {
    return this.#unstable.length > 0;
  }

  unstableEntries(): Entry[] {
    return this.#unstable.slice();
  }

  pendingSnapshot(): Snapshot | null {
    return this.#pendingSnapshot;
  }

  /** True when storage holds entries at or after the first unstable one (a truncation). */
  needsTruncation(): boolean {
    return this.#unstable.length > 0 && this.storage.lastIndex() >= this.#unstableOffset;
  }

  /** The caller persisted entries up to `index` with `termValue`; drop them from unstable. */
  stableTo(index: LogIndex, termValue: Term): void {
    if (index < this.#unstableOffset) return;
    // A later append may have replaced the persisted entries; then they are not ours.
    if (this.term(index) !== termValue) return;
    this.#unstable = this.#unstable.slice(index + 1 - this.#unstableOffset);
    this.#unstableOffset = nextIndex(index);
  }

  /** The caller installed the snapshot at `index`. */
  stableSnapshotTo(index: LogIndex): void {
    if (this.#pendingSnapshot?.index !== index) return;
    this.#pendingSnapshot = null;
    this.applied = maxIndex(this.applied, index);
  }

  /** The last index known durable on this node (only meaningful without a pending snapshot). */
  persistedLastIndex(): LogIndex {
    return this.#pendingSnapshot === null ? prevIndex(this.#unstableOffset) : 0 as LogIndex;
  }
}
