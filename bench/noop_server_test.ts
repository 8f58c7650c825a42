import assert from "node:assert/strict";
import { NoopBroker } from "./noop_server.ts";

const base = "http://noop.test";

function call(broker: NoopBroker, method: string, path: string, body?: unknown) {
  return broker.handle(
    new Request(`${base}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

async function json(response: Promise<Response>) {
  return await (await response).json();
}

Deno.test("the no-op server creates a queue once and describes it", async () => {
  const broker = new NoopBroker();
  assert.equal((await call(broker, "PUT", "/v1/queues/orders", {})).status, 201);
  const again = await call(broker, "PUT", "/v1/queues/orders", {});
  assert.equal(again.status, 200);
  await again.body?.cancel();
  const queue = await json(call(broker, "GET", "/v1/queues/orders"));
  assert.equal(queue.name, "orders");
  assert.equal(queue.activeMessages, 0);
});

Deno.test("a sent batch is received once, locked, and deleted by its handles", async () => {
  const broker = new NoopBroker();
  await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
  const sent = await json(call(broker, "POST", "/v1/queues/q/messages", {
    messages: [{ body: "a" }, { body: "b" }, { body: "c" }],
  }));
  assert.deepEqual(sent.messages.map((message: { sequence: number }) => message.sequence), [
    1,
    2,
    3,
  ]);
  const first = await json(
    call(broker, "POST", "/v1/queues/q/messages/receive", { maxMessages: 2 }),
  );
  assert.deepEqual(first.messages.map((message: { body: string }) => message.body), ["a", "b"]);
  const second = await json(call(broker, "POST", "/v1/queues/q/messages/receive", {
    maxMessages: 16,
    deleteReceiptHandles: first.messages.map((message: { receiptHandle: string }) =>
      message.receiptHandle
    ),
  }));
  assert.equal(second.deleted, 2);
  assert.deepEqual(second.failures, []);
  assert.deepEqual(second.messages.map((message: { body: string }) => message.body), ["c"]);
  const deleted = await json(call(broker, "POST", "/v1/queues/q/messages/delete", {
    receiptHandles: [second.messages[0].receiptHandle, "9.9"],
  }));
  assert.equal(deleted.deleted, 1);
  assert.equal(deleted.failures[0].code, "ReceiptHandleStale");
  const queue = await json(call(broker, "GET", "/v1/queues/q"));
  assert.equal(queue.activeMessages + queue.inflightMessages, 0);
});

Deno.test("a message whose lock ran out is delivered again", async () => {
  const broker = new NoopBroker();
  await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
  await (await call(broker, "POST", "/v1/queues/q/messages", { messages: [{ body: "a" }] })).body
    ?.cancel();
  const first = await json(call(broker, "POST", "/v1/queues/q/messages/receive", {
    visibilityTimeoutSeconds: 0,
  }));
  const second = await json(call(broker, "POST", "/v1/queues/q/messages/receive", {}));
  assert.equal(second.messages.length, 1);
  assert.equal(second.messages[0].receiveCount, 2);
  assert.notEqual(second.messages[0].receiptHandle, first.messages[0].receiptHandle);
});

Deno.test("a long-polling receive returns as soon as a message is sent", async () => {
  const broker = new NoopBroker();
  await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
  const waiting = json(call(broker, "POST", "/v1/queues/q/messages/receive", { waitSeconds: 30 }));
  await (await call(broker, "POST", "/v1/queues/q/messages", { messages: [{ body: "late" }] }))
    .body?.cancel();
  const received = await waiting;
  assert.equal(received.messages[0].body, "late");
});

Deno.test("bad requests get the API's error bodies", async (t) => {
  const broker = new NoopBroker();
  await t.step("an unknown queue is 404 QueueNotFound", async () => {
    const response = await call(broker, "GET", "/v1/queues/missing");
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error.code, "QueueNotFound");
  });
  await t.step("a malformed body is 400 and changes nothing", async () => {
    await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
    const response = await broker.handle(
      new Request(`${base}/v1/queues/q/messages`, { method: "POST", body: "{nope" }),
    );
    assert.equal(response.status, 400);
    await response.body?.cancel();
    assert.equal((await json(call(broker, "GET", "/v1/queues/q"))).activeMessages, 0);
  });
  await t.step("metrics expose the resident memory", async () => {
    const text = await (await call(broker, "GET", "/metrics")).text();
    assert.match(text, /^process_resident_memory_bytes \d+/);
  });
});
