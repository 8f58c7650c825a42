import assert from "node:assert/strict";
import { BrokerError, type QueueService } from "../service/mod.ts";
import { Metrics } from "./metrics.ts";
import { createApp } from "./app.ts";
import { FakeStatus, jsonRequest, parsePrometheusText, recordingService } from "./testing/mod.ts";

function door(
  answers: Partial<Record<keyof QueueService, unknown>> = {},
  requestBytesMax?: number,
) {
  const { service, calls } = recordingService(answers);
  const status = new FakeStatus();
  const metrics = new Metrics();
  const logged: string[] = [];
  const app = createApp({
    service,
    status,
    metrics,
    requestBytesMax,
    logError: (message) => logged.push(message),
  });
  return { app, calls, status, metrics, logged };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("every response carries x-request-id, errors and 404s included", async () => {
  const { app } = door({ getQueue: () => Promise.reject(new Error("boom")) });
  const requests: [string, RequestInit?][] = [
    ["/healthz"],
    ["/nowhere"],
    ["/v1/queues/9bad"],
    ["/v1/queues/a"],
    ["/v1/queues/a", jsonRequest("PUT", "{oops")],
    ["/v1/queues/a", { method: "DELETE" }],
    ["/docs"],
    ["/openapi.json"],
    ["/metrics"],
  ];
  for (const [path, init] of requests) {
    const response = await app.request(path, init);
    const requestId = response.headers.get("x-request-id");
    assert.match(requestId ?? "", uuidPattern, `${init?.method ?? "GET"} ${path}`);
    if (response.status >= 400) {
      const body = await response.json();
      assert.equal(body.error.requestId, requestId);
    } else {
      await response.body?.cancel();
    }
  }
});

Deno.test("a sane incoming x-request-id is echoed, an odd one replaced", async () => {
  const { app } = door();
  const kept = await app.request("/healthz", { headers: { "x-request-id": "trace-42.a:b" } });
  assert.equal(kept.headers.get("x-request-id"), "trace-42.a:b");
  const replaced = await app.request("/healthz", { headers: { "x-request-id": "a b<script>" } });
  assert.match(replaced.headers.get("x-request-id") ?? "", uuidPattern);
  const long = await app.request("/healthz", { headers: { "x-request-id": "x".repeat(129) } });
  assert.match(long.headers.get("x-request-id") ?? "", uuidPattern);
  // The README's rule: at most 128 characters of [A-Za-z0-9._:-], every one of them kept.
  const longest = "Az09._:-".repeat(16);
  const atBound = await app.request("/healthz", { headers: { "x-request-id": longest } });
  assert.equal(atBound.headers.get("x-request-id"), longest);
  for (const odd of ["a/b", "a+b", "a=b", "é"]) {
    const refused = await app.request("/healthz", { headers: { "x-request-id": odd } });
    assert.match(refused.headers.get("x-request-id") ?? "", uuidPattern, odd);
  }
});

Deno.test("an BrokerError from the service keeps its status, code and field", async () => {
  const { app } = door({
    getQueue: (name: string) => {
      throw new BrokerError("QueueNotFound", `queue '${name}' does not exist`);
    },
    updateQueue: () => {
      throw new BrokerError("InvalidParameter", "fifo: is immutable", { field: "fifo" });
    },
  });
  const missing = await app.request("/v1/queues/orders");
  assert.equal(missing.status, 404);
  const body = await missing.json();
  assert.equal(body.error.code, "QueueNotFound");
  assert.equal(body.error.message, "queue 'orders' does not exist");
  assert.equal(body.error.field, undefined);
  const immutable = await app.request("/v1/queues/orders", jsonRequest("PATCH", { fifo: true }));
  assert.equal(immutable.status, 400);
  assert.deepEqual((await immutable.json()).error.field, "fifo");
});

Deno.test("a 503 from the service carries Retry-After", async () => {
  const { app } = door({
    sendMessages: () => {
      throw new BrokerError("NoLeader", "no leader elected yet", { retryAfterSeconds: 0.2 });
    },
  });
  const response = await app.request(
    "/v1/queues/q/messages",
    jsonRequest("POST", { messages: [{ body: "x" }] }),
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal((await response.json()).error.code, "NoLeader");
});

Deno.test("an unexpected error is a 500 that hides the details and is logged", async () => {
  const { app, logged } = door({
    purge: () => {
      throw new TypeError("cannot read properties of undefined (secret internals)");
    },
  });
  const response = await app.request("/v1/queues/q/purge", { method: "POST" });
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.doesNotMatch(text, /secret|TypeError|at /);
  assert.equal(JSON.parse(text).error.code, "InternalError");
  assert.equal(logged.length, 1);
  assert.match(logged[0], /POST \/v1\/queues\/q\/purge failed: cannot read properties/);
  // The door keeps serving.
  assert.equal((await app.request("/healthz")).status, 200);
});

Deno.test("unknown routes are 404 NotFound, known paths with another method 405", async () => {
  const { app } = door();
  const missing = await app.request("/v2/elsewhere", { method: "POST" });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "NotFound");
  const wrongMethod = await app.request("/v1/queues/orders/purge");
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "POST");
  assert.equal((await wrongMethod.json()).error.code, "MethodNotAllowed");
  const queue = await app.request("/v1/queues/orders", { method: "POST" });
  assert.equal(queue.status, 405);
  assert.equal(queue.headers.get("allow"), "PUT, GET, HEAD, PATCH, DELETE");
  await queue.body?.cancel();
});

