/**
 * A PATCH of a subscription needs the rights subscribing with the result would: changing the
 * filter of a subscription whose endpoint is a queue changes what flows into that queue, so it
 * needs `send` on the queue as subscribing with that filter does, not only the topic's `manage`.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import { FileKeyRing } from "../../auth/mod.ts";
import { AccessGuard, createApp, Metrics } from "../mod.ts";
import { FakeStatus } from "../testing/mod.ts";

const keys = [
  { secretId: "AKIDadmin", secretKey: "admin-secret", allow: ["*"] },
  { secretId: "AKIDtopic", secretKey: "topic-secret", allow: ["topic:payments:manage"] },
  {
    secretId: "AKIDboth",
    secretKey: "both-secret",
    allow: ["topic:payments:manage", "queue:risk:send"],
  },
];

async function engineDoor() {
  const { broker, topics, replica } = memoryEngine();
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: new AccessGuard({ keyRing: FileKeyRing.fromKeys(keys), loopbackOnly: false }),
  });
  const call = async (secretId: string, method: string, path: string, body?: unknown) => {
    const secret = keys.find((key) => key.secretId === secretId)!.secretKey;
    const response = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${secretId}:${secret}`,
        "content-type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  assert.equal((await call("AKIDadmin", "PUT", "/v1/queues/risk", {})).status, 201);
  assert.equal((await call("AKIDadmin", "PUT", "/v1/topics/payments", {})).status, 201);
  return { call, replica, topics };
}

Deno.test("changing the filter of a queue subscription needs send on its queue, as subscribing with it does", async () => {
  const { call, replica, topics } = await engineDoor();
  const path = "/v1/topics/payments/subscriptions/risk";
  const created = await call("AKIDadmin", "PUT", path, {
    endpoint: { queue: "risk" },
    filterTags: ["paid"],
  });
  assert.equal(created.status, 201);
  // Subscribing with every message is refused to a key without send on the queue …
  const subscribe = await call("AKIDtopic", "PUT", "/v1/topics/payments/subscriptions/other", {
    endpoint: { queue: "risk" },
  });
  assert.equal(subscribe.status, 403);
  // … and so is widening the existing subscription's filter to every message.
  for (const widen of [{ filterTags: [] }, { filterTags: ["paid", "refunded"] }]) {
    const before = replica.lastIndex;
    const refused = await call("AKIDtopic", "PATCH", path, widen);
    assert.equal(refused.status, 403, JSON.stringify(widen));
    assert.equal(refused.body.error.code, "AccessDenied");
    assert.equal(
      refused.body.error.message,
      "key 'AKIDtopic' lacks the permission 'queue:risk:send' (the subscription's filter " +
        "decides what goes into queue 'risk')",
    );
    assert.equal(replica.lastIndex, before, "nothing proposed");
  }
  assert.deepEqual((await topics.getSubscription("payments", "risk")).filterTags, ["paid"]);
  const allowed = await call("AKIDboth", "PATCH", path, { filterTags: [] });
  assert.equal(allowed.status, 200);
  assert.deepEqual(allowed.body.filterTags, []);
});

Deno.test("a URL subscription's filter and push settings need only the topic's manage", async () => {
  const { call } = await engineDoor();
  const path = "/v1/topics/payments/subscriptions/hook";
  const url = { endpoint: { url: "https://example.com/hook" }, filterTags: ["paid"] };
  assert.equal((await call("AKIDtopic", "PUT", path, url)).status, 201);
  const patched = await call("AKIDtopic", "PATCH", path, { filterTags: [], format: "simplified" });
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.filterTags, []);
});
