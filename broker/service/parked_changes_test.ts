/**
 * Parked receives as a work queue with many idle workers relies on them: served in the order
 * they parked whatever their key, answered once when their wait ends as a send is committed
 * (with its message, or empty and the message left for the next receive, never lost in a lock),
 * and following the queue as it is when their receive is written, not as it was when they
 * parked: a visibility timeout changed meanwhile, a purge, a larger `maxMessageBytes` (which
 * lowers how many messages one receive may take).
 */
import assert from "node:assert/strict";
import type { ReceiveMessagesResponse } from "../../sdk/protocol.ts";
import { flush, memoryEngine, setup } from "../cluster/testing/mod.ts";

async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await flush();
}

Deno.test("a trickle of sends serves parked workers in the order they parked, whatever their key", async () => {
  const { broker, clock } = memoryEngine({ parkedReceivesMax: 100, parkedReceivesKeyShare: 0.5 });
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 60 });
  const workers = 24;
  const rounds = 3;
  const served: number[] = [];
  const running: Promise<void>[] = [];
  for (let worker = 0; worker < workers; worker++) {
    const keyId = worker % 2 === 0 ? "even" : "odd";
    running.push((async () => {
      // A worker: receive, and acknowledge what it got with its next receive.
      let handles: string[] | undefined;
      for (let round = 0; round < rounds; round++) {
        const { messages } = await broker.receiveMessages(
          "jobs",
          {
            waitSeconds: 30,
            maxMessages: 1,
            deleteReceiptHandles: handles,
          },
          undefined,
          { keyId },
        );
        assert.equal(messages.length, 1, `worker ${worker} answered empty`);
        served.push(worker);
        handles = [messages[0].receiptHandle];
      }
      await broker.deleteMessages("jobs", handles!);
    })());
    await settle(); // parked in this order
  }
  assert.equal(broker.parkedReceivers, workers);
  for (let index = 0; index < workers * rounds; index++) {
    await broker.sendMessages("jobs", [{ body: `job ${index}` }]);
    await settle();
    // Not timed: the clock moves only by what a trickle would take, far from any deadline.
    clock.advance(10);
  }
  await Promise.all(running);
  const order = Array.from({ length: workers }, (_, worker) => worker);
  assert.deepEqual(served, [...order, ...order, ...order], "a worker was served out of turn");
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("a wait that ends as the send that took the receive along is committed answers once, with its message", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", {});
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await flush();
  assert.equal(broker.parkedReceivers, 1);
  // The send takes the receive along; its deadline passes before the entry is applied.
  const send = broker.sendMessages("jobs", [{ body: "m" }]);
  clock.advance(5_000);
  await send;
  assert.deepEqual((await receive).messages.map((message) => message.body), ["m"]);
  const queue = await broker.getQueue("jobs");
  assert.equal(queue.inflightMessages, 1);
  assert.equal(queue.activeMessages, 0);
});

Deno.test("a wait that ends just before a send is applied answers once, and leaves the message visible", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", {});
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await flush();
  clock.advance(5_000); // its deadline: woken, not yet answered
  const send = broker.sendMessages("jobs", [{ body: "m" }]);
  const [answer] = await Promise.all([receive, send]);
  // Its wait is over: the send does not take it along, and it answers empty without a lock.
  assert.deepEqual(answer.messages, []);
  const queue = await broker.getQueue("jobs");
  assert.equal(queue.inflightMessages, 0);
  assert.equal(queue.activeMessages, 1);
  // The message is nobody's: the next receive gets it.
  const next = await broker.receiveMessages("jobs", { waitSeconds: 0 });
  assert.deepEqual(next.messages.map((message) => message.body), ["m"]);
});

Deno.test("a queue's visibility timeout changed while a receive is parked is the lock it takes", async (t) => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  await t.step("taken along by a send", async () => {
    const receive = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 120 });
    const sentAt = clock.now();
    await broker.sendMessages("jobs", [{ body: "a" }]);
    const [message] = (await receive).messages;
    assert.equal(message.visibleAt, sentAt + 120_000);
  });
  await t.step("woken when a lock ends", async () => {
    await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 30 });
    clock.advance(110_000); // the lock of "a" ends in 10 s, inside the wait
    const receive = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 300 });
    clock.advance(10_000); // the lock of "a" ends
    await settle();
    const [message] = (await receive).messages;
    assert.equal(message.body, "a");
    assert.equal(message.visibleAt, clock.now() + 300_000);
  });
});

Deno.test("a receive parked through a purge gets the next message sent", async () => {
  const { broker } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "old", delaySeconds: 10 }]);
  const receive = broker.receiveMessages("jobs", { waitSeconds: 20 });
  await flush();
  assert.deepEqual(await broker.purge("jobs"), { purged: 1 });
  assert.equal(broker.parkedReceivers, 1);
  await broker.sendMessages("jobs", [{ body: "new" }]);
  assert.deepEqual((await receive).messages.map((message) => message.body), ["new"]);
});

Deno.test("a receive parked before maxMessageBytes was raised takes at most what one answer may hold now", async (t) => {
  const { broker, clock } = setup();
  // 256 KiB: a receive may take 256 messages; at 1 MiB only 64 (64 MiB per answer).
  await broker.createQueue("jobs", { maxMessageBytes: 256 * 1024 });
  const cases: [string, (receive: Promise<ReceiveMessagesResponse>) => Promise<void>][] = [
    ["woken when delayed messages become visible", async () => {
      await broker.sendMessages(
        "jobs",
        Array.from({ length: 100 }, (_, index) => ({ body: `d${index}`, delaySeconds: 10 })),
      );
      clock.advance(10_000);
      await settle();
    }],
    ["taken along by a send", async () => {
      await broker.sendMessages(
        "jobs",
        Array.from({ length: 100 }, (_, index) => ({ body: `s${index}` })),
      );
    }],
  ];
  for (const [name, fill] of cases) {
    await t.step(name, async () => {
      await broker.updateQueue("jobs", { maxMessageBytes: 256 * 1024 });
      const receive = broker.receiveMessages("jobs", { waitSeconds: 20, maxMessages: 256 });
      await flush();
      assert.equal(broker.parkedReceivers, 1);
      await broker.updateQueue("jobs", { maxMessageBytes: 1024 * 1024 });
      await fill(receive);
      assert.equal((await receive).messages.length, 64);
      await broker.purge("jobs");
    });
  }
});

Deno.test("a parked receive woken for a message that another receive took first keeps its place", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
  await broker.sendMessages("jobs", [{ body: "m" }]);
  assert.equal((await broker.receiveMessages("jobs", {})).messages.length, 1); // locked for 5 s
  const served: string[] = [];
  const poll = (name: string) =>
    broker.receiveMessages("jobs", { waitSeconds: 20, maxMessages: 1 }).then((response) => {
      if (response.messages.length > 0) served.push(name);
    });
  const oldest = poll("oldest");
  await flush();
  const next = poll("next");
  await flush();
  // The lock ends: the oldest is woken for "m", but a receive that does not wait takes it first.
  clock.advance(5_000);
  const quick = await broker.receiveMessages("jobs", { waitSeconds: 0 });
  assert.deepEqual(quick.messages.map((message) => message.body), ["m"]);
  await settle();
  assert.equal(broker.parkedReceivers, 2);
  await broker.sendMessages("jobs", [{ body: "n" }]);
  await settle();
  assert.deepEqual(served, ["oldest"], "the receive that waited longest was passed over");
  clock.advance(20_000);
  await Promise.all([oldest, next]);
});
