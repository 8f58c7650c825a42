import assert from "node:assert/strict";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { joinVoteFloor, recordJoinPoint } from "./join_floor.ts";

Deno.test("a joiner's floor survives a crash and puts it in the group's term, its vote spent", async () => {
  const fs = new SimFileSystem();
  await recordJoinPoint(fs, "/d", { term: 7, commit: 40 });
  fs.crash(); // before the log was ever opened: the record is durable
  let log = await SegmentLog.open("/d/log", { fs });
  assert.equal(await joinVoteFloor(fs, "/d", { log, nodeId: "n4" }), 40);
  assert.deepEqual(log.readHardState(), { term: 7, vote: "n4", commit: 0 });
  await log.close();
  fs.crash();
  log = await SegmentLog.open("/d/log", { fs });
  assert.deepEqual(log.readHardState(), { term: 7, vote: "n4", commit: 0 }, "durable");
  // A later term the node reached itself is kept.
  await log.writeHardState({ term: 9, vote: null, commit: 0 });
  assert.equal(await joinVoteFloor(fs, "/d", { log, nodeId: "n4" }), 40);
  assert.deepEqual(log.readHardState(), { term: 9, vote: null, commit: 0 });
  await log.close();
});

Deno.test("without a record there is no floor; a damaged record is refused", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open("/d/log", { fs });
  assert.equal(await joinVoteFloor(fs, "/d", { log, nodeId: "n4" }), 0);
  assert.deepEqual(log.readHardState(), { term: 0, vote: null, commit: 0 });
  const handle = fs.open("/d/join_floor", { create: true });
  handle.writeSync(new TextEncoder().encode("junk"));
  handle.close();
  await assert.rejects(() => joinVoteFloor(fs, "/d", { log, nodeId: "n4" }), /is damaged/);
  await log.close();
});
