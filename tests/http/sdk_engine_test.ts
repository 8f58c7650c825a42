/**
 * The SDK against the real engine over real HTTP: `EngineService` over `MemoryReplica` behind
 * `createApp`, served by `Deno.serve` on port 0.
 */
import assert from "node:assert/strict";
import { createApp, FakeStatus, memoryEngine, Metrics } from "../../broker/testing.ts";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";

function start() {
  const { clock, broker } = memoryEngine();
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const client = new CmqdClient({ baseUrl: `http://127.0.0.1:${server.addr.port}` });
  return {
    clock,
    broker,
    client,
    async stop() {
      broker.close();
      await server.shutdown();
    },
  };
}

Deno.test("a producer and a consumer round-trip messages through the SDK", async () => {
  const { client, clock, stop } = start();
  try {
    const { queue, created } = await client.createQueue("jobs", { visibilityTimeoutSeconds: 5 });
    assert.equal(created, true);
    assert.equal(queue.visibilityTimeoutSeconds, 5);
    assert.equal(
      (await client.createQueue("jobs", { visibilityTimeoutSeconds: 5 })).created,
      false,
    );
    const sent = await client.sendMessages("jobs", [
      { body: "resize 1", dedupId: "job-1" },
      { body: "resize 2", attributes: { size: "large" } },
    ]);
    assert.equal(sent.messages.length, 2);
    const received = await client.receiveMessages("jobs", { maxMessages: 10, waitSeconds: 0 });
    assert.deepEqual(received.messages.map((message) => message.body), ["resize 1", "resize 2"]);
    assert.deepEqual(received.messages[1].attributes, { size: "large" });
    assert.equal(received.messages[0].visibleAt, clock.now() + 5_000);
    const handles = received.messages.map((message) => message.receiptHandle);
    assert.deepEqual(await client.deleteMessages("jobs", handles), { deleted: 2, failures: [] });
    const again = await client.deleteMessages("jobs", handles);
    assert.equal(again.deleted, 0);
    assert.deepEqual(
      again.failures.map((failure) => [failure.receiptHandle, failure.code, failure.gone]),
      handles.map((handle) => [handle, "ReceiptHandleStale", true]),
      "a repeated delete: stale, and the messages are gone",
    );
    const queueAfter = await client.getQueue("jobs");
    assert.equal(queueAfter.activeMessages + queueAfter.inflightMessages, 0);
    assert.equal((await client.listQueues({ prefix: "jo" })).total, 1);
    await client.deleteQueue("jobs");
    await assert.rejects(client.getQueue("jobs"), { code: "QueueNotFound", status: 404 });
  } finally {
    await stop();
  }
});

Deno.test("a long poll through the SDK returns when a message arrives", async () => {
  const { client, broker, stop } = start();
  try {
    await client.createQueue("jobs");
    const pending = client.receiveMessages("jobs", { waitSeconds: 20 });
    for (let turn = 0; turn < 200 && broker.parkedReceivers === 0; turn++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.equal(broker.parkedReceivers, 1);
    await client.sendMessages("jobs", [{ body: "wake up" }]);
    assert.equal((await pending).messages[0].body, "wake up");
  } finally {
    await stop();
  }
});

Deno.test("engine errors reach the SDK as CmqdError with their field", async () => {
  const { client, stop } = start();
  try {
    await client.createQueue("small", { maxMessageBytes: 1024, maxBacklog: 1 });
    const tooLarge = await client.sendMessages("small", [{ body: "x".repeat(2000) }])
      .catch((error) => error);
    assert.ok(tooLarge instanceof CmqdError);
    assert.equal(tooLarge.code, "MessageTooLarge");
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.field, "messages.0.body");
    await client.sendMessages("small", [{ body: "one" }]);
    await assert.rejects(client.sendMessages("small", [{ body: "two" }]), {
      code: "BacklogFull",
      status: 429,
      retryable: true,
    });
    const stale = await client.deleteMessages("small", ["not-a-handle"]);
    assert.equal(stale.failures[0].code, "ReceiptHandleInvalid");
  } finally {
    await stop();
  }
});
