/**
 * With credentials configured, nothing but the contract's open endpoints (`/healthz`, `/readyz`,
 * `/metrics`, `/openapi.json`, `/docs`) answers a request that carries no key: every route the
 * app has (read from hono's route list and the OpenAPI document, so a route added later is
 * covered without touching this file), every CMQ action and SQS operation, under every method
 * and every odd spelling of its path (`//v1`, dot segments, `%`-escapes, a trailing slash, upper
 * case). Through `app.request()` and, for the request-targets a `Request` can't carry as sent
 * (dot segments, absolute form), over a raw connection to `Deno.serve`.
 */
import assert from "node:assert/strict";
import { door } from "./_access_fixtures.ts";

/** What the API contract's "Security" section keeps open without a key. */
const openPaths = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"];

const sample: Record<string, string> = { queue: "orders", topic: "orders", id: "n2" };

/** A concrete path of a hono (`:queue`) or OpenAPI (`{queue}`) route pattern. */
function concrete(pattern: string): string {
  return pattern.replaceAll(
    /:(\w+)|\{(\w+)\}/g,
    (_, hono, openApi) => sample[hono ?? openApi] ?? "x",
  );
}

/** Spellings of `path` that a router, a decoder or a URL parser might take for it. */
function spellings(path: string): string[] {
  const rest = path.slice("/v1".length);
  return [
    path,
    `${path}/`,
    `/${path}`,
    `${path}?x=1`,
    `/v1/${rest}`,
    `/v1/.${rest}`,
    `/v1/..${path}`,
    `/v1/%2e%2e${path}`,
    `/%76%31${rest}`,
    `/v1${rest.replaceAll("/", "%2F")}`,
    `/v1${rest.replaceAll("/", "%2f")}`,
    path.toUpperCase(),
    `/V1${rest}`,
    `${path}%00`,
    `${path};x`,
    `/healthz/..${path}`,
    `/metrics/%2e%2e${path}`,
  ];
}

const methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "patch", "PROPFIND"];

/**
 * The bodies sent with `method`: none for GET and HEAD; for POST also bodies the direct path
 * (`direct.ts`, in front of hono) serves itself, a send's or publish's and a delete's.
 */
function bodiesOf(method: string): (string | undefined)[] {
  if (method === "GET" || method === "HEAD") return [undefined];
  if (method !== "POST") return ["{}"];
  return ["{}", JSON.stringify({ messages: [{ body: "x" }] }), '{"receiptHandles":["h"]}'];
}

/** True for an answer that served nothing: a refusal or "no such route". */
function refused(status: number): boolean {
  return status === 401 || status === 403 || status === 404 || status === 405 || status === 400;
}

Deno.test("with credentials, no route answers without a key but the contract's open endpoints", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const document = await (await app.request("/openapi.json")).json();
  const patterns = new Set<string>([
    ...app.routes.filter((route) => route.method !== "ALL").map((route) => route.path),
    ...Object.keys(document.paths),
  ]);
  // The enumeration found the routes (a broken listing would make this test pass vacuously).
  assert.ok(patterns.has("/v1/queues/:queue/messages") && patterns.has("/v1/cluster/nodes/{id}"));
  assert.ok(patterns.size >= 30, `${patterns.size} route patterns`);
  const servedWithoutKey = new Set<string>();
  for (const pattern of patterns) {
    const path = concrete(pattern);
    for (const spelling of spellings(path)) {
      for (const method of methods) {
        for (const body of bodiesOf(method)) {
          const response = await app.request(spelling, {
            method,
            headers: body === undefined ? {} : { "content-type": "application/json" },
            body,
          });
          await response.body?.cancel();
          if (refused(response.status)) continue;
          servedWithoutKey.add(new URL(spelling, "http://h").pathname);
        }
      }
    }
  }
  assert.deepEqual([...servedWithoutKey].sort(), [...openPaths].sort());
  assert.deepEqual(calls, [], "no request without a key reached the service");
});

Deno.test("with credentials, every /v1 path the router decodes as /v1 answers 401 without a key", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const patterns = app.routes.filter((route) => route.path.startsWith("/v1/"));
  for (const route of patterns) {
    const path = concrete(route.path);
    for (const spelling of [path, `${path}/`, `${path}?x=1`, `/%76%31${path.slice(3)}`]) {
      for (const method of [route.method, "HEAD", "OPTIONS"]) {
        for (const body of bodiesOf(method)) {
          const headers = { "content-type": "application/json" };
          const response = await app.request(spelling, { method, headers, body });
          await response.body?.cancel();
          assert.equal(response.status, 401, `${method} ${spelling} ${body}`);
        }
      }
    }
  }
  assert.deepEqual(calls, []);
});

