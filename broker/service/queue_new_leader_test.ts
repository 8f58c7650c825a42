/**
 * A node that has just become leader may not have applied every entry the old leader committed
 * (Raft: it learns the commit index once an entry of its own term commits). A queue call whose
 * check finds its queue, or a queue it names (a dead-letter target, a redrive's destination),
 * missing must confirm that through the read barrier before answering "not found": before, a
 * send to a queue the old leader had created (and acknowledged) answered 404 QueueNotFound in
 * that window, which clients retrying after a failover read as permanent.
 */
import assert from "node:assert/strict";
import { flush, laggingLeader, memoryEngine, rejects } from "../cluster/testing/mod.ts";
import type { EngineService } from "./service.ts";

/** A group whose old leader created `dlq`, `jobs` (3 messages, 2 of them locked) and `idle`. */
async function oldLeader() {
  const old = memoryEngine({ randomSalt: () => 42 });
  await old.broker.createQueue("dlq", {});
  await old.broker.createQueue("jobs", { rewindSeconds: 3600 });
  await old.broker.createQueue("idle", {});
  await old.broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }, { body: "c" }]);
  const locked = await old.broker.receiveMessages("jobs", {
    maxMessages: 2,
    visibilityTimeoutSeconds: 60,
  });
  const handles = locked.messages.map((message) => message.receiptHandle);
  assert.equal(handles.length, 2);
  return { old, handles };
}

Deno.test("a new leader that has not applied a queue yet sends to it and receives from it instead of answering QueueNotFound", async () => {
  const { old } = await oldLeader();
  const { broker, barriers } = laggingLeader(old);
  const sent = await broker.sendMessages("jobs", [{ body: "d" }]);
  assert.equal(sent.messages.length, 1);
  assert.equal(barriers(), 1);

  const other = laggingLeader(old);
  const received = await other.broker.receiveMessages("jobs", { maxMessages: 10 });
  assert.deepEqual(received.messages.map((message) => message.body), ["c", "d"]);
  assert.equal(other.barriers(), 1);
});

Deno.test("a long poll on a queue the new leader has not applied yet waits for messages", async () => {
  const { old } = await oldLeader();
  const { broker } = laggingLeader(old);
  const polling = broker.receiveMessages("idle", { maxMessages: 1, waitSeconds: 20 });
  for (let turn = 0; turn < 100 && broker.parkedReceivers === 0; turn++) await flush();
  assert.equal(broker.parkedReceivers, 1, "parked");
  await broker.sendMessages("idle", [{ body: "late" }]);
  const received = await polling;
  assert.deepEqual(received.messages.map((message) => message.body), ["late"]);
});

Deno.test("every other queue call on a new leader waits for what it has not applied yet", async () => {
  const calls: [string, (broker: EngineService, handles: string[], now: number) => unknown][] = [
    ["receive with deletes", async (b, handles) => {
      const answer = await b.receiveMessages("jobs", {
        maxMessages: 1,
        deleteReceiptHandles: handles,
      });
      assert.equal(answer.deleted, 2);
    }],
    ["deleteMessages", async (b, handles) => {
      assert.equal((await b.deleteMessages("jobs", handles)).deleted, 2);
    }],
    ["changeVisibility", async (b, handles) => {
      const answer = await b.changeVisibility("jobs", [
        { receiptHandle: handles[0], visibilityTimeoutSeconds: 10 },
      ]);
      assert.equal(answer.entries.length, 1);
    }],
    ["updateQueue", (b) => b.updateQueue("jobs", { visibilityTimeoutSeconds: 60 })],
    [
      "updateQueue naming a dead-letter queue",
      (b) => b.updateQueue("idle", { deadLetter: { queue: "dlq", maxReceiveCount: 3 } }),
    ],
    [
      "createQueue naming a dead-letter queue",
      (b) => b.createQueue("more", { deadLetter: { queue: "dlq", maxReceiveCount: 3 } }),
    ],
    ["changeQueueTags", (b) => b.changeQueueTags("jobs", { set: { team: "a" } })],
    ["purge", async (b) => assert.equal((await b.purge("jobs")).purged, 3)],
    ["redrive", (b) => b.redrive("jobs", { destination: "idle" })],
    ["rewind", (b, _handles, now) => b.rewind("jobs", { timestamp: now })],
    ["deleteQueue", (b) => b.deleteQueue("jobs")],
  ];
  for (const [name, call] of calls) {
    const { old, handles } = await oldLeader();
    const { broker, barriers } = laggingLeader(old);
    await assert.doesNotReject(async () => await call(broker, handles, old.clock.now()), name);
    assert.ok(barriers() >= 1, name);
  }
});

