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
  assert.equal(deleted.failures[0].code, "ReceiptHandleInvalid");
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

Deno.test("a stale handle is gone exactly when its message left the queue, as the broker says", async () => {
  const broker = new NoopBroker();
  await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
  const send = async (body: string) =>
    await (await call(broker, "POST", "/v1/queues/q/messages", { messages: [{ body }] })).body
      ?.cancel();
  const receive = (request: Record<string, unknown>) =>
    json(call(broker, "POST", "/v1/queues/q/messages/receive", request));
  const handleOf = (
    answer: { messages: { body: string; receiptHandle: string }[] },
    body: string,
  ) => answer.messages.find((message) => message.body === body)!.receiptHandle;
  const deleteAll = (handles: string[]) =>
    json(call(broker, "POST", "/v1/queues/q/messages/delete", { receiptHandles: handles }));
  const goneOf = (
    answer: { failures: { receiptHandle: string; code: string; gone?: boolean }[] },
  ) =>
    Object.fromEntries(answer.failures.map((failure) => {
      assert.equal(failure.code, "ReceiptHandleStale");
      // Absent when not gone, never false, as the broker answers.
      assert.ok(failure.gone === true || !("gone" in failure));
      return [failure.receiptHandle, failure.gone];
    }));

  // "a" and "b": their first locks run out at once, both are delivered again; "b" is deleted.
  await send("a");
  await send("b");
  const first = await receive({ maxMessages: 2, visibilityTimeoutSeconds: 0 });
  const again = await receive({ maxMessages: 2 });
  const [a1, b1, a2, b2] = [
    handleOf(first, "a"),
    handleOf(first, "b"),
    handleOf(again, "a"),
    handleOf(again, "b"),
  ];
  assert.deepEqual(await deleteAll([b2]), { deleted: 1, failures: [] });
  // "c": received once and deleted (the lost-answer case: the same delete again).
  await send("c");
  const c1 = handleOf(await receive({}), "c");
  assert.deepEqual(await deleteAll([c1]), { deleted: 1, failures: [] });

  const stale = await deleteAll([a1, b1, b2, c1]);
  assert.equal(stale.deleted, 0);
  assert.deepEqual(goneOf(stale), {
    [a1]: undefined, // "a" is still here (delivered again)
    [b1]: true, // deleted, by a later delivery's handle
    [b2]: true,
    [c1]: true, // deleted by this very handle
  });
  // The same through a receive's deleteReceiptHandles.
  assert.deepEqual(goneOf(await receive({ deleteReceiptHandles: [a1, c1] })), {
    [a1]: undefined,
    [c1]: true,
  });
  // A purge takes every message away: the handles of "a" are gone too.
  await (await call(broker, "POST", "/v1/queues/q/purge")).body?.cancel();
  assert.deepEqual(goneOf(await deleteAll([a1, a2])), { [a1]: true, [a2]: true });
});

Deno.test("a handle the server never issued is invalid, not stale, as the broker says", async () => {
  const broker = new NoopBroker();
  await (await call(broker, "PUT", "/v1/queues/q", {})).body?.cancel();
  await (await call(broker, "POST", "/v1/queues/q/messages", {
    messages: [{ body: "a" }, { body: "b" }],
  })).body?.cancel();
  const received = await json(call(broker, "POST", "/v1/queues/q/messages/receive", {}));
  const [handle] = received.messages.map((message: { receiptHandle: string }) =>
    message.receiptHandle
  );
  assert.equal(handle, "1.1");
  const notParsed = [
    "",
    "garbage",
    "1",
    "1.",
    ".1",
    "0.1",
    "1.0",
    "01.1",
    " 1.1",
    "1.1.1",
    "1e0.1",
  ];
  const neverIssued = ["3.1", "1.2", "9.9", "99999999999999999999.1"];
  const code = (failures: { receiptHandle: string; code: string; message: string }[]) =>
    Object.fromEntries(failures.map((failure) => [failure.receiptHandle, failure.code]));
  const invalid = Object.fromEntries(
    [...notParsed, ...neverIssued].map((handle) => [handle, "ReceiptHandleInvalid"]),
  );
  const deleted = await json(call(broker, "POST", "/v1/queues/q/messages/delete", {
    receiptHandles: [...notParsed, ...neverIssued],
  }));
  assert.equal(deleted.deleted, 0);
  assert.deepEqual(code(deleted.failures), invalid);
  for (const failure of deleted.failures) {
    assert.ok(!("gone" in failure));
    const expected = notParsed.includes(failure.receiptHandle)
      ? "not a receipt handle"
      : "receipt handle does not verify";
    assert.equal(failure.message, expected, failure.receiptHandle);
  }
  // The same through a receive's deleteReceiptHandles; the issued handle still deletes.
  const viaReceive = await json(call(broker, "POST", "/v1/queues/q/messages/receive", {
    deleteReceiptHandles: ["garbage", "9.9", handle],
  }));
  assert.equal(viaReceive.deleted, 1);
  assert.deepEqual(code(viaReceive.failures), {
    garbage: "ReceiptHandleInvalid",
    "9.9": "ReceiptHandleInvalid",
  });
});
