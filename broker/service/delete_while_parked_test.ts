import assert from "node:assert/strict";
import { CommandType } from "../engine/mod.ts";
import { flush, setup } from "../cluster/testing/mod.ts";

/** Sends one message to `queue`, receives it and returns its receipt handle. */
async function lockOne(broker: ReturnType<typeof setup>["broker"], queue: string, body: string) {
  await broker.sendMessages(queue, [{ body }]);
  const { messages } = await broker.receiveMessages(queue, {});
  assert.equal(messages.length, 1);
  return messages[0].receiptHandle;
}

/** The command types of the entries after `before`. */
function typesAfter(replica: ReturnType<typeof setup>["replica"], before: number): number[] {
  const types: number[] = [];
  for (let index = before + 1; index <= replica.lastIndex; index++) {
    types.push(replica.entry(index).type);
  }
  return types;
}

Deno.test("a receive carrying deletes waits parked while they are written", async (t) => {
  const { broker, replica, clock } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });

  for (const waitSeconds of [0, 20]) {
    await t.step(`a send made meanwhile takes it along (waitSeconds ${waitSeconds})`, async () => {
      const handle = await lockOne(broker, "jobs", "done");
      const before = replica.lastIndex;
      const receive = broker.receiveMessages("jobs", {
        deleteReceiptHandles: [handle],
        waitSeconds,
        maxMessages: 4,
      });
      assert.equal(broker.parkedReceivers, 1, "parked before its deletes are written");
      await broker.sendMessages("jobs", [{ body: "next" }]);
      const response = await receive;
      assert.equal(response.deleted, 1);
      assert.deepEqual(response.failures, []);
      assert.deepEqual(response.messages.map((message) => message.body), ["next"]);
      assert.deepEqual(
        typesAfter(replica, before),
        [CommandType.DeleteBatch, CommandType.SendReceive],
        "the message cost one entry: the send, with the lock in it",
      );
      assert.equal(broker.parkedReceivers, 0);
      await broker.deleteMessages("jobs", [response.messages[0].receiptHandle]);
    });
  }

  await t.step("with nothing sent, a receive of waitSeconds 0 answers its deletes", async () => {
    const handle = await lockOne(broker, "jobs", "done");
    const before = replica.lastIndex;
    const response = await broker.receiveMessages("jobs", {
      deleteReceiptHandles: [handle, handle],
      waitSeconds: 0,
    });
    assert.equal(response.deleted, 1);
    assert.equal(response.failures?.length, 1, "the second copy of the handle");
    assert.equal(response.failures?.[0].receiptHandle, handle);
    assert.deepEqual(response.messages, []);
    assert.deepEqual(typesAfter(replica, before), [CommandType.DeleteBatch]);
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0, "its park left no timer");
  });

  await t.step("with waitSeconds left it stays parked after its deletes", async () => {
    const handle = await lockOne(broker, "jobs", "done");
    const receive = broker.receiveMessages("jobs", {
      deleteReceiptHandles: [handle],
      waitSeconds: 20,
    });
    for (let turn = 0; turn < 5; turn++) await flush();
    assert.equal(broker.parkedReceivers, 1);
    clock.advance(20_000);
    const response = await receive;
    assert.equal(response.deleted, 1);
    assert.deepEqual(response.messages, []);
    assert.equal(clock.timerCount, 0);
  });

  await t.step("a client that goes away while it waits gets its deletes answered", async () => {
    const handle = await lockOne(broker, "jobs", "done");
    const abort = new AbortController();
    const receive = broker.receiveMessages(
      "jobs",
      { deleteReceiptHandles: [handle], waitSeconds: 20 },
      abort,
    );
    for (let turn = 0; turn < 5; turn++) await flush();
    abort.abort();
    const response = await receive;
    assert.equal(response.deleted, 1);
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0);
  });

  await t.step("a replica's refusal of the deletes answers it and parks nothing", async () => {
    const handle = await lockOne(broker, "jobs", "kept");
    replica.setAvailable(false);
    await assert.rejects(
      () => broker.receiveMessages("jobs", { deleteReceiptHandles: [handle], waitSeconds: 20 }),
      { code: "NotReady" },
    );
    replica.setAvailable(true);
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0);
    assert.equal((await broker.deleteMessages("jobs", [handle])).deleted, 1, "not deleted before");
  });
});

