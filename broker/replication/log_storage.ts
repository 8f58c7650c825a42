/**
 * `RaftLogStorage`: the Raft core's read view (`LogStorage`) of a node's `SegmentLog` plus its
 * current snapshot.
 *
 * Raft sees the log as compacted at the snapshot: `firstIndex() = snapshot.index + 1` and
 * `term(snapshot.index)` answers from the snapshot, although older entries physically remain in
 * the segment log while the state machine still references their message bodies. Writing stays
 * with the replica (it persists each Ready); this class only reads, and learns about new
 * snapshots through `setSnapshot`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type FileSystem, type LogEntry, type SegmentLog } from "../../storage/mod.ts";
import {
  type ConfigState,
  type Entry,
  type HardState,
  type LogIndex,
  type LogStorage,
  type StoredSnapshot,
  type Term,
} from "../../raft/mod.ts";
import { loadNewestSnapshot } from "./snapshot_container.ts";
import { ContainerSource } from "./snapshot_source.ts";

/** What Raft and the replica need to know of a snapshot without its data. */
export interface SnapshotMeta {
  index: number;
  term: number;
  config: ConfigState;
  /** Entries below this hold no live or rewindable message as of `index`. */
  lowestReferencedIndex: number;
  /**
   * Time stamp of entry `index` as the state it holds knows it (the applier's `lastTimestamp`),
   * when known: the log holds no entry there after a snapshot without entries was installed.
   * Not stored in the container (its machine image holds it).
   */
  timestamp?: number;
}

/** Options of a `RaftLogStorage`. */
export interface RaftLogStorageOptions {
  /** The snapshot the log is compacted at (the bootstrap one, index 0, for a new node). */
  snapshot: SnapshotMeta;
  /** The persisted hard state (its commit is clamped into the log). */
  hardState: HardState;
  /** Where the snapshot files live, to build the container Raft ships to followers. */
  fs: FileSystem;
  snapshotsDir: string;
}

/** Converts a stored entry to the Raft core's shape (the payload is not copied). */
export function toRaftEntry(entry: LogEntry): Entry {
  return {
    term: entry.term as Term,
    index: entry.index as LogIndex,
    type: entry.type,
    data: entry.payload,
    timestamp: entry.timestamp,
  };
}

/** Converts a Raft entry to the stored shape; its timestamp must have been stamped. */
export function toLogEntry(entry: Entry): LogEntry {
  if (entry.timestamp === undefined) assert.fail(`entry ${entry.index} was stamped before storage`);
  return {
    term: entry.term,
    index: entry.index,
    timestamp: entry.timestamp,
    type: entry.type,
    payload: entry.data,
  };
}

/**
 * The Raft core's view of a segment log.
 *
 * @example
 * ```ts
 * const storage = new RaftLogStorage(log, { snapshot, hardState, fs, snapshotsDir });
 * const raft = new RaftNode({ id, storage, prng });
 * // after taking a snapshot at `index`:
 * storage.setSnapshot({ index, term, config, lowestReferencedIndex });
 * ```
 */
/** Bytes of recently appended entries kept in memory for reads (bounded; not the backlog). */
const recentBytesMax = 8 * 1024 * 1024;
/** Entries kept at most, whatever their size. */
const recentEntriesMax = 65_536;

export class RaftLogStorage implements LogStorage {
  readonly #log: SegmentLog;
  readonly #fs: FileSystem;
  readonly #snapshotsDir: string;
  #snapshot: SnapshotMeta;
  #hardState: HardState;
  /**
   * Sources handed out for snapshots (the current one, and older ones a transfer may still
   * read), by index; `retention` drops the ones no longer in flight.
   */
  #sources = new Map<number, { meta: SnapshotMeta; source: ContainerSource }>();
  /**
   * The newest appended entries, by index (insertion order = index order). Committed entries
   * and appends to followers are read from here instead of back from disk (a CRC check and a
   * copy per read, and mapped page-cache pages in the RSS). Bounded by `recentBytesMax`.
   */
  #recent = new Map<number, Entry>();
  #recentBytes = 0;

  constructor(log: SegmentLog, options: RaftLogStorageOptions) {
    this.#log = log;
    this.#fs = options.fs;
    this.#snapshotsDir = options.snapshotsDir;
    this.#snapshot = cloneMeta(options.snapshot);
    this.#hardState = { ...options.hardState };
    this.#checkLog();
  }

