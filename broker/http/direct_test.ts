import assert from "node:assert/strict";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { createDirectRoutes } from "./direct.ts";
import { Metrics } from "./metrics.ts";
import { RequestRecorder } from "./request_context.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";
import type { TopicService } from "../service/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import type { HandleFailure } from "../../sdk/protocol.ts";
import { type Keys, nowMs, secretOf } from "./_access_fixtures.ts";
import {
  type Answer,
  type AppPair,
  pairedApps,
  type PairOptions,
  received,
  same as sameAnswer,
  sameMetrics,
  serviceAnswers,
} from "./_paired_apps.ts";
import { signRequest } from "../../sdk/signing.ts";

/** The direct path and hono alone, over the same keys and settings. */
function doors(options: PairOptions = {}): Promise<AppPair> {
  return pairedApps("directRoutes", serviceAnswers, options);
}

/** `sameAnswer`, and every v1 answer carries a request id. */
async function same(
  pair: AppPair,
  path: string,
  init: () => RequestInit,
  env?: unknown,
): Promise<Answer> {
  const answered = await sameAnswer(pair, path, init, env);
  assert.ok(answered.headers.some(([name]) => name === "x-request-id"), "a request id");
  return answered;
}

function post(body: unknown, headers: Record<string, string> = {}): () => RequestInit {
  return () => ({
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
}

const queues = "/v1/queues/";
const topics = "/v1/topics/";
const hotRequests = [
  { prefix: queues, suffix: "/messages", body: { messages: [{ body: "x", groupId: "g" }] } },
  { prefix: queues, suffix: "/messages/receive", body: { maxMessages: 16, waitSeconds: 0 } },
  { prefix: queues, suffix: "/messages/delete", body: { receiptHandles: ["h1", "h2"] } },
  {
    prefix: topics,
    suffix: "/messages",
    body: { messages: [{ body: "x", tags: ["paid"], routingKey: "a.b", attributes: { k: "v" } }] },
  },
] as const;

const badBodies = [
  { messages: [{ body: "x", delaySeconds: 1.5 }] },
  { messages: [{ body: "x", tags: "paid" }] },
  { maxMessages: 0 },
  { receiptHandles: [] },
  "{",
  "",
  "[]",
];

Deno.test("open door: good, bad and failing requests answer as hono alone does", async () => {
  const pair = await doors({ leader: "http://10.0.0.9:9876" });
  for (const { prefix, suffix, body } of hotRequests) {
    for (const queue of ["orders", "missing", "busy", "buggy", "maybe"]) {
      const answered = await same(pair, `${prefix}${queue}${suffix}`, post(body));
      if (queue === "orders") assert.equal(answered.status, 200);
      // Both paths say a write may have been carried out in the error body.
      if (queue === "maybe") assert.equal(JSON.parse(answered.body).error.outcomeUnknown, true);
      if (queue === "busy") assert.equal(JSON.parse(answered.body).error.outcomeUnknown, undefined);
      assert.ok(answered.headers.some(([name]) => name === "x-cmqd-leader"));
    }
    await same(pair, `${prefix}orders${suffix}`, post(body, { "x-request-id": "mine-1" }));
    for (const bad of badBodies) await same(pair, `${prefix}orders${suffix}`, post(bad));
    for (const type of ["text/plain", "application/json; charset=utf-8", "APPLICATION/JSON"]) {
      await same(pair, `${prefix}orders${suffix}`, post(body, { "content-type": type }));
    }
    await same(pair, `${prefix}orders${suffix}?x=1`, post(body));
    await same(pair, `${prefix}orders${suffix}/`, post(body));
    await same(pair, `${prefix}%6Frders${suffix}`, post(body));
    await same(pair, `${prefix}1bad${suffix}`, post(body));
  }
  // The bug was logged by both, with the same line (`same` compares the log lines).
  assert.equal(pair.direct.logged.length, hotRequests.length);
  assert.ok(pair.direct.calls.some(({ method }) => method === "publish"), "publishes served");
  sameMetrics(pair);
});

Deno.test("a body that is not UTF-8 answers as hono alone does", async () => {
  const pair = await doors();
  const utf8 = new TextEncoder();
  for (const { prefix, suffix, body } of hotRequests) {
    const text = JSON.stringify(body);
    // Bytes that are not UTF-8 inside the JSON text, and U+FFFD sent as such.
    for (const bytes of [[0xff], [0xed, 0xa0, 0x80], [0xef, 0xbf, 0xbd]]) {
      const at = text.length - 1;
      const raw = new Uint8Array([
        ...utf8.encode(text.slice(0, at)),
        ...utf8.encode(' ,"x":"'),
        ...bytes,
        ...utf8.encode('"'),
        ...utf8.encode(text.slice(at)),
      ]);
      const answered = await same(pair, `${prefix}orders${suffix}`, () => ({
        method: "POST",
        body: raw,
        headers: { "content-type": "application/json" },
      }));
      assert.equal(answered.status, 400, answered.body);
    }
  }
  // A send whose body holds them: refused on both paths, the one with U+FFFD sent as such taken.
  const path = `${queues}orders/messages`;
  for (const [bytes, status] of [[[0xff], 400], [[0xef, 0xbf, 0xbd], 200]] as const) {
    const answered = await same(pair, path, () => ({
      method: "POST",
      body: new Uint8Array([
        ...utf8.encode('{"messages":[{"body":"'),
        ...bytes,
        ...utf8.encode('"}]}'),
      ]),
      headers: { "content-type": "application/json" },
    }));
    assert.equal(answered.status, status, answered.body);
  }
  sameMetrics(pair);
});

Deno.test("a receive answer keeps the service's JSON shape and escaping", async () => {
  const pair = await doors();
  const answered = await same(pair, "/v1/queues/orders/messages/receive", post({}));
  assert.deepEqual(JSON.parse(answered.body), received);
  assert.ok(answered.body.startsWith('{"messages":[{"id":"m1","sequence":1,"body":'));
});

const keys: Keys = {
  writer: ["queue:orders:send", "queue:orders:receive", "topic:orders:publish"],
  other: ["queue:other:send", "queue:other:receive", "topic:other:publish"],
};

async function signed(path: string, text: string, options: { nonce?: string; key?: string }) {
  return await signRequest({
    method: "POST",
    path,
    query: "",
    body: text,
    secretId: "writer",
    secretKey: options.key ?? secretOf("writer"),
    nowMs,
    nonce: options.nonce,
  });
}

Deno.test("credentials: bearer, signatures, replays and rules answer as hono alone does", async () => {
  const pair = await doors({ keys });
  for (const [index, { prefix, suffix, body }] of hotRequests.entries()) {
    const path = `${prefix}orders${suffix}`;
    const text = JSON.stringify(body);
    // Missing, unknown scheme, wrong bearer secret, good bearer.
    await same(pair, path, post(body));
    await same(pair, path, post(body, { authorization: "Basic abc" }));
    await same(pair, path, post(body, { authorization: "Bearer writer:wrong" }));
    assert.equal(
      (await same(pair, path, post(body, { authorization: `Bearer writer:${secretOf("writer")}` })))
        .status,
      200,
    );
    // A key without the permission on this queue.
    await same(pair, path, post(body, { authorization: `Bearer other:${secretOf("other")}` }));
    // Signed: good once, then the same nonce is a replay.
    const good = await signed(path, text, { nonce: `nonce-${index}` });
    assert.equal((await same(pair, path, post(body, { authorization: good }))).status, 200);
    assert.equal((await same(pair, path, post(body, { authorization: good }))).status, 401);
    const wrong = await signed(path, text, { nonce: `wrong-${index}`, key: "not-the-key" });
    assert.equal((await same(pair, path, post(body, { authorization: wrong }))).status, 401);
    // A signature over other bytes than those sent.
    const other = await signed(path, `${text} `, { nonce: `other-${index}` });
    assert.equal((await same(pair, path, post(body, { authorization: other }))).status, 401);
    // Not plainly valid but signed: hono checks the signature with its nonce still unused.
    for (const [badIndex, bad] of badBodies.entries()) {
      const badText = typeof bad === "string" ? bad : JSON.stringify(bad);
      const authorization = await signed(path, badText, { nonce: `bad-${index}-${badIndex}` });
      const answered = await same(pair, path, post(bad, { authorization }));
      assert.notEqual(answered.status, 401, badText);
    }
    // Signed without permission: forbidden queue or topic.
    const forbidden = `${prefix}other${suffix}`;
    const forbiddenAuth = await signed(forbidden, text, { nonce: `forbidden-${index}` });
    assert.equal(
      (await same(pair, forbidden, post(body, { authorization: forbiddenAuth })))
        .status,
      403,
    );
  }
  sameMetrics(pair);
});

Deno.test("protected mode refuses remote clients on the direct path as hono does", async () => {
  const pair = await doors({ loopbackOnly: true });
  const remote = { remoteAddr: { transport: "tcp", hostname: "192.0.2.7", port: 5000 } };
  const local = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 5000 } };
  for (const { prefix, suffix, body } of hotRequests) {
    const path = `${prefix}orders${suffix}`;
    assert.equal((await same(pair, path, post(body), remote)).status, 403);
    assert.equal((await same(pair, path, post(body), undefined)).status, 403);
    assert.equal((await same(pair, path, post(body), local)).status, 200);
  }
  sameMetrics(pair);
});

