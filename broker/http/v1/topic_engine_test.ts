/**
 * The "Topics" semantics of the API contract as a client sees them over HTTP: the real engine (queue and topic
 * services over a `MemoryReplica` with a manual clock) behind `createApp`, through
 * `app.request()`.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus, jsonRequest } from "../testing/mod.ts";

function setup() {
  const { clock, replica, broker, topics } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
  });
  async function call(method: string, path: string, body?: unknown) {
    const init = body === undefined ? { method } : jsonRequest(method, body);
    const response = await app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
  }
  async function ok(method: string, path: string, body?: unknown) {
    const answer = await call(method, path, body);
    assert.ok(answer.status < 300, `${method} ${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
  /** Receives (and deletes) everything visible in `queue`; answers the bodies in order. */
  async function drain(queue: string): Promise<string[]> {
    const { messages } = await ok("POST", `/v1/queues/${queue}/messages/receive`, {
      maxMessages: 256,
    });
    if (messages.length > 0) {
      await ok("POST", `/v1/queues/${queue}/messages/delete`, {
        receiptHandles: messages.map((message: { receiptHandle: string }) => message.receiptHandle),
      });
    }
    return messages.map((message: { body: string }) => message.body);
  }
  async function publish(topic: string, messages: unknown[]) {
    return await ok("POST", `/v1/topics/${topic}/messages`, { messages });
  }
  return { clock, replica, topics, call, ok, drain, publish };
}

Deno.test("topics: create 201, again 200, conflict 409, list, get, patch, delete 204", async () => {
  const { call, ok } = setup();
  const created = await call("PUT", "/v1/topics/payments", { retentionSeconds: 3600 });
  assert.equal(created.status, 201);
  assert.deepEqual(
    { ...created.body, createdAt: 0, modifiedAt: 0 },
    {
      name: "payments",
      filterType: "tag",
      maxMessageBytes: 65536,
      retentionSeconds: 3600,
      createdAt: 0,
      modifiedAt: 0,
      subscriptions: 0,
      publishedMessages: 0,
    },
  );
  assert.equal((await call("PUT", "/v1/topics/payments", { retentionSeconds: 3600 })).status, 200);
  const conflict = await call("PUT", "/v1/topics/payments", { filterType: "routingKey" });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, "TopicAlreadyExists");
  await ok("PUT", "/v1/topics/orders");
  await ok("PUT", "/v1/topics/orders-eu", { filterType: "routingKey" });
  const page = await ok("GET", "/v1/topics?prefix=orders&offset=1&limit=1");
  assert.equal(page.total, 2);
  assert.deepEqual(page.topics.map((topic: { name: string }) => topic.name), ["orders-eu"]);
  const patched = await ok("PATCH", "/v1/topics/payments", { maxMessageBytes: 2048 });
  assert.equal(patched.maxMessageBytes, 2048);
  assert.equal(patched.retentionSeconds, 3600);
  assert.equal((await call("DELETE", "/v1/topics/payments")).status, 204);
  assert.equal((await call("GET", "/v1/topics/payments")).body.error.code, "TopicNotFound");
});

Deno.test("subscriptions: create 201, again 200, conflict 409, list, get, patch, delete 204", async () => {
  const { call, ok } = setup();
  await ok("PUT", "/v1/queues/risk");
  await ok("PUT", "/v1/topics/payments");
  const path = "/v1/topics/payments/subscriptions/risk";
  const created = await call("PUT", path, { endpoint: { queue: "risk" }, filterTags: ["paid"] });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.endpoint, { queue: "risk" });
  assert.equal(created.body.retryPolicy, undefined, "queue endpoints have no retry policy");
  const again = await call("PUT", path, { endpoint: { queue: "risk" }, filterTags: ["paid"] });
  assert.equal(again.status, 200);
  const conflict = await call("PUT", path, { endpoint: { queue: "risk" } });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, "SubscriptionAlreadyExists");
  const hook = await ok("PUT", "/v1/topics/payments/subscriptions/merchant", {
    endpoint: { url: "https://merchant.example/notify" },
  });
  assert.equal(hook.retryPolicy, "exponentialDecay");
  assert.equal(hook.format, "json");
  assert.equal(hook.pendingMessages, 0);
  const list = await ok("GET", "/v1/topics/payments/subscriptions");
  assert.deepEqual(list.subscriptions.map((s: { name: string }) => s.name), ["merchant", "risk"]);
  assert.equal((await ok("GET", "/v1/topics/payments")).subscriptions, 2);
  const patched = await ok("PATCH", "/v1/topics/payments/subscriptions/merchant", {
    retryPolicy: "backoff",
    format: "simplified",
  });
  assert.equal(patched.retryPolicy, "backoff");
  assert.equal(patched.format, "simplified");
  const cleared = await ok("PATCH", path, { filterTags: [] });
  assert.deepEqual(cleared.filterTags, []);
  assert.equal((await call("DELETE", path)).status, 204);
  assert.equal((await call("GET", path)).body.error.code, "SubscriptionNotFound");
});

