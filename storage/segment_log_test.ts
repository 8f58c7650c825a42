import assert from "node:assert/strict";
import { joinPath, RealFileSystem } from "./file_io.ts";
import { encodeRecord, type LogEntry } from "./record.ts";
import { SegmentLog, type SegmentLogOptions } from "./segment_log.ts";
import { segmentFileName } from "./segment.ts";
import {
  appendGarbage,
  flipBitThroughInterface,
  makeEntries,
  type StoreUnderTest,
  testEveryStore,
} from "./_test_helpers.ts";

const smallSegments = { segmentBytesMax: 2048, indexIntervalBytes: 512 };

function optionsFor(store: StoreUnderTest): SegmentLogOptions {
  return { fs: store.fs, mmap: store.mmap, ...smallSegments };
}

function assertSameEntry(actual: LogEntry, expected: LogEntry): void {
  assert.equal(actual.index, expected.index);
  assert.equal(actual.term, expected.term);
  assert.equal(actual.timestamp, expected.timestamp);
  assert.equal(actual.type, expected.type);
  assert.deepEqual(actual.payload, expected.payload);
}

function assertHolds(log: SegmentLog, expected: LogEntry[]): void {
  assert.equal(log.firstIndex, expected[0].index);
  assert.equal(log.lastIndex, expected.at(-1)!.index);
  for (const entry of expected) {
    assertSameEntry(log.entry(entry.index), entry);
    assert.equal(log.term(entry.index), entry.term);
  }
  const all = log.entries(log.firstIndex, log.lastIndex + 1);
  assert.equal(all.length, expected.length);
  all.forEach((entry, i) => assertSameEntry(entry, expected[i]));
}

testEveryStore("a new log is empty and starts at index 1", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(log.firstIndex, 1);
  assert.equal(log.lastIndex, 0);
  assert.equal(log.lastTerm, 0);
  assert.equal(log.term(0), 0);
  assert.throws(() => log.entry(1), RangeError);
  assert.deepEqual(log.entries(1, 1), []);
  assert.equal(log.indexAtOrAfterTime(0), null);
  assert.deepEqual(log.recovery, { segments: 0, entries: 0, truncatedBytes: 0 });
  await log.close();
});

testEveryStore("appended entries read back across rolled segments", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  const expected = makeEntries(1, 100, { term: 2 });
  log.append(expected.slice(0, 40));
  log.append(expected.slice(40));
  assertHolds(log, expected);
  assert.equal(log.lastTerm, 2);
  assert.ok(log.stats().segments > 5, `expected several segments, got ${log.stats().segments}`);
  assert.equal(log.stats().mapped, store.mmap && store.fs instanceof RealFileSystem);
  await log.sync();
  assert.equal(log.durableIndex, 100);
  await log.close();
});

testEveryStore("a reopened log recovers everything that was synced", async (store) => {
  const expected = [...makeEntries(1, 30, { term: 1 }), ...makeEntries(31, 30, { term: 3 })];
  const first = await SegmentLog.open(store.dir, optionsFor(store));
  await first.appendDurable(expected);
  await first.close();
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(log, expected);
  assert.equal(log.recovery.entries, 60);
  assert.equal(log.recovery.truncatedBytes, 0);
  assert.equal(log.recovery.corruptAt, undefined);
  assert.equal(log.lastTerm, 3);
  assert.equal(log.term(30), 1);
  assert.equal(log.term(31), 3);
  assert.equal(log.durableIndex, 60);
  log.append(makeEntries(61, 5, { term: 3 }));
  assert.equal(log.lastIndex, 65);
  await log.close();
});

testEveryStore("entries stops at bytesMax but always returns one", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  log.append(makeEntries(1, 20, { payloadBytes: 100 }));
  assert.equal(log.entries(1, 21, 250).length, 2);
  assert.equal(log.entries(1, 21, 10).length, 1);
  assert.equal(log.entries(5, 21, 1000).length, 10);
  assert.equal(log.entries(18, 21).length, 3);
  assert.throws(() => log.entries(0, 3), RangeError);
  assert.throws(() => log.entries(1, 22), RangeError);
  await log.close();
});

