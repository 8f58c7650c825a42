import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { startNode } from "./node.ts";
import { fatalExit } from "./fatal_exit.ts";
import { until } from "./testing/mod.ts";
import {
  fillLog as filled,
  scrubNodeOptions as nodeOptions,
  sealedSegmentWithTwoRecords,
} from "./testing/filled_log.ts";

Deno.test("damage the scrubber finds under a trusted index stops the node and the restart distrusts the log", async () => {
  const fs = new SimFileSystem();
  await filled(fs, 10); // snapshots cover the early segments: the open does not replay them

  const damaged = sealedSegmentWithTwoRecords(fs);
  fs.flipBit(damaged.path, damaged.offset + 50);
  // The node's own lines as `main.ts` has them (nothing injected): the damage is told once, by
  // the FATAL line `main.ts` writes of the fatal error (not also by a warning of the node's
  // before it); the scrub's progress only told, on stdout.
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void stdout.push(args.join(" "));
  console.error = (...args: unknown[]) => void stderr.push(args.join(" "));
  const fatal: Error[] = [];
  let second;
  try {
    second = await startNode({ ...nodeOptions(fs, 64 * 1024 * 1024), report: undefined });
    second.onFatal((error) => fatal.push(error));
    await until(() => fatal.length > 0, "the scrubber to report");
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.ok((second.log.recovery.indexedSegments ?? 0) > 0, "sealed segments trusted unread");
  assert.equal(second.log.recovery.corruptAt, undefined, "the open does not read the damage");
  assert.equal(fatal.length, 1);
  const damageLine = (line: string) => line.includes("scrub found damage");
  assert.equal(stderr.filter(damageLine).length, 0, stderr.join("\n"));
  assert.equal(stdout.filter(damageLine).length, 0, stdout.join("\n"));
  // All an operator needs, in one line: what, where (entry, file, offset), what happens next.
  const exit = fatalExit("n1", fatal[0]);
  assert.equal(exit.exitCode, 74);
  assert.equal(
    exit.line,
    `cmqd n1: FATAL: storage failed: scrub found damage: bad crc at entry ${damaged.index} ` +
      `(${damaged.path}@${damaged.offset}); recorded, the restart cuts the log there and ` +
      "distrusts it until a leader repairs it; exiting with status 74 so that a restart " +
      "recovers from what is on disk",
  );
  assert.ok(stdout.some((line) => line.startsWith("cmqd n1: scrub: reading ")), stdout.join("\n"));
  assert.equal(second.log.damage?.torn, false, "recorded durably as damage before the report");
  assert.equal(second.log.damage?.detail.index, damaged.index);
  const ready = await second.app.request("/readyz");
  assert.equal(ready.status, 503, "a node that must restart does not call itself ready");
  await ready.body?.cancel();
  await second.close();

  // The process ends (kill -9 is no kinder: the record and the index removal are durable).
  fs.crash();
  const third = await startNode(nodeOptions(fs, 0));
  assert.equal(third.log.recovery.corruptAt?.index, damaged.index);
  assert.equal(third.log.damage?.torn, false);
  assert.equal(third.replica.status().canCampaign, false, "the replica distrusts its log");
  await third.close();
});

Deno.test("damage the replay reads under a trusted index is cut at open and the log distrusted", async () => {
  const fs = new SimFileSystem();
  await filled(fs, 1_000_000); // no snapshot: the whole log is replayed at open
  const damaged = sealedSegmentWithTwoRecords(fs);
  fs.flipBit(damaged.path, damaged.offset + 50);
  const node = await startNode(nodeOptions(fs, 0, 1_000_000));
  assert.ok((node.log.recovery.indexedSegments ?? 0) > 0);
  assert.equal(node.log.damage?.torn, false);
  assert.equal(node.log.damage?.detail.index, damaged.index);
  assert.equal(node.log.lastIndex, damaged.index - 1, "the log is cut at the damage");
  assert.equal(node.replica.status().canCampaign, false, "the replica distrusts its log");
  await node.close();
});
