/**
 * The broker service over a replica: queues and messages, locks, delays and dedup, FIFO groups,
 * refusals, and the commands it writes. Dead letters, redrive, rewind and purge:
 * `service_redrive_test.ts`; long polls: `long_polls_test.ts`.
 */
import assert from "node:assert/strict";
import { BrokerError, CommandType } from "../engine/mod.ts";
import { flush, rejects, setup } from "../cluster/testing/mod.ts";

Deno.test("queues are created, listed, read, updated and deleted", async (t) => {
  const context = setup();
  const { broker, clock } = context;
  await t.step("create answers created with the defaults of the API contract", async () => {
    const result = await broker.createQueue("orders", {});
    assert.equal(result.created, true);
    assert.equal(result.queue.visibilityTimeoutSeconds, 30);
    assert.equal(result.queue.maxMessageBytes, 65_536);
    assert.equal(result.queue.retentionSeconds, 345_600);
    assert.equal(result.queue.maxBacklog, 100_000_000);
    assert.equal(result.queue.fifo, false);
    assert.equal(result.queue.createdAt, clock.now());
    assert.equal(result.queue.activeMessages, 0);
    assert.equal(result.queue.oldestMessageAt, null);
  });
  await t.step("create again with the same attributes is not a new queue", async () => {
    assert.equal(
      (await broker.createQueue("orders", { visibilityTimeoutSeconds: 30 })).created,
      false,
    );
  });
  await t.step("create again with different attributes is a conflict", async () => {
    await assert.rejects(
      () => broker.createQueue("orders", { visibilityTimeoutSeconds: 31 }),
      (error: BrokerError) => error.code === "QueueAlreadyExists",
    );
  });
  await t.step("list filters by prefix and pages by offset and limit", async () => {
    for (const name of ["orders-b", "orders-a", "payments"]) await broker.createQueue(name, {});
    const page = await broker.listQueues({ prefix: "orders", offset: 1, limit: 1 });
    assert.equal(page.total, 3);
    assert.deepEqual(page.queues.map((queue) => queue.name), ["orders-a"]);
    assert.equal((await broker.listQueues({})).total, 4);
  });
  await t.step("update changes mutable attributes and modifiedAt", async () => {
    clock.advance(1_000);
    const queue = await broker.updateQueue("orders", { visibilityTimeoutSeconds: 60 });
    assert.equal(queue.visibilityTimeoutSeconds, 60);
    assert.equal(queue.modifiedAt, clock.now());
    assert.equal(queue.createdAt, clock.now() - 1_000);
  });
  await t.step("delete removes the queue", async () => {
    await broker.deleteQueue("payments");
    await rejects(context, () => broker.getQueue("payments"), { code: "QueueNotFound" });
    await rejects(context, () => broker.deleteQueue("payments"), { code: "QueueNotFound" });
  });
});