Deno.test("tag filters: sets intersect, no filterTags takes all, untagged skips filtered ones", async () => {
  const { ok, drain, publish } = setup();
  await ok("PUT", "/v1/topics/t");
  const subscriptions: [string, string[] | undefined][] = [
    ["all", undefined],
    ["empty", []],
    ["paid", ["paid"]],
    ["either", ["paid", "refunded"]],
    ["twice", ["vip", "vip"]],
  ];
  for (const [name, filterTags] of subscriptions) {
    await ok("PUT", `/v1/queues/${name}`);
    await ok("PUT", `/v1/topics/t/subscriptions/${name}`, {
      endpoint: { queue: name },
      filterTags,
    });
  }
  const published = await publish("t", [
    { body: "untagged" },
    { body: "paid", tags: ["paid"] },
    { body: "refunded", tags: ["refunded"] },
    { body: "paid-vip", tags: ["paid", "vip"] },
    { body: "other", tags: ["other"] },
  ]);
  assert.deepEqual(
    published.messages.map((message: { fannedOut: number }) => message.fannedOut),
    [2, 4, 3, 5, 2],
  );
  assert.deepEqual(await drain("all"), ["untagged", "paid", "refunded", "paid-vip", "other"]);
  assert.deepEqual(await drain("empty"), ["untagged", "paid", "refunded", "paid-vip", "other"]);
  assert.deepEqual(await drain("paid"), ["paid", "paid-vip"]);
  assert.deepEqual(await drain("either"), ["paid", "refunded", "paid-vip"]);
  assert.deepEqual(await drain("twice"), ["paid-vip"], "a subscription takes a message once");
});

Deno.test("routing keys: '*' is one word, '#' zero or more, no binding keys takes all", async () => {
  const { ok, drain, publish } = setup();
  await ok("PUT", "/v1/topics/k", { filterType: "routingKey" });
  const subscriptions: [string, string[] | undefined][] = [
    ["star", ["orders.*"]],
    ["hash", ["orders.#"]],
    ["middle", ["*.eu.#"]],
    ["exact", ["orders.eu.paid"]],
    ["everything", ["#"]],
    ["unbound", undefined],
    ["two", ["orders.*", "orders.eu.*"]],
  ];
  for (const [name, bindingKeys] of subscriptions) {
    await ok("PUT", `/v1/queues/${name}`);
    await ok("PUT", `/v1/topics/k/subscriptions/${name}`, {
      endpoint: { queue: name },
      bindingKeys,
    });
  }
  await publish("k", [
    { body: "orders", routingKey: "orders" },
    { body: "orders.eu", routingKey: "orders.eu" },
    { body: "orders.eu.paid", routingKey: "orders.eu.paid" },
    { body: "users.eu", routingKey: "users.eu" },
    { body: "none" },
  ]);
  assert.deepEqual(await drain("star"), ["orders.eu"]);
  assert.deepEqual(await drain("hash"), ["orders", "orders.eu", "orders.eu.paid"]);
  assert.deepEqual(await drain("middle"), ["orders.eu", "orders.eu.paid", "users.eu"]);
  assert.deepEqual(await drain("exact"), ["orders.eu.paid"]);
  const all = ["orders", "orders.eu", "orders.eu.paid", "users.eu", "none"];
  assert.deepEqual(await drain("everything"), all);
  assert.deepEqual(await drain("unbound"), all);
  assert.deepEqual(await drain("two"), ["orders.eu", "orders.eu.paid"]);
});

