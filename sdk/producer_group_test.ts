/**
 * The `Producer` keeps a group in order when one of its sends fails: the group's sends made before
 * the failure and not yet sent are rejected (`EarlierSendFailed`), never sent after it, so the
 * caller can send again from the failed one in order.
 */
import assert from "node:assert/strict";
import { FakeSender } from "./_fake_queue.ts";
import { waitFor } from "./_test_helpers.ts";
import { CmqdError } from "./errors.ts";
import { Producer } from "./producer.ts";
import type { SentMessage } from "./protocol.ts";

/** The outcome of each send, in the order they settled. */
function recorder() {
  const settled: string[] = [];
  const track = (name: string, send: Promise<SentMessage>) =>
    send.then(
      (sent) => (settled.push(name), sent),
      (error) => {
        settled.push(name);
        return error as CmqdError;
      },
    );
  return { settled, track };
}

Deno.test("a group's failed batch rejects the group's sends queued behind it, unsent; a later send of it goes out", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1, inflightBatchesMax: 4 });
  const { settled, track } = recorder();
  const a = track("a", producer.send({ body: "a", groupId: "g", dedupId: "pay-1" }));
  await waitFor("a's batch", () => client.calls.length === 1);
  const b = track("b", producer.send({ body: "b", groupId: "g" }));
  const c = track("c", producer.send({ body: "c", groupId: "g" }));
  const x = track("x", producer.send({ body: "x", groupId: "h" }));
  await waitFor("x's batch", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["x"], "b and c wait for a's batch");
  // Retries used up on a lost answer: a's outcome is unknown.
  const failure = new CmqdError("NetworkError", "connection reset", { status: 0 });
  client.calls[0].answer.reject(failure);
  assert.equal(await a, failure);
  for (const later of [await b, await c]) {
    assert.ok(later instanceof CmqdError);
    assert.equal(later.code, "EarlierSendFailed");
    assert.equal(later.status, 0);
    assert.equal(later.cause, failure);
    assert.match(later.message, /group 'g'/);
    assert.match(later.message, /dedupId 'pay-1'/);
    assert.match(later.message, /NetworkError: connection reset/);
  }
  assert.deepEqual(settled, ["a", "b", "c"], "rejected in send order");
  // Nothing of g went out after a's failure; another group is unaffected.
  client.acknowledge(1);
  assert.equal(((await x) as SentMessage).id, "id-x");
  await producer.flush();
  assert.equal(client.calls.length, 2, "b and c were never sent");
  // The caller saw the failure: its sends of g go out again, in order.
  const again = ["a", "b", "c", "d"].map((body) => producer.send({ body, groupId: "g" }));
  await waitFor("the resent batch", () => client.calls.length === 3);
  assert.deepEqual(client.bodies(2), ["a", "b", "c", "d"]);
  client.acknowledge(2);
  assert.deepEqual((await Promise.all(again)).map((sent) => sent.id), [
    "id-a",
    "id-b",
    "id-c",
    "id-d",
  ]);
  await producer.close();
  assert.equal(producer.stats.failed, 3);
  assert.equal(producer.stats.pendingSends, 0);
});

Deno.test("a group's sends still waiting for room when it fails are rejected too, never sent", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", {
    batchSize: 1,
    pendingSendsMax: 2,
    inflightBatchesMax: 1,
    lingerMs: 1,
  });
  const { track } = recorder();
  const a = track("a", producer.send({ body: "a", groupId: "g" }));
  const b = track("b", producer.send({ body: "b", groupId: "g" }));
  const c = track("c", producer.send({ body: "c", groupId: "g" })); // waits for room
  await waitFor("a's batch", () => client.calls.length === 1);
  const failure = new CmqdError("Timeout", "no answer", { status: 0 });
  client.calls[0].answer.reject(failure);
  assert.equal(await a, failure);
  assert.equal(((await b) as CmqdError).code, "EarlierSendFailed");
  assert.equal(((await c) as CmqdError).code, "EarlierSendFailed");
  const d = producer.send({ body: "d", groupId: "g" });
  await waitFor("d's batch", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["d"]);
  client.acknowledge(1);
  assert.equal((await d).id, "id-d");
  await producer.close();
  assert.equal(producer.stats.pendingSends, 0);
  assert.equal(producer.stats.failed, 3);
});

