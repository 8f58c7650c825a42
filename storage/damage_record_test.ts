import assert from "node:assert/strict";
import { joinPath } from "./file_io.ts";
import { encodeRecord } from "./record.ts";
import { mergeDamage, storeDamageRecord } from "./hard_state.ts";
import { SegmentLog, type SegmentLogOptions } from "./segment_log.ts";
import { segmentFileName } from "./segment.ts";
import { SimFileSystem, SimulatedCrash } from "./sim_file_system.ts";
import {
  appendGarbage,
  flipBitThroughInterface,
  makeEntries,
  type StoreUnderTest,
  testEveryStore,
} from "./_test_helpers.ts";

// Entries of 100 payload bytes are 133-byte records; one segment holds all twenty.
const options = { segmentBytesMax: 1 << 20, indexIntervalBytes: 512 };
const recordSize = 133;

function optionsFor(store: StoreUnderTest): SegmentLogOptions {
  return { fs: store.fs, mmap: store.mmap, ...options };
}

async function writeTwenty(
  store: { fs: SegmentLogOptions["fs"]; dir: string },
  extra: Partial<SegmentLogOptions> = {},
): Promise<string> {
  const log = await SegmentLog.open(store.dir, { fs: store.fs, ...options, ...extra });
  await log.appendDurable(makeEntries(1, 20, { payloadBytes: 100 }));
  await log.writeHardState({ term: 4, vote: "n2", commit: 5 });
  await log.close();
  return joinPath(store.dir, segmentFileName(1));
}

testEveryStore("an interrupted last write is recorded as a torn cut", async (store) => {
  const path = await writeTwenty(store);
  appendGarbage(store.fs, path, encodeRecord(makeEntries(21, 1)[0]).subarray(0, 40));
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(log.lastIndex, 20);
  assert.equal(log.recovery.tornTail, true);
  assert.deepEqual(log.damage, { term: 4, torn: true, detail: log.recovery.corruptAt });
  await log.close();
});

testEveryStore("zeros after the last record read as a torn write", async (store) => {
  const path = await writeTwenty(store);
  appendGarbage(store.fs, path, new Uint8Array(300));
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(log.lastIndex, 20);
  assert.equal(log.damage?.torn, true);
  await log.close();
});

testEveryStore(
  "a flipped bit in the last, complete record is damage, not a torn write",
  async (store) => {
    const path = await writeTwenty(store);
    flipBitThroughInterface(store.fs, path, 19 * recordSize + 70);
    const log = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(log.lastIndex, 19);
    assert.equal(log.recovery.tornTail, false);
    assert.equal(log.damage?.torn, false);
    assert.equal(log.damage?.detail.reason, "bad crc");
    await log.close();
  },
);

testEveryStore(
  "a damaged length field in the middle of the log is damage, though it looks cut short",
  async (store) => {
    const path = await writeTwenty(store);
    flipBitThroughInterface(store.fs, path, 9 * recordSize + 2); // length += 1 MiB: past the end
    const log = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(log.lastIndex, 9);
    assert.equal(log.recovery.corruptAt?.reason, "incomplete record");
    assert.equal(log.damage?.torn, false);
    await log.close();
  },
);

testEveryStore("the damage record outlives reopening until it is cleared", async (store) => {
  const path = await writeTwenty(store);
  flipBitThroughInterface(store.fs, path, 9 * recordSize + 50);
  const first = await SegmentLog.open(store.dir, optionsFor(store));
  const recorded = first.damage;
  assert.equal(recorded?.detail.index, 10);
  await first.writeHardState({ term: 6, vote: null, commit: 9 });
  await first.close();
  const second = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(second.recovery.corruptAt, undefined, "the second open finds a clean log");
  assert.deepEqual(second.damage, recorded, "but still knows about the first cut");
  await second.clearDamage();
  await second.close();
  const third = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(third.damage, null);
  await third.close();
});

testEveryStore("a later cut merges into the record: worst detail, newest term", async (store) => {
  const path = await writeTwenty(store);
  flipBitThroughInterface(store.fs, path, 12 * recordSize + 50);
  const first = await SegmentLog.open(store.dir, optionsFor(store));
  await first.writeHardState({ term: 9, vote: null, commit: 5 });
  first.append(makeEntries(13, 1, { payloadBytes: 100 }));
  await first.sync();
  await first.close();
  appendGarbage(store.fs, path, encodeRecord(makeEntries(14, 1)[0]).subarray(0, 20));
  const second = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(second.recovery.tornTail, true);
  assert.deepEqual(second.damage, {
    term: 9,
    torn: false,
    detail: { index: 13, file: path, offset: 12 * recordSize, reason: "bad crc" },
  });
  await second.close();
});

Deno.test("a crash at any point of a cut leaves the damage known after the next open", async () => {
  for (let crashAt = 0; crashAt < 30; crashAt++) {
    const fs = new SimFileSystem();
    const path = await writeTwenty({ fs, dir: "/log" });
    fs.flipBit(path, 15 * recordSize + 40);
    fs.crashAfter(crashAt);
    try {
      const log = await SegmentLog.open("/log", { fs, ...options });
      await log.close();
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
    }
    fs.crash();
    const log = await SegmentLog.open("/log", { fs, ...options });
    assert.equal(log.lastIndex, 15, `crash after ${crashAt} writes`);
    assert.equal(log.damage?.torn, false, `crash after ${crashAt} writes`);
    assert.equal(log.damage?.detail.index, 16, `crash after ${crashAt} writes`);
    await log.close();
  }
});