Deno.test("fan-out counts and per-destination limits are reported, never dropped silently", async () => {
  const { ok, drain, publish } = setup();
  await ok("PUT", "/v1/queues/small", { maxBacklog: 2 });
  await ok("PUT", "/v1/queues/tiny", { maxMessageBytes: 1024 });
  await ok("PUT", "/v1/queues/roomy");
  await ok("PUT", "/v1/topics/t");
  for (const name of ["small", "tiny", "roomy"]) {
    await ok("PUT", `/v1/topics/t/subscriptions/${name}`, { endpoint: { queue: name } });
  }
  const result = await publish("t", [
    { body: "a" },
    { body: "b" },
    { body: "c" },
    { body: "x".repeat(2000) },
  ]);
  const summary = result.messages.map((message: {
    fannedOut: number;
    failures: { subscription: string; code: string }[];
  }) => [message.fannedOut, message.failures.map((f) => `${f.subscription}:${f.code}`)]);
  assert.deepEqual(summary, [
    [3, []],
    [3, []],
    [2, ["small:BacklogFull"]],
    [1, ["small:BacklogFull", "tiny:MessageTooLarge"]],
  ]);
  assert.deepEqual(await drain("small"), ["a", "b"]);
  assert.equal((await drain("roomy")).length, 4);
  const small = await ok("GET", "/v1/topics/t/subscriptions/small");
  assert.equal(small.deliveredMessages, 2);
  assert.equal(small.failedMessages, 2);
  assert.equal((await ok("GET", "/v1/topics/t")).publishedMessages, 4);
});

Deno.test("a queue copy keeps the message's attributes and gets the queue's own id", async () => {
  const { ok, publish } = setup();
  await ok("PUT", "/v1/queues/q");
  await ok("PUT", "/v1/topics/t");
  await ok("PUT", "/v1/topics/t/subscriptions/s", { endpoint: { queue: "q" } });
  const published = await publish("t", [{ body: "hello", attributes: { shop: "7" } }]);
  const { messages } = await ok("POST", "/v1/queues/q/messages/receive", {});
  assert.equal(messages[0].body, "hello");
  assert.deepEqual(messages[0].attributes, { shop: "7" });
  assert.notEqual(messages[0].id, published.messages[0].id);
});

Deno.test("a FIFO queue's copies join its queue-wide group: in publish order, one in flight, visible at once", async () => {
  const { ok, publish } = setup();
  await ok("PUT", "/v1/queues/f", { fifo: true });
  await ok("PUT", "/v1/topics/t");
  await ok("PUT", "/v1/topics/t/subscriptions/s", { endpoint: { queue: "f" } });
  await ok("POST", "/v1/queues/f/messages", { messages: [{ body: "sent" }] });
  await publish("t", [{ body: "p1" }, { body: "p2" }]);
  await publish("t", [{ body: "p3" }]);
  await ok("POST", "/v1/queues/f/messages", { messages: [{ body: "g1", groupId: "g" }] });
  const receive = async () => {
    const { messages } = await ok("POST", "/v1/queues/f/messages/receive", { maxMessages: 10 });
    return messages as { body: string; receiptHandle: string }[];
  };
  // One head per group: the queue-wide group (a send without groupId, then the copies) and "g".
  const rounds: string[][] = [];
  for (let round = 0; round < 4; round++) {
    const messages = await receive();
    rounds.push(messages.map((message) => message.body));
    if (messages.length === 0) break;
    // Nothing more of a group while its head is in flight.
    assert.deepEqual(await receive(), []);
    await ok("POST", "/v1/queues/f/messages/delete", {
      receiptHandles: messages.map((message) => message.receiptHandle),
    });
  }
  assert.deepEqual(rounds, [["sent", "g1"], ["p1"], ["p2"], ["p3"]]);
});