/** Every CMQ action the door knows (and a made-up one): all need a signature first. */
const cmqActions = [
  "CreateQueue",
  "ListQueue",
  "GetQueueAttributes",
  "SetQueueAttributes",
  "DeleteQueue",
  "RewindQueue",
  "SendMessage",
  "BatchSendMessage",
  "ReceiveMessage",
  "BatchReceiveMessage",
  "DeleteMessage",
  "BatchDeleteMessage",
  "CreateTopic",
  "ListTopic",
  "GetTopicAttributes",
  "SetTopicAttributes",
  "DeleteTopic",
  "PublishMessage",
  "BatchPublishMessage",
  "Subscribe",
  "Unsubscribe",
  "ListSubscriptionByTopic",
  "GetSubscriptionAttributes",
  "SetSubscriptionAttributes",
  "ClearSubscriptionFilterTags",
  "NoSuchAction",
];

/** Every SQS operation the door serves (and a made-up one). */
const sqsOperations = [
  "CreateQueue",
  "GetQueueUrl",
  "ListQueues",
  "GetQueueAttributes",
  "SetQueueAttributes",
  "DeleteQueue",
  "PurgeQueue",
  "SendMessage",
  "SendMessageBatch",
  "ReceiveMessage",
  "DeleteMessage",
  "DeleteMessageBatch",
  "ChangeMessageVisibility",
  "ChangeMessageVisibilityBatch",
  "TagQueue",
  "UntagQueue",
  "ListQueueTags",
  "ListDeadLetterSourceQueues",
  "StartMessageMoveTask",
  "ListMessageMoveTasks",
  "CancelMessageMoveTask",
  "NoSuchOperation",
];

Deno.test("with credentials, every CMQ action and SQS operation refuses a request without a signature", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const form = { "content-type": "application/x-www-form-urlencoded" };
  for (const action of cmqActions) {
    const params = `Action=${action}&queueName=orders&topicName=orders&msgBody=x`;
    for (
      const request of [
        new Request(`http://h/v2/index.php?${params}`),
        new Request("http://h/v2/index.php", { method: "POST", headers: form, body: params }),
        // A signature's fields without a key that matches them.
        new Request(`http://h/v2/index.php?${params}&SecretId=AKIDadmin&Nonce=1&Signature=x`),
      ]
    ) {
      const response = await app.request(request);
      assert.equal((await response.json()).code, 4100, `CMQ ${action}`);
    }
  }
  for (const operation of sqsOperations) {
    const input = JSON.stringify({ QueueUrl: "http://h/000000000000/orders", QueueName: "orders" });
    const queryInput = `Action=${operation}&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Forders`;
    for (
      const request of [
        new Request("http://h/", {
          method: "POST",
          headers: {
            "x-amz-target": `AmazonSQS.${operation}`,
            "content-type": "application/x-amz-json-1.0",
          },
          body: input,
        }),
        new Request("http://h/", { method: "POST", headers: form, body: queryInput }),
        new Request("http://h/000000000000/orders", {
          method: "POST",
          headers: form,
          body: queryInput,
        }),
        new Request(`http://h/?${queryInput}`),
        new Request(`http://h/000000000000/orders?${queryInput}`),
      ]
    ) {
      const response = await app.request(request);
      const text = await response.text();
      assert.ok(response.status === 400 || response.status === 403, `SQS ${operation}: ${text}`);
      assert.match(text, /MissingAuthenticationToken/, `SQS ${operation}`);
    }
  }
  assert.deepEqual(calls, []);
});

/** Sends one raw HTTP/1.1 request and answers the status code. */
async function rawStatus(port: number, requestLine: string): Promise<number> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = `${requestLine}\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 0\r\n` +
      "connection: close\r\n\r\n";
    await connection.write(new TextEncoder().encode(head));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(4096);
    for (;;) {
      const read = await connection.read(buffer).catch(() => null);
      if (read === null) break;
      chunks.push(buffer.slice(0, read));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    connection.close();
  }
}

Deno.test("with credentials, raw request-targets (dot segments, absolute form) get no answer without a key", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request, info) => app.fetch(request, info),
  );
  try {
    const port = server.addr.port;
    const targets = [
      "/v1/queues/orders",
      "/v1/queues/../queues/orders",
      "/v1/./queues/orders",
      "/healthz/../v1/queues/orders",
      "/docs/../v1/cluster",
      "/metrics/../v1/cluster",
      "/readyz/..%2Fv1/cluster",
      "//v1/cluster",
      "/v1\\cluster",
      "http://elsewhere/v1/cluster",
      "/v1/queues/orders/messages/../../orders",
    ];
    for (const target of targets) {
      for (const method of ["GET", "HEAD", "DELETE", "OPTIONS"]) {
        const status = await rawStatus(port, `${method} ${target} HTTP/1.1`);
        assert.ok(status !== 0 && refused(status), `${method} ${target}: ${status}`);
      }
    }
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(calls, []);
});
