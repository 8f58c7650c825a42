/**
 * Maps of user keys (message attributes, queue tags) over HTTP on the real engine, through the
 * fast paths and the zod routes alike: `__proto__` is refused with the field naming it, and keys
 * named after inherited properties (`constructor`, `toString`, …) come back as sent.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus } from "../testing/mod.ts";

/** The fast paths take exactly `application/json`; this one goes to the zod routes. */
const zodType = "application/json; charset=utf-8";

function door(options: { hotRoutes?: boolean } = {}) {
  const { broker, topics } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
    ...options,
  });
  return async (method: string, path: string, body: string, type = "application/json") => {
    const response = await app.request(
      path,
      body === "" ? { method } : { method, body, headers: { "content-type": type } },
    );
    return { status: response.status, body: await response.json() };
  };
}

Deno.test("__proto__ as an attribute or tag key is refused alike on every v1 path", async () => {
  const requests: [string, string, string, string][] = [
    [
      "POST",
      "/v1/queues/q/messages",
      '{"messages": [{"body": "x", "attributes": {"a": "b", "__proto__": "v"}}]}',
      "messages.0.attributes.__proto__",
    ],
    [
      "POST",
      "/v1/topics/t/messages",
      '{"messages": [{"body": "x", "attributes": {"__proto__": "v"}}]}',
      "messages.0.attributes.__proto__",
    ],
    ["PUT", "/v1/queues/r", '{"tags": {"__proto__": "v"}}', "tags.__proto__"],
    ["PATCH", "/v1/queues/q", '{"tags": {"env": "prod", "__proto__": ""}}', "tags.__proto__"],
  ];
  const hot = door();
  const reference = door({ hotRoutes: false });
  for (const call of [hot, reference]) {
    await call("PUT", "/v1/queues/q", "{}");
    await call("PUT", "/v1/topics/t", "{}");
  }
  for (const [method, path, body, field] of requests) {
    const answers = [
      await hot(method, path, body),
      await hot(method, path, body, zodType),
      await reference(method, path, body),
    ];
    for (const answer of answers) {
      assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      const { requestId: _, ...error } = answer.body.error;
      assert.deepEqual(error, {
        code: "InvalidParameter",
        field,
        message: `${field}: reserved name (__proto__ is refused as a key)`,
      });
    }
  }
  assert.equal((await hot("GET", "/v1/queues/q", "")).body.activeMessages, 0);
});

Deno.test("attribute and tag keys named after inherited properties come back as sent", async () => {
  const names = ["constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];
  const map = Object.fromEntries(names.map((name) => [name, `${name}-v`]));
  const call = door();
  assert.equal((await call("PUT", "/v1/queues/q", JSON.stringify({ tags: map }))).status, 201);
  assert.deepEqual((await call("GET", "/v1/queues/q", "")).body.tags, map);
  const send = JSON.stringify({ messages: [{ body: "x", attributes: map }] });
  assert.equal((await call("POST", "/v1/queues/q/messages", send)).status, 200);
  assert.equal((await call("POST", "/v1/queues/q/messages", send, zodType)).status, 200);
  const received = await call("POST", "/v1/queues/q/messages/receive", '{"maxMessages": 2}');
  assert.equal(received.body.messages.length, 2);
  for (const message of received.body.messages) assert.deepEqual(message.attributes, map);
});