Deno.test("body limits: declared and streamed bodies over the limit answer as hono does", async () => {
  const requestBytesMax = 2048;
  const pair = await doors({ requestBytesMax });
  const big = { messages: [{ body: "x".repeat(requestBytesMax) }] };
  const small = { messages: [{ body: "x" }] };
  const path = "/v1/queues/orders/messages";
  assert.equal((await same(pair, path, post(big))).status, 413);
  // A chunked body (no content-length): refused once the read passes the limit; a small one
  // is served.
  const streamed = (value: unknown) => () => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: ReadableStream.from([new TextEncoder().encode(JSON.stringify(value))]),
  });
  assert.equal((await same(pair, path, streamed(big))).status, 413);
  assert.equal((await same(pair, path, streamed(small))).status, 200);
  sameMetrics(pair);
});

Deno.test("the direct path serves plain requests itself and hands every other one to hono", async () => {
  const { service, calls } = recordingService(serviceAnswers);
  const metrics = new Metrics();
  const status = new FakeStatus();
  const topicService = service as unknown as TopicService;
  const reference = createApp({
    service,
    topics: topicService,
    status,
    metrics,
    directRoutes: false,
  });
  let handedOver = 0;
  const direct = createDirectRoutes({
    service,
    topics: topicService,
    status,
    access: AccessGuard.open(),
    recorder: new RequestRecorder(metrics),
    requestBytesMax: 1 << 20,
    logError: () => {},
    fallback: (request, info) => {
      handedOver++;
      return reference.fetch(request, info);
    },
  });
  const send = (path: string, init: RequestInit) =>
    direct(new Request(`http://broker${path}`, init));
  for (const { prefix, suffix, body } of hotRequests) {
    assert.equal((await send(`${prefix}orders${suffix}`, post(body)())).status, 200);
  }
  assert.equal(handedOver, 0);
  assert.equal(calls.length, hotRequests.length);
  const others: [string, RequestInit][] = [
    ["/v1/queues/orders/messages?x=1", post(hotRequests[0].body)()],
    ["/v1/queues/orders/messages/", post(hotRequests[0].body)()],
    ["/v1/queues/%6Frders/messages", post(hotRequests[0].body)()],
    ["/v1/queues/orders/messages/receive", post("")()],
    ["/v1/queues/orders/messages", post({ messages: [] })()],
    [
      "/v1/queues/orders/messages",
      post(hotRequests[0].body, { "content-type": "application/json; charset=utf-8" })(),
    ],
    ["/v1/queues/orders", { method: "GET" }],
    ["/v1/topics/orders/messages?x=1", post(hotRequests[3].body)()],
    ["/v1/topics/orders/messages/", post(hotRequests[3].body)()],
    ["/v1/topics/orders/subscriptions", { method: "GET" }],
    ["/v1/topics/orders/messages", post({ messages: [{ body: "x", tags: [1] }] })()],
  ];
  for (const [path, init] of others) {
    const before: number = handedOver;
    await (await send(path, init)).text();
    assert.equal(handedOver, before + 1, path);
  }
});

