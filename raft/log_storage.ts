/**
 * What the Raft core reads of stable storage, and an in-memory implementation for tests and
 * simulators. The application owns writing: it persists what each `Ready` hands it and compacts
 * the log after taking a snapshot; Raft only reads through `LogStorage`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cloneConfig } from "./membership.ts";
import {
  type ConfigState,
  type Entry,
  type HardState,
  type LogIndex,
  nextIndex,
  type Ready,
  type Snapshot,
  type Term,
} from "./types.ts";

/**
 * Read access to the persisted log. Invariants the core relies on:
 * - entries `firstIndex()..lastIndex()` are present and contiguous; `lastIndex()` may be
 *   `firstIndex() - 1` (empty log);
 * - `term(firstIndex() - 1)` answers the term of the snapshot (or 0 for an empty log);
 * - `firstIndex()` only grows by compaction of applied entries.
 */
export interface LogStorage {
  /** Index of the first entry available (snapshot index + 1). */
  firstIndex(): LogIndex;
  /** Index of the last persisted entry. */
  lastIndex(): LogIndex;
  /** Term of entry `index`, or undefined when compacted away or beyond `lastIndex()`. */
  term(index: LogIndex): Term | undefined;
  /**
   * Entries in [from, toExclusive), stopping once `bytesMax` of data is reached but always
   * returning at least one entry when the range is not empty.
   */
  entries(from: LogIndex, toExclusive: LogIndex, bytesMax: number): Entry[];
  /** The latest snapshot (for slow followers), or null if the log was never compacted. */
  snapshot(): Snapshot | null;
  /** The persisted hard state and the membership as of the snapshot (or bootstrap). */
  initialState(): { hardState: HardState; config: ConfigState };
}

/** Approximate wire size of an entry, used for every byte limit in the core. */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + 32;
}

/** Options for `MemoryLogStorage`. */
export interface MemoryLogStorageOptions {
  /** The bootstrap membership (used until a snapshot carries another one). */
  config: ConfigState;
}

/**
 * A `LogStorage` held in memory, with the write side a real store would have.
 *
 * @example
 * ```ts
 * const storage = new MemoryLogStorage({ config: { voters: [a, b, c], learners: [] } });
 * const node = new RaftNode({ id: a, storage, prng: createPrng(1) });
 * // ... on every Ready: storage.saveReady(ready) before sending its messages
 * ```
 */
export class MemoryLogStorage implements LogStorage {
  #snapshot: Snapshot | null = null;
  #snapshotIndex = 0 as LogIndex;
  #snapshotTerm = 0 as Term;
  #config: ConfigState;
  #entries: Entry[] = [];
  #hardState: HardState = { term: 0 as Term, vote: null, commit: 0 as LogIndex };

  constructor(options: MemoryLogStorageOptions) {
    this.#config = cloneConfig(options.config);
  }

  firstIndex(): LogIndex {
    return nextIndex(this.#snapshotIndex);
  }

  lastIndex(): LogIndex {
    return (this.#snapshotIndex + this.#entries.length) as LogIndex;
  }

  term(index: LogIndex): Term | undefined {
    if (index === this.#snapshotIndex) return this.#snapshotTerm;
    if (index < this.#snapshotIndex || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapshotIndex - 1].term;
  }

  entries(from: LogIndex, toExclusive: LogIndex, bytesMax: number): Entry[] {
    assert.ok(from >= this.firstIndex(), `entry ${from} was compacted`);
    assert.ok(toExclusive <= this.lastIndex() + 1, `entry ${toExclusive - 1} is beyond the log`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = from; index < toExclusive; index++) {
      const entry = this.#entries[index - this.#snapshotIndex - 1];
      bytes += entryBytes(entry);
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  initialState(): { hardState: HardState; config: ConfigState } {
    return { hardState: { ...this.#hardState }, config: cloneConfig(this.#config) };
  }

  /** Persists a Ready's snapshot, entries and hard state in the order the contract asks. */
  saveReady(ready: Ready): void {
    if (ready.snapshot !== undefined) this.applySnapshot(ready.snapshot);
    if (ready.entries.length > 0) this.append(ready.entries);
    if (ready.hardState !== undefined) this.setHardState(ready.hardState);
  }

  /** Appends entries, first discarding every stored entry at or after `entries[0].index`. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    assert.ok(first > this.#snapshotIndex, "cannot overwrite the snapshot");
    assert.ok(first <= this.lastIndex() + 1, "appended entries leave no gap");
    this.#entries.length = first - this.#snapshotIndex - 1;
    for (const entry of entries) {
      assert.equal(entry.index, this.lastIndex() + 1, "appended entries are contiguous");
      this.#entries.push(entry);
    }
  }

  /** Records the hard state. */
  setHardState(hardState: HardState): void {
    this.#hardState = { ...hardState };
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
    this.#snapshotIndex = snapshot.index;
    this.#snapshotTerm = snapshot.term;
    this.#config = cloneConfig(snapshot.config);
    this.#entries = [];
  }

  /**
   * Records a snapshot of the applied state at `index` and drops the entries it covers.
   * `config` is the membership as of `index`: the application tracks it by applying committed
   * `ConfigChange` entries with `applyConfigChange(config, decodeConfigChange(entry.data))`.
   */
  createSnapshot(index: LogIndex, options: { config: ConfigState; data: Uint8Array }): Snapshot {
    assert.ok(index > this.#snapshotIndex && index <= this.lastIndex(), "snapshot inside the log");
    const snapshot: Snapshot = {
      index,
      term: this.term(index)!,
      config: cloneConfig(options.config),
      data: options.data,
    };
    this.#entries = this.#entries.slice(index - this.#snapshotIndex);
    this.#snapshot = snapshot;
    this.#snapshotIndex = index;
    this.#snapshotTerm = snapshot.term;
    this.#config = cloneConfig(options.config);
    return snapshot;
  }
}
