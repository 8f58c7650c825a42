/**
 * Taking and installing Raft snapshots of the queue engine on a node's disk (the replica calls
 * these from its Ready loop; the container format is in `snapshot_container.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type FileHandle,
  type FileSystem,
  type LogEntry,
  readSnapshotFileRange,
  type SegmentLog,
  writeSnapshotFileFrom,
} from "../../storage/mod.ts";
import type { ConfigState, RaftNode, Snapshot } from "../../raft/mod.ts";
import type { Applier } from "./types.ts";
import type { RaftLogStorage } from "./log_storage.ts";
import {
  type ContainerPrefix,
  decodeContainerEntry,
  encodeSnapshotContainer,
  pruneSnapshots,
  readContainerPrefix,
  SnapshotDecodeError,
  snapshotFileName,
  storeSnapshot,
} from "./snapshot_container.ts";
import { FileSnapshotSink } from "./snapshot_sink.ts";

/** What snapshotting touches on one node. */
export interface SnapshotParts {
  log: SegmentLog;
  machine: Applier;
  storage: RaftLogStorage;
  fs: FileSystem;
  snapshotsDir: string;
  /** Indexes of the snapshots the Raft core is sending to followers right now. */
  snapshotsInFlight: () => number[];
  /** Where snapshots sent by the leader are received. */
  sink: FileSnapshotSink;
}

/**
 * Builds a replica's `SnapshotParts`; `raft` is its Raft node (asked, when compacting, which
 * snapshots are in flight). Leftover temp files of unfinished transfers are removed.
 */
