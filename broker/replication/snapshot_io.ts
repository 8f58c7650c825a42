/**
 * Taking and installing Raft snapshots of the queue engine on a node's disk (the replica calls
 * these from its Ready loop; the container format is in `snapshot_container.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { FileSystem, SegmentLog } from "../../storage/mod.ts";
import type { ConfigState, Snapshot } from "../../raft/mod.ts";
import type { Applier } from "./types.ts";
import type { RaftLogStorage } from "./log_storage.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  pruneSnapshots,
  storeSnapshot,
} from "./snapshot_container.ts";

/** What snapshotting touches on one node. */
export interface SnapshotParts {
  log: SegmentLog;
  machine: Applier;
  storage: RaftLogStorage;
  fs: FileSystem;
  snapshotsDir: string;
}

/** A snapshot serialized at one applied index, to be stored and then adopted. */
export interface PreparedSnapshot {
  index: number;
  term: number;
  config: ConfigState;
  lowestReferencedIndex: number;
  /** The encoded container (the file's bytes). */
  data: Uint8Array;
}

/**
 * Serializes the machine at its applied index (the file holds no entries: the log keeps them).
 * Synchronous, so the state is the one of a single point in the log.
 */
export function prepareSnapshot(parts: SnapshotParts, config: ConfigState): PreparedSnapshot {
  const { machine, log } = parts;
  const index = machine.appliedIndex;
  const term = log.term(index);
  const lowestReferencedIndex = machine.lowestReferencedIndex();
  const data = encodeSnapshotContainer({
    index,
    term,
    config,
    lowestReferencedIndex,
    machine: machine.snapshot(),
    entries: [],
  });
  return { index, term, config, lowestReferencedIndex, data };
}

/** Writes a prepared snapshot's file (atomically, durable when the promise resolves). */
export function storePreparedSnapshot(
  parts: SnapshotParts,
  prepared: PreparedSnapshot,
): Promise<void> {
  return storeSnapshot(parts.fs, {
    dir: parts.snapshotsDir,
    index: prepared.index,
    data: prepared.data,
  });
}

/**
 * Makes a stored snapshot the compaction point: Raft sees the log start after it, older snapshot
 * files go, and log segments nothing references any more are deleted (the promise: that removal
 * is durable). Does nothing when a newer snapshot was installed meanwhile. Call it where no Ready
 * is outstanding.
 */
export function adoptSnapshot(parts: SnapshotParts, prepared: PreparedSnapshot): Promise<void> {
  const { index, term, config, lowestReferencedIndex } = prepared;
  if (parts.storage.snapshotMeta.index >= index) return Promise.resolve();
  parts.storage.setSnapshot({ index, term, config, lowestReferencedIndex });
  pruneSnapshots(parts.fs, { dir: parts.snapshotsDir, keepIndex: index });
  // Entry `index` itself stays, so the log never starts after the snapshot.
  const keepFrom = Math.min(index, lowestReferencedIndex);
  return keepFrom > parts.log.firstIndex ? parts.log.deletePrefix(keepFrom) : Promise.resolve();
}

/**
 * Snapshots the machine at its applied index, moves Raft's compaction point there and deletes
 * log segments nothing references any more, all at once (the replica does these steps apart, so
 * its Ready loop never waits for the file: `snapshot_writer.ts`).
 */
export async function takeSnapshot(parts: SnapshotParts, config: ConfigState): Promise<void> {
  const prepared = prepareSnapshot(parts, config);
  await storePreparedSnapshot(parts, prepared);
  await adoptSnapshot(parts, prepared);
}

/**
 * Installs a snapshot received from the leader: stores it as received (entries included), resets
 * the log to its embedded entries, loads the machine in place. Returns the snapshot's membership
 * and the timestamp of the log's new last entry (null when it embeds none).
 */
export async function installSnapshot(
  parts: SnapshotParts,
  snapshot: Snapshot,
): Promise<{ config: ConfigState; tailTimestamp: number | null }> {
  const { log, fs, snapshotsDir } = parts;
  const container = decodeSnapshotContainer(snapshot.data);
  assert.equal(container.index, snapshot.index, "the container is the snapshot's");
  assert.equal(container.term, snapshot.term, "the container has the snapshot's term");
  // The file goes first: it carries the entries, so a crash before the log is rewritten is
  // repaired at the next open (recovery.ts).
  await storeSnapshot(fs, { dir: snapshotsDir, index: snapshot.index, data: snapshot.data });
  const entries = container.entries;
  const first = entries[0];
  if (first !== undefined) await log.resetTo(first.index - 1, first.term);
  else await log.resetTo(snapshot.index, snapshot.term);
  if (entries.length > 0) {
    log.append(entries);
    await log.sync();
  }
  parts.machine.loadSnapshot(container.machine);
  assert.equal(parts.machine.appliedIndex, snapshot.index, "the machine is at the snapshot");
  parts.storage.setSnapshot({
    index: snapshot.index,
    term: snapshot.term,
    config: container.config,
    lowestReferencedIndex: container.lowestReferencedIndex,
  });
  pruneSnapshots(fs, { dir: snapshotsDir, keepIndex: snapshot.index });
  return { config: container.config, tailTimestamp: entries.at(-1)?.timestamp ?? null };
}