testEveryStore("indexAtOrAfterTime finds the first entry at or after a time", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  // Timestamps step by 10 ms, with runs of equal timestamps.
  const timestampOf = (index: number) => 1000 + Math.floor(index / 3) * 10;
  log.append(makeEntries(1, 200, { timestampOf }));
  assert.equal(log.indexAtOrAfterTime(0), 1);
  assert.equal(log.indexAtOrAfterTime(timestampOf(1)), 1);
  for (let index = 1; index <= 200; index++) {
    const expected = index === 1 || timestampOf(index - 1) < timestampOf(index) ? index : null;
    if (expected !== null) assert.equal(log.indexAtOrAfterTime(timestampOf(index)), index);
  }
  assert.equal(log.indexAtOrAfterTime(timestampOf(99) + 1), 102);
  assert.equal(log.indexAtOrAfterTime(timestampOf(200) + 1), null);
  await log.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(reopened.indexAtOrAfterTime(timestampOf(99) + 1), 102);
  await reopened.close();
});

testEveryStore("truncateSuffix removes the tail, also after reopening", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  const expected = makeEntries(1, 80, { term: 1 });
  await log.appendDurable(expected);
  await log.truncateSuffix(61);
  assert.equal(log.lastIndex, 60);
  assert.equal(log.durableIndex, 60);
  assertHolds(log, expected.slice(0, 60));
  // Then a new leader's entries take the freed indexes.
  const replacement = makeEntries(61, 10, { term: 2, payloadBytes: 33 });
  await log.appendDurable(replacement);
  await log.truncateSuffix(1000); // beyond the end: nothing to do
  await log.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(reopened, [...expected.slice(0, 60), ...replacement]);
  assert.equal(reopened.lastTerm, 2);
  await reopened.close();
});

testEveryStore("truncateSuffix at a segment's first entry removes that segment", async (store) => {
  const log = await SegmentLog.open(store.dir, { ...optionsFor(store), segmentBytesMax: 500 });
  const expected = makeEntries(1, 30, { payloadBytes: 100 });
  log.append(expected);
  const segmentsBefore = log.stats().segments;
  // 133-byte records, 3 per 500-byte segment: 4, 7, 10 ... start segments.
  await log.truncateSuffix(10);
  assert.equal(log.lastIndex, 9);
  assert.equal(log.stats().segments, 3);
  assert.ok(segmentsBefore > 3);
  assertHolds(log, expected.slice(0, 9));
  log.append(makeEntries(10, 3, { payloadBytes: 100 }));
  await log.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(reopened, [...expected.slice(0, 9), ...makeEntries(10, 3, { payloadBytes: 100 })]);
  await reopened.close();
});

testEveryStore("deletePrefix drops whole old segments and keeps the active one", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  const expected = makeEntries(1, 100);
  await log.appendDurable(expected);
  await log.deletePrefix(50);
  assert.ok(log.firstIndex > 1 && log.firstIndex <= 50, `firstIndex ${log.firstIndex}`);
  const kept = expected.slice(log.firstIndex - 1);
  assertHolds(log, kept);
  assert.throws(() => log.entry(log.firstIndex - 1), RangeError);
  assert.throws(() => log.term(log.firstIndex - 1), RangeError);
  await log.deletePrefix(1_000_000);
  assert.equal(log.stats().segments, 1);
  assert.equal(log.lastIndex, 100);
  const firstIndex = log.firstIndex;
  await log.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(reopened.firstIndex, firstIndex);
  assertHolds(reopened, expected.slice(firstIndex - 1));
  await reopened.close();
});

testEveryStore("resetTo empties the log at a snapshot point, durably", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  await log.appendDurable(makeEntries(1, 50, { term: 2 }));
  await log.resetTo(500, 7);
  assert.equal(log.firstIndex, 501);
  assert.equal(log.lastIndex, 500);
  assert.equal(log.lastTerm, 7);
  assert.equal(log.term(500), 7);
  assert.equal(log.stats().segments, 0);
  await log.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(reopened.lastIndex, 500);
  assert.equal(reopened.lastTerm, 7);
  const next = makeEntries(501, 20, { term: 7 });
  await reopened.appendDurable(next);
  assert.equal(reopened.term(500), 7);
  // Truncating back to the snapshot point is allowed: its term is known.
  await reopened.truncateSuffix(501);
  assert.equal(reopened.lastIndex, 500);
  assert.equal(reopened.lastTerm, 7);
  await reopened.appendDurable(next);
  await reopened.close();
  const again = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(again, next);
  await again.close();
});