Deno.test("a bad message fails the group's later messages of its batch; the other groups' are sent again", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1 });
  const { track } = recorder();
  const sends = [
    track("p", producer.send({ body: "p", groupId: "g" })),
    track("bad", producer.send({ body: "bad", groupId: "g" })),
    track("x", producer.send({ body: "x", groupId: "h" })),
    track("q", producer.send({ body: "q", groupId: "g" })),
  ];
  await waitFor("the batch", () => client.calls.length === 1);
  const invalid = new CmqdError("InvalidParameter", "bad attribute", {
    status: 400,
    field: "messages.1.attributes",
  });
  client.calls[0].answer.reject(invalid);
  await waitFor("the batch without them", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["p", "x"], "p was before the bad one; q after it");
  client.acknowledge(1);
  const [p, bad, x, q] = await Promise.all(sends);
  assert.equal((p as SentMessage).id, "id-p");
  assert.equal(bad, invalid);
  assert.equal((x as SentMessage).id, "id-x");
  assert.equal((q as CmqdError).code, "EarlierSendFailed");
  assert.equal((q as CmqdError).cause, invalid);
});

Deno.test("fifo: true keeps the ungrouped sends' order after a failure; without it they go on", async (t) => {
  for (const fifo of [true, false]) {
    await t.step(`fifo: ${fifo}`, async () => {
      const client = new FakeSender();
      const producer = new Producer(client, "q", { lingerMs: 1, inflightBatchesMax: 4, fifo });
      const a = producer.send("a").catch((error) => error);
      await waitFor("a's batch", () => client.calls.length === 1);
      const b = producer.send("b").catch((error) => error);
      if (!fifo) await waitFor("b's batch", () => client.calls.length === 2);
      client.calls[0].answer.reject(new CmqdError("BacklogFull", "full", { status: 429 }));
      assert.equal((await a).code, "BacklogFull");
      if (fifo) {
        const error = await b;
        assert.equal(error.code, "EarlierSendFailed");
        assert.match(error.message, /without a groupId/);
        assert.equal(client.calls.length, 1);
      } else {
        client.acknowledge(1);
        assert.equal((await b).id, "id-b");
      }
      await producer.close();
    });
  }
});

Deno.test("a send aborted on the wire whose batch then fails breaks its group all the same", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", { lingerMs: 1 });
  const controller = new AbortController();
  const a = producer.send({ body: "a", groupId: "g" }, { signal: controller.signal });
  await waitFor("a's batch", () => client.calls.length === 1);
  const b = producer.send({ body: "b", groupId: "g" }).catch((error) => error);
  controller.abort();
  await assert.rejects(a, { code: "Aborted" });
  client.calls[0].answer.reject(new CmqdError("Timeout", "no answer", { status: 0 }));
  const error = await b;
  assert.equal(error.code, "EarlierSendFailed");
  assert.equal(error.cause.code, "Timeout");
  await producer.close();
  assert.equal(client.calls.length, 1, "b was never sent");
});

Deno.test("a send of the group made after the failure goes out though older ones still waited for room", async () => {
  const client = new FakeSender();
  const producer = new Producer(client, "q", {
    batchSize: 1,
    pendingSendsMax: 1,
    inflightBatchesMax: 1,
    lingerMs: 1,
  });
  const a = producer.send({ body: "a", groupId: "g" }).catch((error) => error);
  const b = producer.send({ body: "b", groupId: "g" }).catch((error) => error); // waits for room
  const x = producer.send({ body: "x", groupId: "h" }); // waits for room
  await waitFor("a's batch", () => client.calls.length === 1);
  client.calls[0].answer.reject(new CmqdError("BacklogFull", "full", { status: 429 }));
  assert.equal((await a).code, "BacklogFull");
  const d = producer.send({ body: "d", groupId: "g" }); // made after the failure, b still waits
  assert.equal((await b).code, "EarlierSendFailed");
  await waitFor("x's batch", () => client.calls.length === 2);
  assert.deepEqual(client.bodies(1), ["x"]);
  client.acknowledge(1);
  await x;
  await waitFor("d's batch", () => client.calls.length === 3);
  assert.deepEqual(client.bodies(2), ["d"]);
  client.acknowledge(2);
  assert.equal((await d).id, "id-d");
  await producer.close();
  assert.equal(producer.stats.pendingSends, 0);
});