export function snapshotParts(
  options: Pick<SnapshotParts, "log" | "machine" | "storage" | "fs" | "snapshotsDir"> & {
    /** Told why a received snapshot is refused. */
    warn?: (line: string) => void;
  },
  raft: () => RaftNode,
): SnapshotParts {
  const { warn, ...parts } = options;
  return {
    ...parts,
    sink: new FileSnapshotSink(options.fs, options.snapshotsDir, {
      warn,
      machineIndex: options.machine.checkSnapshot?.bind(options.machine),
    }),
    snapshotsInFlight: () =>
      Object.values(raft().status().progress).flatMap((progress) =>
        progress.snapshotIndex === undefined ? [] : [progress.snapshotIndex]
      ),
  };
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
  // A transfer of an older snapshot streams from its file and the log: both stay until it ends
  // (the next adoption after that removes them).
  const retained = parts.storage.retention(parts.snapshotsInFlight());
  const pruned = pruneSnapshots(
    parts.fs,
    { dir: parts.snapshotsDir, keepIndex: index },
    retained.snapshotIndexes,
  );
  // Entry `index` itself stays, so the log never starts after the snapshot.
  const keepFrom = Math.min(index, lowestReferencedIndex, retained.logFrom);
  // A failed log rejects (never throws): Promise.all reports the first failure of the two.
  const compacted = keepFrom > parts.log.firstIndex
    ? parts.log.deletePrefix(keepFrom)
    : Promise.resolve();
  return Promise.all([pruned, compacted]).then(() => {});
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
 * Installs a snapshot received from the leader into the sink's temp file (`snapshot_sink.ts`),
 * never holding its entries in memory:
 *
 * 1. the temp file is fsynced and copied into the snapshot file, its CRC checked on the way
 *    (nothing is replaced if it fails);
 * 2. the log is reset to the embedded entries, appended page by page from that file, and synced;
 * 3. the machine is loaded from the image, Raft's compaction point moves;
 * 4. the snapshot file is rewritten without entries (the log now holds them durably), so a
 *    restart loads only the machine image.
 *
 * A crash before 2 ends keeps the file with entries, which recovery replays into the log.
 * Returns the snapshot's membership and the timestamp of the log's new last entry: without
 * embedded entries, the snapshot point's as the machine knows it (null when it does not).
 */
export async function installReceivedSnapshot(
  parts: SnapshotParts,
  snapshot: Snapshot,
): Promise<{ config: ConfigState; tailTimestamp: number | null }> {
  const { log, fs, snapshotsDir } = parts;
  const received = parts.sink.takeFinished(snapshot.index);
  const file = { dir: snapshotsDir, name: snapshotFileName(snapshot.index) };
  try {
    await received.handle.syncData();
    await writeSnapshotFileFrom(fs, file, {
      byteLength: received.containerBytes,
      crc: received.crc,
      read: (position, target) => readFully(received.handle, position, target),
    });
  } finally {
    received.handle.close();
    fs.remove(received.path);
  }
  const read = (offset: number, length: number) => {
    const target = new Uint8Array(length);
    readSnapshotFileRange(fs, file, offset, target);
    return target;
  };
  const prefix = readContainerPrefix(read);
  assert.equal(prefix.index, snapshot.index, "the container is the snapshot's");
  assert.equal(prefix.term, snapshot.term, "the container has the snapshot's term");
  const tailTimestamp = await rewriteLog(log, {
    prefix,
    read,
    containerBytes: received.containerBytes,
  });
  const machine = read(prefix.machineOffset, prefix.machineBytes);
  parts.machine.loadSnapshot(machine);
  assert.equal(parts.machine.appliedIndex, snapshot.index, "the machine is at the snapshot");
  const meta = {
    index: snapshot.index,
    term: snapshot.term,
    config: prefix.config,
    lowestReferencedIndex: prefix.lowestReferencedIndex,
    // The state's time: its last applied entry's stamp. An earlier release's image counted only
    // the engine's entries, which is still the point's stamp when Raft made that entry itself:
    // Raft's entries take their predecessor's stamp, and --force-new-cluster's changes follow
    // member-record removals stamped the same (`memberRecordRemovals`). So the leader's next
    // entries are never before it (none refused), and neither is what this node stamps next.
    timestamp: parts.machine.lastTimestamp,
  };
  parts.storage.retention([]); // a follower sends no snapshot; its old sources read a gone log
  parts.storage.setSnapshot(meta);
  if (prefix.entryCount > 0) {
    const data = encodeSnapshotContainer({ ...meta, machine, entries: [] });
    await storeSnapshot(fs, { dir: snapshotsDir, index: snapshot.index, data });
  }
  await pruneSnapshots(fs, { dir: snapshotsDir, keepIndex: snapshot.index });
  return { config: prefix.config, tailTimestamp: tailTimestamp ?? meta.timestamp ?? null };
}

/** Bytes of container read at once while rewriting the log (grown for a bigger entry). */
const rewriteWindowBytes = 4 * 1024 * 1024;

/**
 * Resets the log to the container's embedded entries, appended window by window, and syncs.
 * Returns the last entry's timestamp (null without entries: the log starts at the snapshot).
 */
async function rewriteLog(
  log: SegmentLog,
  container: {
    prefix: ContainerPrefix;
    read: (offset: number, length: number) => Uint8Array;
    containerBytes: number;
  },
): Promise<number | null> {
  const { prefix, read, containerBytes } = container;
  if (prefix.entryCount === 0) {
    assert.equal(containerBytes, prefix.entryCountOffset + 4, "nothing follows the entry count");
    await log.resetTo(prefix.index, prefix.term);
    return null;
  }
  let offset = prefix.entryCountOffset + 4;
  let count = 0;
  let last: LogEntry | null = null;
  let windowBytes = rewriteWindowBytes;
  while (offset < containerBytes) {
    const window = read(offset, Math.min(windowBytes, containerBytes - offset));
    const page: LogEntry[] = [];
    let at = 0;
    for (;;) {
      const decoded = decodeContainerEntry(window, at);
      if ("needBytes" in decoded) {
        if (at === 0 && decoded.needBytes > containerBytes - offset) {
          throw new SnapshotDecodeError(`truncated embedded entry at ${offset}`);
        }
        windowBytes = Math.max(windowBytes, decoded.needBytes);
        break;
      }
      const entry = decoded.entry;
      const expected = last === null ? entry.index : last.index + 1;
      if (entry.index !== expected) throw new SnapshotDecodeError("embedded entries have a gap");
      if (last === null) await log.resetTo(entry.index - 1, entry.term);
      page.push(entry);
      last = entry;
      at += decoded.size;
      count++;
    }
    log.append(page); // copies the payloads before the window is read again
    offset += at;
  }
  const sound = last !== null && count === prefix.entryCount && last.index === prefix.index &&
    last.term === prefix.term && offset === containerBytes;
  if (!sound) throw new SnapshotDecodeError("embedded entries do not end at the snapshot");
  await log.sync();
  return last!.timestamp;
}

function readFully(handle: FileHandle, position: number, target: Uint8Array): void {
  const read = handle.readSync(position, target);
  if (read !== target.length) throw new RangeError("received snapshot file is too short");
}