testEveryStore("a torn tail is cut on open and reported", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  const expected = makeEntries(1, 10);
  await log.appendDurable(expected);
  await log.close();
  const lastSegment = joinPath(store.dir, segmentFileName(lastSegmentBase(store)));
  const partial = encodeRecord(makeEntries(11, 1)[0]).subarray(0, 20);
  appendGarbage(store.fs, lastSegment, partial);
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(reopened, expected);
  assert.equal(reopened.recovery.truncatedBytes, 20);
  assert.equal(reopened.recovery.corruptAt?.reason, "incomplete record");
  assert.equal(reopened.recovery.corruptAt?.index, 11);
  reopened.append(makeEntries(11, 2));
  await reopened.close();
  const again = await SegmentLog.open(store.dir, optionsFor(store));
  assertHolds(again, makeEntries(1, 12));
  assert.equal(again.recovery.corruptAt, undefined);
  await again.close();
});

function lastSegmentBase(store: StoreUnderTest): number {
  const bases = store.fs.readDir(store.dir)
    .filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20)));
  return Math.max(...bases);
}

testEveryStore("a flipped bit is detected: reads refuse it, recovery cuts there", async (store) => {
  const log = await SegmentLog.open(store.dir, { ...optionsFor(store), segmentBytesMax: 1 << 20 });
  const expected = makeEntries(1, 20, { payloadBytes: 100 });
  await log.appendDurable(expected);
  await log.close();
  const path = joinPath(store.dir, segmentFileName(1));
  // Entry 8 starts at 7 * 133 bytes; flip a payload byte inside it.
  flipBitThroughInterface(store.fs, path, 7 * 133 + 60);
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assert.equal(reopened.lastIndex, 7);
  assertHolds(reopened, expected.slice(0, 7));
  assert.deepEqual(reopened.recovery.corruptAt, {
    index: 8,
    file: path,
    offset: 7 * 133,
    reason: "bad crc",
  });
  assert.equal(reopened.recovery.truncatedBytes, 13 * 133);
  await reopened.close();
});

testEveryStore("hard state round-trips and a torn temp file is ignored", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  assert.deepEqual(log.readHardState(), { term: 0, vote: null, commit: 0 });
  await log.writeHardState({ term: 3, vote: "node-2", commit: 17 });
  await log.writeHardState({ term: 4, vote: null, commit: 20 });
  assert.deepEqual(log.readHardState(), { term: 4, vote: null, commit: 20 });
  await log.close();
  const temporary = store.fs.open(joinPath(store.dir, "hard_state.tmp"), { create: true });
  temporary.writeSync(new Uint8Array([0x43, 0x4d, 0x51, 0x53, 1, 0, 0]));
  temporary.close();
  const reopened = await SegmentLog.open(store.dir, optionsFor(store));
  assert.deepEqual(reopened.readHardState(), { term: 4, vote: null, commit: 20 });
  assert.equal(store.fs.exists(joinPath(store.dir, "hard_state.tmp")), false);
  await reopened.close();
});

testEveryStore("a corrupt hard state refuses to open rather than guess", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  await log.writeHardState({ term: 9, vote: "a", commit: 1 });
  await log.close();
  flipBitThroughInterface(store.fs, joinPath(store.dir, "hard_state"), 30);
  await assert.rejects(SegmentLog.open(store.dir, optionsFor(store)), /corrupt log/);
});

testEveryStore("appends that break the log's order are programming errors", async (store) => {
  const log = await SegmentLog.open(store.dir, optionsFor(store));
  log.append(makeEntries(1, 3, { term: 2 }));
  assert.throws(() => log.append(makeEntries(5, 1, { term: 2 })), /continue the log/);
  assert.throws(() => log.append(makeEntries(4, 1, { term: 1 })), /below/);
  assert.throws(
    () => log.append(makeEntries(4, 1, { term: 2, timestampOf: () => 0 })),
    /backwards/,
  );
  log.append(makeEntries(4, 1, { term: 2 }));
  assert.equal(log.lastIndex, 4);
  await log.close();
});

testEveryStore(
  "a truncation that drops segments and cuts another reopens whole, without damage",
  async (store) => {
    const log = await SegmentLog.open(store.dir, optionsFor(store));
    const first = makeEntries(1, 100, { term: 2 });
    await log.appendDurable(first);
    const segments = log.stats().segments;
    assert.ok(segments > 5, `expected several segments, got ${segments}`);
    await log.truncateSuffix(2); // inside the first segment, every later one removed
    assert.equal(log.stats().segments, 1);
    const second = makeEntries(2, 30, { term: 3 });
    await log.appendDurable(second);
    await log.close();
    const reopened = await SegmentLog.open(store.dir, optionsFor(store));
    assert.equal(reopened.recovery.corruptAt, undefined);
    assertHolds(reopened, [first[0], ...second]);
    await reopened.close();
  },
);
