/**
 * The Consumer's receive → handle → delete cycle: what leaves when, so no part of it waits on a
 * long poll, a timer or a wake-up it does not need (issue 11, helpers within 10% of raw).
 */
import assert from "node:assert/strict";
import { FakeQueue } from "./_fake_queue.ts";
import { deferred, waitFor } from "./_test_helpers.ts";
import { Consumer } from "./consumer.ts";
import { CmqdError } from "./errors.ts";
import type { ReceivedMessage } from "./protocol.ts";

Deno.test("a receive carrying deletes does not long-poll: on a drained queue they are confirmed at once", async () => {
  const queue = new FakeQueue();
  queue.send("a", "b", "c");
  const handled: string[] = [];
  const consumer = new Consumer(queue, "q", {
    concurrency: 4,
    waitSeconds: 30, // The fake parks a long poll for all of it: a carrying poll would hold the answer.
    deleteLingerMs: 60_000, // Only a receive (or stop) can carry the deletes.
    handleMessage: (message) => void handled.push(message.receiptHandle),
  });
  consumer.start();
  await waitFor("the three deletes confirmed", () => consumer.stats.deleted === 3);
  await waitFor("the long poll after them", () => queue.callsOf("receive").length >= 3);
  await consumer.stop();
  const [first, carrying, next] = queue.callsOf("receive").map((call) => call.request);
  assert.equal(first.waitSeconds, 30);
  assert.deepEqual(carrying.deleteReceiptHandles, handled);
  assert.equal(carrying.waitSeconds, 0, "the receive with the deletes answers at once");
  assert.equal(next.deleteReceiptHandles, undefined);
  assert.equal(next.waitSeconds, 30, "then the consumer long-polls again");
  assert.deepEqual(queue.callsOf("delete"), [], "no delete call was needed");
  assert.equal(queue.remaining, 0);
});

Deno.test("synchronous handlers: every receive asks for the full batch and carries the last batch's deletes", async () => {
  const queue = new FakeQueue();
  queue.send(...Array.from({ length: 12 }, (_, index) => `m${index}`));
  const batches: string[][] = [];
  const consumer = new Consumer(queue, "q", {
    concurrency: 4,
    waitSeconds: 1,
    deleteLingerMs: 60_000,
    handleMessage: (message) => {
      const last = batches.at(-1);
      if (last === undefined || last.length === 4) batches.push([message.receiptHandle]);
      else last.push(message.receiptHandle);
    },
  });
  consumer.start();
  await waitFor("all deleted", () => consumer.stats.deleted === 12);
  await consumer.stop();
  const receives = queue.callsOf("receive").map((call) => call.request);
  assert.deepEqual(receives.slice(0, 4).map((request) => request.maxMessages), [4, 4, 4, 4]);
  assert.deepEqual(
    receives.slice(1, 4).map((request) => request.deleteReceiptHandles),
    batches,
    "each receive carries the whole batch before it",
  );
});

Deno.test("a handler that reads its signal after stop({abort: true}) finds it aborted; one that never reads it is released too", async () => {
  const queue = new FakeQueue();
  queue.send("reads late", "never reads");
  const gate = deferred<void>();
  let started = 0;
  const seenAborted: boolean[] = [];
  const errors: { error: unknown; message?: ReceivedMessage }[] = [];
  const consumer = new Consumer(queue, "q", {
    concurrency: 2,
    waitSeconds: 1,
    onError: (error, message) => errors.push({ error, message }),
    handleMessage: async (message, context) => {
      started++;
      await gate.promise;
      if (message.body === "never reads") throw new Error("gave up");
      seenAborted.push(context.signal.aborted);
      throw context.signal.reason;
    },
  });
  consumer.start();
  await waitFor("both handlers", () => started === 2);
  const stopping = consumer.stop({ abort: true });
  gate.resolve();
  await stopping;
  assert.deepEqual(seenAborted, [true]);
  assert.equal(consumer.stats.interrupted, 2);
  assert.equal(consumer.stats.failed, 0);
  assert.deepEqual(errors, []);
  const entries = queue.callsOf("visibility").flatMap((call) => call.entries);
  assert.deepEqual(entries.map((entry) => entry.visibilityTimeoutSeconds), [0, 0]);
  assert.equal(queue.remaining, 2);
});

