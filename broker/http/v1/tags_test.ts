/**
 * Queue tags through the native door, on the real engine: the round trip, every kind of bad
 * input with its exact field (shape errors from the schema, limits from the service), and the
 * OpenAPI document.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus, jsonRequest } from "../testing/mod.ts";

function setup() {
  const { replica, broker } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  async function call(method: string, path: string, body?: unknown) {
    const init = body === undefined ? { method } : jsonRequest(method, body);
    const response = await app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
  }
  return { replica, app, call };
}

function manyTags(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, "v"]));
}

Deno.test("v1: tags round-trip through create, get, list and update", async () => {
  const { call } = setup();
  const created = await call("PUT", "/v1/queues/orders", { tags: { team: "pay", env: "prod" } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.tags, { env: "prod", team: "pay" });
  assert.deepEqual((await call("GET", "/v1/queues/orders")).body.tags, {
    env: "prod",
    team: "pay",
  });
  assert.deepEqual((await call("GET", "/v1/queues")).body.queues[0].tags, {
    env: "prod",
    team: "pay",
  });
  assert.equal(
    (await call("PUT", "/v1/queues/orders", { tags: { env: "prod", team: "pay" } })).status,
    200,
  );
  assert.equal((await call("PUT", "/v1/queues/orders")).status, 200, "no tags: any tags match");
  const conflict = await call("PUT", "/v1/queues/orders", { tags: { env: "dev" } });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.error.code, "QueueAlreadyExists");
  const patched = await call("PATCH", "/v1/queues/orders", { tags: { owner: "ana" } });
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.tags, { owner: "ana" }, "an update replaces every tag");
  const kept = await call("PATCH", "/v1/queues/orders", { maxBacklog: 10 });
  assert.deepEqual(kept.body.tags, { owner: "ana" }, "an update without tags keeps them");
  for (const none of [null, {}]) {
    await call("PATCH", "/v1/queues/orders", { tags: { owner: "ana" } });
    const removed = await call("PATCH", "/v1/queues/orders", { tags: none });
    assert.equal(removed.status, 200);
    assert.equal("tags" in removed.body, false, `${JSON.stringify(none)} removes every tag`);
  }
  const plain = await call("PUT", "/v1/queues/plain", {});
  assert.equal("tags" in plain.body, false, "a queue without tags has no tags field");
});

Deno.test("v1: bad tags get their exact field and change nothing", async () => {
  const { call, replica } = setup();
  await call("PUT", "/v1/queues/q", { tags: { env: "prod" } });
  const before = (await call("GET", "/v1/queues/q")).body;
  const lastIndex = replica.lastIndex;
  const cases: [string, unknown, string][] = [
    ["not an object", "env=prod", "tags"],
    ["an array", ["env"], "tags"],
    ["a number value", { env: 1 }, "tags.env"],
    ["51 tags", manyTags(51), "tags"],
    ["a 129-character key", { ["k".repeat(129)]: "v" }, "tags"],
    ["an empty key", { "": "v" }, "tags"],
    ["a bad character in a key", { "env!": "v" }, "tags.env!"],
    ["a bad character in a value", { env: "a\u0000b" }, "tags.env"],
    ["a 257-character value", { env: "v".repeat(257) }, "tags.env"],
    ["the reserved prefix", { "aws:x": "v" }, "tags.aws:x"],
  ];
  for (const [name, tags, field] of cases) {
    for (const [method, path] of [["PUT", "/v1/queues/other"], ["PATCH", "/v1/queues/q"]]) {
      const response = await call(method, path, { tags });
      assert.equal(response.status, 400, `${method} ${name}`);
      assert.equal(response.body.error.code, "InvalidParameter", `${method} ${name}`);
      assert.equal(response.body.error.field, field, `${method} ${name}`);
      assert.ok(response.body.error.message.startsWith(`${field}: `), response.body.error.message);
    }
  }
  assert.equal(replica.lastIndex, lastIndex, "nothing was proposed");
  assert.deepEqual((await call("GET", "/v1/queues/q")).body, before);
  assert.equal((await call("GET", "/v1/queues/other")).status, 404);
});

Deno.test("v1: /openapi.json documents tags on the input and the queue", async () => {
  const { app } = setup();
  const document = await (await app.request("/openapi.json")).json();
  const schemas = document.components.schemas;
  for (const schema of [schemas.QueueAttributesInput, schemas.Queue]) {
    const tags = schema.properties.tags;
    assert.deepEqual(tags.type, ["object", "null"]);
    assert.equal(tags.maxProperties, 50);
    assert.deepEqual(tags.additionalProperties, { type: "string" });
    assert.match(tags.description, /widened: CMQ has no tags/);
    assert.match(tags.description, /keys of 1–128 and values of 0–256 characters/);
    assert.equal(schema.required?.includes("tags") ?? false, false);
  }
});
