/**
 * The the API contract semantics as a client sees them over HTTP: the real engine (`EngineService` over a
 * `MemoryReplica` with a manual clock) behind `createApp`, driven through `app.request()`.
 */
import assert from "node:assert/strict";
import { CommandType, encodeTick } from "../../engine/mod.ts";

import { memoryEngine } from "../../cluster/testing/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus, jsonRequest } from "../testing/mod.ts";
import { badInputCases, queueName, requestOf } from "./_bad_input_cases.ts";

function setup() {
  const { clock, replica, broker } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  /** A JSON call: answers status and parsed body (undefined for 204). */
  async function call(method: string, path: string, body?: unknown) {
    const init = body === undefined ? { method } : jsonRequest(method, body);
    const response = await app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text), response };
  }
  return { clock, replica, broker, app, call };
}

async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !condition(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(condition(), "condition not reached");
}

Deno.test("queues: create 201, again 200, conflict 409, list, get, patch, delete 204", async () => {
  const { call } = setup();
  const created = await call("PUT", "/v1/queues/orders", { visibilityTimeoutSeconds: 60 });
  assert.equal(created.status, 201);
  assert.equal(created.body.name, "orders");
  assert.equal(created.body.visibilityTimeoutSeconds, 60);
  assert.equal(created.body.maxBacklog, 100_000_000);
  assert.equal(
    (await call("PUT", "/v1/queues/orders", { visibilityTimeoutSeconds: 60 })).status,
    200,
  );
  const conflict = await call("PUT", "/v1/queues/orders", { visibilityTimeoutSeconds: 61 });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, "QueueAlreadyExists");
  for (const name of ["orders-b", "orders-a", "payments"]) {
    assert.equal((await call("PUT", `/v1/queues/${name}`)).status, 201);
  }
  const page = await call("GET", "/v1/queues?prefix=orders&offset=1&limit=1");
  assert.equal(page.status, 200);
  assert.equal(page.body.total, 3);
  assert.deepEqual(page.body.queues.map((queue: { name: string }) => queue.name), ["orders-a"]);
  assert.equal((await call("GET", "/v1/queues")).body.total, 4);
  const patched = await call("PATCH", "/v1/queues/orders", { maxBacklog: 10 });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.maxBacklog, 10);
  const immutable = await call("PATCH", "/v1/queues/orders", { fifo: true });
  assert.equal(immutable.status, 400);
  assert.equal(immutable.body.error.field, "fifo");
  const deleted = await call("DELETE", "/v1/queues/orders");
  assert.equal(deleted.status, 204);
  assert.equal(deleted.body, undefined);
  const gone = await call("GET", "/v1/queues/orders");
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.code, "QueueNotFound");
});

Deno.test("a received message is locked until visibleAt, then its old handle is stale", async () => {
  const { call, clock } = setup();
  await call("PUT", "/v1/queues/jobs", { visibilityTimeoutSeconds: 10 });
  const sent = await call("POST", "/v1/queues/jobs/messages", {
    messages: [{ body: "one", attributes: { kind: "photo" } }, { body: "two" }],
  });
  assert.equal(sent.status, 200);
  assert.deepEqual(sent.body.messages.map((m: { sequence: number }) => m.sequence), [1, 2]);
  const first = await call("POST", "/v1/queues/jobs/messages/receive", { maxMessages: 5 });
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.messages.map((m: { body: string }) => m.body), ["one", "two"]);
  assert.deepEqual(first.body.messages[0].attributes, { kind: "photo" });
  assert.equal(first.body.messages[0].visibleAt, clock.now() + 10_000);
  assert.deepEqual((await call("POST", "/v1/queues/jobs/messages/receive", {})).body, {
    messages: [],
  });
  const queue = (await call("GET", "/v1/queues/jobs")).body;
  assert.equal(queue.inflightMessages, 2);
  assert.equal(queue.activeMessages, 0);
  clock.advance(10_000);
  const again = await call("POST", "/v1/queues/jobs/messages/receive", { maxMessages: 1 });
  assert.equal(again.body.messages[0].receiveCount, 2);
  const stale = await call("POST", "/v1/queues/jobs/messages/delete", {
    receiptHandles: [first.body.messages[0].receiptHandle, "forged-handle"],
  });
  assert.equal(stale.status, 200);
  assert.equal(stale.body.deleted, 0);
  assert.deepEqual(
    stale.body.failures.map((failure: { code: string }) => failure.code),
    ["ReceiptHandleStale", "ReceiptHandleInvalid"],
  );
  const deleted = await call("POST", "/v1/queues/jobs/messages/delete", {
    receiptHandles: [again.body.messages[0].receiptHandle],
  });
  assert.deepEqual(deleted.body, { deleted: 1, failures: [] });
});