Deno.test("a 405's Allow names HEAD wherever GET is allowed, and HEAD is indeed served there", async () => {
  const { app } = door();
  // Was: GET alone, though a HEAD is answered as the GET is.
  for (const path of ["/v1/queues/orders", "/healthz", "/metrics", "/openapi.json", "/docs"]) {
    const wrong = await app.request(path, { method: "POST" });
    await wrong.body?.cancel();
    assert.equal(wrong.status, 405, path);
    const allowed = wrong.headers.get("allow")!.split(", ");
    assert.ok(allowed.includes("GET") && allowed.includes("HEAD"), `${path}: ${allowed}`);
    const head = await app.request(path, { method: "HEAD" });
    await head.body?.cancel();
    assert.notEqual(head.status, 405, `HEAD ${path}`);
    assert.notEqual(head.status, 404, `HEAD ${path}`);
  }
  // A path without GET does not name HEAD, and refuses it.
  const purge = await app.request("/v1/queues/orders/purge", { method: "HEAD" });
  assert.equal(purge.status, 405);
  assert.equal(purge.headers.get("allow"), "POST");
});

Deno.test("a 404 or 405 repeats at most 200 characters of the path, then an ellipsis", async () => {
  const { app } = door();
  // Was the whole decoded path, however long: 100,000 characters sent back in the message.
  const long = "x".repeat(100_000);
  const missing = await app.request(`/v2/${long}`, { method: "POST" });
  assert.equal(missing.status, 404);
  const notFound = (await missing.json()).error.message;
  assert.equal(notFound, `no route for POST /v2/${"x".repeat(196)}…`);
  const wrongMethod = await app.request(`/v1/queues/${long}/purge`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(
    (await wrongMethod.json()).error.message,
    `GET is not allowed on /v1/queues/${"x".repeat(189)}…; use POST`,
  );
  // A surrogate pair across the cut is dropped whole, never halved.
  const emoji = await app.request(`/v2/${"y".repeat(195)}${encodeURIComponent("😀")}z`);
  assert.equal((await emoji.json()).error.message, `no route for GET /v2/${"y".repeat(195)}…`);
  // A path at the limit is repeated whole.
  const exact = await app.request(`/v2/${"w".repeat(196)}`);
  assert.equal((await exact.json()).error.message, `no route for GET /v2/${"w".repeat(196)}`);
});

Deno.test("the leader hint goes out on every response once known", async () => {
  const { app, status } = door();
  assert.equal((await app.request("/healthz")).headers.get("x-cmqd-leader"), null);
  status.leader = "http://10.0.0.2:8080";
  assert.equal((await app.request("/healthz")).headers.get("x-cmqd-leader"), status.leader);
  const error = await app.request("/nowhere");
  assert.equal(error.headers.get("x-cmqd-leader"), status.leader);
  await error.body?.cancel();
});

Deno.test("operations: healthz, readyz, cluster", async () => {
  const { app, status } = door();
  assert.deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  assert.deepEqual(await (await app.request("/readyz")).json(), { status: "ready" });
  status.isReady = false;
  const notReady = await app.request("/readyz");
  assert.equal(notReady.status, 503);
  assert.equal(notReady.headers.get("retry-after"), "1");
  assert.equal((await notReady.json()).error.code, "NotReady");
  assert.deepEqual(await (await app.request("/v1/cluster")).json(), status.cluster());
});

Deno.test("/readyz of a failed node: 503 NotReady with the reason and Retry-After: 1, as every other NotReady of it", async () => {
  const { app, status } = door();
  status.failed = "fsync failed: EIO";
  const answer = await app.request("/readyz");
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get("retry-after"), "1");
  const { error } = await answer.json();
  assert.equal(error.code, "NotReady");
  assert.equal(error.message, "the node failed: fsync failed: EIO");
  const health = await app.request("/healthz");
  assert.equal(health.status, 503);
  assert.equal((await health.json()).error.message, "the node failed: fsync failed: EIO");
});

