import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import {
  CommandType,
  type SubscriptionAttributesInput,
  type TopicAttributesInput,
} from "./types.ts";
import { encodeCreateQueue, encodeQueueCommand, encodeReceiveBatch } from "./commands.ts";
import {
  encodePublishBatch,
  encodePushResults,
  encodeTopicCommand,
  type PublishCommandMessage,
  type PushOutcome,
} from "./topic_commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { resolveTopicCreate } from "./topic_attributes.ts";
import type { PublishResult, PushResultsResult } from "./topic_publish.ts";
import type { ReceiveResult } from "./command_results.ts";
import { messageReaderFor } from "./message_readers.ts";
import { fromUtf8 } from "./binary.ts";
import type { AppliedEntry } from "./types.ts";

/** Applies commands to a machine, keeping the log so bodies can be read back. */
class Driver {
  machine = new StateMachine();
  log: AppliedEntry[] = [];
  now = 1_700_000_000_000;

  apply(type: number, payload: Uint8Array): unknown {
    const entry = { index: this.log.length + 1, timestamp: this.now, type, payload };
    this.log.push(entry);
    return this.machine.apply(entry);
  }
  queue(name: string, attributes: Record<string, unknown> = {}): unknown {
    return this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue: name, attributes: resolveCreate(attributes), salt: 3 }),
    );
  }
  topic(name: string, attributes: TopicAttributesInput = {}): unknown {
    return this.apply(
      CommandType.CreateTopic,
      encodeTopicCommand({ topic: name, attributes: resolveTopicCreate(attributes) }),
    );
  }
  subscribe(topic: string, subscription: string, attributes: SubscriptionAttributesInput) {
    return this.apply(
      CommandType.Subscribe,
      encodeTopicCommand({ topic, subscription, attributes }),
    );
  }
  publish(topic: string, messages: PublishCommandMessage[]): PublishResult | BrokerError {
    return this.apply(CommandType.PublishBatch, encodePublishBatch({ topic, messages })) as
      | PublishResult
      | BrokerError;
  }
  results(outcomes: PushOutcome[]): PushResultsResult | BrokerError {
    return this.apply(CommandType.PushResults, encodePushResults(outcomes)) as PushResultsResult;
  }
  receiveBodies(queue: string): string[] {
    const result = this.apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue,
        maxMessages: 256,
        visibilityTimeoutSeconds: 60,
        deleteHandles: [],
      }),
    ) as ReceiveResult;
    return result.messages.map((delivery) =>
      fromUtf8(messageReaderFor(this.log[delivery.logIndex - 1]).message(delivery.slot).bodyBytes)
    );
  }
}

/** The `created` flag of a Subscribe's apply result. */
function created(result: unknown): boolean {
  return (result as { created: boolean }).created;
}

function paymentSetup(): Driver {
  const driver = new Driver();
  driver.queue("risk");
  driver.queue("marketing");
  driver.topic("payments");
  driver.subscribe("payments", "risk", { endpoint: { queue: "risk" }, filterTags: ["paid"] });
  driver.subscribe("payments", "marketing", {
    endpoint: { queue: "marketing" },
    filterTags: ["paid", "refunded"],
  });
  driver.subscribe("payments", "merchant", { endpoint: { url: "http://merchant.test/cb" } });
  return driver;
}

Deno.test("a publish fans out to every matching queue and URL subscription in one entry", () => {
  const driver = paymentSetup();
  const result = driver.publish("payments", [
    { body: "order 1 paid", tags: ["paid"] },
    { body: "order 2 refunded", tags: ["refunded"] },
    { body: "order 3 untagged" },
  ]) as PublishResult;
  assert.deepEqual(result.messages.map((message) => message.fannedOut), [3, 2, 1]);
  assert.deepEqual(result.messages.map((message) => message.failures), [[], [], []]);
  assert.equal(result.pushesAdded, 3);
  assert.deepEqual(driver.receiveBodies("risk"), ["order 1 paid"]);
  assert.deepEqual(driver.receiveBodies("marketing"), ["order 1 paid", "order 2 refunded"]);
  const merchant = driver.machine.topics.getSubscription("payments", "merchant")!;
  assert.equal(merchant.pendingMessages, 3);
  assert.equal(merchant.nextAttemptAt, driver.now);
  const risk = driver.machine.topics.getSubscription("payments", "risk")!;
  assert.equal(risk.deliveredMessages, 1);
  assert.equal(driver.machine.topics.getTopic("payments")!.publishedMessages, 3);
});