Deno.test("visibility changes extend a lock, release it with 0, and fail on a released one", async () => {
  const { call, clock } = setup();
  await call("PUT", "/v1/queues/jobs");
  await call("POST", "/v1/queues/jobs/messages", { messages: [{ body: "a" }] });
  const [message] = (await call("POST", "/v1/queues/jobs/messages/receive", {})).body.messages;
  const entry = (seconds: number) => ({
    entries: [{ receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: seconds }],
  });
  const extended = await call("POST", "/v1/queues/jobs/messages/visibility", entry(100));
  assert.equal(extended.status, 200);
  assert.equal(extended.body.entries[0].visibleAt, clock.now() + 100_000);
  const released = await call("POST", "/v1/queues/jobs/messages/visibility", entry(0));
  assert.equal(released.body.entries[0].visibleAt, clock.now());
  const again = await call("POST", "/v1/queues/jobs/messages/visibility", entry(5));
  assert.equal(again.body.failures[0].code, "MessageNotInflight");
});

Deno.test("a visibility change of a handle whose message is gone says gone; an older delivery's does not", async () => {
  const { call, clock } = setup();
  await call("PUT", "/v1/queues/jobs", { visibilityTimeoutSeconds: 10 });
  await call("POST", "/v1/queues/jobs/messages", { messages: [{ body: "a" }, { body: "b" }] });
  const [a, b] = (await call("POST", "/v1/queues/jobs/messages/receive", { maxMessages: 2 }))
    .body.messages;
  await call("POST", "/v1/queues/jobs/messages/delete", { receiptHandles: [a.receiptHandle] });
  clock.advance(10_000);
  const again = await call("POST", "/v1/queues/jobs/messages/receive", {});
  assert.equal(again.body.messages[0].id, b.id);
  const changed = await call("POST", "/v1/queues/jobs/messages/visibility", {
    entries: [a, b].map((m) => ({ receiptHandle: m.receiptHandle, visibilityTimeoutSeconds: 5 })),
  });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.body.entries, []);
  assert.deepEqual(
    changed.body.failures.map((failure: { code: string; gone?: boolean }) => [
      failure.code,
      failure.gone,
    ]),
    [["ReceiptHandleStale", true], ["ReceiptHandleStale", undefined]],
  );
  assert.ok(!("gone" in changed.body.failures[1]), "absent, not false");
});

Deno.test("a receive deletes its deleteReceiptHandles in the same request", async () => {
  const { call, replica } = setup();
  await call("PUT", "/v1/queues/jobs");
  await call("POST", "/v1/queues/jobs/messages", { messages: [{ body: "a" }, { body: "b" }] });
  const first = await call("POST", "/v1/queues/jobs/messages/receive", {});
  const before = replica.lastIndex;
  const second = await call("POST", "/v1/queues/jobs/messages/receive", {
    deleteReceiptHandles: [first.body.messages[0].receiptHandle, "nope"],
  });
  assert.equal(replica.lastIndex, before + 1);
  assert.equal(second.body.deleted, 1);
  assert.equal(second.body.failures[0].receiptHandle, "nope");
  assert.deepEqual(second.body.messages.map((m: { body: string }) => m.body), ["b"]);
});

Deno.test("a long poll answers as soon as a message is sent", async () => {
  const { call, broker } = setup();
  await call("PUT", "/v1/queues/jobs");
  const pending = call("POST", "/v1/queues/jobs/messages/receive", { waitSeconds: 20 });
  await until(() => broker.parkedReceivers === 1);
  await call("POST", "/v1/queues/jobs/messages", { messages: [{ body: "hi" }] });
  const received = await pending;
  assert.equal(received.status, 200);
  assert.equal(received.body.messages[0].body, "hi");
});

Deno.test("a long poll answers empty when its wait runs out", async () => {
  const { call, broker, clock } = setup();
  await call("PUT", "/v1/queues/jobs");
  const pending = call("POST", "/v1/queues/jobs/messages/receive", { waitSeconds: 3 });
  await until(() => broker.parkedReceivers === 1);
  clock.advance(3_000);
  assert.deepEqual((await pending).body, { messages: [] });
});

