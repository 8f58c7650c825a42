import assert from "node:assert/strict";
import { crc32c, SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import type { HardState, LogIndex, NodeId, Term } from "../../raft/mod.ts";
import { RaftLogStorage, type SnapshotMeta, toLogEntry, toRaftEntry } from "./log_storage.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  loadNewestSnapshot,
  SnapshotDecodeError,
  storeSnapshot,
} from "./snapshot_container.ts";

const config = { voters: ["n1", "n2"] as NodeId[], learners: [] as NodeId[] };
const hardState = { term: 3 as Term, vote: null, commit: 9 as LogIndex } as HardState;
const bytes = (text: string) => new TextEncoder().encode(text);

async function logWith(fs: SimFileSystem, count: number): Promise<SegmentLog> {
  const log = await SegmentLog.open("/log", { fs, segmentBytesMax: 256 });
  const entries = Array.from({ length: count }, (_, i) => ({
    term: i < 5 ? 1 : 2,
    index: i + 1,
    timestamp: 1000 + i,
    type: 16,
    payload: bytes(`entry ${i + 1}`),
  }));
  await log.appendDurable(entries);
  return log;
}

function meta(index: number, lowestReferencedIndex: number): SnapshotMeta {
  return { index, term: index < 6 ? 1 : 2, config, lowestReferencedIndex };
}

Deno.test("the storage presents the log as compacted at the snapshot", async () => {
  const fs = new SimFileSystem();
  const log = await logWith(fs, 12);
  const storage = new RaftLogStorage(log, {
    snapshot: meta(6, 3),
    hardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  assert.equal(storage.firstIndex(), 7);
  assert.equal(storage.lastIndex(), 12);
  assert.equal(storage.term(6), 2);
  assert.equal(storage.term(5), undefined, "below the snapshot is compacted for Raft");
  assert.equal(storage.term(13), undefined);
  const entries = storage.entries(7, 13, 1 << 20);
  assert.deepEqual(entries.map((entry) => entry.index), [7, 8, 9, 10, 11, 12]);
  assert.equal(entries[0].timestamp, 1006);
  assert.deepEqual(storage.initialState(), { hardState, config });
  await log.close();
});

Deno.test("the initial commit index never points past the log", async () => {
  const fs = new SimFileSystem();
  const log = await logWith(fs, 4);
  const storage = new RaftLogStorage(log, {
    snapshot: meta(0, 1),
    hardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  assert.equal(storage.initialState().hardState.commit, 4);
  assert.equal(storage.snapshot(), null, "the bootstrap snapshot is never shipped");
  await log.close();
});

Deno.test("a shipped snapshot carries the entries its state still references", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/snapshots");
  const log = await logWith(fs, 12);
  const machine = bytes("machine image");
  const stored = { ...meta(8, 4), machine, entries: [] };
  await storeSnapshot(fs, { dir: "/snapshots", index: 8, data: encodeSnapshotContainer(stored) });
  const storage = new RaftLogStorage(log, {
    snapshot: meta(8, 4),
    hardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  const snapshot = storage.snapshot()!;
  assert.equal(snapshot.index, 8);
  const stream = snapshot.source.read(0, snapshot.source.byteLength);
  const containerBytes = stream.subarray(0, stream.length - 4);
  const trailer = new DataView(stream.buffer, stream.length - 4).getUint32(0, true);
  assert.equal(trailer, crc32c(containerBytes), "the stream ends with the container's CRC");
  const container = decodeSnapshotContainer(containerBytes);
  assert.deepEqual(container.machine, machine);
  assert.deepEqual(container.entries.map((entry) => entry.index), [4, 5, 6, 7, 8]);
  assert.equal(new TextDecoder().decode(container.entries[0].payload), "entry 4");
  assert.equal(storage.snapshot()!.source, snapshot.source, "one source per snapshot");
  storage.setSnapshot(meta(8, 9));
  assert.notEqual(storage.snapshot()!.source, snapshot.source, "a new source for a new snapshot");
  assert.equal(loadNewestSnapshot(fs, { dir: "/snapshots" })?.index, 8);
  await log.close();
});

Deno.test("the container rejects bytes that are not one", () => {
  assert.throws(() => decodeSnapshotContainer(bytes("nonsense")), SnapshotDecodeError);
  const good = encodeSnapshotContainer({ ...meta(2, 1), machine: bytes("m"), entries: [] });
  assert.throws(
    () => decodeSnapshotContainer(good.subarray(0, good.length - 1)),
    SnapshotDecodeError,
  );
  const entry = { term: 1, index: 1, timestamp: 5, type: 16, payload: bytes("x") };
  assert.throws(
    () => encodeSnapshotContainer({ ...meta(2, 1), machine: bytes("m"), entries: [entry] }),
    /end at the snapshot/,
  );
});

Deno.test("entries convert between the Raft and the storage shapes", () => {
  const stored = { term: 2, index: 7, timestamp: 99, type: 19, payload: bytes("p") };
  assert.deepEqual(toLogEntry(toRaftEntry(stored)), stored);
  assert.throws(() => toLogEntry({ ...toRaftEntry(stored), timestamp: undefined }), /stamped/);
});

Deno.test("recent entries are served from memory and a truncated suffix is never served", async () => {
  const fs = new SimFileSystem();
  const log = await logWith(fs, 6);
  const storage = new RaftLogStorage(log, {
    snapshot: meta(0, 1),
    hardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  const fromDisk = storage.entries(1, 7, 1 << 20);
  storage.remember(fromDisk.slice(3)); // entries 4..6, as the replica does after appending
  const mixed = storage.entries(1, 7, 1 << 20);
  assert.deepEqual(mixed.map((entry) => entry.index), [1, 2, 3, 4, 5, 6]);
  assert.strictEqual(storage.entries(4, 7, 1 << 20)[0], fromDisk[3], "served from memory");
  assert.equal(storage.entries(4, 7, 1).length, 1, "bytesMax still bounds a read");

  // A conflicting suffix from index 5: forget, truncate, append entries of a later term.
  storage.forgetFrom(5);
  await log.truncateSuffix(5);
  const replacement = [5, 6].map((index) => ({
    term: 3 as Term,
    index: index as LogIndex,
    type: 16,
    timestamp: 2000,
    data: bytes(`new ${index}`),
  }));
  log.append(replacement.map(toLogEntry));
  storage.remember(replacement);
  const after = storage.entries(4, 7, 1 << 20);
  assert.deepEqual(after.map((entry) => entry.term), [1, 3, 3]);
  assert.equal(new TextDecoder().decode(after[2].data), "new 6");
  await log.close();
});

Deno.test("the container's bytes are the documented layout, so older snapshot files still load", () => {
  // Written by the encoder before the replication room had its own codec.
  const golden = "434d515201000000000000084000000000000000401f0000007b22766f74657273223a5b226e31" +
    "225d2c226c6561726e657273223a5b5d7d0000000000000840000000000000f03f6d010000000000000000" +
    "00004000000000000008400000000000001c40100100000078";
  const container = {
    index: 3,
    term: 2,
    config: { voters: ["n1"] as NodeId[], learners: [] as NodeId[] },
    lowestReferencedIndex: 3,
    machine: bytes("m"),
    entries: [{ term: 2, index: 3, timestamp: 7, type: 16, payload: bytes("x") }],
  };
  const encoded = encodeSnapshotContainer(container);
  const hex = Array.from(encoded, (byte) => byte.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, golden);
  assert.deepEqual(decodeSnapshotContainer(encoded), container);
});