Deno.test("messages are sent, received under a lock and deleted", async (t) => {
  const context = setup();
  const { broker, clock } = context;
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 10 });
  const sent = await broker.sendMessages("jobs", [
    { body: "one", attributes: { kind: "photo" } },
    { body: "twö", groupId: "g" },
  ]);
  await t.step("send answers ids and sequences in request order", () => {
    assert.deepEqual(sent.messages.map((message) => message.sequence), [1, 2]);
    assert.notEqual(sent.messages[0].id, sent.messages[1].id);
  });
  const start = clock.now();
  const first = await broker.receiveMessages("jobs", { maxMessages: 5 });
  await t.step("receive returns bodies, attributes and lock details", () => {
    assert.equal(first.messages.length, 2);
    const [one, two] = first.messages;
    assert.equal(one.body, "one");
    assert.deepEqual(one.attributes, { kind: "photo" });
    assert.equal(two.body, "twö");
    assert.equal(two.groupId, "g");
    assert.equal(one.id, sent.messages[0].id);
    assert.equal(one.receiveCount, 1);
    assert.equal(one.firstReceivedAt, start);
    assert.equal(one.enqueuedAt, start);
    assert.equal(one.visibleAt, start + 10_000);
  });
  await t.step("a locked message is invisible to other receivers until visibleAt", async () => {
    assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 0);
    const queue = await broker.getQueue("jobs");
    assert.equal(queue.inflightMessages, 2);
    assert.equal(queue.activeMessages, 0);
  });
  await t.step(
    "after the lock ends the message comes back and the old handle is stale",
    async () => {
      clock.advance(10_000);
      const again = await broker.receiveMessages("jobs", {
        maxMessages: 1,
        visibilityTimeoutSeconds: 5,
      });
      assert.equal(again.messages[0].receiveCount, 2);
      assert.equal(again.messages[0].firstReceivedAt, start);
      assert.equal(again.messages[0].visibleAt, clock.now() + 5_000);
      const stale = await broker.deleteMessages("jobs", [first.messages[0].receiptHandle]);
      assert.equal(stale.deleted, 0);
      assert.equal(stale.failures[0].code, "ReceiptHandleStale");
      assert.equal(stale.failures[0].receiptHandle, first.messages[0].receiptHandle);
      const deleted = await broker.deleteMessages("jobs", [
        again.messages[0].receiptHandle,
        "garbage!",
      ]);
      assert.equal(deleted.deleted, 1);
      assert.deepEqual(deleted.failures.map((failure) => failure.code), ["ReceiptHandleInvalid"]);
    },
  );
  await t.step("a deleted message is gone", async () => {
    clock.advance(60_000);
    const rest = await broker.receiveMessages("jobs", { maxMessages: 5 });
    assert.deepEqual(rest.messages.map((message) => message.body), ["twö"]);
  });
  await t.step("a handle of another queue is invalid", async () => {
    await broker.createQueue("other", {});
    const rest = await broker.receiveMessages("jobs", { maxMessages: 5 });
    assert.equal(rest.messages.length, 0);
    clock.advance(10_000);
    const handle = (await broker.receiveMessages("jobs", {})).messages[0].receiptHandle;
    const result = await broker.deleteMessages("other", [handle]);
    assert.equal(result.failures[0].code, "ReceiptHandleInvalid");
  });
});

Deno.test("a body, attribute or dedup id that starts with U+FEFF comes back with it", async () => {
  // A byte-order mark is a character like any other in a message: the log's decoders once
  // dropped a leading one, so such a body came back one character short.
  const { broker } = setup();
  await broker.createQueue("bom", {});
  const bom = "\uFEFF";
  const sent = await broker.sendMessages("bom", [
    { body: `${bom}hello`, attributes: { [`${bom}key`]: `${bom}value` } },
    { body: bom },
    { body: `${bom}${bom}twice`, dedupId: `${bom}d` },
  ]);
  const { messages } = await broker.receiveMessages("bom", { maxMessages: 10 });
  assert.deepEqual(messages.map((message) => message.body), [
    `${bom}hello`,
    bom,
    `${bom}${bom}twice`,
  ]);
  assert.deepEqual(messages[0].attributes, { [`${bom}key`]: `${bom}value` });
  // The dedup id is told apart from the same text without the mark.
  const again = await broker.sendMessages("bom", [{ body: "dup", dedupId: `${bom}d` }]);
  assert.equal(again.messages[0].id, sent.messages[2].id);
  const other = await broker.sendMessages("bom", [{ body: "new", dedupId: "d" }]);
  assert.notEqual(other.messages[0].id, sent.messages[2].id);
});

Deno.test("visibility changes extend or release a lock", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "a" }]);
  const [message] = (await broker.receiveMessages("jobs", {})).messages;
  const extended = await broker.changeVisibility("jobs", [
    { receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 100 },
  ]);
  assert.equal(extended.entries[0].visibleAt, clock.now() + 100_000);
  clock.advance(99_000);
  assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 0);
  const released = await broker.changeVisibility("jobs", [
    { receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 0 },
  ]);
  assert.equal(released.entries[0].visibleAt, clock.now());
  const again = await broker.changeVisibility("jobs", [
    { receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 5 },
  ]);
  assert.equal(again.failures[0].code, "MessageNotInflight");
  assert.equal((await broker.receiveMessages("jobs", {})).messages[0].receiveCount, 2);
});

Deno.test("receive can delete the previous batch in the same write", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }]);
  const first = await broker.receiveMessages("jobs", {});
  const before = replica.lastIndex;
  const second = await broker.receiveMessages("jobs", {
    deleteReceiptHandles: [first.messages[0].receiptHandle, "nope"],
  });
  assert.equal(replica.lastIndex, before + 1);
  assert.equal(second.deleted, 1);
  assert.equal(second.failures![0].receiptHandle, "nope");
  assert.deepEqual(second.messages.map((message) => message.body), ["b"]);
  assert.equal((await broker.getQueue("jobs")).inflightMessages, 1);
});