Deno.test("fifo queues deliver each group in send order, one in flight per group", async () => {
  const { call } = setup();
  await call("PUT", "/v1/queues/ordered", { fifo: true });
  await call("POST", "/v1/queues/ordered/messages", {
    messages: [
      { body: "a1", groupId: "a" },
      { body: "b1", groupId: "b" },
      { body: "a2", groupId: "a" },
    ],
  });
  const receive = async () =>
    (await call("POST", "/v1/queues/ordered/messages/receive", { maxMessages: 10 })).body.messages;
  const first = await receive();
  assert.deepEqual(first.map((m: { body: string }) => m.body), ["a1", "b1"]);
  assert.deepEqual(await receive(), []);
  await call("POST", "/v1/queues/ordered/messages/delete", {
    receiptHandles: [first[0].receiptHandle],
  });
  assert.deepEqual((await receive()).map((m: { body: string }) => m.body), ["a2"]);
});

Deno.test("a repeated dedupId returns the first id and enqueues nothing", async () => {
  const { call } = setup();
  await call("PUT", "/v1/queues/jobs");
  const first = await call("POST", "/v1/queues/jobs/messages", {
    messages: [{ body: "x", dedupId: "order-1" }],
  });
  const second = await call("POST", "/v1/queues/jobs/messages", {
    messages: [{ body: "x", dedupId: "order-1" }],
  });
  assert.equal(second.body.messages[0].id, first.body.messages[0].id);
  assert.equal((await call("GET", "/v1/queues/jobs")).body.activeMessages, 1);
});

Deno.test("sends past maxBacklog get 429 BacklogFull and change nothing", async () => {
  const { call } = setup();
  await call("PUT", "/v1/queues/small", { maxBacklog: 2 });
  assert.equal(
    (await call("POST", "/v1/queues/small/messages", { messages: [{ body: "1" }, { body: "2" }] }))
      .status,
    200,
  );
  const full = await call("POST", "/v1/queues/small/messages", { messages: [{ body: "3" }] });
  assert.equal(full.status, 429);
  assert.equal(full.body.error.code, "BacklogFull");
  assert.equal((await call("GET", "/v1/queues/small")).body.activeMessages, 2);
});

Deno.test("a body over maxMessageBytes is 413 MessageTooLarge naming the message", async () => {
  const { call } = setup();
  await call("PUT", "/v1/queues/jobs", { maxMessageBytes: 1024 });
  const tooLarge = await call("POST", "/v1/queues/jobs/messages", {
    messages: [{ body: "ok" }, { body: "x".repeat(1025) }],
  });
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.body.error.code, "MessageTooLarge");
  assert.equal(tooLarge.body.error.field, "messages.1.body");
  assert.equal((await call("GET", "/v1/queues/jobs")).body.activeMessages, 0);
});

Deno.test("rewind delivers deleted messages again; purge empties the queue", async () => {
  const { call, clock } = setup();
  await call("PUT", "/v1/queues/ledger", { rewindSeconds: 3_600 });
  const start = clock.now();
  await call("POST", "/v1/queues/ledger/messages", { messages: [{ body: "1" }, { body: "2" }] });
  const received = await call("POST", "/v1/queues/ledger/messages/receive", { maxMessages: 2 });
  await call("POST", "/v1/queues/ledger/messages/delete", {
    receiptHandles: received.body.messages.map((m: { receiptHandle: string }) => m.receiptHandle),
  });
  const rewound = await call("POST", "/v1/queues/ledger/rewind", { timestamp: start });
  assert.equal(rewound.status, 200);
  assert.deepEqual(rewound.body, { from: { timestamp: start, sequence: 1 }, messages: 2 });
  const purged = await call("POST", "/v1/queues/ledger/purge");
  assert.deepEqual(purged.body, { purged: 2 });
  assert.equal((await call("GET", "/v1/queues/ledger")).body.activeMessages, 0);
  const bySequence = await call("POST", "/v1/queues/ledger/rewind", { sequence: 2 });
  assert.deepEqual(bySequence.body.from.sequence, 2);
  const again = await call("POST", "/v1/queues/ledger/messages/receive", { maxMessages: 5 });
  assert.deepEqual(again.body.messages.map((m: { body: string }) => m.body), ["2"]);
});

