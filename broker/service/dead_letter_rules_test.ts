/**
 * The README's "Decisions where the contract is silent" on dead letters, rewind and locks, each
 * pinned on the engine behind one service: what a moved message looks like in the dead-letter
 * queue, that moves ignore `maxBacklog`, that a policy whose queue was deleted does nothing, the
 * rules of a dead-letter queue, rewind with no window, and a delete after the lock ended.
 */
import assert from "node:assert/strict";
import { flush, rejects, setup } from "../cluster/testing/mod.ts";

/** A work queue whose messages move to `dlq` after one receive (the lock lasts 1 s). */
async function poisoned(dlq: Record<string, unknown> = {}) {
  const context = setup();
  await context.broker.createQueue("dlq", dlq);
  await context.broker.createQueue("work", {
    visibilityTimeoutSeconds: 1,
    deadLetter: { queue: "dlq", maxReceiveCount: 1 },
  });
  return context;
}

Deno.test("a moved message keeps its id and body; in the dead-letter queue it was enqueued at the move and has not been received", async () => {
  const { broker, clock } = await poisoned();
  const [sent] = (await broker.sendMessages("work", [{ body: "poison" }])).messages;
  assert.equal((await broker.receiveMessages("work", {})).messages[0].receiveCount, 1);
  clock.advance(5_000);
  const movedAt = clock.now();
  assert.deepEqual((await broker.receiveMessages("work", {})).messages, []);
  const [dead] = (await broker.receiveMessages("dlq", {})).messages;
  assert.deepEqual(
    [dead.id, dead.body, dead.receiveCount, dead.enqueuedAt],
    [sent.id, "poison", 1, movedAt],
  );
});

Deno.test("moves into a dead-letter queue ignore its maxBacklog", async () => {
  const { broker, clock } = await poisoned({ maxBacklog: 1 });
  await broker.sendMessages("work", [{ body: "a" }, { body: "b" }, { body: "c" }]);
  assert.equal((await broker.receiveMessages("work", { maxMessages: 3 })).messages.length, 3);
  clock.advance(2_000);
  assert.deepEqual((await broker.receiveMessages("work", {})).messages, []);
  assert.equal((await broker.getQueue("dlq")).activeMessages, 3);
  // A send is still held to it (refused when applied).
  await assert.rejects(broker.sendMessages("dlq", [{ body: "sent" }]), { code: "BacklogFull" });
});

Deno.test("when the dead-letter queue is deleted later, the policy does nothing", async () => {
  const { broker, clock } = await poisoned();
  await broker.sendMessages("work", [{ body: "poison" }]);
  await broker.deleteQueue("dlq");
  for (let round = 1; round <= 3; round++) {
    const [message] = (await broker.receiveMessages("work", {})).messages;
    assert.equal(message?.receiveCount, round, `receive ${round}: still in its queue`);
    clock.advance(2_000);
  }
});

Deno.test("a queue whose dead-letter queue was deleted still takes updates that leave the policy alone", async () => {
  const context = await poisoned();
  const { broker } = context;
  await broker.deleteQueue("dlq");
  const updated = await broker.updateQueue("work", { visibilityTimeoutSeconds: 7 });
  assert.equal(updated.visibilityTimeoutSeconds, 7);
  assert.deepEqual(updated.deadLetter, { queue: "dlq", maxReceiveCount: 1 }, "kept, inactive");
  assert.deepEqual((await broker.changeQueueTags("work", { set: { team: "a" } })).tags, {
    team: "a",
  });
  // An update that names the policy is checked as a create's is.
  await rejects(
    context,
    () => broker.updateQueue("work", { deadLetter: { queue: "dlq", maxReceiveCount: 2 } }),
    {
      code: "InvalidParameter",
      field: "deadLetter.queue",
    },
  );
  assert.equal((await broker.updateQueue("work", { deadLetter: null })).deadLetter, undefined);
});

Deno.test("a dead-letter queue must exist, can't be the queue itself, and is FIFO exactly when the source is", async () => {
  const context = setup();
  const { broker } = context;
  await broker.createQueue("plain", {});
  await broker.createQueue("ordered", { fifo: true });
  const policy = (queue: string) => ({ deadLetter: { queue, maxReceiveCount: 3 } });
  await rejects(context, () => broker.createQueue("a", policy("missing")), {
    code: "InvalidParameter",
    field: "deadLetter.queue",
  });
  await rejects(context, () => broker.createQueue("a", policy("a")), {
    code: "InvalidParameter",
    field: "deadLetter.queue",
  });
  await rejects(context, () => broker.createQueue("a", policy("ordered")), {
    code: "InvalidParameter",
    field: "deadLetter.queue",
  });
  await rejects(context, () => broker.createQueue("b", { fifo: true, ...policy("plain") }), {
    code: "InvalidParameter",
    field: "deadLetter.queue",
  });
  assert.equal((await broker.createQueue("a", policy("plain"))).created, true);
  assert.equal((await broker.createQueue("b", { fifo: true, ...policy("ordered") })).created, true);
});

Deno.test("rewind on a queue without a rewind window is InvalidParameter; rewound messages start again at receiveCount 0", async () => {
  const context = setup();
  const { broker, clock } = context;
  await broker.createQueue("none", {});
  await broker.sendMessages("none", [{ body: "x" }]);
  await rejects(context, () => broker.rewind("none", { timestamp: clock.now() }), {
    code: "InvalidParameter",
  });
  await broker.createQueue("ledger", { rewindSeconds: 3_600, visibilityTimeoutSeconds: 1 });
  const start = clock.now();
  await broker.sendMessages("ledger", [{ body: "1" }]);
  await broker.receiveMessages("ledger", {});
  clock.advance(2_000);
  const [second] = (await broker.receiveMessages("ledger", {})).messages;
  assert.equal(second.receiveCount, 2);
  await broker.deleteMessages("ledger", [second.receiptHandle]);
  await broker.rewind("ledger", { timestamp: start });
  assert.equal((await broker.receiveMessages("ledger", {})).messages[0].receiveCount, 1);
});

Deno.test("a delete with the current handle after its lock ended, before the message was delivered again, still works", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 1 });
  await broker.sendMessages("jobs", [{ body: "slow" }]);
  const [held] = (await broker.receiveMessages("jobs", {})).messages;
  clock.advance(5_000);
  await flush();
  assert.deepEqual(await broker.deleteMessages("jobs", [held.receiptHandle]), {
    deleted: 1,
    failures: [],
  });
  assert.deepEqual((await broker.receiveMessages("jobs", {})).messages, []);
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("a rewind past a message's move to the dead-letter queue brings it back: it is then in both queues", async () => {
  const context = setup();
  const { broker, clock } = context;
  await broker.createQueue("dlq", {});
  await broker.createQueue("work", {
    visibilityTimeoutSeconds: 1,
    rewindSeconds: 3_600,
    deadLetter: { queue: "dlq", maxReceiveCount: 1 },
  });
  const start = clock.now();
  const [sent] = (await broker.sendMessages("work", [{ body: "poison" }])).messages;
  await broker.receiveMessages("work", {});
  clock.advance(2_000);
  assert.deepEqual((await broker.receiveMessages("work", {})).messages, [], "moved");
  assert.equal((await broker.getQueue("dlq")).activeMessages, 1);
  await broker.rewind("work", { timestamp: start });
  const [back] = (await broker.receiveMessages("work", {})).messages;
  assert.deepEqual([back?.id, back?.body], [sent.id, "poison"]);
  const [dead] = (await broker.receiveMessages("dlq", {})).messages;
  assert.equal(dead?.id, sent.id, "and still in the dead-letter queue");
});