Deno.test("/metrics is Prometheus text with HTTP metrics by route pattern and the node's own", async () => {
  const { app } = door();
  await app.request("/v1/queues/orders");
  await app.request("/v1/queues/payments");
  await app.request("/v1/queues/9bad");
  await app.request("/no/such/path/1");
  await app.request("/no/such/path/2");
  const response = await app.request("/metrics");
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheusText(await response.text());
  const requests = (route: string, status: number) =>
    samples.get(`cmqd_http_requests_total{method="GET",route="${route}",status="${status}"}`);
  assert.equal(requests("/v1/queues/:queue", 200), 2);
  assert.equal(requests("/v1/queues/:queue", 400), 1);
  assert.equal(requests("unmatched", 404), 2);
  assert.equal(
    samples.get('cmqd_http_request_duration_seconds_count{route="/v1/queues/:queue"}'),
    3,
  );
  assert.equal(samples.get("cmqd_engine_up"), 1);
});

Deno.test("/openapi.json is an OpenAPI 3.1 document with every route", async () => {
  const { app } = door();
  const document = await (await app.request("/openapi.json")).json();
  assert.equal(document.openapi, "3.1.0");
  assert.equal(document.info.title, "cmqd");
  const operations = Object.entries(document.paths as Record<string, object>)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)).sort();
  assert.deepEqual(operations, [
    "delete /v1/cluster/nodes/{id}",
    "delete /v1/queues/{queue}",
    "get /healthz",
    "get /metrics",
    "get /readyz",
    "get /v1/cluster",
    "get /v1/queues",
    "get /v1/queues/{queue}",
    "patch /v1/queues/{queue}",
    "post /v1/cluster/nodes",
    "post /v1/queues/{queue}/messages",
    "post /v1/queues/{queue}/messages/delete",
    "post /v1/queues/{queue}/messages/receive",
    "post /v1/queues/{queue}/messages/visibility",
    "post /v1/queues/{queue}/purge",
    "post /v1/queues/{queue}/redrive",
    "post /v1/queues/{queue}/rewind",
    "put /v1/queues/{queue}",
  ]);
  const visibility = document.components.schemas.QueueAttributesInput.properties
    .visibilityTimeoutSeconds;
  assert.equal(visibility.minimum, 1);
  assert.equal(visibility.maximum, 43_200);
  assert.equal(document.components.schemas.SendMessagesRequest.properties.messages.maxItems, 256);
});

Deno.test("/docs is a self-contained HTML page naming every path", async () => {
  const { app } = door();
  const response = await app.request("/docs");
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  const html = await response.text();
  const document = await (await app.request("/openapi.json")).json();
  for (const path of Object.keys(document.paths)) assert.ok(html.includes(path), path);
  for (const schema of Object.keys(document.components.schemas)) {
    assert.ok(html.includes(`id="schema-${schema}"`), schema);
  }
  assert.doesNotMatch(html, /<script|https?:\/\/(?!127)/);
});

Deno.test("a body may be empty on optional-body routes, with or without content type", async () => {
  const { app, calls } = door({ createQueue: { queue: { name: "q" }, created: true } });
  assert.equal((await app.request("/v1/queues/q", { method: "PUT" })).status, 201);
  const empty = await app.request("/v1/queues/q", jsonRequest("PUT", ""));
  assert.equal(empty.status, 201);
  assert.equal(
    (await app.request("/v1/queues/q/messages/receive", { method: "POST" })).status,
    200,
  );
  assert.deepEqual(calls.map((call) => call.args[1]), [{}, {}, {}]);
});

Deno.test("PUT answers 201 when created and 200 when it existed; DELETE answers 204", async () => {
  let created = true;
  const { app } = door({
    createQueue: () => ({ queue: { name: "q" }, created }),
    deleteQueue: undefined,
  });
  assert.equal((await app.request("/v1/queues/q", { method: "PUT" })).status, 201);
  created = false;
  assert.equal((await app.request("/v1/queues/q", { method: "PUT" })).status, 200);
  const deleted = await app.request("/v1/queues/q", { method: "DELETE" });
  assert.equal(deleted.status, 204);
  assert.equal(await deleted.text(), "");
});