Deno.test("message ids are made of the topic's create index and the publish sequence", () => {
  const driver = paymentSetup();
  const result = driver.publish("payments", [{ body: "a" }, { body: "b" }]) as PublishResult;
  const topicIndex = 3;
  assert.deepEqual(result.messages.map((message) => message.id), [
    topicIndex.toString(16).padStart(12, "0") + "000000000001",
    topicIndex.toString(16).padStart(12, "0") + "000000000002",
  ]);
});

Deno.test("a full destination is reported per subscription and the others still get the copy", () => {
  const driver = new Driver();
  driver.queue("small", { maxBacklog: 1 });
  driver.queue("big");
  driver.topic("events");
  driver.subscribe("events", "a", { endpoint: { queue: "small" } });
  driver.subscribe("events", "b", { endpoint: { queue: "big" } });
  const result = driver.publish("events", [{ body: "one" }, { body: "two" }]) as PublishResult;
  assert.equal(result.messages[0].fannedOut, 2);
  assert.equal(result.messages[1].fannedOut, 1);
  assert.equal(result.messages[1].failures.length, 1);
  assert.equal(result.messages[1].failures[0].subscription, "a");
  assert.equal(result.messages[1].failures[0].code, "BacklogFull");
  assert.deepEqual(driver.receiveBodies("big"), ["one", "two"]);
  assert.equal(driver.machine.topics.getSubscription("events", "a")!.failedMessages, 1);
});

Deno.test("a copy over the destination queue's maxMessageBytes is refused for that queue only", () => {
  const driver = new Driver();
  driver.queue("tiny", { maxMessageBytes: 1024 });
  driver.queue("roomy");
  driver.topic("events");
  driver.subscribe("events", "tiny", { endpoint: { queue: "tiny" } });
  driver.subscribe("events", "roomy", { endpoint: { queue: "roomy" } });
  const result = driver.publish("events", [{ body: "x".repeat(2000) }]) as PublishResult;
  assert.deepEqual(result.messages[0].failures.map((failure) => failure.code), [
    "MessageTooLarge",
  ]);
  assert.equal(result.messages[0].fannedOut, 1);
});

Deno.test("a deleted destination queue is reported as QueueNotFound at publish", () => {
  const driver = new Driver();
  driver.queue("gone");
  driver.topic("events");
  driver.subscribe("events", "gone", { endpoint: { queue: "gone" } });
  driver.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: "gone" }));
  const result = driver.publish("events", [{ body: "x" }]) as PublishResult;
  assert.equal(result.messages[0].failures[0].code, "QueueNotFound");
});

Deno.test("a refused publish changes nothing", () => {
  const driver = paymentSetup();
  const before = driver.machine.snapshot();
  const tooLarge = driver.publish("payments", [{ body: "ok" }, { body: "x".repeat(70_000) }]);
  assert.ok(tooLarge instanceof BrokerError);
  assert.equal(tooLarge.code, "MessageTooLarge");
  assert.equal(tooLarge.field, "messages.1.body");
  const badTag = driver.publish("payments", [{ body: "ok", tags: ["a".repeat(17)] }]);
  assert.ok(badTag instanceof BrokerError);
  assert.equal(badTag.field, "messages.0.tags.0");
  const wrongKind = driver.publish("payments", [{ body: "ok", routingKey: "a.b" }]);
  assert.ok(wrongKind instanceof BrokerError);
  assert.equal(wrongKind.field, "messages.0.routingKey");
  const missing = driver.publish("nope", [{ body: "ok" }]);
  assert.ok(missing instanceof BrokerError && missing.code === "TopicNotFound");
  const after = driver.machine.snapshot();
  // Only the applied index differs between the two images.
  assert.deepEqual(after.subarray(13), before.subarray(13));
});

