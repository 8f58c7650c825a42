/**
 * CMQ's topic and subscription actions through the door, against the real engine (queue and
 * topic services over one in-memory replica): each action, numbered-list errors, a publish
 * fanned out to queue subscriptions and received with ReceiveMessage, permission refusals.
 */
import assert from "node:assert/strict";
import { cmqCode, moduleCode } from "./errors.ts";
import { adminKey, ok, sdkSubscribeDefaults, setup } from "./_test_setup.ts";
import type { AccessKey } from "./deps.ts";

Deno.test("CreateTopic, GetTopicAttributes, SetTopicAttributes, ListTopic, DeleteTopic", async () => {
  const { client, clock } = setup({ topics: true });
  const created = ok(await client.call("CreateTopic", { topicName: "payments", filterType: 1 }));
  assert.deepEqual(Object.keys(created), ["code", "message", "requestId", "topicId"]);
  assert.equal(created.topicId, "payments");
  ok(await client.call("CreateTopic", { topicName: "routes", filterType: 2, maxMsgSize: 2048 }));
  const nowSeconds = Math.floor(clock.now() / 1000);
  const attributes = ok(await client.call("GetTopicAttributes", { topicName: "payments" }));
  assert.deepEqual(
    { ...attributes, requestId: "" },
    {
      code: 0,
      message: "",
      requestId: "",
      topicName: "payments",
      msgCount: 0,
      maxMsgSize: 65_536,
      msgRetentionSeconds: 86_400,
      filterType: 1,
      createTime: nowSeconds,
      lastModifyTime: nowSeconds,
    },
  );
  const routes = ok(await client.call("GetTopicAttributes", { topicName: "routes" }));
  assert.equal(routes.filterType, 2);
  assert.equal(routes.maxMsgSize, 2048);

  const set = ok(
    await client.call("SetTopicAttributes", {
      topicName: "payments",
      maxMsgSize: 4096,
      msgRetentionSeconds: 600,
    }),
  );
  assert.equal(set.maxMsgSize, 4096);
  const changed = ok(await client.call("GetTopicAttributes", { topicName: "payments" }));
  assert.equal(changed.maxMsgSize, 4096);
  assert.equal(changed.msgRetentionSeconds, 600);

  const list = ok(await client.call("ListTopic", { searchWord: "pay", limit: 10 }));
  assert.equal(list.totalCount, 1);
  assert.deepEqual(list.topicList, [{ topicId: "payments", topicName: "payments" }]);
  const all = ok(await client.call("ListTopic"));
  assert.equal(all.totalCount, 2);

  ok(await client.call("DeleteTopic", { topicName: "payments" }));
  const gone = await client.call("GetTopicAttributes", { topicName: "payments" });
  assert.equal(gone.body.code, cmqCode.queueNotFound);
});

Deno.test("topic actions refuse bad input with CMQ's codes and change nothing", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateTopic", { topicName: "payments" }));
  await refused(() => client.call("CreateTopic", { topicName: "payments" }), 4460);
  await refused(() => client.call("CreateTopic", {}), 4000, moduleCode.missingParameter);
  await refused(
    () => client.call("CreateTopic", { topicName: "9bad" }),
    4000,
    moduleCode.parameterError,
  );
  await refused(
    () => client.call("CreateTopic", { topicName: "t", filterType: 3 }),
    4000,
    moduleCode.outOfRange,
  );
  await refused(
    () => client.call("CreateTopic", { topicName: "t", maxMsgSize: 10 }),
    4000,
    moduleCode.outOfRange,
  );
  await refused(
    () => client.call("SetTopicAttributes", { topicName: "payments", maxMsgSize: "big" }),
    4000,
    moduleCode.wrongType,
  );
  await refused(() => client.call("GetTopicAttributes", { topicName: "nope" }), 4440);
  await refused(() => client.call("DeleteTopic", { topicName: "nope" }), 4440);
  await refused(() => client.call("ListTopic", { limit: 51 }), 4000, moduleCode.outOfRange);
});