Deno.test("delays, backlog limit and dedup follow the API contract", async (t) => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { maxBacklog: 3 });
  await t.step("a delayed message is invisible until its delay ends", async () => {
    await broker.sendMessages("jobs", [{ body: "later", delaySeconds: 5 }]);
    assert.equal((await broker.getQueue("jobs")).delayedMessages, 1);
    assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 0);
    clock.advance(5_000);
    assert.equal((await broker.receiveMessages("jobs", {})).messages[0].body, "later");
  });
  await t.step("a batch beyond maxBacklog is rejected whole", async () => {
    await assert.rejects(
      () => broker.sendMessages("jobs", [{ body: "1" }, { body: "2" }, { body: "3" }]),
      (error: BrokerError) =>
        error.code === "BacklogFull" &&
        // Says why: the queue is not full, the batch doesn't fit.
        /holds 1 of at most 3 messages \(maxBacklog\): 3 more do not fit/.test(error.message),
    );
    assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
  });
  await t.step("a repeated dedupId returns the first message and enqueues nothing", async () => {
    const first = await broker.sendMessages("jobs", [{ body: "a", dedupId: "x" }, {
      body: "b",
      dedupId: "x",
    }]);
    assert.deepEqual(first.messages[0], first.messages[1]);
    clock.advance(299_000);
    const again = await broker.sendMessages("jobs", [{ body: "c", dedupId: "x" }]);
    assert.deepEqual(again.messages[0], first.messages[0]);
    const queue = await broker.getQueue("jobs");
    assert.equal(queue.activeMessages + queue.inflightMessages, 2);
  });
  await t.step("after 300 s the same dedupId is a new message", async () => {
    clock.advance(1_000);
    const later = await broker.sendMessages("jobs", [{ body: "d", dedupId: "x" }]);
    assert.notEqual(later.messages[0].sequence, 2);
  });
});

Deno.test("fifo queues deliver each group in order, one in flight per group", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("ordered", { fifo: true, visibilityTimeoutSeconds: 5 });
  await broker.sendMessages("ordered", [
    { body: "a1", groupId: "a" },
    { body: "b1", groupId: "b" },
    { body: "a2", groupId: "a" },
    { body: "b2", groupId: "b" },
  ]);
  const first = await broker.receiveMessages("ordered", { maxMessages: 10 });
  assert.deepEqual(first.messages.map((message) => message.body), ["a1", "b1"]);
  assert.equal((await broker.receiveMessages("ordered", { maxMessages: 10 })).messages.length, 0);
  await broker.deleteMessages("ordered", [first.messages[0].receiptHandle]);
  const second = await broker.receiveMessages("ordered", { maxMessages: 10 });
  assert.deepEqual(second.messages.map((message) => message.body), ["a2"]);
  clock.advance(5_000);
  const third = await broker.receiveMessages("ordered", { maxMessages: 10 });
  assert.deepEqual(third.messages.map((message) => message.body), ["b1", "a2"]);
});

Deno.test("a replica that can't take writes makes requests fail with NotReady", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", {});
  replica.setAvailable(false);
  await assert.rejects(
    () => broker.sendMessages("jobs", [{ body: "x" }]),
    (error: BrokerError) => error.code === "NotReady",
  );
});

Deno.test("a delete or visibility change of only malformed handles is answered without a log entry", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "a" }]);
  const [message] = (await broker.receiveMessages("jobs", {})).messages;
  const before = replica.lastIndex;
  const junk = ["true", "x".repeat(39), message.receiptHandle.slice(1) + "!"];
  const deleted = await broker.deleteMessages("jobs", junk);
  assert.equal(deleted.deleted, 0);
  assert.deepEqual(
    deleted.failures.map((failure) => [failure.receiptHandle, failure.code, failure.message]),
    junk.map((handle) => [handle, "ReceiptHandleInvalid", "not a receipt handle"]),
  );
  const moved = await broker.changeVisibility("jobs", [
    { receiptHandle: "true", visibilityTimeoutSeconds: 5 },
  ]);
  assert.deepEqual(moved.entries, []);
  assert.equal(moved.failures[0].code, "ReceiptHandleInvalid");
  assert.equal(replica.lastIndex, before, "nothing proposed");
  // One well-formed handle among them: the batch is proposed and applied as before.
  const mixed = await broker.deleteMessages("jobs", ["true", message.receiptHandle]);
  assert.equal(mixed.deleted, 1);
  assert.deepEqual(mixed.failures.map((failure) => failure.receiptHandle), ["true"]);
  assert.ok(replica.lastIndex > before);
});