testEveryStore(
  "an open says whether the damage record predates it, and where the log starts",
  async (store) => {
    const path = await writeTwenty(store);
    appendGarbage(store.fs, path, encodeRecord(makeEntries(21, 1)[0]).subarray(0, 40));
    const first = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(first.recovery.earlierDamage, undefined, "the record is this open's cut");
    assert.deepEqual(first.logStart, { index: 0, term: 0 });
    await first.resetTo(30, 2);
    await first.close();
    const second = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(second.recovery.earlierDamage, true, "the record was not cleared");
    assert.deepEqual(second.logStart, { index: 30, term: 2 });
    await second.clearDamage();
    await second.close();
    const third = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(third.recovery.earlierDamage, undefined);
    await third.close();
  },
);

/** Cuts a file short through the FileSystem interface: what a lost or interrupted write leaves. */
function cutShort(fs: SegmentLogOptions["fs"], path: string, lengthBytes: number): void {
  const handle = fs.open(path);
  handle.truncate(lengthBytes);
  handle.close();
}

testEveryStore(
  "a torn cut above an earlier, unrepaired one keeps the record at the lower cut",
  async (store) => {
    // The first cut (entry 4, below the persisted commit 5) is not repaired, so its record
    // stays; the log takes entries again, and a crash tears the new tail, above the commit. The
    // record must still say where entries were first lost, not only where they were lost last.
    const path = await writeTwenty(store);
    cutShort(store.fs, path, 3 * recordSize + 40);
    const first = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(first.lastIndex, 3);
    const firstCut = first.damage;
    assert.equal(firstCut?.torn, true);
    assert.equal(firstCut?.detail.index, 4);
    first.append(makeEntries(4, 9, { payloadBytes: 100 }));
    await first.sync();
    await first.writeHardState({ term: 6, vote: null, commit: 8 });
    await first.close();
    appendGarbage(store.fs, path, encodeRecord(makeEntries(13, 1)[0]).subarray(0, 40));
    const second = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(second.lastIndex, 12);
    assert.equal(second.recovery.tornTail, true);
    assert.equal(second.recovery.corruptAt?.index, 13, "this open cut the tail at 13");
    assert.deepEqual(second.damage, { ...firstCut, term: 6 }, "the lower cut is kept");
    await second.close();
  },
);

Deno.test("a failed fsync after an unrepaired torn cut keeps the record at the lower cut", async () => {
  const fs = new SimFileSystem();
  const path = await writeTwenty({ fs, dir: "/log" });
  cutShort(fs, path, 3 * recordSize + 40);
  const first = await SegmentLog.open("/log", { fs, ...options });
  const firstCut = first.damage;
  assert.equal(firstCut?.detail.index, 4);
  await first.appendDurable(makeEntries(4, 5, { payloadBytes: 100 }));
  fs.failSyncs(1);
  await assert.rejects(first.appendDurable(makeEntries(9, 3, { payloadBytes: 100 })));
  assert.equal(first.damage?.unsyncedFrom, 9, "the failure is recorded");
  assert.deepEqual(first.damage?.detail, firstCut?.detail, "at the first cut, not at 9");
  await first.close();
  const second = await SegmentLog.open("/log", { fs, ...options });
  assert.equal(second.lastIndex, 8, "the unsynced tail is cut");
  assert.deepEqual(second.damage, { term: 4, torn: true, detail: firstCut?.detail });
  await second.close();
});

Deno.test("between two torn cuts the record keeps the lower, in either order", () => {
  const at = (index: number | undefined) => ({ index, file: "/log/x", offset: 0, reason: "r" });
  const low = { term: 2, torn: true, detail: at(4) };
  const high = { term: 3, torn: true, detail: at(13) };
  assert.deepEqual(mergeDamage(low, high), { ...low, term: 3 });
  assert.deepEqual(mergeDamage(high, { ...low, term: 1 }), { ...low, term: 3 });
  // A cut at an unknown index may lie anywhere, below the other one too: it is kept (the
  // replication layer distrusts it), never dropped for a known one.
  const unknown = { ...high, detail: at(undefined) };
  assert.deepEqual(mergeDamage(low, unknown), { ...unknown, term: 3 });
  assert.deepEqual(mergeDamage(unknown, low), { ...unknown, term: 3 });
  assert.deepEqual(mergeDamage(unknown, { ...unknown, term: 1 }), unknown);
  const real = { term: 2, torn: false, detail: at(9) };
  assert.deepEqual(mergeDamage(real, low), { ...real }, "a real damage still beats a torn cut");
  assert.deepEqual(mergeDamage(low, real), real);
  assert.deepEqual(mergeDamage(real, { ...real, detail: at(3) }), { ...real, detail: at(3) });
});

testEveryStore(
  "a torn cut after a recorded cut at an unknown index keeps the unknown one",
  async (store) => {
    // A damage record whose cut index is unknown (no code of this release writes one; the
    // record's format allows it): a torn tail cut at this open must not replace it with a
    // known index, which could read as a harmless tail above the persisted commit.
    const path = await writeTwenty(store);
    const unknownCut = { file: path, offset: 0, reason: "incomplete record" };
    await storeDamageRecord(store.fs, store.dir, { term: 3, torn: true, detail: unknownCut });
    appendGarbage(store.fs, path, encodeRecord(makeEntries(21, 1)[0]).subarray(0, 40));
    const log = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(log.recovery.corruptAt?.index, 21, "this open cut the tail at 21");
    assert.equal(log.recovery.earlierDamage, true);
    // (Read back, the record's detail names its unknown index as undefined.)
    const detail = { index: undefined, ...unknownCut };
    assert.deepEqual(log.damage, { term: 4, torn: true, detail });
    await log.close();
  },
);