Deno.test("a publish fans out to queue subscriptions by tag; ReceiveMessage gets the copies", async () => {
  const { client } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "paid" }));
  ok(await client.call("CreateQueue", { queueName: "audit" }));
  ok(await client.call("CreateTopic", { topicName: "payments", filterType: 1 }));
  const subscribed = ok(
    await client.call("Subscribe", {
      topicName: "payments",
      subscriptionName: "paid-only",
      protocol: "queue",
      endpoint: "paid",
      "filterTag.1": "paid",
      ...sdkSubscribeDefaults,
    }),
  );
  assert.equal(subscribed.subscriptionId, "paid-only");
  ok(
    await client.call("Subscribe", {
      topicName: "payments",
      subscriptionName: "everything",
      protocol: "queue",
      endpoint: "audit",
      ...sdkSubscribeDefaults,
    }),
  );

  // The Python SDK sends an empty routingKey with every publish.
  const published = ok(
    await client.call("PublishMessage", {
      topicName: "payments",
      msgBody: "order 1 paid",
      "msgTag.1": "paid",
      routingKey: "",
    }),
  );
  assert.equal(typeof published.msgId, "string");
  ok(
    await client.call("PublishMessage", {
      topicName: "payments",
      msgBody: "order 2 refunded",
      "msgTag.1": "refund",
    }),
  );
  const batch = ok(
    await client.call("BatchPublishMessage", {
      topicName: "payments",
      "msgBody.1": "order 3 paid",
      "msgBody.2": "order 4 paid",
      "msgTag.1": "paid",
      routingKey: "",
    }),
  );
  assert.equal((batch.msgList as unknown[]).length, 2);

  const paid = ok(
    await client.call("BatchReceiveMessage", {
      queueName: "paid",
      numOfMsg: 16,
      pollingWaitSeconds: 0,
    }),
  );
  const paidBodies = (paid.msgInfoList as { msgBody: string }[]).map((m) => m.msgBody);
  assert.deepEqual(paidBodies.sort(), ["order 1 paid", "order 3 paid", "order 4 paid"]);
  const first = ok(
    await client.call("ReceiveMessage", { queueName: "audit", pollingWaitSeconds: 0 }),
  );
  assert.equal(first.msgBody, "order 1 paid");
  const audit = ok(
    await client.call("BatchReceiveMessage", {
      queueName: "audit",
      numOfMsg: 16,
      pollingWaitSeconds: 0,
    }),
  );
  assert.equal((audit.msgInfoList as unknown[]).length, 3);
  const topic = ok(await client.call("GetTopicAttributes", { topicName: "payments" }));
  assert.equal(topic.msgCount, 4);
});

Deno.test("a routing-key topic delivers by bindingKey.n", async () => {
  const { client } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "orders", filterType: 2 }));
  ok(
    await client.call("Subscribe", {
      topicName: "orders",
      subscriptionName: "eu",
      protocol: "queue",
      endpoint: "eu",
      "bindingKey.1": "*.eu",
      "bindingKey.2": "vip.#",
      ...sdkSubscribeDefaults,
    }),
  );
  for (const routingKey of ["paid.eu", "paid.us", "vip.us.west"]) {
    ok(
      await client.call("PublishMessage", { topicName: "orders", msgBody: routingKey, routingKey }),
    );
  }
  const received = ok(
    await client.call("BatchReceiveMessage", {
      queueName: "eu",
      numOfMsg: 16,
      pollingWaitSeconds: 0,
    }),
  );
  const bodies = (received.msgInfoList as { msgBody: string }[]).map((m) => m.msgBody);
  assert.deepEqual(bodies.sort(), ["paid.eu", "vip.us.west"]);
  const attributes = ok(
    await client.call("GetSubscriptionAttributes", { topicName: "orders", subscriptionName: "eu" }),
  );
  assert.deepEqual(attributes.bindingKey, ["*.eu", "vip.#"]);
});

