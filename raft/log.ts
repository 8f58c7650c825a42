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
import type { Entry, LogIndex, Snapshot, Term } from "./types.ts";

/** The Raft log of one node. Internal to the core. */
export class RaftLog {
  readonly storage: LogStorage;
  /** Highest index known committed. */
  committed = 0;
  /** Highest index handed to the application and reported applied. */
  applied = 0;
  #unstable: Entry[] = [];
  #unstableOffset: number;
  #pendingSnapshot: Snapshot | null = null;

  constructor(storage: LogStorage, options: { committed: number; applied: number }) {
    this.storage = storage;
    this.#unstableOffset = storage.lastIndex() + 1;
    const first = storage.firstIndex();
    assert.ok(options.committed <= storage.lastIndex(), "commit index within the stored log");
    assert.ok(options.applied <= options.committed, "applied never exceeds commit");
    this.committed = Math.max(options.committed, first - 1);
    this.applied = Math.max(options.applied, first - 1);
  }

  firstIndex(): number {
    if (this.#pendingSnapshot !== null) return this.#pendingSnapshot.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.#unstableOffset + this.#unstable.length - 1;
  }

  lastTerm(): number {
    const value = this.term(this.lastIndex());
    assert.ok(value !== undefined, "the last entry's term is always known");
    return value;
  }

  /** The term of entry `index`, or undefined if compacted or beyond the log. */
  term(index: number): number | undefined {
    if (index > this.lastIndex()) return undefined;
    if (index >= this.#unstableOffset) return this.#unstable[index - this.#unstableOffset].term;
    const snapshot = this.#pendingSnapshot;
    if (snapshot !== null) return index === snapshot.index ? snapshot.term : undefined;
    return this.storage.term(index);
  }

  matchTerm(index: number, termValue: number): boolean {
    return this.term(index) === termValue;
  }

  /** Raft's "at least as up-to-date" rule for granting votes (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [from, toExclusive) limited by `bytesMax` (at least one if the range is non-empty). */
  entries(from: number, toExclusive: number, bytesMax: number): Entry[] {
    assert.ok(from >= this.firstIndex(), `entry ${from} is compacted`);
    assert.ok(toExclusive <= this.lastIndex() + 1, "range inside the log");
    if (from >= toExclusive) return [];
    let result: Entry[] = [];
    if (from < this.#unstableOffset) {
      const end = Math.min(toExclusive, this.#unstableOffset);
      result = this.storage.entries(from, end, bytesMax);
      assert.ok(result.length > 0 && result[0].index === from, "storage returns the asked range");
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
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0].index;
    assert.ok(first > this.committed, `entry ${first} would overwrite committed entries`);
    assert.ok(first <= this.lastIndex() + 1, "appended entries leave no gap");
    if (first >= this.#unstableOffset) {
      this.#unstable.length = first - this.#unstableOffset;
    } else {
      // The truncation reaches into persisted entries: everything from `first` becomes unstable
      // again and the next Ready tells storage to drop its stale copies.
      this.#unstable = [];
      this.#unstableOffset = first;
    }
    for (const entry of entries) {
      assert.equal(entry.index, this.lastIndex() + 1, "entries are contiguous");
      this.#unstable.push(entry);
    }
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `entries` that is not already in the log with the same term
   * (0 if all are present).
   */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `termValue` (a compacted position counts as a
   * match: it is committed). Used on both ends of the fast back-off after a rejected append.
   */
  findConflictByTerm(index: number, termValue: number): { index: number; term: number } {
    let position = Math.min(index, this.lastIndex());
    while (position > 0) {
      const found = this.term(position);
      if (found === undefined) break;
      if (found <= termValue) return { index: position, term: found };
      position--;
    }
    return { index: position, term: this.term(position) ?? 0 };
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert.ok(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  appliedTo(index: number): void {
    assert.ok(index <= this.committed, "cannot apply uncommitted entries");
    assert.ok(index >= this.applied, "applied index never goes back");
    this.applied = index;
  }

  /** Committed entries not yet handed to the application, up to `bytesMax`. */
  nextCommittedEntries(bytesMax: number): Entry[] {
    const from = Math.max(this.applied + 1, this.firstIndex());
    if (from > this.committed) return [];
    return this.entries(from, this.committed + 1, bytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return Math.max(this.applied + 1, this.firstIndex()) <= this.committed;
  }

  /** Replaces the log by a snapshot (not yet persisted). */
  restore(snapshot: Snapshot): void {
    assert.ok(snapshot.index > this.committed, "a snapshot only moves a log forward");
    this.#pendingSnapshot = snapshot;
    this.#unstable = [];
    this.#unstableOffset = snapshot.index + 1;
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
  stableTo(index: number, termValue: number): void {
    if (index < this.#unstableOffset) return;
    // A later append may have replaced the persisted entries; then they are not ours.
    if (this.term(index) !== termValue) return;
    this.#unstable = this.#unstable.slice(index + 1 - this.#unstableOffset);
    this.#unstableOffset = index + 1;
  }

  /** The caller installed the snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.#pendingSnapshot?.index !== index) return;
    this.#pendingSnapshot = null;
    this.applied = Math.max(this.applied, index);
  }

  /** The last index known durable on this node (only meaningful without a pending snapshot). */
  persistedLastIndex(): number {
    return this.#pendingSnapshot === null ? this.#unstableOffset - 1 : 0;
  }
}

/** Narrows a number known to be a log index. */
export function asIndex(value: number): LogIndex {
  return value as LogIndex;
}

/** Narrows a number known to be a term. */
export function asTerm(value: number): Term {
  return value as Term;
}