Deno.test("routing-key topics match binding keys like a RabbitMQ topic exchange", () => {
  const driver = new Driver();
  for (const name of ["eu", "created", "all"]) driver.queue(name);
  driver.topic("orders", { filterType: "routingKey" });
  driver.subscribe("orders", "eu", { endpoint: { queue: "eu" }, bindingKeys: ["orders.eu.*"] });
  driver.subscribe("orders", "created", {
    endpoint: { queue: "created" },
    bindingKeys: ["#.created", "orders.*.created"],
  });
  driver.subscribe("orders", "all", { endpoint: { queue: "all" } });
  driver.publish("orders", [
    { body: "1", routingKey: "orders.eu.created" },
    { body: "2", routingKey: "orders.us.created" },
    { body: "3", routingKey: "orders.eu.paid" },
    { body: "4" },
  ]);
  assert.deepEqual(driver.receiveBodies("eu"), ["1", "3"]);
  assert.deepEqual(driver.receiveBodies("created"), ["1", "2"]);
  assert.deepEqual(driver.receiveBodies("all"), ["1", "2", "3", "4"]);
});

Deno.test("push outcomes: success removes, failure reschedules, stale outcomes change nothing", () => {
  const driver = paymentSetup();
  driver.publish("payments", [{ body: "a" }, { body: "b" }]);
  const merchant = driver.machine.topics.getSubscription("payments", "merchant")!;
  const target = driver.machine.topics.pushTargets()[0];
  assert.equal(target.subscription, "merchant");
  const base = {
    topic: "payments",
    subscription: "merchant",
    subscriptionIncarnation: target.subscriptionIncarnation,
  };
  driver.now += 100;
  const first = driver.results([
    { ...base, sequence: 1, attempt: 0, ok: true, error: "" },
    { ...base, sequence: 2, attempt: 0, ok: false, error: "HTTP 500" },
  ]) as PushResultsResult;
  assert.deepEqual(first, { applied: 2, stale: 0 });
  const after = driver.machine.topics.getSubscription("payments", "merchant")!;
  assert.equal(after.pendingMessages, 1);
  assert.equal(after.nextAttemptAt, driver.now + 1000);
  assert.deepEqual(after.lastError, { at: driver.now, message: "HTTP 500" });
  assert.deepEqual(after.push, { pushed: 1, failures: 1, retries: 1, dropped: 0, expired: 0 });
  assert.equal(merchant.deliveredMessages, 0);
  assert.equal(after.deliveredMessages, 1);
  // The same outcomes again (an old leader's, replayed): stale.
  const again = driver.results([
    { ...base, sequence: 1, attempt: 0, ok: true, error: "" },
    { ...base, sequence: 2, attempt: 0, ok: true, error: "" },
    { ...base, subscriptionIncarnation: 999, sequence: 2, attempt: 1, ok: true, error: "" },
  ]) as PushResultsResult;
  assert.deepEqual(again, { applied: 0, stale: 3 });
  assert.deepEqual(
    driver.machine.topics.duePushes(target, driver.now, { limit: 10, skip: () => false }),
    [],
  );
  const due = driver.machine.topics.duePushes(target, driver.now + 1000, {
    limit: 10,
    skip: () => false,
  });
  assert.deepEqual(due.map((push) => [push.sequence, push.attempts]), [[2, 1]]);
});

