import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { noPeers, startNode } from "./node.ts";
import { realTimers } from "./real_time.ts";
import { stoppableTimers } from "./testing/mod.ts";
import { CommandType } from "../engine/mod.ts";

const url = "http://127.0.0.1:1";

function nodeOptions(fs: SimFileSystem, clock: { now(): number }, timers = realTimers) {
  return {
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock,
    timers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url,
    tickMs: 5,
  };
}

async function started(options: ReturnType<typeof nodeOptions> & Record<string, unknown>) {
  const node = await startNode(options);
  while (!node.replica.isLeader) await new Promise((resolve) => setTimeout(resolve, 5));
  return node;
}

function clockAt(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function sendBodies(node: Awaited<ReturnType<typeof startNode>>, bodies: string[]) {
  return await node.broker.sendMessages("jobs", bodies.map((body) => ({ body })));
}

Deno.test("a node restarted after a clean close restores state from its snapshot", async () => {
  const fs = new SimFileSystem();
  const clock = clockAt(1_700_000_000_000);
  const first = await started(nodeOptions(fs, clock));
  await first.broker.createQueue("jobs", {});
  await sendBodies(first, ["a", "b", "c"]);
  const locked = await first.broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 600 });
  await first.close();
  assert.ok(fs.readDir("/d/snapshots").length === 1, "close writes a snapshot");

  const second = await started(nodeOptions(fs, clock));
  const queue = await second.broker.getQueue("jobs");
  assert.equal(queue.activeMessages, 2);
  assert.equal(queue.inflightMessages, 1);
  const again = await second.broker.receiveMessages("jobs", { maxMessages: 10 });
  assert.deepEqual(again.messages.map((m) => m.body), ["b", "c"]);
  const deleted = await second.broker.deleteMessages("jobs", [locked.messages[0].receiptHandle]);
  assert.equal(deleted.deleted, 1, "a receipt handle from before the restart still works");
  await second.close();
});

Deno.test({
  name: "a node that crashed replays its log and keeps every acknowledged write",
  // Fails the test if the crashed node's timers (or anything else of it) outlive the test.
  sanitizeOps: true,
}, async () => {
  const fs = new SimFileSystem();
  const clock = clockAt(1_700_000_000_000);
  const timers = stoppableTimers();
  // Its own view of the disk: whatever the crashed node left running can't touch it afterwards.
  const first = await started(nodeOptions(fs.session(), clock, timers));
  await first.broker.createQueue("jobs", {});
  const sent = await sendBodies(first, ["a", "b"]);
  await first.broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 600 });
  fs.crash(); // power cut: nothing unsynced survives, no snapshot was written
  timers.stop(); // and the process is gone: no tick, no housekeeping, never closed

  const second = await started(nodeOptions(fs, clock));
  const queue = await second.broker.getQueue("jobs");
  assert.equal(queue.inflightMessages, 1, "the lock was acknowledged, so it survives");
  const received = await second.broker.receiveMessages("jobs", { maxMessages: 10 });
  assert.deepEqual(received.messages.map((m) => m.id), [sent.messages[1].id]);
  await second.close();
});

Deno.test("snapshots bound replay and let the log drop entries nothing refers to", async () => {
  const fs = new SimFileSystem();
  const clock = clockAt(1_700_000_000_000);
  const node = await started({
    ...nodeOptions(fs, clock),
    snapshotEntriesInterval: 50,
    segmentBytesMax: 4096,
  });
  await node.broker.createQueue("jobs", {});
  for (let i = 0; i < 120; i++) {
    clock.advance(5); // deleted messages leave the rewind window (0 s) once time moves on
    const { messages } = await sendBodies(node, [`m${i}`]);
    const received = await node.broker.receiveMessages("jobs", {});
    assert.equal(received.messages[0].id, messages[0].id);
    await node.broker.deleteMessages("jobs", [received.messages[0].receiptHandle]);
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(node.log.firstIndex > 1, `old segments were deleted (first ${node.log.firstIndex})`);
  await node.close();
  const again = await started(nodeOptions(fs, clock));
  assert.equal((await again.broker.getQueue("jobs")).activeMessages, 0);
  assert.ok(again.machine.appliedIndex >= 360);
  await again.close();
});

Deno.test("the leader's housekeeping proposes TickKeepingLocks, not an earlier form of Tick", async () => {
  const fs = new SimFileSystem();
  const clock = clockAt(1_700_000_000_000);
  const node = await started({ ...nodeOptions(fs, clock), housekeepingIntervalMs: 5 });
  await node.broker.createQueue("jobs", { retentionSeconds: 60 });
  await sendBodies(node, ["a"]);
  clock.advance(61_000); // the message's retention ends: a Tick is due
  while ((await node.broker.getQueue("jobs")).activeMessages > 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const ticks = new Set<number>();
  for (let index = node.log.firstIndex; index <= node.log.lastIndex; index++) {
    const { type } = node.log.entry(index);
    const tick = [CommandType.Tick, CommandType.TickInGroupOrder, CommandType.TickKeepingLocks];
    if ((tick as number[]).includes(type)) ticks.add(type);
  }
  assert.deepEqual([...ticks], [CommandType.TickKeepingLocks]);
  await node.close();
});
