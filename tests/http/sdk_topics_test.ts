/**
 * The SDK's topic methods against the real engine over real HTTP: the queue and topic services
 * over a `MemoryReplica` behind `createApp`, served by `Deno.serve` on port 0.
 */
import assert from "node:assert/strict";
import { createApp, FakeStatus, memoryEngine, Metrics } from "../../broker/testing.ts";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";

function start() {
  const { broker, topics } = memoryEngine();
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const client = new CmqdClient({ baseUrl: `http://127.0.0.1:${server.addr.port}` });
  return {
    client,
    async stop() {
      broker.close();
      await server.shutdown();
    },
  };
}

Deno.test("the SDK creates topics, subscribes, publishes and manages subscriptions", async () => {
  const { client, stop } = start();
  try {
    await client.createQueue("risk");
    const { topic, created } = await client.createTopic("payments", { retentionSeconds: 3600 });
    assert.equal(created, true);
    assert.equal(topic.retentionSeconds, 3600);
    assert.equal((await client.createTopic("payments", { retentionSeconds: 3600 })).created, false);
    const subscribed = await client.subscribe("payments", "risk", {
      endpoint: { queue: "risk" },
      filterTags: ["paid"],
    });
    assert.equal(subscribed.created, true);
    await client.subscribe("payments", "merchant", {
      endpoint: { url: "https://merchant.example/notify" },
      retryPolicy: "backoff",
    });
    const published = await client.publish("payments", [
      { body: "order 1 paid", tags: ["paid"] },
      { body: "order 2 refunded", tags: ["refunded"] },
    ]);
    assert.deepEqual(published.messages.map((message) => message.fannedOut), [2, 1]);
    const received = await client.receiveMessages("risk", { maxMessages: 10, waitSeconds: 0 });
    assert.deepEqual(received.messages.map((message) => message.body), ["order 1 paid"]);
    const merchant = await client.getSubscription("payments", "merchant");
    assert.equal(merchant.pendingMessages, 2);
    assert.equal(merchant.retryPolicy, "backoff");
    const list = await client.listSubscriptions("payments", { prefix: "m" });
    assert.deepEqual(list.subscriptions.map((subscription) => subscription.name), ["merchant"]);
    const updated = await client.updateSubscription("payments", "risk", { filterTags: [] });
    assert.deepEqual(updated.filterTags, []);
    assert.equal(
      (await client.updateTopic("payments", { maxMessageBytes: 4096 })).maxMessageBytes,
      4096,
    );
    assert.equal((await client.listTopics()).total, 1);
    assert.equal((await client.getTopic("payments")).publishedMessages, 2);
    await client.unsubscribe("payments", "merchant");
    await assert.rejects(
      () => client.getSubscription("payments", "merchant"),
      (error: CmqdError) => error.code === "SubscriptionNotFound" && error.status === 404,
    );
    await client.deleteTopic("payments");
    await assert.rejects(
      () => client.publish("payments", [{ body: "x" }]),
      (error: CmqdError) => error.code === "TopicNotFound",
    );
  } finally {
    await stop();
  }
});
