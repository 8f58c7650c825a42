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
  type SnapshotSink,
  type SnapshotSource,
  type StoredSnapshot,
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
  /**
   * Optional: calls `visit` with every entry in [from, toExclusive) in order, its `data` valid
   * only during the call (no copy). The core streams the stored log through it once at start
   * (membership changes) when present, instead of paging copies through `entries`.
   */
  visitEntries?(from: LogIndex, toExclusive: LogIndex, visit: (entry: Entry) => void): void;
  /**
   * Optional: the time stamp of the entry at the snapshot point (`firstIndex() - 1`), when known.
   * An append right after it is checked against it (`timestampBefore`); left out, or undefined,
   * such an append is not checked.
   */
  snapshotTimestamp?(): number | undefined;
  /**
   * The latest snapshot and a source of its bytes (for slow followers), or null if the log was
   * never compacted. The source must stay readable while a transfer uses it, even after a newer
   * snapshot replaced it.
   */
  snapshot(): StoredSnapshot | null;
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
  #snapshot: { snapshot: Snapshot; data: Uint8Array } | null = null;
  #snapshotIndex = 0 as LogIndex;
  #snapshotTerm = 0 as Term;
  /** Time stamp of the entry at the snapshot point, when known (`snapshotTimestamp`). */
  #snapshotTimestamp: number | undefined = undefined;
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

  snapshotTimestamp(): number | undefined {
    return this.#snapshotTimestamp;
  }

  /**
   * The time stamp of entry `index`: its own, or the nearest stamped one's before it (an entry
   * stored without one follows its predecessor), the snapshot's at and before its point, 0 for
   * an empty log; undefined when none is known.
   */
  timestampAt(index: LogIndex): number | undefined {
    assert.ok(index <= this.lastIndex(), `entry ${index} is beyond the log`);
    for (let position = index - this.#snapshotIndex - 1; position >= 0; position--) {
      const timestamp = this.#entries[position].timestamp;
      if (timestamp !== undefined) return timestamp;
    }
    return this.#snapshotIndex === 0 && this.#snapshotTimestamp === undefined
      ? 0
      : this.#snapshotTimestamp;
  }

  snapshot(): StoredSnapshot | null {
    const stored = this.#snapshot;
    if (stored === null) return null;
    return { ...stored.snapshot, source: bytesSource(stored.data) };
  }

  /** The bytes of the latest snapshot (what a restarted node loads), or null. */
  snapshotData(): Uint8Array | null {
    return this.#snapshot?.data ?? null;
  }

  initialState(): { hardState: HardState; config: ConfigState } {
    return { hardState: { ...this.#hardState }, config: cloneConfig(this.#config) };
  }

  /**
   * Persists a Ready's snapshot, entries and hard state in the order the contract asks;
   * `snapshotData` holds the bytes of `ready.snapshot` (taken from the node's sink), and
   * `snapshotTimestamp` the time of its point when the application knows it (its state does).
   */
  saveReady(ready: Ready, snapshotData?: Uint8Array, snapshotTimestamp?: number): void {
    if (ready.snapshot !== undefined) {
      assert.ok(snapshotData !== undefined, "a received snapshot comes with its bytes");
      this.applySnapshot(ready.snapshot, snapshotData, snapshotTimestamp);
    }
    if (ready.entries.length > 0) this.append(ready.entries);
    if (ready.hardState !== undefined) this.setHardState(ready.hardState);
  }

  /**
   * Appends entries, first discarding every stored entry at or after `entries[0].index`. As a
   * real log does, refuses (asserts) time stamps going back from the entry before them (the
   * snapshot's at its point, when known); an entry without one is not checked.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    assert.ok(first > this.#snapshotIndex, "cannot overwrite the snapshot");
    assert.ok(first <= this.lastIndex() + 1, "appended entries leave no gap");
    // Looked up at the first stamped entry only: a log of unstamped entries is never walked.
    let previous: number | undefined | null = null;
    for (const { index, timestamp } of entries) {
      if (timestamp === undefined) continue;
      if (previous === null) previous = this.timestampAt((first - 1) as LogIndex);
      if (previous !== undefined && !(timestamp >= previous)) {
        assert.fail(`timestamp of entry ${index} goes back (${timestamp} < ${previous})`);
      }
      previous = timestamp;
    }
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

  /**
   * Replaces the whole log by a snapshot received from the leader; `timestamp` is the time of its
   * point when known (what its state says: the log keeps no entry there).
   */
  applySnapshot(snapshot: Snapshot, data: Uint8Array, timestamp?: number): void {
    this.#snapshot = { snapshot: { ...snapshot, config: cloneConfig(snapshot.config) }, data };
    this.#snapshotIndex = snapshot.index;
    this.#snapshotTerm = snapshot.term;
    this.#snapshotTimestamp = timestamp;
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
    };
    this.#snapshotTimestamp = this.timestampAt(index);
    this.#entries = this.#entries.slice(index - this.#snapshotIndex);
    this.#snapshot = { snapshot, data: options.data };
    this.#snapshotIndex = index;
    this.#snapshotTerm = snapshot.term;
    this.#config = cloneConfig(options.config);
    return snapshot;
  }
}