Deno.test("BatchPublishMessage takes the C++ SDK's `routingkey` as the routing key", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "eu" }));
  ok(await client.call("CreateTopic", { topicName: "orders", filterType: 2 }));
  ok(
    await client.call("Subscribe", {
      topicName: "orders",
      subscriptionName: "eu",
      protocol: "queue",
      endpoint: "eu",
      "bindingKey.1": "*.eu",
      ...sdkSubscribeDefaults,
    }),
  );
  // What the C++ SDK's Topic::BatchPublishMessage sends.
  for (const routingkey of ["paid.eu", "paid.us"]) {
    ok(
      await client.call("BatchPublishMessage", {
        topicName: "orders",
        routingkey,
        "msgBody.1": `${routingkey}-1`,
        "msgBody.2": `${routingkey}-2`,
      }),
    );
  }
  const received = ok(
    await client.call("BatchReceiveMessage", { queueName: "eu", numOfMsg: 16 }),
  );
  const bodies = (received.msgInfoList as { msgBody: string }[]).map((m) => m.msgBody);
  assert.deepEqual(bodies.sort(), ["paid.eu-1", "paid.eu-2"]);
  // An error names the parameter as sent.
  const tooLong = await refused(
    () =>
      client.call("BatchPublishMessage", {
        topicName: "orders",
        routingkey: "a".repeat(65),
        "msgBody.1": "x",
      }),
    4000,
  );
  assert.match(tooLong.body.message, /^\(\d+\)routingkey: /);
});

Deno.test("Subscribe, ListSubscriptionByTopic, Get/SetSubscriptionAttributes, ClearSubscriptionFilterTags, Unsubscribe", async () => {
  const { client, clock, refused } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "inbox" }));
  ok(await client.call("CreateTopic", { topicName: "payments" }));
  ok(
    await client.call("Subscribe", {
      topicName: "payments",
      subscriptionName: "hook",
      protocol: "http",
      endpoint: "https://merchant.example/notify",
      notifyStrategy: "BACKOFF_RETRY",
      notifyContentFormat: "SIMPLIFIED",
      "filterTag.1": "paid",
      "filterTag.2": "refund",
    }),
  );
  ok(
    await client.call("Subscribe", {
      topicName: "payments",
      subscriptionName: "queue-copy",
      protocol: "queue",
      endpoint: "inbox",
      ...sdkSubscribeDefaults,
    }),
  );
  // The same name again is "exists", as CMQ answers, even with the same attributes.
  await refused(
    () =>
      client.call("Subscribe", {
        topicName: "payments",
        subscriptionName: "queue-copy",
        protocol: "queue",
        endpoint: "inbox",
        ...sdkSubscribeDefaults,
      }),
    4460,
  );

  const list = ok(await client.call("ListSubscriptionByTopic", { topicName: "payments" }));
  assert.equal(list.totalCount, 2);
  assert.deepEqual(list.subscriptionList, [
    {
      subscriptionId: "hook",
      subscriptionName: "hook",
      protocol: "http",
      endpoint: "https://merchant.example/notify",
    },
    {
      subscriptionId: "queue-copy",
      subscriptionName: "queue-copy",
      protocol: "queue",
      endpoint: "inbox",
    },
  ]);
  const paged = ok(
    await client.call("ListSubscriptionByTopic", { topicName: "payments", offset: 1, limit: 1 }),
  );
  assert.deepEqual(
    (paged.subscriptionList as { subscriptionName: string }[])
      .map((s) => s.subscriptionName),
    ["queue-copy"],
  );

  const nowSeconds = Math.floor(clock.now() / 1000);
  const hook = ok(
    await client.call("GetSubscriptionAttributes", {
      topicName: "payments",
      subscriptionName: "hook",
    }),
  );
  assert.deepEqual({ ...hook, requestId: "" }, {
    code: 0,
    message: "",
    requestId: "",
    topicOwner: "0",
    msgCount: 0,
    protocol: "http",
    // The Python and C++ SDKs read the protocol under this spelling.
    protocal: "http",
    endpoint: "https://merchant.example/notify",
    notifyStrategy: "BACKOFF_RETRY",
    notifyContentFormat: "SIMPLIFIED",
    filterTag: ["paid", "refund"],
    filterTags: ["paid", "refund"],
    bindingKey: [],
    createTime: nowSeconds,
    lastModifyTime: nowSeconds,
  });

  ok(
    await client.call("SetSubscriptionAttributes", {
      topicName: "payments",
      subscriptionName: "hook",
      notifyStrategy: "EXPONENTIAL_DECAY_RETRY",
      notifyContentFormat: "JSON",
      "filterTag.1": "chargeback",
    }),
  );
  const changed = ok(
    await client.call("GetSubscriptionAttributes", {
      topicName: "payments",
      subscriptionName: "hook",
    }),
  );
  assert.equal(changed.notifyStrategy, "EXPONENTIAL_DECAY_RETRY");
  assert.equal(changed.notifyContentFormat, "JSON");
  assert.deepEqual(changed.filterTag, ["chargeback"]);
  // A queue subscription takes the SDK's strategy and format without failing.
  ok(
    await client.call("SetSubscriptionAttributes", {
      topicName: "payments",
      subscriptionName: "queue-copy",
      ...sdkSubscribeDefaults,
      "filterTag.1": "paid",
    }),
  );

  ok(
    await client.call("ClearSubscriptionFilterTags", {
      topicName: "payments",
      subscriptionName: "hook",
    }),
  );
  const cleared = ok(
    await client.call("GetSubscriptionAttributes", {
      topicName: "payments",
      subscriptionName: "hook",
    }),
  );
  assert.deepEqual(cleared.filterTag, []);

  ok(await client.call("Unsubscribe", { topicName: "payments", subscriptionName: "hook" }));
  await refused(
    () =>
      client.call("GetSubscriptionAttributes", { topicName: "payments", subscriptionName: "hook" }),
    4440,
  );
  await refused(
    () => client.call("Unsubscribe", { topicName: "payments", subscriptionName: "hook" }),
    4440,
  );
});