Deno.test("a receive answered 200 with messages of another shape is reported and received again, nothing handled", async (t) => {
  const answers = [
    { messages: { length: 1 } },
    { messages: [null] },
    { messages: "ab" },
    {},
    // An empty receipt handle names no delivery: its delete, renewal or release can only fail.
    { messages: [{ messageId: "m9", body: "x", receiptHandle: "" }] },
  ];
  for (const odd of answers) {
    await t.step(JSON.stringify(odd), async () => {
      const queue = new FakeQueue();
      queue.send("a");
      let answered = false;
      const client = {
        receiveMessages: (...args: Parameters<FakeQueue["receiveMessages"]>) => {
          if (answered) return queue.receiveMessages(...args);
          answered = true;
          return Promise.resolve(odd as never);
        },
        deleteMessages: queue.deleteMessages.bind(queue),
        changeVisibility: queue.changeVisibility.bind(queue),
      };
      const errors: unknown[] = [];
      const handled: unknown[] = [];
      const consumer = new Consumer(client, "q", {
        waitSeconds: 0,
        receiveBackoff: { backoffMsMin: 1, backoffMsMax: 1 },
        onError: (error) => errors.push(error),
        handleMessage: (message) => void handled.push(message.body),
      });
      consumer.start();
      await waitFor("the real message deleted", () => consumer.stats.deleted === 1);
      await consumer.stop();
      assert.deepEqual(handled, ["a"], "only the message of the well-formed answer");
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof CmqdError);
      assert.equal(errors[0].code, "UnexpectedResponse");
      assert.equal(consumer.stats.receiveErrors, 1);
    });
  }
});

Deno.test("a 400 naming one handle a receive carries fails that delete only: the others ride on the next receive", async () => {
  // The broker checks the carried handles first and refuses the whole receive for the first bad
  // one (`deleteReceiptHandles.N`), deleting nothing: here the handle of "b" (`m2#1`).
  const queue = new FakeQueue();
  queue.send("a", "b", "c");
  const carried: string[][] = [];
  const client = {
    receiveMessages: (...args: Parameters<FakeQueue["receiveMessages"]>) => {
      const handles = args[1]?.deleteReceiptHandles ?? [];
      if (handles.length > 0) carried.push(handles);
      const index = handles.indexOf("m2#1");
      if (index < 0) return queue.receiveMessages(...args);
      return Promise.reject(
        new CmqdError("InvalidParameter", "must be a string", {
          status: 400,
          field: `deleteReceiptHandles.${index}`,
        }),
      );
    },
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: queue.changeVisibility.bind(queue),
  };
  const errors: { error: unknown; message?: ReceivedMessage }[] = [];
  const consumer = new Consumer(client, "q", {
    concurrency: 3,
    waitSeconds: 0,
    deleteLingerMs: 60_000, // Only a receive (or stop) can carry the deletes.
    receiveBackoff: { backoffMsMin: 1, backoffMsMax: 1 },
    onError: (error, message) => errors.push({ error, message }),
    handleMessage: () => {},
  });
  consumer.start();
  await waitFor("the two others deleted", () => consumer.stats.deleted === 2);
  await consumer.stop();
  assert.deepEqual(carried, [["m1#1", "m2#1", "m3#1"], ["m1#1", "m3#1"]]);
  assert.equal(errors.length, 1, "the refused delete alone is reported");
  assert.equal(errors[0].message?.body, "b");
  assert.ok(errors[0].error instanceof CmqdError);
  assert.equal(errors[0].error.field, "deleteReceiptHandles.1");
  assert.equal(consumer.stats.receiveErrors, 0, "not a failed receive: the next one goes at once");
  assert.equal(queue.remaining, 1);
  assert.deepEqual(queue.callsOf("delete"), [], "no explicit delete was needed");
});