Deno.test("backoff gives up after three retries 10 to 20 s apart and counts the drop", () => {
  const driver = new Driver();
  driver.topic("t");
  driver.subscribe("t", "hook", {
    endpoint: { url: "https://hook.test/" },
    retryPolicy: "backoff",
  });
  driver.publish("t", [{ body: "x" }]);
  const target = driver.machine.topics.pushTargets()[0];
  const base = {
    topic: "t",
    subscription: "hook",
    subscriptionIncarnation: target.subscriptionIncarnation,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    driver.results([{ ...base, sequence: 1, attempt, ok: false, error: "timeout" }]);
    const view = driver.machine.topics.getSubscription("t", "hook")!;
    const delay = view.nextAttemptAt! - driver.now;
    assert.ok(delay >= 10_000 && delay <= 20_000, `delay ${delay}`);
    driver.now = view.nextAttemptAt!;
  }
  driver.results([{ ...base, sequence: 1, attempt: 3, ok: false, error: "timeout" }]);
  const view = driver.machine.topics.getSubscription("t", "hook")!;
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.failedMessages, 1);
  assert.deepEqual(view.push, { pushed: 0, failures: 4, retries: 3, dropped: 1, expired: 0 });
});

Deno.test("pending pushes older than the topic's retention are dropped by a Tick", () => {
  const driver = new Driver();
  driver.topic("t", { retentionSeconds: 60 });
  driver.subscribe("t", "hook", { endpoint: { url: "https://hook.test/" } });
  driver.publish("t", [{ body: "x" }]);
  assert.equal(driver.machine.needsTick(driver.now + 59_999), false);
  assert.equal(driver.machine.needsTick(driver.now + 60_000), true);
  driver.now += 60_000;
  driver.apply(CommandType.Tick, new Uint8Array(0));
  const view = driver.machine.topics.getSubscription("t", "hook")!;
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.push!.expired, 1);
  assert.equal(driver.machine.needsTick(driver.now), false);
});

Deno.test("pending pushes keep their publish entry referenced until they are settled", () => {
  const driver = paymentSetup();
  driver.publish("payments", [{ body: "untagged: only the merchant takes it" }]);
  const publishIndex = driver.log.length;
  assert.equal(driver.machine.lowestReferencedIndex(), publishIndex);
  driver.apply(
    CommandType.Unsubscribe,
    encodeTopicCommand({ topic: "payments", subscription: "merchant" }),
  );
  assert.equal(driver.machine.lowestReferencedIndex(), driver.log.length + 1);
});

Deno.test("queue copies keep their publish entry referenced like sent messages", () => {
  const driver = paymentSetup();
  driver.publish("payments", [{ body: "paid", tags: ["paid"] }]);
  const publishIndex = driver.log.length;
  driver.apply(
    CommandType.Unsubscribe,
    encodeTopicCommand({ topic: "payments", subscription: "merchant" }),
  );
  assert.equal(driver.machine.lowestReferencedIndex(), publishIndex);
});

Deno.test("deleting a topic or a subscription forgets its pending pushes", () => {
  const driver = paymentSetup();
  driver.publish("payments", [{ body: "a" }]);
  const target = driver.machine.topics.pushTargets()[0];
  driver.apply(
    CommandType.Unsubscribe,
    encodeTopicCommand({ topic: "payments", subscription: "merchant" }),
  );
  assert.deepEqual(driver.machine.topics.pushTargets(), []);
  assert.equal(driver.machine.topics.nextPushAt(), null);
  const late = driver.results([{
    topic: "payments",
    subscription: "merchant",
    subscriptionIncarnation: target.subscriptionIncarnation,
    sequence: 1,
    attempt: 0,
    ok: true,
    error: "",
  }]);
  assert.deepEqual(late, { applied: 0, stale: 1 });
  driver.apply(CommandType.DeleteTopic, encodeTopicCommand({ topic: "payments" }));
  assert.equal(driver.machine.topics.getTopic("payments"), undefined);
});

Deno.test("topic create is idempotent with equal attributes and refuses different ones", () => {
  const driver = new Driver();
  assert.equal((driver.topic("t") as { created: boolean }).created, true);
  assert.equal((driver.topic("t") as { created: boolean }).created, false);
  const conflict = driver.topic("t", { filterType: "routingKey" });
  assert.ok(conflict instanceof BrokerError && conflict.code === "TopicAlreadyExists");
  driver.queue("q");
  assert.equal(created(driver.subscribe("t", "s", { endpoint: { queue: "q" } })), true);
  assert.equal(created(driver.subscribe("t", "s", { endpoint: { queue: "q" } })), false);
  const other = driver.subscribe("t", "s", { endpoint: { queue: "q" }, filterTags: ["a"] });
  assert.ok(other instanceof BrokerError && other.code === "SubscriptionAlreadyExists");
});