Deno.test("the receive handler passes what holds the request's abort signal", async () => {
  const { app, calls } = door({ receiveMessages: { messages: [] } });
  await app.request("/v1/queues/q/messages/receive", jsonRequest("POST", { waitSeconds: 3 }));
  assert.equal(calls[0].method, "receiveMessages");
  assert.deepEqual(calls[0].args.slice(0, 2), ["q", { waitSeconds: 3 }]);
  assert.ok((calls[0].args[2] as { signal: unknown }).signal instanceof AbortSignal);
});

Deno.test("json with a charset and +json media types are accepted", async () => {
  const { app } = door({ createQueue: { queue: {}, created: true } });
  for (const contentType of ["application/json; charset=utf-8", "application/cmqd+json"]) {
    const response = await app.request(
      "/v1/queues/q",
      jsonRequest("PUT", {}, { "content-type": contentType }),
    );
    assert.equal(response.status, 201, contentType);
  }
});

Deno.test("bytes that are not UTF-8 are MalformedRequest, not U+FFFD as in Response.text()", async () => {
  const { app, calls } = door({ createQueue: { queue: {}, created: true } });
  const broken = await app.request("/v1/queues/q", {
    method: "PUT",
    body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    headers: { "content-type": "application/json" },
  });
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).error.code, "MalformedRequest");
  assert.equal(calls.length, 0);
  const prefix = new TextEncoder().encode('{"messages":[{"body":"a');
  const suffix = new TextEncoder().encode('"}]}');
  const sent = await app.request("/v1/queues/q/messages", {
    method: "POST",
    body: new Uint8Array([...prefix, 0xff, ...suffix]),
    headers: { "content-type": "application/json" },
  });
  assert.equal(sent.status, 400);
  assert.equal((await sent.json()).error.code, "MalformedRequest");
  assert.equal(calls.length, 0);
});

Deno.test("a node whose storage failed answers /healthz and /readyz 503 with the reason", async () => {
  const { app, status } = door();
  status.failed = "fsync failed: EIO";
  for (const path of ["/healthz", "/readyz"]) {
    const response = await app.request(path);
    assert.equal(response.status, 503, path);
    const body = await response.json();
    assert.equal(body.error.code, "NotReady");
    assert.match(body.error.message, /fsync failed: EIO/);
  }
});

Deno.test("a node removed from its cluster answers /readyz 503 NodeRemoved with why; it is alive", async () => {
  const { app, status } = door();
  status.removedWhy = "this node was removed from the cluster (n1's configuration ...)";
  const response = await app.request("/readyz");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), null);
  const body = await response.json();
  assert.equal(body.error.code, "NodeRemoved");
  assert.equal(body.error.message, status.removedWhy);
  assert.equal((await app.request("/healthz")).status, 200);
});

Deno.test("a body the client stops sending is a bad request on every door, never a logged failure", async () => {
  // What Deno hands the door when the client resets or closes the connection mid-body: a body
  // whose read fails (seen as BadResource when sqs-consumer aborted a request).
  const failing = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"messages":[{"bo'));
      },
      pull(controller) {
        controller.error(new Deno.errors.BadResource("the connection went away"));
      },
    });
  // CMQ answers every error with HTTP 200 and its code in the body (4000: invalid parameter).
  const refused = async (response: Response) =>
    response.status === 200 ? (await response.json()).code === 4000 : response.status === 400;
  const requests: [string, Record<string, string>][] = [
    ["/v1/queues/q/messages", { "content-type": "application/json" }],
    ["/v2/index.php", {}],
    ["/", {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "AmazonSQS.SendMessage",
    }],
  ];
  for (const [path, headers] of requests) {
    for (const declared of [true, false]) {
      const { app, calls, logged } = door();
      const response = await app.request(path, {
        method: "POST",
        headers: declared ? { ...headers, "content-length": "400" } : headers,
        body: failing(),
        // @ts-ignore: `duplex` is required for a stream body and not in every RequestInit type.
        duplex: "half",
      });
      assert.ok(await refused(response), `${path} (declared length: ${declared})`);
      assert.deepEqual(logged, [], `${path}: nothing logged`);
      assert.deepEqual(calls, [], `${path}: the service was not called`);
    }
  }
});
