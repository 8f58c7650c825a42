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

/**
 * Snapshots the machine at its applied index (the file holds no entries: the log keeps them),
 * moves Raft's compaction point there and deletes log segments nothing references any more.
 */
export async function takeSnapshot(parts: SnapshotParts, config: ConfigState): Promise<void> {
  const { machine, log, fs, snapshotsDir } = parts;
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
  await storeSnapshot(fs, { dir: snapshotsDir, index, data });
  parts.storage.setSnapshot({ index, term, config, lowestReferencedIndex });
  pruneSnapshots(fs, { dir: snapshotsDir, keepIndex: index });
  // Entry `index` itself stays, so the log never starts after the snapshot.
  const keepFrom = Math.min(index, lowestReferencedIndex);
  if (keepFrom > log.firstIndex) await log.deletePrefix(keepFrom);
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