Deno.test("a dead-letter target or redrive destination the new leader has not applied yet is waited for", async () => {
  const old = memoryEngine({ randomSalt: () => 42 });
  await old.broker.createQueue("jobs", {});
  await old.broker.sendMessages("jobs", [{ body: "a" }]);
  const applied = old.replica.lastIndex; // the new leader has the queue, not what follows
  await old.broker.createQueue("dlq", {});
  const calls: [string, (broker: EngineService) => Promise<unknown>][] = [
    [
      "updateQueue",
      (b) => b.updateQueue("jobs", { deadLetter: { queue: "dlq", maxReceiveCount: 3 } }),
    ],
    [
      "createQueue",
      (b) => b.createQueue("more", { deadLetter: { queue: "dlq", maxReceiveCount: 3 } }),
    ],
    ["redrive", (b) => b.redrive("jobs", { destination: "dlq" })],
  ];
  for (const [name, call] of calls) {
    const { broker, barriers, machine } = laggingLeader(old, applied);
    assert.ok(machine.queueMeta("jobs") !== undefined && machine.queueMeta("dlq") === undefined);
    await assert.doesNotReject(call(broker), name);
    assert.equal(barriers(), 1, name);
  }
});

Deno.test("a queue the new leader has applied costs no read barrier", async () => {
  const { old } = await oldLeader();
  const { broker, barriers } = laggingLeader(old);
  await broker.getQueue("jobs"); // one barrier: the new leader has applied everything now
  const before = barriers();
  const [first, second] = await Promise.all([
    broker.sendMessages("jobs", [{ body: "d" }]),
    broker.sendMessages("jobs", [{ body: "e" }]),
  ]);
  assert.ok(first.messages[0].sequence < second.messages[0].sequence, "in call order");
  await broker.receiveMessages("jobs", { maxMessages: 10 });
  await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 45 });
  assert.equal(barriers(), before);
});

Deno.test("a queue still missing after the read barrier is not found, and nothing is proposed", async () => {
  const { old, handles } = await oldLeader();
  const missing: [string, (broker: EngineService) => Promise<unknown>, string, string?][] = [
    ["sendMessages", (b) => b.sendMessages("gone", [{ body: "x" }]), "QueueNotFound"],
    [
      "receiveMessages",
      (b) => b.receiveMessages("gone", { maxMessages: 1, waitSeconds: 20 }),
      "QueueNotFound",
    ],
    ["deleteMessages", (b) => b.deleteMessages("gone", handles), "QueueNotFound"],
    [
      "changeVisibility",
      (b) =>
        b.changeVisibility("gone", [{ receiptHandle: handles[0], visibilityTimeoutSeconds: 1 }]),
      "QueueNotFound",
    ],
    [
      "updateQueue",
      (b) => b.updateQueue("gone", { visibilityTimeoutSeconds: 60 }),
      "QueueNotFound",
    ],
    [
      "updateQueue naming a missing dead-letter queue",
      (b) => b.updateQueue("jobs", { deadLetter: { queue: "gone", maxReceiveCount: 3 } }),
      "InvalidParameter",
      "deadLetter.queue",
    ],
    [
      "createQueue naming a missing dead-letter queue",
      (b) => b.createQueue("more", { deadLetter: { queue: "gone", maxReceiveCount: 3 } }),
      "InvalidParameter",
      "deadLetter.queue",
    ],
    ["changeQueueTags", (b) => b.changeQueueTags("gone", { set: { a: "1" } }), "QueueNotFound"],
    ["purge", (b) => b.purge("gone"), "QueueNotFound"],
    ["redrive", (b) => b.redrive("gone", {}), "QueueNotFound"],
    [
      "redrive to a missing queue",
      (b) => b.redrive("jobs", { destination: "gone" }),
      "QueueNotFound",
    ],
    ["rewind", (b) => b.rewind("gone", { timestamp: old.clock.now() }), "QueueNotFound"],
    ["deleteQueue", (b) => b.deleteQueue("gone"), "QueueNotFound"],
  ];
  for (const [name, call, code, field] of missing) {
    const { broker, barriers } = laggingLeader(old);
    await rejects(old, () => call(broker), { code, field });
    assert.equal(barriers(), 1, name);
  }
});
