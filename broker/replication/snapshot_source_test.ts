import assert from "node:assert/strict";
import { crc32c, type LogEntry, SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import type { HardState, LogIndex, NodeId, Term } from "../../raft/mod.ts";
import { RaftLogStorage } from "./log_storage.ts";
import { encodeSnapshotContainer, storeSnapshot } from "./snapshot_container.ts";
import { ContainerSource } from "./snapshot_source.ts";
import { FileSnapshotSink } from "./snapshot_sink.ts";

const config = { voters: ["n1", "n2"] as NodeId[], learners: [] as NodeId[] };
const hardState = { term: 1 as Term, vote: null, commit: 1 as LogIndex } as HardState;
const KiB = 1024;

/** A log of `count` entries of `bodyBytes` (varied a little so entries straddle chunks). */
async function bigLog(fs: SimFileSystem, count: number, bodyBytes: number): Promise<SegmentLog> {
  const log = await SegmentLog.open("/log", { fs, segmentBytesMax: 256 * KiB });
  for (let index = 1; index <= count; index += 50) {
    const entries: LogEntry[] = [];
    for (let at = index; at < Math.min(index + 50, count + 1); at++) {
      const payload = new Uint8Array(bodyBytes + (at % 7) * 13).fill(at % 251);
      entries.push({ term: 1, index: at, timestamp: 1000 + at, type: 16, payload });
    }
    await log.appendDurable(entries);
  }
  return log;
}

async function storedSnapshot(fs: SimFileSystem, index: number, lowest: number): Promise<void> {
  fs.mkdirp("/snapshots");
  const machine = new Uint8Array(3000).fill(7);
  const data = encodeSnapshotContainer({
    index,
    term: 1,
    config,
    lowestReferencedIndex: lowest,
    machine,
    entries: [],
  });
  await storeSnapshot(fs, { dir: "/snapshots", index, data });
}

/** What the leader used to build in memory: the whole container, then its CRC. */
function wholeStream(log: SegmentLog, index: number, lowest: number): Uint8Array {
  const container = encodeSnapshotContainer({
    index,
    term: 1,
    config,
    lowestReferencedIndex: lowest,
    machine: new Uint8Array(3000).fill(7),
    entries: log.entries(lowest, index + 1),
  });
  const stream = new Uint8Array(container.length + 4);
  stream.set(container);
  new DataView(stream.buffer).setUint32(container.length, crc32c(container), true);
  return stream;
}

/** Counts the payload bytes each `log.entries` call returns. */
function countReads(log: SegmentLog): number[] {
  const calls: number[] = [];
  const entries = log.entries.bind(log);
  log.entries = (...args: Parameters<SegmentLog["entries"]>) => {
    const page = entries(...args);
    calls.push(page.reduce((sum, entry) => sum + entry.payload.length, 0));
    return page;
  };
  return calls;
}

Deno.test("a streamed snapshot is byte for byte the container plus its CRC, read in any pieces", async () => {
  const fs = new SimFileSystem();
  const log = await bigLog(fs, 120, 700);
  await storedSnapshot(fs, 110, 20);
  const source = new ContainerSource({ fs, snapshotsDir: "/snapshots", log }, 110);
  const expected = wholeStream(log, 110, 20);
  assert.equal(source.byteLength, expected.length, "the size is known before any entry is read");
  for (const piece of [7, 1000, 4096, expected.length]) {
    const parts: Uint8Array[] = [];
    for (let offset = 0; offset < expected.length; offset += piece) {
      parts.push(source.read(offset, Math.min(piece, expected.length - offset)));
    }
    assert.deepEqual(concat(parts), expected, `read in pieces of ${piece}`);
  }
  // A rewind (a follower that lost chunks) reads the same bytes again.
  assert.deepEqual(source.read(30_000, 5000), expected.subarray(30_000, 35_000));
  assert.deepEqual(source.read(8, 100), expected.subarray(8, 108));
  await log.close();
});

Deno.test("a leader reads from the log about one chunk per chunk sent, never the whole backlog", async () => {
  const fs = new SimFileSystem();
  const log = await bigLog(fs, 400, 16 * KiB); // about 6.5 MiB of bodies
  await storedSnapshot(fs, 400, 1);
  const storage = new RaftLogStorage(log, {
    snapshot: { index: 400, term: 1, config, lowestReferencedIndex: 1 },
    hardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  const calls = countReads(log);
  const source = storage.snapshot()!.source;
  assert.deepEqual(calls, [], "announcing the snapshot reads no entry");
  const chunkBytes = 64 * KiB;
  const entryBytesMax = 16 * KiB + 7 * 13;
  for (let offset = 0; offset < source.byteLength; offset += chunkBytes) {
    calls.length = 0;
    const chunk = source.read(offset, Math.min(chunkBytes, source.byteLength - offset));
    assert.ok(chunk.length <= chunkBytes);
    const read = calls.reduce((sum, bytes) => sum + bytes, 0);
    assert.ok(read <= chunkBytes + 2 * entryBytesMax, `chunk at ${offset} read ${read} bytes`);
  }
  // A far jump (a restarted transfer) holds at most one page at a time.
  calls.length = 0;
  source.read(source.byteLength - 100, 100);
  assert.ok(Math.max(...calls) <= 1024 * KiB + entryBytesMax, `pages of ${Math.max(...calls)}`);
  await log.close();
});

Deno.test("a follower's sink writes chunks to a temp file and refuses a stream whose CRC is wrong", () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/snapshots");
  const leftover = fs.open("/snapshots/snapshot-00000000000000000003.bin.part", { create: true });
  leftover.writeSync(new Uint8Array(10));
  leftover.close();
  const sink = new FileSnapshotSink(fs, "/snapshots");
  assert.deepEqual(fs.readDir("/snapshots"), [], "a stopped process's partial transfer is gone");
  const container = encodeSnapshotContainer({
    index: 9,
    term: 2,
    config,
    lowestReferencedIndex: 10,
    machine: new TextEncoder().encode("machine image"),
    entries: [],
  });
  const stream = new Uint8Array(container.length + 4);
  stream.set(container);
  new DataView(stream.buffer).setUint32(container.length, crc32c(container), true);
  const snapshot = { index: 9 as LogIndex, term: 2 as Term, config, byteLength: stream.length };
  const part = "/snapshots/snapshot-00000000000000000009.bin.part";

  sink.begin(snapshot);
  sink.write(0, stream.subarray(0, 10));
  assert.ok(fs.exists(part), "chunks go to the temp file as they come");
  sink.abort();
  assert.ok(!fs.exists(part), "an abandoned transfer leaves no file");

  const damaged = stream.slice();
  damaged[3] ^= 0x10;
  sink.begin(snapshot);
  sink.write(0, damaged.subarray(0, 20));
  sink.write(20, damaged.subarray(20));
  assert.equal(sink.finish(), false, "a flipped bit is refused");
  assert.ok(!fs.exists(part) && !sink.busy, "and dropped");

  sink.begin(snapshot);
  sink.write(0, stream.subarray(0, stream.length - 2)); // the trailer straddles two chunks
  sink.write(stream.length - 2, stream.subarray(stream.length - 2));
  assert.equal(sink.finish(), true);
  const received = sink.takeFinished(9);
  assert.equal(received.containerBytes, container.length);
  assert.equal(received.crc, crc32c(container));
  const onDisk = new Uint8Array(stream.length);
  received.handle.readSync(0, onDisk);
  assert.deepEqual(onDisk, stream);
  received.handle.close();
});

Deno.test("a snapshot file that rots after the leader checked it never reaches a follower as a sound stream", async () => {
  for (const withEntries of [false, true]) {
    const fs = new SimFileSystem();
    const log = await bigLog(fs, 120, 700);
    fs.mkdirp("/snapshots");
    const entries = withEntries ? log.entries(20, 111) : [];
    const machine = new Uint8Array(3000).fill(7);
    const data = encodeSnapshotContainer({
      index: 110,
      term: 1,
      config,
      lowestReferencedIndex: 20,
      machine,
      entries,
    });
    await storeSnapshot(fs, { dir: "/snapshots", index: 110, data });
    const source = new ContainerSource({ fs, snapshotsDir: "/snapshots", log }, 110);
    const sink = new FileSnapshotSink(fs, "/follower");
    sink.begin({ index: 110 as LogIndex, term: 1 as Term, config, byteLength: source.byteLength });
    sink.write(0, source.read(0, 100)); // the head, read as it was checked
    // A bit flips in the machine image (or, in a file with entries, in an entry) on disk.
    const path = "/snapshots/snapshot-00000000000000000110.bin";
    fs.flipBit(path, 24 + (withEntries ? data.length - 500 : data.length - 1500));
    assert.throws(
      () => {
        for (let offset = 100; offset < source.byteLength; offset += 4 * KiB) {
          sink.write(offset, source.read(offset, Math.min(4 * KiB, source.byteLength - offset)));
        }
      },
      /snapshot-00000000000000000110\.bin changed on disk since it was checked/,
      `the stream is not ended over rotten bytes (entries in the file: ${withEntries})`,
    );
    sink.abort();
  }
});

function concat(parts: Uint8Array[]): Uint8Array {
  const whole = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}
