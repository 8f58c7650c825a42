import assert from "node:assert/strict";
import { BrokerError, CommandType, encodeTick } from "../engine/mod.ts";
import { flush, rejects, setup } from "../cluster/testing/mod.ts";
import { ReplicationError } from "../replication/mod.ts";

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

Deno.test("dead-lettering moves messages with their id and redrive brings them back", async () => {
  const { broker, clock, replica } = setup();
  await broker.createQueue("dlq", {});
  await broker.createQueue("work", {
    visibilityTimeoutSeconds: 1,
    retentionSeconds: 600,
    deadLetter: { queue: "dlq", maxReceiveCount: 2, maxTimeToLiveSeconds: 300 },
  });
  const [sent] = (await broker.sendMessages("work", [{ body: "poison" }])).messages;
  for (let round = 0; round < 2; round++) {
    assert.equal((await broker.receiveMessages("work", {})).messages.length, 1);
    clock.advance(1_000);
  }
  assert.equal((await broker.receiveMessages("work", {})).messages.length, 0);
  const dead = (await broker.receiveMessages("dlq", { visibilityTimeoutSeconds: 1 })).messages[0];
  assert.equal(dead.id, sent.id);
  assert.equal(dead.body, "poison");
  clock.advance(1_000);
  assert.deepEqual(await broker.redrive("dlq", {}), { moved: 1 });
  const back = (await broker.receiveMessages("work", {})).messages[0];
  assert.equal(back.id, sent.id);
  assert.equal(back.receiveCount, 1);
  await broker.deleteMessages("work", [back.receiptHandle]);
  // Older than maxTimeToLiveSeconds: the next Tick moves it.
  await broker.sendMessages("work", [{ body: "old" }]);
  clock.advance(301_000);
  assert.equal(replica.machine.needsTick(clock.now()), true);
  await replica.propose(CommandType.Tick, encodeTick());
  assert.equal((await broker.getQueue("dlq")).activeMessages, 1);
  assert.equal((await broker.receiveMessages("dlq", {})).messages[0].body, "old");
});

Deno.test("a redrive without maxMessages moves up to 100,000 messages; 1 and 100,000 are accepted, 0 and 100,001 not", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("dlq", {});
  await broker.sendMessages("dlq", [{ body: "stays" }]); // an empty queue's redrive: no entry
  const proposed = () => {
    const entry = replica.entry(replica.lastIndex);
    assert.equal(entry.type, CommandType.RedriveAfterHousekeeping);
    return JSON.parse(new TextDecoder().decode(entry.payload)).maxMessages;
  };
  await broker.redrive("dlq", {});
  assert.equal(proposed(), 100_000);
  for (const maxMessages of [1, 100_000]) {
    await broker.redrive("dlq", { maxMessages });
    assert.equal(proposed(), maxMessages);
  }
  for (const maxMessages of [0, 100_001]) {
    await rejects({ replica }, () => broker.redrive("dlq", { maxMessages }), {
      code: "InvalidParameter",
      field: "maxMessages",
    });
  }
});

Deno.test("rewind delivers deleted messages again and purge keeps them rewindable", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const start = clock.now();
  await broker.sendMessages("ledger", [{ body: "1" }, { body: "2" }]);
  clock.advance(10_000);
  await broker.sendMessages("ledger", [{ body: "3" }]);
  const received = await broker.receiveMessages("ledger", { maxMessages: 3 });
  await broker.deleteMessages("ledger", received.messages.map((message) => message.receiptHandle));
  assert.equal((await broker.getQueue("ledger")).rewindableMessages, 3);
  const bySequence = await broker.rewind("ledger", { sequence: 2 });
  assert.deepEqual(bySequence, { from: { timestamp: start, sequence: 2 }, messages: 2 });
  assert.deepEqual(await broker.purge("ledger"), { purged: 2 });
  const byTime = await broker.rewind("ledger", { timestamp: start + 1 });
  assert.deepEqual(byTime, { from: { timestamp: start + 10_000, sequence: 3 }, messages: 1 });
  const again = await broker.receiveMessages("ledger", { maxMessages: 3 });
  assert.deepEqual(again.messages.map((message) => message.body), ["3"]);
  await assert.rejects(
    () => broker.rewind("ledger", { timestamp: clock.now() - 3_601_000 }),
    (error: BrokerError) => error.code === "InvalidParameter",
  );
});

