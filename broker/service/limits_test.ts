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

Deno.test("creates sent at once count those under way: 50 queue creates under queuesMax 5 make 5, the rest are 429 and propose nothing", async () => {
  const context = memoryEngine({ queuesMax: 5 });
  const before = context.replica.lastIndex;
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, index) => context.broker.createQueue(`q${index}`, {})),
  );
  const refused = results.filter((result) =>
    result.status === "rejected" && result.reason instanceof BrokerError &&
    result.reason.code === "QueueLimitExceeded"
  );
  assert.equal(refused.length, 45);
  assert.equal(context.replica.machine.queueCount, 5);
  assert.equal(context.replica.lastIndex - before, 5);
});

Deno.test("a create under way counts once per name, and one whose proposal failed frees its place", async () => {
  const context = memoryEngine({ queuesMax: 2 });
  await context.broker.createQueue("a", {});
  // The same name twice at once adds one queue: neither is refused.
  const twice = await Promise.all([
    context.broker.createQueue("b", {}),
    context.broker.createQueue("b", {}),
  ]);
  assert.deepEqual(twice.map((result) => result.created).sort(), [false, true]);
  await context.broker.deleteQueue("b");
  context.replica.setAvailable(false);
  await assert.rejects(() => context.broker.createQueue("c", {}), { code: "NotReady" });
  context.replica.setAvailable(true);
  assert.equal((await context.broker.createQueue("d", {})).created, true);
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

/** A receive's rejection as past parkedReceivesMax: 503 NotReady, retry after 1 s. */
const pastParkedMax = (error: unknown) =>
  error instanceof BrokerError && error.code === "NotReady" && error.retryAfterSeconds === 1;

Deno.test("one key's long polls hold at most its share of parkedReceivesMax; past it they are answered as past the bound while other keys still park", async () => {
  const context = memoryEngine({ parkedReceivesMax: 4, parkedReceivesKeyShare: 0.5 });
  const { broker, clock, replica } = context;
  await broker.createQueue("busy", {});
  await broker.createQueue("jobs", {});
  const poll = (queue: string, keyId: string) =>
    broker.receiveMessages(queue, { waitSeconds: 20 }, undefined, { keyId });
  const runaway = [poll("busy", "A"), poll("busy", "A")];
  await flush();
  assert.equal(broker.parkedReceivers, 2);
  const before = replica.lastIndex;
  await assert.rejects(poll("busy", "A"), (error: unknown) => {
    assert.ok(pastParkedMax(error), String(error));
    assert.match((error as Error).message, /key 'A' already has 2 receives waiting/);
    return true;
  });
  assert.equal(replica.lastIndex, before, "a refused receive proposed something");
  // Key A's receive that carries deletes still deletes, and answers that without waiting.
  await broker.sendMessages("busy", [{ body: "done" }]);
  await flush(); // the send took one of A's parked receives along
  const [taken] = await Promise.race(runaway).then((answer) => answer.messages);
  runaway.push(poll("busy", "A"));
  await flush();
  assert.equal(broker.parkedReceivers, 2);
  const deleting = broker.receiveMessages(
    "busy",
    { waitSeconds: 20, deleteReceiptHandles: [taken.receiptHandle] },
    undefined,
    { keyId: "A" },
  );
  await flush();
  assert.equal(broker.parkedReceivers, 2, "a receive of key A parked past its share");
  assert.deepEqual(await deleting, { messages: [], deleted: 1, failures: [] });
  // Key B still parks, and gets the message sent later.
  const other = poll("jobs", "B");
  await flush();
  assert.equal(broker.parkedReceivers, 3);
  await broker.sendMessages("jobs", [{ body: "for B" }]);
  assert.deepEqual((await other).messages.map((message) => message.body), ["for B"]);
  // The bound of the node still holds for everyone: B fills it, then B is refused too.
  const fill = [poll("jobs", "B"), poll("jobs", "C")];
  await flush();
  assert.equal(broker.parkedReceivers, 4);
  await assert.rejects(poll("jobs", "C"), pastParkedMax);
  // Once A's polls answered, A parks again.
  clock.advance(20_000);
  await Promise.all([...runaway, ...fill]);
  assert.equal(broker.parkedReceivers, 0);
  const again = poll("busy", "A");
  await flush();
  assert.equal(broker.parkedReceivers, 1);
  clock.advance(20_000);
  await again;
});

Deno.test("receives without a key (no credentials) park up to parkedReceivesMax whatever the key share", async () => {
  const { broker, clock } = memoryEngine({ parkedReceivesMax: 4, parkedReceivesKeyShare: 0.5 });
  await broker.createQueue("jobs", {});
  const parked = [1, 2, 3, 4].map(() => broker.receiveMessages("jobs", { waitSeconds: 20 }));
  await flush();
  assert.equal(broker.parkedReceivers, 4);
  await assert.rejects(broker.receiveMessages("jobs", { waitSeconds: 20 }), pastParkedMax);
  clock.advance(20_000);
  await Promise.all(parked);
});

Deno.test("by default one key parks at most 80 % of parkedReceivesMax", async () => {
  const { broker, clock } = memoryEngine({ parkedReceivesMax: 10 });
  await broker.createQueue("jobs", {});
  const poll = (keyId: string) =>
    broker.receiveMessages("jobs", { waitSeconds: 20 }, undefined, { keyId });
  const parked = Array.from({ length: 8 }, () => poll("A"));
  await flush();
  assert.equal(broker.parkedReceivers, 8);
  await assert.rejects(poll("A"), pastParkedMax);
  parked.push(poll("B"), poll("B"));
  await flush();
  assert.equal(broker.parkedReceivers, 10);
  clock.advance(20_000);
  await Promise.all(parked);
});

Deno.test("a key share outside (0, 1] is refused", () => {
  for (const share of [0, -0.5, 1.5, NaN]) {
    assert.throws(() => memoryEngine({ parkedReceivesKeyShare: share }), RangeError);
  }
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

Deno.test("topic creates sent at once count those under way: 50 under topicsMax 5 make 5, the rest are 429 and propose nothing", async () => {
  const context = memoryEngine({ topicsMax: 5 });
  const before = context.replica.lastIndex;
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, index) => context.topics.createTopic(`t${index}`, {})),
  );
  const refused = results.filter((result) =>
    result.status === "rejected" && result.reason instanceof BrokerError &&
    result.reason.code === "TopicLimitExceeded"
  );
  assert.equal(refused.length, 45);
  assert.equal(context.replica.machine.topics.topicCount, 5);
  assert.equal(context.replica.lastIndex - before, 5);
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