Deno.test("subscription updates change the filter in the router", () => {
  const driver = new Driver();
  driver.queue("q");
  driver.topic("t");
  driver.subscribe("t", "s", { endpoint: { queue: "q" }, filterTags: ["a"] });
  driver.apply(
    CommandType.UpdateSubscription,
    encodeTopicCommand({ topic: "t", subscription: "s", attributes: { filterTags: ["b"] } }),
  );
  driver.publish("t", [{ body: "1", tags: ["a"] }, { body: "2", tags: ["b"] }]);
  assert.deepEqual(driver.receiveBodies("q"), ["2"]);
  driver.subscribe("t", "z-first", { endpoint: { url: "http://z.test/" } });
  driver.subscribe("t", "a-second", { endpoint: { url: "http://a.test/" } });
  driver.apply(
    CommandType.UpdateSubscription,
    encodeTopicCommand({
      topic: "t",
      subscription: "z-first",
      attributes: { format: "simplified" },
    }),
  );
  // The push targets are the URL subscriptions with pushes pending.
  assert.deepEqual(driver.machine.topics.pushTargets(), []);
  driver.publish("t", [{ body: "3" }]);
  const order = driver.machine.topics.pushTargets().map((target) => target.subscription);
  assert.deepEqual(order, ["z-first", "a-second"], "an update keeps the creation order");
  const immutable = driver.apply(
    CommandType.UpdateSubscription,
    encodeTopicCommand({
      topic: "t",
      subscription: "s",
      attributes: { endpoint: { url: "http://x.test/" } },
    }),
  );
  assert.ok(immutable instanceof BrokerError && immutable.field === "endpoint");
});

Deno.test("a snapshot round-trips topics, subscriptions and pending pushes exactly", () => {
  const driver = paymentSetup();
  driver.topic("keys", { filterType: "routingKey", retentionSeconds: 600 });
  driver.subscribe("keys", "hook", {
    endpoint: { url: "https://hook.test/a" },
    bindingKeys: ["a.#"],
    retryPolicy: "backoff",
    format: "simplified",
  });
  driver.publish("payments", [{ body: "a", tags: ["paid"] }, { body: "b" }]);
  driver.publish("keys", [{ body: "k", routingKey: "a.b" }]);
  const target = driver.machine.topics.pushTargets()[0];
  driver.results([{
    topic: "payments",
    subscription: "merchant",
    subscriptionIncarnation: target.subscriptionIncarnation,
    sequence: 1,
    attempt: 0,
    ok: false,
    error: "HTTP 503",
  }]);
  const image = driver.machine.snapshot();
  const copy = StateMachine.restore(image);
  assert.deepEqual(copy.snapshot(), image);
  assert.deepEqual(
    copy.topics.getSubscription("payments", "merchant"),
    driver.machine.topics.getSubscription("payments", "merchant"),
  );
  assert.deepEqual(
    copy.topics.listTopics({ limit: 10 }),
    driver.machine.topics.listTopics({ limit: 10 }),
  );
  assert.equal(copy.topics.nextPushAt(), driver.machine.topics.nextPushAt());
});

Deno.test("a snapshot written before topics existed still loads", () => {
  // Written by the engine before topics (snapshot version 1): a queue "jobs" with one visible
  // and one delayed message, and one member.
  const v1 = Uint8Array.from(atob(v1Snapshot), (char) => char.charCodeAt(0));
  assert.equal(v1[4], 1);
  const machine = StateMachine.restore(v1);
  assert.equal(machine.appliedIndex, 3);
  const queue = machine.getQueue("jobs", 1_700_000_000_002)!;
  assert.equal(queue.activeMessages, 1);
  assert.equal(queue.delayedMessages, 1);
  assert.deepEqual(machine.members().map((member) => member.id), ["n1"]);
  assert.deepEqual(machine.topics.listTopics({ limit: 10 }), { total: 0, topics: [] });
  assert.equal(machine.snapshot()[4], 2, "what it writes now is version 2");
});