Deno.test("a rewind timestamp that looks like Unix seconds is refused with a hint on the unit", async () => {
  const context = setup();
  const { broker, clock } = context;
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const seconds = Math.floor(clock.now() / 1000) - 60;
  await rejects(context, () => broker.rewind("ledger", { timestamp: seconds }), {
    code: "InvalidParameter",
    field: "timestamp",
  });
  const refusal = await broker.rewind("ledger", { timestamp: seconds }).catch((error) => error);
  assert.match(
    refusal.message,
    new RegExp(`before the rewind window .*Unix epoch milliseconds.*${seconds} looks like seconds`),
  );
  // A millisecond time before the window gets no such hint.
  const early = await broker.rewind("ledger", { timestamp: clock.now() - 3_601_000 })
    .catch((error) => error);
  assert.match(early.message, /before the rewind window/);
  assert.doesNotMatch(early.message, /seconds/);
});

Deno.test("a message purged during its delay and rewound is visible at once (as the README says)", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  const start = clock.now();
  await broker.sendMessages("ledger", [{ body: "later", delaySeconds: 600 }]);
  assert.deepEqual((await broker.receiveMessages("ledger", {})).messages, [], "delayed");
  assert.deepEqual(await broker.purge("ledger"), { purged: 1 });
  clock.advance(1_000);
  assert.equal((await broker.rewind("ledger", { timestamp: start })).messages, 1);
  const again = await broker.receiveMessages("ledger", {});
  assert.deepEqual(again.messages.map((message) => message.body), ["later"]);
});

Deno.test("a rewind to a time after now is refused and undeletes nothing (a milliseconds-for-seconds slip)", async () => {
  const { broker, clock, replica } = setup();
  await broker.createQueue("ledger", { rewindSeconds: 3_600 });
  await broker.sendMessages("ledger", [{ body: "1" }]);
  const received = await broker.receiveMessages("ledger", {});
  await broker.deleteMessages("ledger", [received.messages[0].receiptHandle]);
  const before = replica.lastIndex;
  await assert.rejects(
    () => broker.rewind("ledger", { timestamp: clock.now() + 1 }),
    (error: BrokerError) =>
      error.code === "InvalidParameter" && /timestamp: in the future/.test(error.message),
  );
  assert.equal(replica.lastIndex, before);
  assert.deepEqual(await broker.rewind("ledger", { timestamp: clock.now() }), {
    from: { timestamp: clock.now(), sequence: 1 },
    messages: 1,
  });
});

