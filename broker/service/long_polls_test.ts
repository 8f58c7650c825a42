import assert from "node:assert/strict";
import type { ReceiveMessagesResponse } from "../../sdk/protocol.ts";
import { BrokerError, CommandType } from "../engine/mod.ts";
import { flush, setup } from "../cluster/testing/mod.ts";
import { ReplicationError } from "../replication/mod.ts";

/** Parks `count` receives on `queue` and tracks which have answered. */
async function parkMany(
  broker: ReturnType<typeof setup>["broker"],
  queue: string,
  count: number,
  request: { maxMessages?: number; waitSeconds?: number } = {},
) {
  const answered: ReceiveMessagesResponse[] = [];
  const before = broker.parkedReceivers;
  const pending = Array.from(
    { length: count },
    () =>
      broker.receiveMessages(queue, { waitSeconds: 20, ...request }).then((response) => {
        answered.push(response);
        return response;
      }),
  );
  await flush();
  assert.equal(broker.parkedReceivers, before + count);
  return { answered, pending };
}

Deno.test("a send wakes as many parked receives as it has messages, not all of them", async (t) => {
  const { broker, replica, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
  /** Ends the polls of a step at their deadline. */
  const expire = async (pending: Promise<unknown>[]) => {
    clock.advance(20_000);
    await Promise.all(pending);
  };

  await t.step("one message, 1,000 parked receives: one entry sends and locks", async () => {
    const { answered, pending } = await parkMany(broker, "jobs", 1_000);
    const before = replica.lastIndex;
    await broker.sendMessages("jobs", [{ body: "only one" }]);
    for (let turn = 0; turn < 5; turn++) await flush();
    assert.equal(replica.lastIndex - before, 1, "the send, with the receive in its entry");
    assert.equal(replica.entry(before + 1).type, CommandType.SendReceive);
    assert.equal(answered.length, 1);
    assert.deepEqual(answered[0].messages.map((message) => message.body), ["only one"]);
    assert.equal(broker.parkedReceivers, 999);
    await broker.deleteMessages("jobs", [answered[0].messages[0].receiptHandle]);
    await expire(pending);
  });

  await t.step("three messages, receivers of one each: three receivers, one each", async () => {
    const { answered, pending } = await parkMany(broker, "jobs", 10, { maxMessages: 1 });
    const before = replica.lastIndex;
    await broker.sendMessages("jobs", ["a", "b", "c"].map((body) => ({ body })));
    for (let turn = 0; turn < 10; turn++) await flush();
    assert.equal(replica.lastIndex - before, 1, "the send, with three receives in its entry");
    assert.deepEqual(answered.map((response) => response.messages.length), [1, 1, 1]);
    assert.equal(broker.parkedReceivers, 7);
    await expire(pending.filter((_, index) => index >= 3));
  });

  await t.step("a lock that ends wakes one of the parked receives, not all", async () => {
    await broker.createQueue("locks", { visibilityTimeoutSeconds: 5 });
    await broker.sendMessages("locks", ["a", "b", "c"].map((body) => ({ body })));
    assert.equal((await broker.receiveMessages("locks", { maxMessages: 3 })).messages.length, 3);
    const { answered, pending } = await parkMany(broker, "locks", 100, { maxMessages: 16 });
    const before = replica.lastIndex;
    clock.advance(5_000);
    for (let turn = 0; turn < 10; turn++) await flush();
    assert.equal(replica.lastIndex - before, 1, "one receive takes all three");
    assert.equal(answered.length, 1);
    assert.equal(answered[0].messages.length, 3);
    assert.equal(broker.parkedReceivers, 99);
    broker.close();
    await Promise.all(pending);
    assert.equal(clock.timerCount, 0);
  });
});

Deno.test("a send takes parked receives along in its entry", async (t) => {
  const { broker, replica, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  const settle = async () => {
    for (let turn = 0; turn < 10; turn++) await flush();
  };

  await t.step("the rider's lock is in the committed entry, and the rider answers", async () => {
    const { answered } = await parkMany(broker, "jobs", 2, { maxMessages: 4 });
    await broker.sendMessages("jobs", [{ body: "x" }, { body: "y" }]);
    await settle();
    assert.deepEqual(answered.map((response) => response.messages.length), [2]);
    const queue = await broker.getQueue("jobs");
    assert.equal(queue.inflightMessages, 2);
    assert.equal(queue.activeMessages, 0);
    const handles = answered[0].messages.map((message) => message.receiptHandle);
    assert.equal((await broker.deleteMessages("jobs", handles)).deleted, 2);
    assert.equal(broker.parkedReceivers, 1);
  });

  await t.step("delayed messages take no riders", async () => {
    const before = replica.lastIndex;
    await broker.sendMessages("jobs", [{ body: "later", delaySeconds: 5 }]);
    await settle();
    assert.equal(replica.entry(before + 1).type, CommandType.SendBatch);
    assert.equal(broker.parkedReceivers, 1);
    clock.advance(5_000);
    await settle();
    assert.equal(broker.parkedReceivers, 0, "the delay's end woke it");
  });

  await t.step("a send refused at apply leaves its riders polling", async () => {
    await broker.createQueue("full", { maxBacklog: 1 });
    await broker.sendMessages("full", [{ body: "locked" }]);
    await broker.receiveMessages("full", {});
    const { answered } = await parkMany(broker, "full", 3);
    await assert.rejects(
      () => broker.sendMessages("full", [{ body: "no room" }]),
      (error: BrokerError) => error.code === "BacklogFull",
    );
    await settle();
    assert.equal(answered.length, 0);
    assert.equal(broker.parkedReceivers, 3, "the three parked again");
  });

  await t.step("a replica's refusal answers the riders with it", async () => {
    await broker.createQueue("down", {});
    const pending = ["a", "b"].map(() => broker.receiveMessages("down", { waitSeconds: 20 }));
    await flush();
    replica.setAvailable(false);
    await assert.rejects(() => broker.sendMessages("down", [{ body: "x" }, { body: "y" }]), {
      code: "NotReady",
    });
    for (const receive of pending) await assert.rejects(receive, { code: "NotReady" });
    replica.setAvailable(true);
  });

  await t.step("a FIFO send to one group takes one rider", async () => {
    await broker.createQueue("ordered", { fifo: true });
    const { answered } = await parkMany(broker, "ordered", 3);
    const before = replica.lastIndex;
    await broker.sendMessages("ordered", [{ body: "1", groupId: "g" }, {
      body: "2",
      groupId: "g",
    }]);
    await settle();
    assert.equal(replica.lastIndex - before, 1);
    assert.deepEqual(answered.map((response) => response.messages[0].body), ["1"]);
    assert.equal(broker.parkedReceivers, 3 + 2);
  });

  broker.close();
  await settle();
  assert.equal(broker.parkedReceivers, 0);
});

Deno.test("parked receives are served oldest first, by a send and by a lock that ends", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
  const served: number[] = [];
  const pending: Promise<ReceiveMessagesResponse>[] = [];
  for (let index = 0; index < 4; index++) {
    pending.push(
      broker.receiveMessages("jobs", { waitSeconds: 20, maxMessages: 1 }).then((response) => {
        if (response.messages.length > 0) served.push(index);
        return response;
      }),
    );
    await flush(); // parked in this order
  }
  assert.equal(broker.parkedReceivers, 4);
  const settle = async () => {
    for (let turn = 0; turn < 10; turn++) await flush();
  };
  await broker.sendMessages("jobs", [{ body: "a" }]);
  await settle();
  assert.deepEqual(served, [0], "a send takes the oldest along");
  await broker.sendMessages("jobs", [{ body: "b" }]);
  await settle();
  assert.deepEqual(served, [0, 1]);
  // The first receive's lock ends (the second's message is deleted): the oldest left wakes.
  await broker.deleteMessages("jobs", [(await pending[1]).messages[0].receiptHandle]);
  clock.advance(5_000);
  await settle();
  assert.deepEqual(served, [0, 1, 2], "a lock that ends wakes the oldest");
  await broker.deleteMessages("jobs", [(await pending[2]).messages[0].receiptHandle]);
  clock.advance(20_000);
  await Promise.all(pending);
  assert.deepEqual(served, [0, 1, 2]);
});

Deno.test("a receive that got nothing parks without missing a send applied right after it", async () => {
  const { broker } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  await broker.sendMessages("jobs", [{ body: "a" }]);
  // Both see "a" and propose a receive; the send is applied after the second receive, before
  // that receive's answer comes back (so before it parks): nobody was parked to hear of "b".
  const first = broker.receiveMessages("jobs", { waitSeconds: 20 });
  const second = broker.receiveMessages("jobs", { waitSeconds: 20 });
  await broker.sendMessages("jobs", [{ body: "b" }]);
  for (let turn = 0; turn < 10; turn++) await flush();
  assert.deepEqual((await first).messages.map((message) => message.body), ["a"]);
  assert.equal(broker.parkedReceivers, 0, "the second receive still waits though 'b' is there");
  assert.deepEqual((await second).messages.map((message) => message.body), ["b"]);
});

Deno.test("a receive on its way to park when leadership moved answers as the parked ones did", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  await broker.sendMessages("jobs", [{ body: "a" }]);
  // Both see "a" and propose a receive; leadership moves before their answers come back, when
  // neither is parked: the second, answered nothing, would park on a node that no longer leads.
  const first = broker.receiveMessages("jobs", { waitSeconds: 20 });
  const second = broker.receiveMessages("jobs", { waitSeconds: 20 }).catch((error) => error);
  broker.failParked(new BrokerError("NoLeader", "not the leader; the leader is n2"));
  for (let turn = 0; turn < 10; turn++) await flush();
  assert.deepEqual((await first).messages.map((message) => message.body), ["a"]);
  assert.equal(broker.parkedReceivers, 0, "the second receive parked after leadership moved");
  assert.equal((await second)?.code, "NoLeader");
  assert.equal(clock.timerCount, 0);
});

