import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import {
  decodeSegmentIndex,
  segmentIndexSuffix,
  type SegmentSummary,
} from "./segment_index_file.ts";
import { HeldSyncs, makeEntries, ticks } from "./_test_helpers.ts";

const dir = "/node/log";
/** About 8 entries of ~180 bytes per segment. */
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

/** Every index file left on `fs` describes its segment's file as it is (length and last term). */
function assertIndexesMatchSegments(fs: SimFileSystem, label: string): void {
  for (const name of fs.readDir(dir)) {
    if (!name.endsWith(segmentIndexSuffix)) continue;
    const summary = decodeSegmentIndex(fs.fileBytes(`${dir}/${name}`)) as SegmentSummary;
    const segment = `${dir}/${name.slice(0, 20)}.log`;
    const size = fs.exists(segment) ? fs.fileBytes(segment).length : -1;
    assert.equal(summary.sizeBytes, size, `${label}: ${name} describes ${segment}`);
  }
}

Deno.test("an index write queued before a truncation never describes the segment's refilled, unsynced bytes", async () => {
  const sim = new SimFileSystem();
  const fs = new HeldSyncs(sim);
  const log = await SegmentLog.open(dir, { fs, ...options });
  // Two sealed segments become durable in one flush: their index writes queue one behind the
  // other, and the first is held at its temp file's fsync.
  fs.hold(".tmp");
  await log.appendDurable(makeEntries(1, 20));
  const [first, second] = fs.inner.readDir(dir).filter((n) => n.endsWith(".log")).sort();
  const secondBase = Number(second.slice(0, 20));
  assert.ok(Number(first.slice(0, 20)) < secondBase && secondBase < 20);
  // A Raft conflict cuts into the second sealed segment; entries of a newer term refill it past
  // where it ended and roll it again: sealed anew, its bytes not yet durable.
  fs.hold(".log");
  const cut = log.truncateSuffix(secondBase + 2);
  log.append(makeEntries(secondBase + 2, 30, { term: 2, payloadBytes: 20 }));
  assert.ok(log.lastIndex > secondBase + 20);
  // The queued index writes run; the segment's own fsync is still held.
  fs.release(".tmp");
  await ticks(50);
  sim.crash();
  assertIndexesMatchSegments(sim, "after a crash with the refill unsynced");
  cut.catch(() => {});
  fs.release(".log");
});
