/** `SegmentLog.entries` with `visit`: every entry of the range in order, payloads uncopied. */
import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { makeEntries, testEveryStore } from "./_test_helpers.ts";

testEveryStore(
  "a visit streams the range across segments, with each payload as written",
  async (store) => {
    const log = await SegmentLog.open(store.dir, {
      fs: store.fs,
      mmap: store.mmap,
      segmentBytesMax: 2048,
      indexIntervalBytes: 512,
    });
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