Deno.test("subscription actions refuse bad input with CMQ's codes and change nothing", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateTopic", { topicName: "payments" }));
  const base = { topicName: "payments", subscriptionName: "s", endpoint: "https://a.example/" };
  await refused(() => client.call("Subscribe", base), 4000, moduleCode.missingParameter);
  await refused(
    () => client.call("Subscribe", { ...base, protocol: "email" }),
    4000,
    moduleCode.parameterError,
  );
  // CMQ has no protocol https: an https:// endpoint is given with protocol http.
  const https = await refused(
    () => client.call("Subscribe", { ...base, protocol: "https" }),
    4000,
    moduleCode.parameterError,
  );
  assert.match(
    https.body.message,
    /^\(10110\)parameter protocol error: one of http, queue \(an https:\/\/ endpoint is given with protocol http\)$/,
  );
  await refused(
    () => client.call("Subscribe", { ...base, protocol: "http", notifyStrategy: "FOREVER" }),
    4000,
    moduleCode.parameterError,
  );
  await refused(
    () => client.call("Subscribe", { ...base, protocol: "http", notifyContentFormat: "XML" }),
    4000,
    moduleCode.parameterError,
  );
  await refused(
    () => client.call("Subscribe", { ...base, protocol: "queue", endpoint: "not a name" }),
    4000,
    moduleCode.parameterError,
  );
  await refused(
    () => client.call("Subscribe", { ...base, protocol: "http", endpoint: "ftp://a.example/" }),
    4000,
    moduleCode.parameterError,
  );
  await refused(
    () => client.call("Subscribe", { ...base, topicName: "nope", protocol: "http" }),
    4440,
  );
});

Deno.test("numbered lists of topic actions: gaps, bad indices, too many, none", async () => {
  const { client, refused } = setup({ topics: true });
  ok(await client.call("CreateTopic", { topicName: "payments" }));
  const topicName = "payments";
  await refused(
    () => client.call("BatchPublishMessage", { topicName, "msgBody.1": "a", "msgBody.3": "c" }),
    4000,
    moduleCode.notContiguous,
  );
  await refused(
    () => client.call("BatchPublishMessage", { topicName, "msgBody.01": "a" }),
    4000,
    moduleCode.keyFormat,
  );
  await refused(
    () => client.call("BatchPublishMessage", { topicName }),
    4000,
    moduleCode.missingParameter,
  );
  const seventeen = Object.fromEntries(
    Array.from({ length: 17 }, (_, index) => [`msgBody.${index + 1}`, `m${index}`]),
  );
  await refused(
    () => client.call("BatchPublishMessage", { topicName, ...seventeen }),
    4000,
    moduleCode.batchSizeOutOfRange,
  );
  const sixteen = Object.fromEntries(
    Array.from({ length: 16 }, (_, index) => [`msgBody.${index}`, `m${index}`]),
  );
  const batch = ok(await client.call("BatchPublishMessage", { topicName, ...sixteen }));
  assert.equal((batch.msgList as unknown[]).length, 16);
  await refused(
    () =>
      client.call("PublishMessage", { topicName, msgBody: "x", "msgTag.1": "a", "msgTag.3": "b" }),
    4000,
    moduleCode.notContiguous,
  );
  await refused(
    () =>
      client.call("Subscribe", {
        topicName,
        subscriptionName: "s",
        protocol: "http",
        endpoint: "https://a.example/",
        "filterTag.2": "a",
        "filterTag.3": "b",
      }),
    4000,
    moduleCode.notContiguous,
  );
  await refused(
    () => client.call("PublishMessage", { topicName }),
    4000,
    moduleCode.missingParameter,
  );
});