Deno.test("dead-lettered messages land in the DLQ and redrive moves them back", async () => {
  const { call, clock, replica } = setup();
  await call("PUT", "/v1/queues/dlq");
  await call("PUT", "/v1/queues/work", {
    visibilityTimeoutSeconds: 1,
    retentionSeconds: 600,
    deadLetter: { queue: "dlq", maxReceiveCount: 2, maxTimeToLiveSeconds: 300 },
  });
  const sent = await call("POST", "/v1/queues/work/messages", { messages: [{ body: "poison" }] });
  for (let round = 0; round < 2; round++) {
    const got = await call("POST", "/v1/queues/work/messages/receive", {});
    assert.equal(got.body.messages.length, 1);
    clock.advance(1_000);
  }
  assert.deepEqual((await call("POST", "/v1/queues/work/messages/receive", {})).body.messages, []);
  const dead = await call("POST", "/v1/queues/dlq/messages/receive", {
    visibilityTimeoutSeconds: 1,
  });
  assert.equal(dead.body.messages[0].id, sent.body.messages[0].id);
  clock.advance(1_000);
  assert.deepEqual((await call("POST", "/v1/queues/dlq/redrive", {})).body, { moved: 1 });
  const back = await call("POST", "/v1/queues/work/messages/receive", {});
  assert.equal(back.body.messages[0].body, "poison");
  await call("POST", "/v1/queues/work/messages/delete", {
    receiptHandles: [back.body.messages[0].receiptHandle],
  });
  // Older than maxTimeToLiveSeconds: the next Tick moves it.
  await call("POST", "/v1/queues/work/messages", { messages: [{ body: "old" }] });
  clock.advance(301_000);
  await replica.propose(CommandType.Tick, encodeTick());
  assert.equal((await call("GET", "/v1/queues/dlq")).body.activeMessages, 1);
});

Deno.test("a replica that can't take writes answers 503 NotReady with Retry-After", async () => {
  const { call, replica } = setup();
  await call("PUT", "/v1/queues/jobs");
  replica.setAvailable(false);
  const refused = await call("POST", "/v1/queues/jobs/messages", { messages: [{ body: "x" }] });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, "NotReady");
  assert.equal(refused.response.headers.get("retry-after"), "1");
});

Deno.test("every queue endpoint answers 404 QueueNotFound for a missing queue", async (t) => {
  const { call } = setup();
  const requests: [string, string, unknown?][] = [
    ["GET", "/v1/queues/missing"],
    ["PATCH", "/v1/queues/missing", { maxBacklog: 5 }],
    ["DELETE", "/v1/queues/missing"],
    ["POST", "/v1/queues/missing/messages", { messages: [{ body: "x" }] }],
    ["POST", "/v1/queues/missing/messages/receive", {}],
    ["POST", "/v1/queues/missing/messages/delete", { receiptHandles: ["h"] }],
    [
      "POST",
      "/v1/queues/missing/messages/visibility",
      { entries: [{ receiptHandle: "h", visibilityTimeoutSeconds: 1 }] },
    ],
    ["POST", "/v1/queues/missing/rewind", { sequence: 1 }],
    ["POST", "/v1/queues/missing/purge"],
    ["POST", "/v1/queues/missing/redrive", {}],
  ];
  for (const [method, path, body] of requests) {
    await t.step(`${method} ${path}`, async () => {
      const answer = await call(method, path, body);
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, "QueueNotFound");
    });
  }
  assert.equal((await call("GET", "/v1/queues")).body.total, 0);
});

Deno.test("bad input on the real engine is answered exactly and changes nothing", async (t) => {
  const { app, call, replica } = setup();
  await call("PUT", `/v1/queues/${queueName}`, { rewindSeconds: 60 });
  await call("POST", `/v1/queues/${queueName}/messages`, { messages: [{ body: "keep" }] });
  const before = {
    queue: (await call("GET", `/v1/queues/${queueName}`)).body,
    list: (await call("GET", "/v1/queues")).body,
    lastIndex: replica.lastIndex,
  };
  for (const badCase of badInputCases()) {
    await t.step(badCase.name, async () => {
      const response = await app.request(badCase.path, requestOf(badCase));
      const body = await response.json();
      assert.equal(response.status, badCase.status, JSON.stringify(body));
      assert.equal(body.error.code, badCase.code);
      assert.equal(body.error.field, badCase.field);
    });
  }
  assert.equal(replica.lastIndex, before.lastIndex, "a bad request proposed something");
  assert.deepEqual((await call("GET", `/v1/queues/${queueName}`)).body, before.queue);
  assert.deepEqual((await call("GET", "/v1/queues")).body, before.list);
});