const v1Snapshot =
  "Q01RUwEAAAAAAAAIQAAggFb+vHhCAQAAAAQAam9icwAAAAAAAPA/BwAAAJ4AAAB7InZpc2liaWxpdHlUaW1lb3V0U2Vjb25kcyI6MzAsInBvbGxpbmdXYWl0U2Vjb25kcyI6MCwibWF4TWVzc2FnZUJ5dGVzIjo2NTUzNiwicmV0ZW50aW9uU2Vjb25kcyI6MzQ1NjAwLCJyZXdpbmRTZWNvbmRzIjowLCJtYXhCYWNrbG9nIjoxMDAwMDAwMDAsImZpZm8iOmZhbHNlfQAAgFb+vHhCAACAVv68eEIAAAAAAADwPwAAAAAAAAhAAQEAAAAAAAAAAADwPwAAAAAAAABAABCAVv68eEIAAAAAAAAAAABAAAAAAAEAAAAAAAAAAAAAQAAAkLhX/rx4QgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAADwPwAAAAAAAPA/AAAAAAEAAAACAG4xDgAxMjcuMC4wLjE6OTg3NxUAaHR0cDovLzEyNy4wLjAuMTo5ODc2";

Deno.test("a topic has at most 100 subscriptions; past it a subscribe is InvalidParameter", () => {
  const driver = new Driver();
  driver.queue("q");
  driver.topic("t");
  for (let index = 0; index < 100; index++) {
    assert.equal(created(driver.subscribe("t", `s${index}`, { endpoint: { queue: "q" } })), true);
  }
  const refused = driver.subscribe("t", "s100", { endpoint: { queue: "q" } });
  assert.ok(refused instanceof BrokerError, String(refused));
  assert.equal(refused.code, "InvalidParameter");
  assert.equal(refused.field, "subscription");
  assert.match(refused.message, /topic 't' has 100 subscriptions, the most it may have/);
  assert.equal(driver.machine.topics.getSubscription("t", "s100"), undefined);
  // An existing one may still be subscribed again, and an unsubscribe makes room.
  assert.equal(created(driver.subscribe("t", "s0", { endpoint: { queue: "q" } })), false);
  driver.apply(CommandType.Unsubscribe, encodeTopicCommand({ topic: "t", subscription: "s0" }));
  assert.equal(created(driver.subscribe("t", "s100", { endpoint: { queue: "q" } })), true);
});

Deno.test("a URL subscription holds at most 100,000 pending pushes; past it its copy fails with BacklogFull", () => {
  const driver = new Driver();
  driver.queue("q", { maxBacklog: 1_000_000 });
  driver.topic("t");
  driver.subscribe("t", "hook", { endpoint: { url: "http://sink.test/cb" } });
  driver.subscribe("t", "copy", { endpoint: { queue: "q" } });
  const batch = Array.from({ length: 250 }, () => ({ body: "m" }));
  for (let published = 0; published < 100_000; published += batch.length) {
    const result = driver.publish("t", batch) as PublishResult;
    assert.ok(result.messages.every((message) => message.failures.length === 0), `${published}`);
  }
  const hook = driver.machine.topics.getSubscription("t", "hook")!;
  assert.equal(hook.pendingMessages, 100_000);
  const past = driver.publish("t", [{ body: "one more" }]) as PublishResult;
  assert.equal(past.messages[0].fannedOut, 1, "the queue still gets its copy");
  assert.deepEqual(
    past.messages[0].failures.map((failure) => [failure.subscription, failure.code]),
    [["hook", "BacklogFull"]],
  );
  assert.equal(driver.machine.topics.getSubscription("t", "hook")!.pendingMessages, 100_000);
  assert.equal(driver.machine.topics.getSubscription("t", "hook")!.failedMessages, 1);
  assert.equal(driver.machine.topics.getSubscription("t", "copy")!.deliveredMessages, 100_001);
});