  /** The snapshot Raft sees the log compacted at. */
  get snapshotMeta(): SnapshotMeta {
    return cloneMeta(this.#snapshot);
  }

  firstIndex(): LogIndex {
    return (this.#snapshot.index + 1) as LogIndex;
  }

  lastIndex(): LogIndex {
    return this.#log.lastIndex as LogIndex;
  }

  /**
   * Time stamp of the entry at the snapshot point: the log's entry when it holds it, else the
   * snapshot's own (`SnapshotMeta.timestamp`); undefined for none (the bootstrap) or unknown.
   */
  snapshotTimestamp(): number | undefined {
    const { index, timestamp } = this.#snapshot;
    if (index === 0) return undefined;
    return index >= this.#log.firstIndex ? this.#log.entry(index, false).timestamp : timestamp;
  }

  term(index: number): Term | undefined {
    if (index === this.#snapshot.index) return this.#snapshot.term as Term;
    if (index < this.#snapshot.index || index > this.#log.lastIndex) return undefined;
    return this.#log.term(index) as Term;
  }

  entries(from: number, toExclusive: number, bytesMax: number): Entry[] {
    if (!(from > this.#snapshot.index)) assert.fail(`entry ${from} is compacted`);
    if (!(toExclusive <= this.#log.lastIndex + 1)) {
      assert.fail(`entry ${toExclusive - 1} is beyond the log`);
    }
    if (from >= toExclusive) return [];
    const cached = this.#cachedEntries(from, toExclusive, bytesMax);
    if (cached !== null) return cached;
    // Raft's own reads (catch-up, apply) stream through the log once: positioned reads, so the
    // pages they touch do not stay in the RSS as a map's would.
    return this.#log.entries(from, toExclusive, bytesMax, { map: false }).map(toRaftEntry);
  }

  /** Streams [from, toExclusive) to `visit`, each entry's data a view valid during the call. */
  visitEntries(from: LogIndex, toExclusive: LogIndex, visit: (entry: Entry) => void): void {
    if (!(from > this.#snapshot.index)) assert.fail(`entry ${from} is compacted`);
    if (!(toExclusive <= this.#log.lastIndex + 1)) {
      assert.fail(`entry ${toExclusive - 1} is beyond the log`);
    }
    if (from >= toExclusive) return;
    this.#log.entries(from, toExclusive, Infinity, {
      map: false,
      visit: (entry) => visit(toRaftEntry(entry)),
    });
  }

  /** Remembers entries just appended to the log (after any truncation was forgotten). */
  remember(entries: Entry[]): void {
    for (const entry of entries) {
      this.#recent.set(entry.index, entry);
      this.#recentBytes += entry.data.length;
    }
    for (const [index, entry] of this.#recent) {
      if (this.#recentBytes <= recentBytesMax && this.#recent.size <= recentEntriesMax) break;
      this.#recent.delete(index);
      this.#recentBytes -= entry.data.length;
    }
  }

  /** Forgets remembered entries from `index` on (a truncated suffix), or all of them. */
  forgetFrom(index = 0): void {
    if (index <= 0) {
      this.#recent.clear();
      this.#recentBytes = 0;
      return;
    }
    for (const [at, entry] of [...this.#recent]) {
      if (at < index) continue;
      this.#recent.delete(at);
      this.#recentBytes -= entry.data.length;
    }
  }

  #cachedEntries(from: number, toExclusive: number, bytesMax: number): Entry[] | null {
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = from; index < toExclusive; index++) {
      const entry = this.#recent.get(index);
      if (entry === undefined) return null;
      bytes += entry.data.length;
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  /**
   * The current snapshot and a source that streams its container on demand from the stored
   * file and the log (`snapshot_source.ts`): nothing of it is assembled in memory.
   */
  snapshot(): StoredSnapshot | null {
    const meta = this.#snapshot;
    if (meta.index === 0) return null;
    let known = this.#sources.get(meta.index);
    if (known === undefined) {
      const parts = { fs: this.#fs, snapshotsDir: this.#snapshotsDir, log: this.#log };
      known = { meta: cloneMeta(meta), source: new ContainerSource(parts, meta.index) };
      this.#sources.set(meta.index, known);
    }
    return {
      index: meta.index as LogIndex,
      term: meta.term as Term,
      config: cloneConfig(meta.config),
      source: known.source,
    };
  }

  /**
   * What compaction must keep for the snapshots the Raft core is still sending (`inFlight`,
   * their indexes): their files, and the log from the lowest entry they reference. Sources of
   * snapshots no longer in flight (nor current) are forgotten.
   */
  retention(inFlight: readonly number[]): { snapshotIndexes: number[]; logFrom: number } {
    const snapshotIndexes: number[] = [];
    let logFrom = Infinity;
    for (const [index, { meta }] of this.#sources) {
      if (!inFlight.includes(index)) {
        if (index !== this.#snapshot.index) this.#sources.delete(index);
        continue;
      }
      snapshotIndexes.push(index);
      logFrom = Math.min(logFrom, meta.lowestReferencedIndex, index);
    }
    return { snapshotIndexes, logFrom };
  }

  initialState(): { hardState: HardState; config: ConfigState } {
    const commit = Math.min(
      Math.max(this.#hardState.commit, this.#snapshot.index),
      this.#log.lastIndex,
    );
    return {
      hardState: { ...this.#hardState, commit: commit as LogIndex },
      config: cloneConfig(this.#snapshot.config),
    };
  }

  /** Moves the compaction point Raft sees to a newer snapshot (taken or installed). */
  setSnapshot(meta: SnapshotMeta): void {
    assert.ok(meta.index >= this.#snapshot.index, "snapshots only move forward");
    this.forgetFrom(); // an installed snapshot may have replaced the log under the cache
    this.#snapshot = cloneMeta(meta);
    this.#sources.delete(meta.index); // its file may have been rewritten: read it afresh
    this.#checkLog();
  }

  /** Records the hard state last persisted (what `initialState` reports). */
  setHardState(hardState: HardState): void {
    this.#hardState = { ...hardState };
  }

  #checkLog(): void {
    const log = this.#log;
    const index = this.#snapshot.index;
    assert.ok(log.lastIndex >= index, `the log (to ${log.lastIndex}) reaches snapshot ${index}`);
    assert.ok(log.firstIndex <= index + 1, `the log starts by snapshot ${index} + 1`);
  }
}

/** The newest loadable snapshot's metadata (for tests and tools). */
export function newestSnapshotMeta(fs: FileSystem, dir: string): SnapshotMeta | null {
  const container = loadNewestSnapshot(fs, { dir });
  if (container === null) return null;
  return {
    index: container.index,
    term: container.term,
    config: container.config,
    lowestReferencedIndex: container.lowestReferencedIndex,
  };
}

function cloneConfig(config: ConfigState): ConfigState {
  return { voters: [...config.voters], learners: [...config.learners] };
}

function cloneMeta(meta: SnapshotMeta): SnapshotMeta {
  return { ...meta, config: cloneConfig(meta.config) };
}