/**
 * A `SnapshotSource` over bytes held in memory (tests, small states).
 *
 * @example
 * ```ts
 * const source = bytesSource(new Uint8Array([1, 2, 3]));
 * source.read(1, 2); // [2, 3]
 * ```
 */
export function bytesSource(data: Uint8Array): SnapshotSource {
  return {
    byteLength: data.byteLength,
    read(offset: number, length: number): Uint8Array {
      assert.ok(offset >= 0 && length >= 0 && offset + length <= data.byteLength, "read inside");
      return data.subarray(offset, offset + length);
    },
  };
}

/**
 * A `SnapshotSink` that gathers a snapshot in memory: for tests and simulators, and the default
 * of a `RaftNode` given none. A real node writes chunks to a file instead (bounded memory).
 *
 * @example
 * ```ts
 * const sink = new MemorySnapshotSink();
 * const node = new RaftNode({ id, storage, prng, snapshotSink: sink });
 * // on ready.snapshot: restore from sink.take(ready.snapshot.index)
 * ```
 */
export class MemorySnapshotSink implements SnapshotSink {
  readonly #verify: (data: Uint8Array) => boolean;
  #receiving: { index: LogIndex; parts: Uint8Array[]; bytes: number; byteLength: number } | null =
    null;
  #finished: { index: LogIndex; data: Uint8Array } | null = null;

  /** `verify` decides whether received bytes may be installed (default: any). */
  constructor(options: { verify?: (data: Uint8Array) => boolean } = {}) {
    this.#verify = options.verify ?? (() => true);
  }

  begin(snapshot: Snapshot & { byteLength: number }): void {
    this.#receiving = {
      index: snapshot.index,
      parts: [],
      bytes: 0,
      byteLength: snapshot.byteLength,
    };
  }

  write(offset: number, data: Uint8Array): void {
    const receiving = this.#receiving;
    assert.ok(receiving !== null, "a chunk belongs to a transfer");
    assert.equal(offset, receiving.bytes, "chunks arrive in order");
    receiving.parts.push(data.slice());
    receiving.bytes += data.byteLength;
  }

  finish(): boolean {
    const receiving = this.#receiving;
    assert.ok(receiving !== null && receiving.bytes === receiving.byteLength, "all bytes came");
    this.#receiving = null;
    const data = concat(receiving.parts, receiving.byteLength);
    if (!this.#verify(data)) return false;
    this.#finished = { index: receiving.index, data };
    return true;
  }

  abort(): void {
    this.#receiving = null;
  }

  /** The bytes of the finished snapshot at `index` (once: the sink forgets them). */
  take(index: LogIndex): Uint8Array {
    const finished = this.#finished;
    assert.ok(finished !== null && finished.index === index, `snapshot ${index} was received`);
    this.#finished = null;
    return finished.data;
  }
}

function concat(parts: Uint8Array[], totalBytes: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return whole;
}
