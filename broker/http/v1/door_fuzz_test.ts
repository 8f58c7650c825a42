/**
 * Generated bad input at the native v1 door and the ops routes, through a whole node's app over
 * the real engine (the direct fast path and hono both): odd paths and escapes, repeated query
 * parameters, wrong content types, invalid UTF-8, JSON of every wrong shape. Each request gets an
 * answer below 500 with nothing logged; a refusal is a v1 error body and proposes nothing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  contentTypes,
  fuzzNode,
  jsonTexts,
  oddSegments,
  oddValues,
  requestOf,
  type RequestParts,
  runs,
  showParts,
  withInvalidUtf8,
} from "../_door_fuzz.ts";

/** Members of v1 request bodies (and some of other doors, which v1 must refuse). */
const bodyKeys = [
  "messages",
  "body",
  "groupId",
  "dedupId",
  "delaySeconds",
  "attributes",
  "maxMessages",
  "waitSeconds",
  "visibilityTimeoutSeconds",
  "receiptHandles",
  "receiptHandle",
  "entries",
  "timestamp",
  "rewindSeconds",
  "maxBacklog",
  "fifo",
  "retentionSeconds",
  "deadLetter",
  "queue",
  "maxReceiveCount",
  "redriveMessagesMax",
  "tags",
  "filterTags",
  "bindingKeys",
  "routingKey",
  "push",
  "url",
  "retryPolicy",
  "id",
  "MessageBody",
  "endpoint",
  "format",
];

const pathTemplates = [
  "/v1/queues",
  "/v1/queues/{}",
  "/v1/queues/{}/messages",
  "/v1/queues/{}/messages/receive",
  "/v1/queues/{}/messages/delete",
  "/v1/queues/{}/messages/visibility",
  "/v1/queues/{}/rewind",
  "/v1/queues/{}/purge",
  "/v1/queues/{}/redrive",
  "/v1/topics",
  "/v1/topics/{}",
  "/v1/topics/{}/messages",
  "/v1/topics/{}/subscriptions",
  "/v1/topics/{}/subscriptions/{}",
  "/v1/cluster",
  "/v1/cluster/nodes",
  "/v1/cluster/nodes/{}",
  "/healthz",
  "/readyz",
  "/metrics",
  "/openapi.json",
  "/docs",
  "/v1/{}",
  "/{}",
  "/v1/queues/{}/{}",
];

const queryKeys = ["limit", "offset", "prefix", "wait", "x", "__proto__", "limit[]", ""];
const queryValues = ["", "0", "1", "-1", "1001", "1e3", "%zz", "%00", "a", "NaN", "9".repeat(30)];

const segment = fc.constantFrom(...oddSegments);

const path = fc.tuple(fc.constantFrom(...pathTemplates), segment, segment).map(
  ([template, a, b]) => template.replace("{}", a).replace("{}", b),
);

const query = fc.array(
  fc.tuple(fc.constantFrom(...queryKeys), fc.constantFrom(...queryValues)),
  { maxLength: 4 },
).map((pairs) => pairs.length === 0 ? "" : "?" + pairs.map(([k, v]) => `${k}=${v}`).join("&"));

const json = jsonTexts(bodyKeys);

const body: fc.Arbitrary<string | Uint8Array<ArrayBuffer> | undefined> = fc.oneof(
  { weight: 8, arbitrary: json },
  { weight: 2, arbitrary: withInvalidUtf8(json) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const headers = fc.tuple(
  fc.option(fc.constantFrom(...contentTypes), { nil: undefined }),
  fc.option(fc.constantFrom("Bearer x", "Bearer ", "CMQD1-HMAC-SHA256 ", "Basic Og=="), {
    nil: undefined,
  }),
  fc.option(fc.constantFrom("0", "-1", "abc", "1, 2", "99999999999999999999"), { nil: undefined }),
).map(([type, authorization, idempotency]) => {
  const list: [string, string][] = [];
  if (type !== undefined) list.push(["content-type", type]);
  if (authorization !== undefined) list.push(["authorization", authorization]);
  if (idempotency !== undefined) list.push(["x-cmqd-wait", idempotency]);
  return list;
});

const requests: fc.Arbitrary<RequestParts> = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
  path: fc.tuple(path, query).map(([p, q]) => p + q),
  headers,
  body,
});

/** A node with queues `jobs` and `orders` (FIFO), topic `feed` with subscription `audit`. */
async function seeded() {
  const node = fuzzNode();
  const setupCalls: [string, string, unknown][] = [
    ["PUT", "/v1/queues/jobs", {}],
    ["PUT", "/v1/queues/orders", { fifo: true }],
    ["POST", "/v1/queues/jobs/messages", { messages: [{ body: "a" }, { body: "b" }] }],
    ["PUT", "/v1/topics/feed", {}],
    ["PUT", "/v1/topics/feed/subscriptions/audit", { endpoint: { queue: "jobs" } }],
  ];
  for (const [method, target, value] of setupCalls) {
    const answer = await node.send(requestOf({
      method,
      path: target,
      headers: [["content-type", "application/json"]],
      body: JSON.stringify(value),
    }));
    assert.ok(answer.status < 300, `${target}: ${answer.text}`);
  }
  return node;
}

Deno.test("generated requests at the v1 door get a v1 error or an answer, never a 5xx", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(requests, async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed01, 400),
  );
});

/** A message send's body with the odd values in each place a value goes. */
const sends = fc.tuple(
  fc.constantFrom("body", "groupId", "dedupId", "delaySeconds", "attributes"),
  fc.constantFrom(...oddValues),
  fc.constantFrom("jobs", "orders"),
).map(([field, value, queue]): RequestParts => ({
  method: "POST",
  path: `/v1/queues/${queue}/messages`,
  headers: [["content-type", "application/json"]],
  body: `{"messages":[{"body":"x","groupId":"g",${JSON.stringify(field)}:${value}}]}`,
}));

/** Receives, deletes and visibility changes with odd numbers and handles. */
const consumes = fc.tuple(
  fc.constantFrom("receive", "delete", "visibility"),
  fc.constantFrom(...oddValues),
  fc.constantFrom(
    "h",
    "",
    "AAAA",
    "////",
    "a".repeat(2000),
    btoa(String.fromCharCode(...new Array(48).fill(0).map((_, i) => (i * 37) & 255))),
    "%zz",
    "1.2.3",
  ),
).map(([what, value, handle]): RequestParts => {
  const body = what === "receive"
    ? `{"maxMessages":${value},"waitSeconds":0}`
    : what === "delete"
    ? `{"receiptHandles":[${JSON.stringify(handle)},${value}]}`
    : `{"entries":[{"receiptHandle":${
      JSON.stringify(handle)
    },"visibilityTimeoutSeconds":${value}}]}`;
  return {
    method: "POST",
    path: `/v1/queues/jobs/messages/${what}`,
    headers: [["content-type", "application/json"]],
    body,
  };
});

Deno.test("odd values in sends, receives, deletes and visibility changes are refused cleanly", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(fc.oneof(sends, consumes), async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed02, 300),
  );
});