Deno.test("goneAsDeleted counts a handle whose message left as deleted; the native answer keeps it a failure", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 10 });
  await broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }, { body: "c" }]);
  const [a, b, c] = (await broker.receiveMessages("jobs", { maxMessages: 3 })).messages;
  await broker.deleteMessages("jobs", [a.receiptHandle]);
  const native = await broker.deleteMessages("jobs", [a.receiptHandle]);
  assert.deepEqual(native, {
    deleted: 0,
    failures: [{
      receiptHandle: a.receiptHandle,
      code: "ReceiptHandleStale",
      message: native.failures[0].message,
      gone: true,
    }],
  }, "v1's failure says the message is gone");
  clock.advance(10_000);
  const [bAgain] = (await broker.receiveMessages("jobs", { maxMessages: 1 })).messages;
  assert.equal(bAgain.id, b.id);
  const handles = [a.receiptHandle, b.receiptHandle, c.receiptHandle, "junk"];
  const mixed = await broker.deleteMessages("jobs", handles, { goneAsDeleted: true });
  assert.equal(mixed.deleted, 2, "a (gone) and c (its lock ended, never received again)");
  assert.deepEqual(mixed.failures.map((failure) => [failure.receiptHandle, failure.code]), [
    [b.receiptHandle, "ReceiptHandleStale"],
    ["junk", "ReceiptHandleInvalid"],
  ]);
  assert.ok(mixed.failures.every((failure) => !("gone" in failure)), "b is in the queue");
  const plain = await broker.deleteMessages("jobs", [c.receiptHandle], { goneAsDeleted: false });
  assert.deepEqual(plain.failures.map((failure) => failure.code), ["ReceiptHandleStale"]);
});

Deno.test("a receive takes at most the messages whose largest bodies fit one answer (64 MiB)", async () => {
  // 256 bodies of 1 MiB, escaped as JSON, would pass the longest string the runtime can build:
  // the answer would fail after the messages were locked, for nobody.
  const { broker } = setup();
  await broker.createQueue("big", { maxMessageBytes: 1_048_576 });
  await broker.createQueue("small", {});
  const messages = Array.from({ length: 100 }, (_, index) => ({ body: `m${index}` }));
  await broker.sendMessages("big", messages);
  await broker.sendMessages("small", messages);
  const big = await broker.receiveMessages("big", { maxMessages: 256 });
  assert.equal(big.messages.length, 64); // 64 MiB / 1 MiB
  await broker.updateQueue("big", { maxMessageBytes: 524_288 });
  assert.equal((await broker.receiveMessages("big", { maxMessages: 20 })).messages.length, 20);
  assert.equal((await broker.receiveMessages("big", { maxMessages: 256 })).messages.length, 16);
  // At the default 64 KiB, all of a batch of 256 fits.
  assert.equal((await broker.receiveMessages("small", { maxMessages: 256 })).messages.length, 100);
});

Deno.test("the service writes the newer form of each command whose meaning changed", async () => {
  const { broker, replica } = setup();
  const last = () => replica.entry(replica.lastIndex);
  await broker.createQueue("dlq", {});
  await broker.createQueue("jobs", {});
  await broker.updateQueue("jobs", { deadLetter: { queue: "dlq", maxReceiveCount: 2 } });
  assert.equal(last().type, CommandType.UpdateQueueBarringDeleted);
  // (A tag change never changes rewindSeconds: the form before means the same for it.)
  await broker.changeQueueTags("jobs", { set: { team: "a" } });
  assert.equal(last().type, CommandType.UpdateQueueKeepingPolicy);
  await broker.sendMessages("jobs", [{ body: "a" }]);
  assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 1);
  assert.deepEqual([last().type, last().payload[0]], [CommandType.ReceiveBatch, 4]);
  const parked = broker.receiveMessages("jobs", { waitSeconds: 20 });
  await flush();
  await broker.sendMessages("jobs", [{ body: "a" }]);
  assert.deepEqual([last().type, last().payload[0]], [CommandType.SendReceive, 5]);
  assert.equal((await parked).messages.length, 1);
  await broker.sendMessages("dlq", [{ body: "stays" }]);
  await broker.redrive("dlq", {});
  assert.equal(last().type, CommandType.RedriveAfterHousekeeping);
});