Deno.test("a receive that starts after leadership moved answers as the parked ones did", async (t) => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  // The door let it in before it learned that leadership moved; the parked ones got a 503.
  broker.failParked(new BrokerError("NoLeader", "not the leader; the leader is n2"));
  await t.step("it does not park on the node that no longer leads", async () => {
    let answer: unknown = "still waiting";
    broker.receiveMessages("jobs", { waitSeconds: 20 }).then(
      (response) => (answer = response),
      (error) => (answer = error),
    );
    for (let turn = 0; turn < 10; turn++) await flush();
    assert.equal(broker.parkedReceivers, 0, "parked after leadership moved");
    assert.ok(answer instanceof BrokerError, `answered ${JSON.stringify(answer)}`);
    assert.equal(answer.code, "NoLeader");
    assert.equal(answer.message, "not the leader; the leader is n2");
    assert.equal(clock.timerCount, 0);
  });
  await t.step("once it leads again (wakeAll), receives park again", async () => {
    broker.wakeAll();
    const receive = broker.receiveMessages("jobs", { waitSeconds: 20 });
    await flush();
    assert.equal(broker.parkedReceivers, 1);
    await broker.sendMessages("jobs", [{ body: "a" }]);
    assert.deepEqual((await receive).messages.map((message) => message.body), ["a"]);
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