Deno.test("a receive carrying deletes locks in the same entry when messages may come", async (t) => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  await broker.createQueue("ordered", { fifo: true });

  await t.step("messages waiting: one entry deletes and locks", async () => {
    const handle = await lockOne(broker, "jobs", "done");
    await broker.sendMessages("jobs", [{ body: "waiting" }]);
    const before = replica.lastIndex;
    const response = await broker.receiveMessages("jobs", {
      deleteReceiptHandles: [handle],
      waitSeconds: 0,
    });
    assert.deepEqual(response.messages.map((message) => message.body), ["waiting"]);
    assert.deepEqual(typesAfter(replica, before), [CommandType.ReceiveBatch]);
    await broker.deleteMessages("jobs", [response.messages[0].receiptHandle]);
  });

  await t.step("a send on its way: one entry deletes and locks after it", async () => {
    const handle = await lockOne(broker, "jobs", "done");
    const before = replica.lastIndex;
    const send = broker.sendMessages("jobs", [{ body: "on its way" }]);
    const response = await broker.receiveMessages("jobs", {
      deleteReceiptHandles: [handle],
      waitSeconds: 0,
    });
    await send;
    assert.deepEqual(response.messages.map((message) => message.body), ["on its way"]);
    assert.deepEqual(typesAfter(replica, before), [
      CommandType.SendBatch,
      CommandType.ReceiveBatch,
    ]);
    await broker.deleteMessages("jobs", [response.messages[0].receiptHandle]);
  });

  await t.step("a FIFO queue: a delete may free the next of its group", async () => {
    await broker.sendMessages("ordered", ["a", "b"].map((body) => ({ body, groupId: "g" })));
    const first = await broker.receiveMessages("ordered", {});
    assert.deepEqual(first.messages.map((message) => message.body), ["a"]);
    const before = replica.lastIndex;
    const response = await broker.receiveMessages("ordered", {
      deleteReceiptHandles: [first.messages[0].receiptHandle],
      waitSeconds: 0,
    });
    assert.equal(response.deleted, 1);
    assert.deepEqual(response.messages.map((message) => message.body), ["b"]);
    assert.deepEqual(typesAfter(replica, before), [CommandType.ReceiveBatch]);
  });
});

Deno.test("a send that fails while a receive writes its deletes never leaves a rejection unhandled", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  const handle = await lockOne(broker, "jobs", "done");
  // The receive's deletes wait for a commit that has not come yet (a slow disk, a follower).
  let release!: () => void;
  const committed = new Promise<void>((resolve) => (release = resolve));
  const propose = replica.propose.bind(replica);
  replica.propose = (type, payload) =>
    type === CommandType.DeleteBatch
      ? committed.then(() => propose(type, payload))
      : propose(type, payload);
  const receive = broker.receiveMessages("jobs", {
    deleteReceiptHandles: [handle],
    waitSeconds: 20,
  });
  assert.equal(broker.parkedReceivers, 1);
  // Meanwhile a send takes the parked receive along, and the replica refuses it (leadership
  // lost): the receive's ride is rejected while the receive still waits for its deletes. That
  // rejection waits for the receive; unhandled, it would end the process.
  replica.setAvailable(false);
  await assert.rejects(() => broker.sendMessages("jobs", [{ body: "next" }]), {
    code: "NotReady",
  });
  await new Promise((resolve) => setTimeout(resolve, 10)); // where Deno reports unhandled ones
  replica.setAvailable(true);
  release();
  const response = await receive;
  assert.equal(response.deleted, 1, "answers with what it already did");
  assert.deepEqual(response.messages, []);
  assert.equal(broker.parkedReceivers, 0);
});

Deno.test("a client gone while its deletes are written takes no lock once they are", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  const handle = await lockOne(broker, "jobs", "done");
  let release!: () => void;
  const committed = new Promise<void>((resolve) => (release = resolve));
  const propose = replica.propose.bind(replica);
  replica.propose = (type, payload) =>
    type === CommandType.DeleteBatch
      ? committed.then(() => propose(type, payload))
      : propose(type, payload);
  const abort = new AbortController();
  const receive = broker.receiveMessages(
    "jobs",
    { deleteReceiptHandles: [handle], waitSeconds: 20 },
    abort,
  );
  assert.equal(broker.parkedReceivers, 1);
  // The client goes away while its deletes are on their way, and a message comes meanwhile.
  abort.abort();
  assert.equal(broker.parkedReceivers, 0);
  await broker.sendMessages("jobs", [{ body: "next" }]);
  release();
  const response = await receive;
  assert.equal(response.deleted, 1, "its deletes are done");
  assert.deepEqual(response.messages, [], "nothing locked for a client that is gone");
  const next = await broker.receiveMessages("jobs", {});
  assert.deepEqual(next.messages.map((message) => message.body), ["next"], "still visible");
});

