import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem, SimulatedIoError } from "./sim_file_system.ts";
import { makeEntries } from "./_test_helpers.ts";

const dir = "/node/log";

Deno.test("after a failed fsync, a reopened log cuts the unsynced tail instead of trusting the page cache", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 3));
  fs.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(4, 2)), SimulatedIoError);
  assert.equal(log.damage?.unsyncedFrom, 4, "the failure is recorded before it is reported");
  await log.close();
  // A restart of the process, not of the machine: the page cache still shows entries 4 and 5.
  assert.ok(fs.fileBytes(`${dir}/${(await firstSegment(fs))}`).length > 0);
  const reopened = await SegmentLog.open(dir, { fs });
  assert.equal(reopened.lastIndex, 3, "entries 4 and 5 never reached the disk");
  assert.equal(reopened.damage?.torn, true, "the cut reads as unacknowledged writes");
  assert.equal(reopened.damage?.detail.index, 4);
  await reopened.close();
  // A power cut afterwards loses nothing the reopened log showed.
  fs.crash();
  const afterCrash = await SegmentLog.open(dir, { fs });
  assert.equal(afterCrash.lastIndex, 3);
  assert.equal(afterCrash.entry(3).index, 3);
  await afterCrash.close();
});

Deno.test("a log whose fsync failed refuses further work until reopened", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  fs.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(3, 1)), SimulatedIoError);
  assert.throws(() => log.append(makeEntries(4, 1)), SimulatedIoError);
  await assert.rejects(async () => await log.sync(), SimulatedIoError);
  await log.close();
});

async function firstSegment(fs: SimFileSystem): Promise<string> {
  await Promise.resolve();
  return fs.readDir(dir).find((name) => name.endsWith(".log"))!;
}
