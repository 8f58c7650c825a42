/** `SegmentLog.entries` with `visit` and `entry` without a copy: payloads as views. */
import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { makeEntries, type StoreUnderTest, testEveryStore } from "./_test_helpers.ts";

/** A log of 2 KB segments in `store` (a few entries each). */
function openSmallSegments(store: StoreUnderTest): Promise<SegmentLog> {
  return SegmentLog.open(store.dir, {
    fs: store.fs,
    mmap: store.mmap,
    segmentBytesMax: 2048,
    indexIntervalBytes: 512,
  });
}

testEveryStore(
  "a visit streams the range across segments, with each payload as written",
  async (store) => {
    const log = await openSmallSegments(store);
    const written = makeEntries(1, 100, { term: 3 });
    log.append(written);
    assert.ok(log.stats().segments > 5);
    for (const map of [true, false]) {
      const seen: { index: number; term: number; payload: Uint8Array }[] = [];
      const returned = log.entries(7, 94, 1, {
        map,
        // A view is valid only during the call: keep a copy.
        visit: (entry) => seen.push({ ...entry, payload: entry.payload.slice() }),
      });
      assert.deepEqual(returned, [], "nothing is collected, and the byte budget does not apply");
      assert.deepEqual(seen.map((entry) => entry.index), written.slice(6, 93).map((e) => e.index));
      for (const entry of seen) {
        assert.equal(entry.term, 3);
        assert.deepEqual(entry.payload, written[entry.index - 1].payload);
      }
    }
    await log.close();
  },
);

testEveryStore(
  "entry(index, false) gives the entry's payload as a view, the same bytes as a copy",
  async (store) => {
    const log = await openSmallSegments(store);
    const written = makeEntries(1, 60, { term: 2 });
    log.append(written);
    for (const index of [1, 17, 33, 60, 5]) {
      const view = log.entry(index, false);
      assert.equal(view.index, index);
      assert.equal(view.term, 2);
      assert.deepEqual(view.payload, written[index - 1].payload);
      assert.deepEqual(log.entry(index).payload, view.payload.slice());
    }
    // A copy is its own: changing it leaves the log as it was.
    const copy = log.entry(9);
    copy.payload.fill(0);
    assert.deepEqual(log.entry(9, false).payload, written[8].payload);
    await log.close();
  },
);

testEveryStore(
  "entry(index, false) reads without the map: nothing gets mapped, and a mapped segment is read too",
  async (store) => {
    const log = await openSmallSegments(store);
    const written = makeEntries(1, 80, { term: 4 });
    log.append(written);
    await log.sync();
    // Receives read bodies back once, in order, often from two batches at a time.
    for (let index = 1; index <= 80; index++) {
      assert.deepEqual(log.entry(index, false).payload, written[index - 1].payload);
      if (index > 3) {
        assert.deepEqual(log.entry(index - 3, false).payload, written[index - 4].payload);
      }
    }
    assert.equal(log.stats().mapped, false, "view reads map nothing");
    // A copy maps its segment (where maps work); views of that segment are still the bytes.
    assert.deepEqual(log.entry(40).payload, written[39].payload);
    for (const index of [39, 40, 41, 80, 1]) {
      assert.deepEqual(log.entry(index, false).payload, written[index - 1].payload);
    }
    // Entries appended after a view read of the tail are read, not the old window's bytes.
    const more = makeEntries(81, 5, { term: 4 });
    log.append(more);
    assert.deepEqual(log.entry(83, false).payload, more[2].payload);
    await log.close();
  },
);

testEveryStore(
  "entry(index, false) of a large entry leaves no buffer of its size behind in the segment",
  async (store) => {
    const log = await SegmentLog.open(store.dir, {
      fs: store.fs,
      mmap: store.mmap,
      segmentBytesMax: 4 * 1024 * 1024,
      indexIntervalBytes: 512,
    });
    // A large send batch among small ones: receives read each segment's bodies once, and a
    // buffer kept per segment at the size of its largest entry would add up over a long log.
    const large = makeEntries(1, 1, { payloadBytes: 1024 * 1024 });
    const small = makeEntries(2, 5, { payloadBytes: 100 });
    log.append([...large, ...small]);
    assert.equal(log.stats().segments, 1);
    const read = log.entry(1, false).payload;
    assert.ok(
      read.length === large[0].payload.length &&
        read.every((byte, at) => byte === large[0].payload[at]),
    );
    const next = log.entry(2, false);
    assert.deepEqual(next.payload, small[0].payload);
    assert.ok(
      next.payload.buffer.byteLength <= 64 * 1024,
      `a small entry's view holds a ${next.payload.buffer.byteLength}-byte buffer`,
    );
    await log.close();
  },
);