Deno.test("a receive with an empty list of deletes writes nothing for them", async () => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", {});
  const before = replica.lastIndex;
  const response = await broker.receiveMessages("jobs", {
    deleteReceiptHandles: [],
    waitSeconds: 0,
  });
  assert.deepEqual(response, { messages: [], deleted: 0, failures: [] });
  assert.deepEqual(typesAfter(replica, before), [], "an empty receive wrote a log entry");
  await broker.sendMessages("jobs", [{ body: "a" }]);
  const next = await broker.receiveMessages("jobs", { deleteReceiptHandles: [] });
  assert.deepEqual(next.messages.map((message) => message.body), ["a"]);
  assert.equal(next.deleted, 0);
  assert.deepEqual(next.failures, []);
});

Deno.test("a receive whose deletes are all malformed answers them as a delete does, writing nothing for them", async (t) => {
  const { broker, replica, clock } = setup();
  await broker.createQueue("jobs", {});
  await broker.createQueue("ordered", { fifo: true });
  const junk = ["true", "x".repeat(39)];
  const before = replica.lastIndex;
  const alone = await broker.deleteMessages("jobs", junk);
  assert.equal(replica.lastIndex, before, "the delete endpoint writes nothing for them");
  for (const [queue, waitSeconds] of [["jobs", 0], ["jobs", 5], ["ordered", 0]] as const) {
    await t.step(`${queue}, waitSeconds ${waitSeconds}`, async () => {
      const receive = broker.receiveMessages(queue, { deleteReceiptHandles: junk, waitSeconds });
      for (let turn = 0; turn < 5; turn++) await flush();
      clock.advance(waitSeconds * 1000);
      const response = await receive;
      assert.deepEqual(response, { messages: [], ...alone });
      assert.deepEqual(typesAfter(replica, before), [], "a log entry for malformed handles");
    });
  }
  await t.step("with a message waiting, one entry receives it", async () => {
    await broker.sendMessages("jobs", [{ body: "a" }]);
    const sent = replica.lastIndex;
    const response = await broker.receiveMessages("jobs", { deleteReceiptHandles: junk });
    assert.deepEqual(response.messages.map((message) => message.body), ["a"]);
    assert.equal(response.deleted, 0);
    assert.deepEqual(response.failures, alone.failures);
    assert.deepEqual(typesAfter(replica, sent), [CommandType.ReceiveBatch]);
  });
});

Deno.test("a receive whose deletes fail leaves no listener on its request's signal", async (t) => {
  const { broker, replica } = setup();
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 });
  for (const waitSeconds of [0, 20]) {
    await t.step(`waitSeconds ${waitSeconds}`, async () => {
      const handle = await lockOne(broker, "jobs", "kept");
      // The signal lives as long as its request: a listener left on it keeps the receive's
      // closures (its parked state, its response) alive with it.
      const controller = new AbortController();
      const { signal } = controller;
      const listeners = new Set<unknown>();
      const add = signal.addEventListener.bind(signal);
      const remove = signal.removeEventListener.bind(signal);
      signal.addEventListener = (type: string, listener: EventListener) => {
        listeners.add(listener);
        add(type, listener);
      };
      signal.removeEventListener = (type: string, listener: EventListener) => {
        listeners.delete(listener);
        remove(type, listener);
      };
      replica.setAvailable(false);
      await assert.rejects(
        () =>
          broker.receiveMessages("jobs", { deleteReceiptHandles: [handle], waitSeconds }, {
            signal,
          }),
        { code: "NotReady" },
      );
      replica.setAvailable(true);
      assert.equal(broker.parkedReceivers, 0);
      assert.equal(listeners.size, 0, "a listener left on the request's signal");
      assert.equal((await broker.deleteMessages("jobs", [handle])).deleted, 1);
    });
  }
});
