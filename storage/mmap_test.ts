import assert from "node:assert/strict";
import { joinPath, RealFileSystem } from "./file_io.ts";
import { mapFile, mmapAvailable, trimAllocator } from "./mmap.ts";
import { SegmentLog } from "./segment_log.ts";
import { makeEntries } from "./_test_helpers.ts";

const fs = new RealFileSystem();

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const root = fs.makeTempDir("cmqd-mmap-test-");
  try {
    await body(joinPath(root, "log"));
  } finally {
    fs.removeTree(root);
  }
}

Deno.test("memory maps are available when the test runs with --allow-ffi", () => {
  assert.equal(mmapAvailable(), true);
});

Deno.test("an unmapped region reads as empty instead of crashing", async () => {
  await withTempDir(async (dir) => {
    fs.mkdirp(dir);
    const handle = fs.open(joinPath(dir, "f"), { create: true });
    handle.writeSync(new Uint8Array([1, 2, 3, 4]));
    await handle.syncData();
    handle.close();
    const region = mapFile(joinPath(dir, "f"), 4)!;
    const view = region.bytes.subarray(1);
    assert.deepEqual([...region.bytes], [1, 2, 3, 4]);
    region.unmap();
    region.unmap(); // idempotent
    assert.equal(region.bytes.length, 0);
    assert.equal(view.length, 0);
    assert.equal(view[0], undefined);
  });
});

Deno.test("mmap reads and pread reads of the same log are identical", async () => {
  await withTempDir(async (dir) => {
    const options = { fs, segmentBytesMax: 4096, indexIntervalBytes: 256 };
    const writer = await SegmentLog.open(dir, options);
    const timestampOf = (index: number) => 5000 + Math.floor(index / 4);
    await writer.appendDurable(makeEntries(1, 300, { timestampOf }));
    writer.append(makeEntries(301, 20, { timestampOf })); // unsynced tail, read back too
    const mapped = await SegmentLog.open(dir, { ...options, mmap: true });
    const plain = await SegmentLog.open(dir, { ...options, mmap: false });
    for (let index = 1; index <= 300; index++) {
      assert.deepEqual(mapped.entry(index), plain.entry(index));
    }
    for (const log of [writer]) {
      assert.deepEqual(log.entries(250, 321), plain.entries(250, 321));
    }
    assert.deepEqual(mapped.entries(1, 321, 5000), plain.entries(1, 321, 5000));
    for (const time of [0, 5010, 5033, 5074, 6000]) {
      assert.equal(mapped.indexAtOrAfterTime(time), plain.indexAtOrAfterTime(time));
    }
    assert.equal(mapped.stats().mapped, true);
    assert.equal(plain.stats().mapped, false);
    await Promise.all([writer.close(), mapped.close(), plain.close()]);
  });
});

Deno.test("deleting and truncating segments that were read through mmap never crashes", async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 2048, mappedSegmentsMax: 3 });
    const expected = makeEntries(1, 200);
    await log.appendDurable(expected);
    // Map every segment (the LRU keeps at most 3 mapped at once).
    for (let index = 1; index <= 200; index++) {
      assert.deepEqual(log.entry(index), expected[index - 1]);
    }
    const held = log.entry(1); // a copy: stays valid after its segment is gone
    await log.deletePrefix(150);
    assert.ok(log.firstIndex > 100);
    assert.deepEqual(held.payload, expected[0].payload);
    for (let index = log.firstIndex; index <= 200; index++) {
      assert.deepEqual(log.entry(index), expected[index - 1]);
    }
    // Truncate inside the mapped active segment, append past the old end, read it all.
    await log.truncateSuffix(195);
    const replacement = makeEntries(195, 30, { term: 2 });
    await log.appendDurable(replacement);
    assert.deepEqual(log.entries(195, 225), replacement);
    assert.deepEqual(log.entry(194), expected[193]);
    await log.close();
  });
});

Deno.test("the active segment's mapping sees entries appended after it was mapped", async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 1 << 20 });
    log.append(makeEntries(1, 5));
    assert.deepEqual(log.entry(5), makeEntries(5, 1)[0]);
    const more = makeEntries(6, 50);
    log.append(more);
    for (const entry of more) assert.deepEqual(log.entry(entry.index), entry);
    assert.equal(log.stats().mapped, true);
    await log.close();
  });
});

Deno.test("the allocator is trimmed by a nonblocking call where libc loads", async () => {
  assert.equal(await trimAllocator(), true);
});

Deno.test({
  name: "without ffi permission the allocator is left alone",
  permissions: { ffi: false },
  fn: async () => assert.equal(await trimAllocator(), false),
});

Deno.test({
  name: "without ffi permission the log reads with pread and gives the same entries",
  permissions: { read: true, write: true, ffi: false },
  fn: async () => {
    assert.equal(mmapAvailable(), false);
    await withTempDir(async (dir) => {
      const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 2048, mmap: true });
      const expected = makeEntries(1, 50);
      await log.appendDurable(expected);
      assert.deepEqual(log.entries(1, 51), expected);
      assert.equal(log.stats().mapped, false);
      await log.close();
    });
  },
});

Deno.test("streaming reads can skip the maps, and every map can be released", async () => {
  await withTempDir(async (dir) => {
    const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 2048 });
    const expected = makeEntries(1, 100);
    await log.appendDurable(expected);
    assert.deepEqual(log.entries(1, 101, Infinity, { map: false }), expected);
    assert.equal(log.stats().mapped, false, "positioned reads only");
    assert.deepEqual(log.entry(50), expected[49]);
    assert.equal(log.stats().mapped, true);
    log.releaseMappings();
    assert.equal(log.stats().mapped, false);
    assert.deepEqual(log.entries(1, 101), expected, "mapped again when read");
    assert.equal(log.lastTimestamp, expected[99].timestamp);
    await log.close();
  });
});