Deno.test("deleting a subscription or topic while pushes are pending forgets them; queue copies stay", async () => {
  const { ok, call, drain, publish, topics } = setup();
  await ok("PUT", "/v1/queues/q");
  await ok("PUT", "/v1/topics/t");
  await ok("PUT", "/v1/topics/t/subscriptions/copy", { endpoint: { queue: "q" } });
  await ok("PUT", "/v1/topics/t/subscriptions/hook", { endpoint: { url: "http://hook.test/" } });
  await publish("t", [{ body: "1" }, { body: "2" }]);
  assert.equal((await ok("GET", "/v1/topics/t/subscriptions/hook")).pendingMessages, 2);
  assert.equal(topics.pushTargets().length, 1);
  assert.equal((await call("DELETE", "/v1/topics/t/subscriptions/hook")).status, 204);
  assert.deepEqual(topics.pushTargets(), []);
  await ok("PUT", "/v1/topics/t/subscriptions/hook", { endpoint: { url: "http://hook.test/" } });
  assert.equal((await ok("GET", "/v1/topics/t/subscriptions/hook")).pendingMessages, 0);
  await publish("t", [{ body: "3" }]);
  assert.equal((await call("DELETE", "/v1/topics/t")).status, 204);
  assert.equal(topics.nextPushAt(), null);
  assert.deepEqual(await drain("q"), ["1", "2", "3"], "copies already enqueued stay");
  await ok("PUT", "/v1/topics/t");
  assert.deepEqual((await ok("GET", "/v1/topics/t")).publishedMessages, 0);
});

Deno.test("a URL subscription shows pending count, last error and next attempt", async () => {
  const { ok, publish, topics, clock } = setup();
  await ok("PUT", "/v1/topics/t");
  await ok("PUT", "/v1/topics/t/subscriptions/hook", { endpoint: { url: "http://hook.test/" } });
  await publish("t", [{ body: "1" }, { body: "2" }]);
  const [target] = topics.pushTargets();
  const due = topics.duePushes(target, clock.now(), { limit: 10, skip: () => false });
  assert.deepEqual(due.map((push) => [push.body, push.attempt]), [["1", 0], ["2", 0]]);
  await topics.recordPushOutcomes(due.map((push, index) => ({
    topic: "t",
    subscription: "hook",
    subscriptionIncarnation: target.subscriptionIncarnation,
    sequence: push.sequence,
    attempt: push.attempt,
    ok: index === 0,
    error: index === 0 ? "" : "HTTP 502 from http://hook.test/",
  })));
  const view = await ok("GET", "/v1/topics/t/subscriptions/hook");
  assert.equal(view.pendingMessages, 1);
  assert.equal(view.deliveredMessages, 1);
  assert.deepEqual(view.lastError, { at: clock.now(), message: "HTTP 502 from http://hook.test/" });
  assert.equal(view.nextAttemptAt, clock.now() + 1000);
  assert.deepEqual(view.push, { pushed: 1, failures: 1, retries: 1, dropped: 0, expired: 0 });
});

Deno.test("the OpenAPI document describes every topic route, and other methods get 405", async () => {
  const { call } = setup();
  const document = (await call("GET", "/openapi.json")).body;
  const methods = (path: string) => Object.keys(document.paths[path] ?? {}).sort();
  assert.deepEqual(methods("/v1/topics"), ["get"]);
  assert.deepEqual(methods("/v1/topics/{topic}"), ["delete", "get", "patch", "put"]);
  assert.deepEqual(methods("/v1/topics/{topic}/messages"), ["post"]);
  assert.deepEqual(methods("/v1/topics/{topic}/subscriptions"), ["get"]);
  assert.deepEqual(methods("/v1/topics/{topic}/subscriptions/{subscription}"), [
    "delete",
    "get",
    "patch",
    "put",
  ]);
  for (const schema of ["Topic", "Subscription", "PublishRequest", "PublishResponse"]) {
    assert.ok(document.components.schemas[schema], schema);
  }
  const wrong = await call("POST", "/v1/topics/payments");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.body.error.code, "MethodNotAllowed");
});