Deno.test("on the engine, a handle whose message is gone fails with gone: true on every path; an older delivery's fails without", async () => {
  const { clock, broker } = memoryEngine({ randomSalt: () => 7 });
  const appOf = (paths: { directRoutes: boolean; hotRoutes: boolean }) =>
    createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics(), ...paths });
  const paths = [
    appOf({ directRoutes: true, hotRoutes: true }), // the direct path
    appOf({ directRoutes: false, hotRoutes: true }), // hono's fast handler
    appOf({ directRoutes: false, hotRoutes: false }), // hono's zod route
  ];
  /** The failures every path answers alike (status and body text), without their messages. */
  async function failuresOnEveryPath(suffix: string, body: unknown) {
    const answers: string[] = [];
    for (const app of paths) {
      const response = await app.request(`/v1/queues/jobs/messages${suffix}`, post(body)());
      answers.push(`${response.status} ${await response.text()}`);
    }
    assert.deepEqual(answers.slice(1), [answers[0], answers[0]], suffix);
    assert.ok(answers[0].startsWith("200 "), answers[0]);
    const answer = JSON.parse(answers[0].slice(4)) as {
      deleted: number;
      failures: HandleFailure[];
    };
    assert.equal(answer.deleted, 0);
    return answer.failures.map(({ message: _, ...rest }) => rest);
  }
  await broker.createQueue("jobs", { visibilityTimeoutSeconds: 10 });
  await broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }]);
  const [a, b] = (await broker.receiveMessages("jobs", { maxMessages: 2 })).messages;
  assert.deepEqual(await broker.deleteMessages("jobs", [a.receiptHandle]), {
    deleted: 1,
    failures: [],
  });
  clock.advance(10_000);
  const [bAgain] = (await broker.receiveMessages("jobs", {})).messages;
  assert.equal(bAgain.id, b.id, "b is locked again, by a later delivery");
  const expected = [
    { receiptHandle: a.receiptHandle, code: "ReceiptHandleStale", gone: true },
    { receiptHandle: b.receiptHandle, code: "ReceiptHandleStale" },
  ];
  const handles = [a.receiptHandle, b.receiptHandle];
  assert.deepEqual(await failuresOnEveryPath("/delete", { receiptHandles: handles }), expected);
  assert.deepEqual(
    await failuresOnEveryPath("/receive", { deleteReceiptHandles: handles, waitSeconds: 0 }),
    expected,
    "a receive's piggybacked deletes",
  );
});