Deno.test("long polls wait for a message, a deadline, an abort or close", async (t) => {
  const { broker, clock, replica } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
  await t.step("an empty receive without wait costs no log write", async () => {
    const before = replica.lastIndex;
    assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 0);
    assert.equal(replica.lastIndex, before);
  });
  await t.step("a parked receive wakes when a message is sent", async () => {
    const pending = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    assert.equal(broker.parkedReceivers, 1);
    await broker.sendMessages("jobs", [{ body: "hi" }]);
    assert.equal((await pending).messages[0].body, "hi");
    assert.equal(broker.parkedReceivers, 0);
  });
  await t.step("a parked receive wakes when a lock ends", async () => {
    const pending = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    clock.advance(5_000);
    const [message] = (await pending).messages;
    assert.equal(message.receiveCount, 2);
    await broker.deleteMessages("jobs", [message.receiptHandle]);
  });
  await t.step("a parked receive answers empty at its deadline", async () => {
    const pending = broker.receiveMessages("jobs", { waitSeconds: 3 });
    await flush();
    clock.advance(3_000);
    assert.equal((await pending).messages.length, 0);
  });
  await t.step("the queue's pollingWaitSeconds is the default wait", async () => {
    await broker.updateQueue("jobs", { pollingWaitSeconds: 2 });
    const pending = broker.receiveMessages("jobs", {});
    await flush();
    assert.equal(broker.parkedReceivers, 1);
    clock.advance(2_000);
    assert.equal((await pending).messages.length, 0);
  });
  await t.step("receivers parked on a node that lost leadership are answered at once", async () => {
    const pending = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    broker.failParked(new BrokerError("NoLeader", "not the leader; the leader is n2"));
    await assert.rejects(pending, { code: "NoLeader" });
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0);
    broker.wakeAll(); // it leads again: receives park again
  });
  await t.step("a replica's refusal answers them as the broker's error of its code", async () => {
    // What the node passes when leadership moves (`replica.refusal()`): a ReplicationError, which
    // the doors' error mappers answered 500 InternalError before it was translated.
    const pending = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    broker.failParked(new ReplicationError("NoLeader", "not the leader; no leader is known"));
    const error = await pending.then(() => null, (failure) => failure);
    assert.ok(error instanceof BrokerError, String(error));
    assert.equal(error.code, "NoLeader");
    assert.equal(broker.parkedReceivers, 0);
    broker.wakeAll();
  });
  await t.step("an abort answers at once", async () => {
    const controller = new AbortController();
    const pending = broker.receiveMessages("jobs", { waitSeconds: 20 }, controller);
    await flush();
    controller.abort();
    assert.equal((await pending).messages.length, 0);
    assert.equal(clock.timerCount, 0);
  });
  await t.step("the abort signal is read only by a receive that waits", async () => {
    // Reading a served Request's signal makes Deno build it and abort it with a DOMException
    // after the answer: a receive answered at once must not pay for that.
    const controller = new AbortController();
    let reads = 0;
    const aborts = {
      get signal() {
        reads++;
        return controller.signal;
      },
    };
    await broker.sendMessages("jobs", [{ body: "now" }]);
    const answered = await broker.receiveMessages("jobs", { waitSeconds: 20 }, aborts);
    assert.equal(answered.messages.length, 1);
    assert.equal(reads, 0);
    const handle = answered.messages[0].receiptHandle;
    const pending = broker.receiveMessages(
      "jobs",
      { waitSeconds: 20, deleteReceiptHandles: [handle] },
      aborts,
    );
    await flush();
    assert.ok(reads > 0);
    controller.abort();
    const result = await pending;
    assert.deepEqual([result.messages.length, result.deleted], [0, 1]);
    assert.equal(clock.timerCount, 0);
  });
  await t.step("a receive whose client left before it parks answers at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const waits = [
      broker.receiveMessages("jobs", { waitSeconds: 20 }, controller),
      broker.receiveMessages("jobs", { waitSeconds: 20, deleteReceiptHandles: [] }, controller),
    ];
    for (const result of await Promise.all(waits)) assert.equal(result.messages.length, 0);
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0);
  });
  await t.step("close answers every parked receiver at once", async () => {
    const pending = [1, 2].map(() => broker.receiveMessages("jobs", { waitSeconds: 20 }));
    await flush();
    assert.equal(broker.parkedReceivers, 2);
    broker.close();
    for (const result of await Promise.all(pending)) assert.equal(result.messages.length, 0);
  });
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

Deno.test("a send to a FIFO group whose head is in flight takes no parked receive along", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("orders", { fifo: true, visibilityTimeoutSeconds: 60 });
  await broker.sendMessages("orders", [{ body: "a1", groupId: "a" }]);
  assert.equal((await broker.receiveMessages("orders", {})).messages.length, 1); // a1 in flight
  const controller = new AbortController();
  const parked = broker.receiveMessages("orders", { waitSeconds: 20 }, controller);
  await flush();
  assert.equal(broker.parkedReceivers, 1);
  // a2 waits behind a1: nothing a receive could take, so it is written alone and the receive
  // stays parked (a ride would cost it a lock attempt in the send's entry, and claim a message).
  await broker.sendMessages("orders", [{ body: "a2", groupId: "a" }]);
  assert.equal(replica.entry(replica.lastIndex).type, CommandType.SendBatch);
  await flush();
  assert.equal(broker.parkedReceivers, 1);
  // A new group's message is receivable at once: that send takes the receive along.
  await broker.sendMessages("orders", [{ body: "b1", groupId: "b" }]);
  assert.equal(replica.entry(replica.lastIndex).type, CommandType.SendReceive);
  assert.deepEqual((await parked).messages.map((message) => message.body), ["b1"]);
  controller.abort();
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
