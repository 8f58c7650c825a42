import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { loadDamageRecord } from "./hard_state.ts";
import { makeEntries } from "./_test_helpers.ts";

const dir = "/node/log";

Deno.test("damage noted twice at once is written once after the other: both merged, durable, loadable after a crash", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 1500 });
  await log.appendDurable(makeEntries(1, 20));
  const torn = { index: 21, file: dir, offset: 0, reason: "first: a torn tail" };
  const real = { index: 5, file: `${dir}/x.log`, offset: 40, reason: "second: a bad crc" };
  // Two notes in flight together (a failed flush and a scrub, say): the second's temp file must
  // not be renamed by the first before its fsync, nor the second's update lost.
  const first = log.noteDamage(torn, { torn: true });
  const second = log.noteDamage(real, { torn: false });
  const outcomes = await Promise.allSettled([first, second]);
  assert.deepEqual(outcomes.map((outcome) => outcome.status), ["fulfilled", "fulfilled"]);
  assert.deepEqual(log.damage?.detail, real);
  assert.equal(log.damage?.torn, false);
  fs.crash();
  const record = loadDamageRecord(fs, dir);
  assert.deepEqual(record?.detail, real);
  assert.equal(record?.torn, false);
});