Deno.test("a signed request whose credentials fail is refused before its body is parsed, as on hono", async () => {
  // Parsing first let anyone, without a key, make the node parse 4 MiB of JSON per request
  // (1.4 s for nested arrays) before the 401.
  const pair = await doors({ keys });
  const parse = JSON.parse;
  for (const { prefix, suffix, body } of hotRequests) {
    const path = `${prefix}orders${suffix}`;
    const text = JSON.stringify(body);
    const refused = [
      await signed(path, text, { nonce: "wrong-key-nonce", key: "not-the-key" }),
      (await signed(path, text, { nonce: "unknown-id-nonce" })).replace("writer", "nobody"),
      `CMQD1-HMAC-SHA256 Credential=writer`,
    ];
    for (const authorization of refused) {
      const parsed: string[] = [];
      JSON.parse = (source: string, reviver?: (key: string, value: unknown) => unknown) => {
        if (source === text) parsed.push(source);
        return parse(source, reviver);
      };
      try {
        const answered = await same(pair, path, post(body, { authorization }));
        assert.equal(answered.status, 401, authorization);
      } finally {
        JSON.parse = parse;
      }
      assert.deepEqual(parsed, [], `${path}: the body was parsed for ${authorization}`);
    }
  }
  sameMetrics(pair);
});
