import assert from "node:assert/strict";
import { BrokerError } from "./mod.ts";
import { flush, memoryEngine, rejects } from "../cluster/testing/mod.ts";

Deno.test("creating a queue past queuesMax is 429 QueueLimitExceeded and proposes nothing; re-creating an existing one still works", async () => {
  const context = memoryEngine({ queuesMax: 2 });
  await context.broker.createQueue("a", {});
  await context.broker.createQueue("b", {});
  await rejects(context, () => context.broker.createQueue("c", {}), {
    code: "QueueLimitExceeded",
  });
  assert.equal((await context.broker.createQueue("a", {})).created, false);
  await context.broker.deleteQueue("b");
  await context.broker.createQueue("c", {});
});

Deno.test("receives past parkedReceivesMax answer 503 NotReady at once instead of parking", async () => {
  const context = memoryEngine({ parkedReceivesMax: 2 });
  await context.broker.createQueue("jobs", {});
  const parked = [1, 2].map(() => context.broker.receiveMessages("jobs", { waitSeconds: 20 }));
  await flush();
  assert.equal(context.broker.parkedReceivers, 2);
  await assert.rejects(
    context.broker.receiveMessages("jobs", { waitSeconds: 20 }),
    (error: unknown) =>
      error instanceof BrokerError && error.code === "NotReady" && error.retryAfterSeconds === 1,
  );
  // A receive that need not wait is served as usual.
  assert.deepEqual((await context.broker.receiveMessages("jobs", { waitSeconds: 0 })).messages, []);
  await context.broker.sendMessages("jobs", [{ body: "x" }]);
  await flush();
  context.clock.advance(20_000); // the receive that did not get it waits out its 20 s
  const answers = await Promise.all(parked);
  assert.equal(answers.flatMap((answer) => answer.messages).length, 1);
  assert.equal(context.broker.parkedReceivers, 0);
});

Deno.test("when admission refuses data, sends get its error while receives and deletes still work", async () => {
  let full = false;
  const context = memoryEngine({
    admitData: () => full ? new BrokerError("InsufficientStorage", "disk below threshold") : null,
  });
  await context.broker.createQueue("jobs", {});
  await context.broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }]);
  full = true;
  await rejects(context, () => context.broker.sendMessages("jobs", [{ body: "c" }]), {
    code: "InsufficientStorage",
  });
  const received = await context.broker.receiveMessages("jobs", { maxMessages: 2 });
  assert.equal(received.messages.length, 2);
  const deleted = await context.broker.deleteMessages(
    "jobs",
    received.messages.map((message) => message.receiptHandle),
  );
  assert.equal(deleted.deleted, 2);
  full = false;
  await context.broker.sendMessages("jobs", [{ body: "c" }]);
});

Deno.test("creating a topic past topicsMax is 429 TopicLimitExceeded and proposes nothing; re-creating an existing one still works", async () => {
  const context = memoryEngine({ topicsMax: 2 });
  await context.topics.createTopic("a", {});
  await context.topics.createTopic("b", {});
  await rejects(context, () => context.topics.createTopic("c", {}), {
    code: "TopicLimitExceeded",
  });
  assert.equal((await context.topics.createTopic("a", {})).created, false);
  await context.topics.deleteTopic("b");
  await context.topics.createTopic("c", {});
});

Deno.test("when admission refuses data, publishes get its error and fan out nothing; they resume after", async () => {
  let full = false;
  const context = memoryEngine({
    admitData: () => full ? new BrokerError("InsufficientStorage", "disk below threshold") : null,
  });
  await context.broker.createQueue("risk", {});
  await context.topics.createTopic("payments", {});
  await context.topics.subscribe("payments", "to-risk", { endpoint: { queue: "risk" } });
  full = true;
  await rejects(context, () => context.topics.publish("payments", [{ body: "paid" }]), {
    code: "InsufficientStorage",
  });
  assert.equal((await context.broker.getQueue("risk")).activeMessages, 0);
  full = false;
  await context.topics.publish("payments", [{ body: "paid" }]);
  assert.equal((await context.broker.getQueue("risk")).activeMessages, 1);
});