/** May publish to `payments` and manage its subscriptions, but send to no queue. */
const publisherKey: AccessKey = {
  secretId: "AKIDpublisher",
  secretKey: "publisher-secret-key",
  allow: ["topic:payments:publish", "topic:payments:manage"],
};

Deno.test("permissions: topic publish/manage/read, ListTopic on every topic, a queue subscription needs send", async () => {
  const keys = [adminKey, publisherKey];
  const admin = setup({ keys, topics: true });
  ok(await admin.client.call("CreateQueue", { queueName: "inbox" }));
  ok(await admin.client.call("CreateTopic", { topicName: "payments" }));
  ok(await admin.client.call("CreateTopic", { topicName: "refunds" }));

  const { CmqTestClient } = await import("./_cmq_test_client.ts");
  const publisher = new CmqTestClient({
    handler: (request) => admin.door.request(request),
    credentials: publisherKey,
    now: () => admin.clock.now(),
  });
  ok(await publisher.call("PublishMessage", { topicName: "payments", msgBody: "hi" }));
  const denied = await admin.refused(
    () => publisher.call("PublishMessage", { topicName: "refunds", msgBody: "hi" }),
    cmqCode.accessDenied,
  );
  assert.match(denied.body.message, /topic:refunds:publish/);
  const noRead = await admin.refused(
    () => publisher.call("GetTopicAttributes", { topicName: "payments" }),
    cmqCode.accessDenied,
  );
  assert.match(noRead.body.message, /topic:payments:read/);
  const noList = await admin.refused(() => publisher.call("ListTopic"), cmqCode.accessDenied);
  assert.match(noList.body.message, /topic:\*:read/);
  const noSend = await admin.refused(
    () =>
      publisher.call("Subscribe", {
        topicName: "payments",
        subscriptionName: "copy",
        protocol: "queue",
        endpoint: "inbox",
        ...sdkSubscribeDefaults,
      }),
    cmqCode.accessDenied,
  );
  assert.match(noSend.body.message, /queue:inbox:send/);
  // An HTTP subscription writes into no queue: manage on the topic is enough.
  ok(
    await publisher.call("Subscribe", {
      topicName: "payments",
      subscriptionName: "hook",
      protocol: "http",
      endpoint: "https://merchant.example/notify",
      ...sdkSubscribeDefaults,
    }),
  );
});

Deno.test("without a topic service, topic actions answer 4000 (10280)", async () => {
  const { client, refused } = setup();
  await refused(
    () => client.call("CreateTopic", { topicName: "payments" }),
    4000,
    moduleCode.actionNotExisting,
  );
});

Deno.test("a subscribed queue that is gone does not fail PublishMessage", async () => {
  const { client } = setup({ topics: true });
  ok(await client.call("CreateQueue", { queueName: "gone" }));
  ok(await client.call("CreateQueue", { queueName: "kept" }));
  ok(await client.call("CreateTopic", { topicName: "payments" }));
  for (const queue of ["gone", "kept"]) {
    ok(
      await client.call("Subscribe", {
        topicName: "payments",
        subscriptionName: queue,
        protocol: "queue",
        endpoint: queue,
        ...sdkSubscribeDefaults,
      }),
    );
  }
  ok(await client.call("DeleteQueue", { queueName: "gone" }));
  const published = ok(
    await client.call("PublishMessage", { topicName: "payments", msgBody: "still delivered" }),
  );
  assert.equal(typeof published.msgId, "string");
  const kept = ok(
    await client.call("ReceiveMessage", { queueName: "kept", pollingWaitSeconds: 0 }),
  );
  assert.equal(kept.msgBody, "still delivered");
});
