/**
 * Every auth rule of the v1 door through `app.request()`: each route refuses missing, garbled,
 * wrong, expired and replayed credentials with 401, a key without the route's permission with
 * 403, and serves a key with exactly that permission (Bearer and signed); the open endpoints stay
 * open; protected mode refuses non-loopback clients (the remote address is faked through the
 * connection info hono passes as `env`).
 */
import assert from "node:assert/strict";
import { FileKeyRing, NonceCache } from "../auth/mod.ts";
import type { QueueService, TopicService } from "../service/mod.ts";
import type { ClusterInfo, JoinRequest } from "../../sdk/protocol.ts";
import { signRequest } from "../../sdk/signing.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";
import { v1AccessRules } from "./v1/mod.ts";

const nowMs = 1_700_000_000_000;

/** A status that also runs membership changes, recording them. */
class MembershipStatus extends FakeStatus {
  readonly joined: JoinRequest[] = [];
  readonly removed: string[] = [];
  join(request: JoinRequest): Promise<ClusterInfo> {
    this.joined.push(request);
    return Promise.resolve(this.cluster());
  }
  removeNode(id: string): Promise<void> {
    this.removed.push(id);
    return Promise.resolve();
  }
}

const answers: Partial<Record<keyof QueueService | keyof TopicService, unknown>> = {
  createQueue: { queue: { name: "orders" }, created: true },
  listQueues: { total: 0, queues: [] },
  createTopic: { topic: { name: "orders" }, created: true },
  subscribe: { subscription: { name: "audit" }, created: true },
};

type Keys = Record<string, string[]>;

function secretOf(secretId: string): string {
  return `${secretId}-secret`;
}

async function keyRingOf(keys: Keys): Promise<FileKeyRing> {
  const text = JSON.stringify({
    keys: Object.entries(keys).map(([secretId, allow]) => ({
      secretId,
      secretKey: secretOf(secretId),
      allow,
    })),
  });
  return await FileKeyRing.load("credentials.json", () => Promise.resolve(text));
}

interface DoorOptions {
  keys?: Keys;
  loopbackOnly?: boolean;
  nonceCache?: NonceCache;
  requestBytesMax?: number;
}

async function door(options: DoorOptions = {}) {
  // One recorder serves queues and topics, so `calls` lists what every route ran.
  const { service, calls } = recordingService(
    answers as Partial<Record<keyof QueueService, unknown>>,
  );
  const status = new MembershipStatus();
  const logged: string[] = [];
  const keyRing = options.keys === undefined ? null : await keyRingOf(options.keys);
  const access = new AccessGuard({
    keyRing,
    loopbackOnly: options.loopbackOnly ?? false,
    nonceCache: options.nonceCache,
    nowMs: () => nowMs,
  });
  const app = createApp({
    service,
    topics: service as unknown as TopicService,
    status,
    metrics: new Metrics(),
    access,
    requestBytesMax: options.requestBytesMax,
    logError: (message) => logged.push(message),
  });
  return { app, calls, status, logged, access };
}

/** One concrete request per v1 route, with the permission API.md says it needs. */
interface RouteCase {
  method: string;
  path: string;
  body?: unknown;
  permission: string;
}

const routeCases: RouteCase[] = [
  { method: "PUT", path: "/v1/queues/orders", body: {}, permission: "queue:orders:manage" },
  { method: "GET", path: "/v1/queues?prefix=ord&limit=5", permission: "queue:ord*:read" },
  { method: "GET", path: "/v1/queues/orders", permission: "queue:orders:read" },
  {
    method: "PATCH",
    path: "/v1/queues/orders",
    body: { maxBacklog: 5 },
    permission: "queue:orders:manage",
  },
  { method: "DELETE", path: "/v1/queues/orders", permission: "queue:orders:manage" },
  {
    method: "POST",
    path: "/v1/queues/orders/messages",
    body: { messages: [{ body: "x" }] },
    permission: "queue:orders:send",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/receive",
    body: { maxMessages: 2 },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/delete",
    body: { receiptHandles: ["h"] },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/messages/visibility",
    body: { entries: [{ receiptHandle: "h", visibilityTimeoutSeconds: 5 }] },
    permission: "queue:orders:receive",
  },
  {
    method: "POST",
    path: "/v1/queues/orders/rewind",
    body: { timestamp: 1 },
    permission: "queue:orders:manage",
  },
  { method: "POST", path: "/v1/queues/orders/purge", permission: "queue:orders:manage" },
  {
    method: "POST",
    path: "/v1/queues/orders/redrive",
    body: {},
    permission: "queue:orders:manage",
  },
  { method: "PUT", path: "/v1/topics/orders", body: {}, permission: "topic:orders:manage" },
  { method: "GET", path: "/v1/topics?prefix=ord", permission: "topic:ord*:read" },
  { method: "GET", path: "/v1/topics/orders", permission: "topic:orders:read" },
  {
    method: "PATCH",
    path: "/v1/topics/orders",
    body: { retentionSeconds: 600 },
    permission: "topic:orders:manage",
  },
  { method: "DELETE", path: "/v1/topics/orders", permission: "topic:orders:manage" },
  {
    method: "POST",
    path: "/v1/topics/orders/messages",
    body: { messages: [{ body: "x" }] },
    permission: "topic:orders:publish",
  },
  {
    // A URL endpoint writes into no queue: the topic's permission is enough.
    method: "PUT",
    path: "/v1/topics/orders/subscriptions/audit",
    body: { endpoint: { url: "https://example.com/hook" } },
    permission: "topic:orders:manage",
  },
  { method: "GET", path: "/v1/topics/orders/subscriptions", permission: "topic:orders:read" },
  { method: "GET", path: "/v1/topics/orders/subscriptions/audit", permission: "topic:orders:read" },
  {
    method: "PATCH",
    path: "/v1/topics/orders/subscriptions/audit",
    body: { filterTags: ["paid"] },
    permission: "topic:orders:manage",
  },
  {
    method: "DELETE",
    path: "/v1/topics/orders/subscriptions/audit",
    permission: "topic:orders:manage",
  },
  { method: "GET", path: "/v1/cluster", permission: "cluster:read" },
  {
    method: "POST",
    path: "/v1/cluster/nodes",
    body: { id: "n2", peerAddress: "10.0.0.2:9877", clientUrl: "http://10.0.0.2:9876" },
    permission: "cluster:manage",
  },
  { method: "DELETE", path: "/v1/cluster/nodes/n2", permission: "cluster:manage" },
];

const allActions: Record<string, string[]> = {
  queue: ["send", "receive", "manage", "read"],
  topic: ["publish", "manage", "read"],
};

/**
 * Every permission but the needed one: all actions on `orders` and on `other`, topics and the
 * cluster — except that the needed kind and action is granted only on the queue `other`.
 */
function everythingBut(permission: string): string[] {
  const [kind, , action] = permission.split(":");
  const neededAction = kind === "cluster" ? permission.split(":")[1] : action;
  const granted: string[] = [];
  for (const [each, actions] of Object.entries(allActions)) {
    for (const eachAction of actions) {
      for (const name of ["orders", "other"]) {
        if (each === kind && eachAction === neededAction && name !== "other") continue;
        granted.push(`${each}:${name}:${eachAction}`);
      }
    }
  }
  for (const clusterAction of ["manage", "read"]) {
    if (kind !== "cluster" || clusterAction !== neededAction) {
      granted.push(`cluster:${clusterAction}`);
    }
  }
  return granted;
}

function bodyText(routeCase: RouteCase): string | undefined {
  return routeCase.body === undefined ? undefined : JSON.stringify(routeCase.body);
}

function init(routeCase: RouteCase, authorization?: string): RequestInit {
  const headers: Record<string, string> = {};
  const body = bodyText(routeCase);
  if (body !== undefined) headers["content-type"] = "application/json";
  if (authorization !== undefined) headers.authorization = authorization;
  return { method: routeCase.method, headers, body };
}

interface SignOptions {
  secretKey?: string;
  atMs?: number;
  nonce?: string;
}

async function signedFor(routeCase: RouteCase, secretId: string, options: SignOptions = {}) {
  const url = new URL(`http://localhost${routeCase.path}`);
  return await signRequest({
    method: routeCase.method,
    path: url.pathname,
    query: url.search,
    body: bodyText(routeCase),
    secretId,
    secretKey: options.secretKey ?? secretOf(secretId),
    nowMs: options.atMs ?? nowMs,
    nonce: options.nonce,
  });
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return (await response.json()).error;
}

function label(routeCase: RouteCase): string {
  return `${routeCase.method} ${routeCase.path}`;
}

Deno.test("every v1 route refuses missing, garbled, wrong, expired and replayed credentials", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  for (const routeCase of routeCases) {
    const refusals: [string, string | undefined][] = [
      ["missing", undefined],
      ["empty", ""],
      ["unknown scheme", "Basic QUtJRGFkbWluOnNlY3JldA=="],
      ["bearer without colon", "Bearer AKIDadmin"],
      ["bearer of nothing", "Bearer"],
      ["signed without fields", "CMQD1-HMAC-SHA256"],
      [
        "signed with a bad signature",
        "CMQD1-HMAC-SHA256 Credential=AKIDadmin, Timestamp=1, " +
        "Nonce=n, Signature=bad",
      ],
      ["bearer, wrong secret", "Bearer AKIDadmin:guess"],
      ["bearer, unknown id", `Bearer AKIDnobody:${secretOf("AKIDnobody")}`],
      ["signed, wrong secret", await signedFor(routeCase, "AKIDadmin", { secretKey: "guess" })],
      ["signed, unknown id", await signedFor(routeCase, "AKIDnobody")],
      ["signed 301 s ago", await signedFor(routeCase, "AKIDadmin", { atMs: nowMs - 301_000 })],
      ["signed 301 s ahead", await signedFor(routeCase, "AKIDadmin", { atMs: nowMs + 301_000 })],
    ];
    for (const [what, authorization] of refusals) {
      const response = await app.request(routeCase.path, init(routeCase, authorization));
      assert.equal(response.status, 401, `${label(routeCase)}: ${what}`);
      assert.equal((await errorOf(response)).code, "Unauthenticated");
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer .*CMQD1-HMAC-SHA256/);
    }
    const signed = await signedFor(routeCase, "AKIDadmin");
    const first = await app.request(routeCase.path, init(routeCase, signed));
    assert.ok(first.ok, `${label(routeCase)}: first use of a signature (${first.status})`);
    await first.body?.cancel();
    const replay = await app.request(routeCase.path, init(routeCase, signed));
    assert.equal(replay.status, 401, `${label(routeCase)}: replay`);
    assert.match((await errorOf(replay)).message, /\(replay\)$/);
  }
  assert.equal(calls.length, 23, "only the first signed request of each queue and topic route ran");
});

Deno.test("every v1 route refuses a key without its permission with 403 and names it", async () => {
  const keys: Keys = {};
  routeCases.forEach((routeCase, index) =>
    keys[`AKIDlacks${index}`] = everythingBut(routeCase.permission)
  );
  const { app, calls, status } = await door({ keys });
  for (const [index, routeCase] of routeCases.entries()) {
    const secretId = `AKIDlacks${index}`;
    for (
      const authorization of [
        `Bearer ${secretId}:${secretOf(secretId)}`,
        await signedFor(routeCase, secretId),
      ]
    ) {
      const response = await app.request(routeCase.path, init(routeCase, authorization));
      assert.equal(response.status, 403, label(routeCase));
      const error = await errorOf(response);
      assert.equal(error.code, "AccessDenied");
      assert.ok(error.message.startsWith(`key '${secretId}' `), error.message);
    }
  }
  assert.equal(calls.length, 0);
  assert.deepEqual([status.joined, status.removed], [[], []]);
});

Deno.test("every v1 route serves a key holding exactly its permission, Bearer or signed", async () => {
  const keys: Keys = {};
  routeCases.forEach((routeCase, index) => keys[`AKIDmay${index}`] = [routeCase.permission]);
  const { app, calls, status } = await door({ keys });
  for (const [index, routeCase] of routeCases.entries()) {
    const secretId = `AKIDmay${index}`;
    for (
      const authorization of [
        `Bearer ${secretId}:${secretOf(secretId)}`,
        `bearer   ${secretId}:${secretOf(secretId)}`,
        await signedFor(routeCase, secretId),
      ]
    ) {
      const response = await app.request(routeCase.path, init(routeCase, authorization));
      assert.ok(response.ok, `${label(routeCase)}: ${response.status} ${await response.text()}`);
    }
  }
  assert.equal(calls.length, 23 * 3);
  assert.equal(calls.filter((call) => call.method === "sendMessages").length, 3);
  assert.deepEqual(status.removed, ["n2", "n2", "n2"]);
  assert.equal(status.joined.length, 3);
});

Deno.test("the error messages of 403s name the permission that was missing", async () => {
  const { app } = await door({ keys: { AKIDreader: ["queue:orders:read"] } });
  const bearer = { authorization: `Bearer AKIDreader:${secretOf("AKIDreader")}` };
  const send = await app.request("/v1/queues/orders/messages", {
    method: "POST",
    headers: { ...bearer, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ body: "x" }] }),
  });
  assert.equal(
    (await errorOf(send)).message,
    "key 'AKIDreader' lacks the permission 'queue:orders:send'",
  );
  const join = await app.request("/v1/cluster", { headers: bearer });
  assert.equal(
    (await errorOf(join)).message,
    "key 'AKIDreader' lacks the permission 'cluster:read'",
  );
});

Deno.test("the open endpoints stay open with credentials configured", async () => {
  const { app } = await door({ keys: { AKIDadmin: ["*"] } });
  for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) {
    const response = await app.request(path);
    assert.equal(response.status, 200, path);
    await response.body?.cancel();
  }
});

Deno.test("with credentials, unknown /v1 routes are 401 first, then 404 or 405", async () => {
  const { app } = await door({ keys: { AKIDadmin: ["*"] } });
  const admin = { authorization: `Bearer AKIDadmin:${secretOf("AKIDadmin")}` };
  assert.equal((await app.request("/v1/nowhere")).status, 401);
  assert.equal((await app.request("/v1/queues/orders/messages")).status, 401);
  assert.equal((await app.request("/v1/nowhere", { headers: admin })).status, 404);
  const wrongMethod = await app.request("/v1/queues/orders/messages", { headers: admin });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "POST");
});

Deno.test("percent-encoded paths are checked as the router decodes them", async () => {
  const { app, calls } = await door({
    keys: { AKIDother: ["queue:other:read"], AKIDo: ["queue:orders:read"] },
  });
  const other = { authorization: `Bearer AKIDother:${secretOf("AKIDother")}` };
  const orders = { authorization: `Bearer AKIDo:${secretOf("AKIDo")}` };
  // hono routes "/v1/%71ueues/orders" as "/v1/queues/orders": the rule must see the same.
  assert.equal((await app.request("/%761/%71ueues/orders")).status, 401);
  assert.equal((await app.request("/v1/%71ueues/orders", { headers: other })).status, 403);
  assert.equal((await app.request("/v1/queues/%6Frders", { headers: other })).status, 403);
  assert.equal((await app.request("/v1/queues/%6Frders", { headers: orders })).status, 200);
  assert.deepEqual(calls.map((call) => call.args[0]), ["orders"]);
});

Deno.test("listing needs one permission granting read on every name with the prefix", async () => {
  const { app, calls } = await door({
    keys: {
      AKIDall: ["queue:*:read"],
      AKIDord: ["queue:ord*:read"],
      AKIDexact: ["queue:orders:read"],
    },
  });
  const as = (secretId: string) => ({ authorization: `Bearer ${secretId}:${secretOf(secretId)}` });
  const cases: [string, string, number][] = [
    ["AKIDall", "/v1/queues", 200],
    ["AKIDall", "/v1/queues?prefix=x", 200],
    ["AKIDord", "/v1/queues?prefix=ord", 200],
    ["AKIDord", "/v1/queues?prefix=orders-eu", 200],
    ["AKIDord", "/v1/queues", 403],
    ["AKIDord", "/v1/queues?prefix=o", 403],
    ["AKIDexact", "/v1/queues?prefix=orders", 403],
  ];
  for (const [secretId, path, expected] of cases) {
    const response = await app.request(path, { headers: as(secretId) });
    assert.equal(response.status, expected, `${secretId} ${path}`);
    await response.body?.cancel();
  }
  assert.equal(calls.length, 4);
  const denied = await app.request("/v1/queues?prefix=o", { headers: as("AKIDord") });
  assert.equal(
    (await errorOf(denied)).message,
    `key 'AKIDord' may not list queue names starting with "o": listing needs one permission ` +
      `granting read on all of them, such as 'queue:o*:read'`,
  );
});

Deno.test("a body that moves messages into another queue needs send on it", async () => {
  const { app, calls } = await door({
    keys: {
      AKIDdlq: ["queue:orders-dlq:manage"],
      AKIDboth: ["queue:orders-dlq:manage", "queue:payments:send", "queue:orders:manage"],
    },
  });
  const post = (secretId: string, path: string, method: string, body: unknown) =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${secretId}:${secretOf(secretId)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
  const redrive = await post("AKIDdlq", "/v1/queues/orders-dlq/redrive", "POST", {
    destination: "payments",
  });
  assert.equal(redrive.status, 403);
  assert.equal(
    (await errorOf(redrive)).message,
    "key 'AKIDdlq' lacks the permission 'queue:payments:send' (the request moves messages " +
      "into queue 'payments')",
  );
  const toOrigin = await post("AKIDdlq", "/v1/queues/orders-dlq/redrive", "POST", {});
  assert.equal(toOrigin.status, 200, "without a destination messages go back where they came from");
  const allowed = await post("AKIDboth", "/v1/queues/orders-dlq/redrive", "POST", {
    destination: "payments",
  });
  assert.equal(allowed.status, 200);
  const policy = { deadLetter: { queue: "payments", maxReceiveCount: 3 } };
  assert.equal((await post("AKIDdlq", "/v1/queues/orders-dlq", "PUT", policy)).status, 403);
  assert.equal((await post("AKIDdlq", "/v1/queues/orders-dlq", "PATCH", policy)).status, 403);
  assert.equal((await post("AKIDboth", "/v1/queues/orders", "PATCH", policy)).status, 200);
  assert.deepEqual(calls.map((call) => call.method), ["redrive", "redrive", "updateQueue"]);
});

Deno.test("a signature covers the body, the query and the method", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const routeCase = routeCases[5]; // send
  const signed = await signedFor(routeCase, "AKIDadmin");
  const tampered = await app.request(routeCase.path, {
    ...init(routeCase, signed),
    body: JSON.stringify({ messages: [{ body: "y" }] }),
  });
  assert.equal(tampered.status, 401);
  assert.match((await errorOf(tampered)).message, /^signature does not match/);
  const listing = routeCases[1];
  const listingSigned = await signedFor(listing, "AKIDadmin");
  const otherQuery = await app.request("/v1/queues?prefix=x&limit=5", init(listing, listingSigned));
  assert.equal(otherQuery.status, 401);
  // The query pieces may arrive in another order.
  const reordered = await app.request(
    "/v1/queues?limit=5&prefix=ord",
    init(listing, listingSigned),
  );
  assert.equal(reordered.status, 200);
  assert.equal(calls.length, 1);
});

Deno.test("a signed chunked body is read once, bounded, and verified", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] }, requestBytesMax: 64 * 1024 });
  const routeCase: RouteCase = {
    method: "POST",
    path: "/v1/queues/orders/messages",
    body: { messages: [{ body: "a".repeat(40_000) }, { body: "b".repeat(10_000) }] },
    permission: "*",
  };
  const text = bodyText(routeCase)!;
  const chunks = [text.slice(0, 30_000), text.slice(30_000)];
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
  const signed = await signedFor(routeCase, "AKIDadmin");
  const response = await app.request(routeCase.path, {
    method: "POST",
    headers: { authorization: signed, "content-type": "application/json" },
    body: stream(),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const sent = calls[0].args[1] as { body: string }[];
  assert.deepEqual(sent.map((message) => message.body.length), [40_000, 10_000]);

  const big: RouteCase = { ...routeCase, body: { messages: [{ body: "c".repeat(70_000) }] } };
  const tooLarge = await app.request(big.path, {
    method: "POST",
    headers: {
      authorization: await signedFor(big, "AKIDadmin"),
      "content-type": "application/json",
    },
    body: bodyText(big),
  });
  assert.equal(tooLarge.status, 413);
  assert.equal(calls.length, 1);
});

Deno.test("a full replay cache answers a retryable 503 and runs nothing", async () => {
  const { app, calls } = await door({
    keys: { AKIDadmin: ["*"] },
    nonceCache: new NonceCache({ noncesMax: 1 }),
  });
  const routeCase = routeCases[2];
  assert.equal(
    (await app.request(routeCase.path, init(routeCase, await signedFor(routeCase, "AKIDadmin"))))
      .status,
    200,
  );
  const full = await app.request(
    routeCase.path,
    init(routeCase, await signedFor(routeCase, "AKIDadmin")),
  );
  assert.equal(full.status, 503);
  assert.equal(full.headers.get("retry-after"), "601", "when the oldest nonce expires");
  assert.equal((await errorOf(full)).code, "NotReady");
  const bearer = await app.request(routeCase.path, {
    headers: { authorization: `Bearer AKIDadmin:${secretOf("AKIDadmin")}` },
  });
  assert.equal(bearer.status, 200, "Bearer needs no nonce");
  assert.equal(calls.length, 2);
});

Deno.test("a key reloaded away stops working at once, a new one starts", async () => {
  let text = JSON.stringify({ keys: [{ secretId: "AKIDold", secretKey: "s1", allow: ["*"] }] });
  const keyRing = await FileKeyRing.load("c.json", () => Promise.resolve(text));
  const { service } = recordingService(answers);
  const app = createApp({
    service,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: new AccessGuard({ keyRing, loopbackOnly: false }),
  });
  const get = (authorization: string) =>
    app.request("/v1/queues/orders", { headers: { authorization } });
  assert.equal((await get("Bearer AKIDold:s1")).status, 200);
  text = JSON.stringify({ keys: [{ secretId: "AKIDnew", secretKey: "s2", allow: ["*"] }] });
  await keyRing.reload();
  assert.equal((await get("Bearer AKIDold:s1")).status, 401);
  assert.equal((await get("Bearer AKIDnew:s2")).status, 200);
});

const remote = (hostname: string, transport: "tcp" | "unix" = "tcp") => ({
  remoteAddr: transport === "unix"
    ? { transport, path: "/run/cmqd.sock" }
    : { transport, hostname, port: 40_000 },
});

Deno.test("protected mode serves loopback clients and refuses all others on every path", async () => {
  const { app, calls } = await door({ loopbackOnly: true });
  for (const address of ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"]) {
    const response = await app.request("/v1/queues/orders", {}, remote(address));
    assert.equal(response.status, 200, address);
    await response.body?.cancel();
  }
  const unix = await app.request("/v1/queues/orders", {}, remote("", "unix"));
  assert.equal(unix.status, 200, "a Unix socket is local");
  for (const path of ["/v1/queues/orders", "/healthz", "/metrics", "/v2/index.php", "/"]) {
    const response = await app.request(path, {}, remote("10.1.2.3"));
    assert.equal(response.status, 403, path);
    const error = await errorOf(response);
    assert.equal(error.code, "AccessDenied");
    assert.equal(
      error.message,
      "protected mode: this broker has no credentials file, so it serves only clients on its " +
        "own machine (loopback), and 10.1.2.3 is not one; start it with --credentials FILE to " +
        "serve other clients",
    );
  }
  const unknown = await app.request("/healthz");
  assert.equal(unknown.status, 403, "no connection info: refused (fails closed)");
  assert.match((await errorOf(unknown)).message, /this client's address is unknown/);
  assert.equal(calls.length, 5);
});

Deno.test("without protected mode or credentials everyone is served", async () => {
  const { app } = await door({ loopbackOnly: false });
  const response = await app.request("/v1/queues/orders", {}, remote("10.1.2.3"));
  assert.equal(response.status, 200);
});

Deno.test("with credentials a remote client is served once it authenticates", async () => {
  const { app } = await door({ keys: { AKIDadmin: ["*"] } });
  const anonymous = await app.request("/v1/queues/orders", {}, remote("10.1.2.3"));
  assert.equal(anonymous.status, 401);
  const admin = await app.request("/v1/queues/orders", {
    headers: { authorization: `Bearer AKIDadmin:${secretOf("AKIDadmin")}` },
  }, remote("10.1.2.3"));
  assert.equal(admin.status, 200);
});

Deno.test("a subscription with a queue endpoint needs send on that queue", async () => {
  const { app, calls } = await door({
    keys: {
      AKIDtopic: ["topic:payments:manage"],
      AKIDboth: ["topic:payments:manage", "queue:risk:send"],
    },
  });
  const call = (secretId: string, method: string, body: unknown) =>
    app.request("/v1/topics/payments/subscriptions/risk", {
      method,
      headers: {
        authorization: `Bearer ${secretId}:${secretOf(secretId)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });
  const toQueue = { endpoint: { queue: "risk" }, filterTags: ["paid"] };
  const refused = await call("AKIDtopic", "PUT", toQueue);
  assert.equal(refused.status, 403);
  assert.equal(
    (await errorOf(refused)).message,
    "key 'AKIDtopic' lacks the permission 'queue:risk:send' (the request moves messages " +
      "into queue 'risk')",
  );
  assert.equal((await call("AKIDtopic", "PATCH", toQueue)).status, 403);
  const toUrl = await call("AKIDtopic", "PUT", { endpoint: { url: "https://example.com/h" } });
  assert.equal(toUrl.status, 201, "a URL endpoint writes into no queue");
  assert.equal((await call("AKIDtopic", "PATCH", { filterTags: ["paid"] })).status, 200);
  assert.equal((await call("AKIDboth", "PUT", toQueue)).status, 201);
  assert.equal((await call("AKIDboth", "PATCH", toQueue)).status, 200);
  const publish = await app.request("/v1/topics/payments/messages", {
    method: "POST",
    headers: {
      authorization: `Bearer AKIDboth:${secretOf("AKIDboth")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ messages: [{ body: "x" }] }),
  });
  assert.equal(publish.status, 403, "manage does not grant publish");
  assert.equal(
    (await errorOf(publish)).message,
    "key 'AKIDboth' lacks the permission 'topic:payments:publish'",
  );
  assert.deepEqual(calls.map((call) => call.method), [
    "subscribe",
    "updateSubscription",
    "subscribe",
    "updateSubscription",
  ]);
});

Deno.test("a v1 route without an access rule is never served (500, logged)", async () => {
  const { app, logged } = await door({ keys: { AKIDadmin: ["*"] } });
  let ran = false;
  app.get("/v1/unguarded", (c) => {
    ran = true;
    return c.text("secret");
  });
  const response = await app.request("/v1/unguarded", {
    headers: { authorization: `Bearer AKIDadmin:${secretOf("AKIDadmin")}` },
  });
  assert.equal(response.status, 500);
  assert.equal(ran, false);
  assert.match(logged[0], /no access rule covers GET \/v1\/unguarded/);
  const open = await door();
  open.app.get("/v1/unguarded", (c) => c.text("secret"));
  assert.equal((await open.app.request("/v1/unguarded")).status, 500, "without keys as well");
});

Deno.test("the access rules and the documented v1 routes are the same set", async () => {
  const { app } = await door();
  const document = await (await app.request("/openapi.json")).json();
  const documented = Object.entries(document.paths as Record<string, object>)
    .filter(([path]) => path.startsWith("/v1"))
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
  const ruled = v1AccessRules.map((rule) => `${rule.method} ${rule.path}`).sort();
  assert.deepEqual(ruled, documented);
  assert.equal(new Set(ruled).size, ruled.length, "one rule per route");
  assert.equal(routeCases.length, ruled.length, "this test has a case for every route");
});

Deno.test("the follower's check admits valid credentials without using up the nonce", async () => {
  const nonceCache = new NonceCache();
  const { access, app, calls } = await door({ keys: { AKIDadmin: ["*"] }, nonceCache });
  const routeCase = routeCases[5];
  const signed = await signedFor(routeCase, "AKIDadmin");
  const request = () => new Request(`http://follower${routeCase.path}`, init(routeCase, signed));
  const admission = await access.admitForwarding(request(), undefined, 1 << 20);
  assert.equal(admission.refusal, undefined);
  assert.equal(new TextDecoder().decode(admission.body!), bodyText(routeCase));
  assert.equal(nonceCache.size, 0, "the leader decides about replays");
  // The leader (here the same app) runs it once and refuses a second use.
  assert.equal((await app.request(request())).status, 200);
  assert.equal((await app.request(request())).status, 401);
  assert.equal(calls.length, 1);
});

Deno.test("the follower's check refuses what the door would refuse, shaped like the door", async () => {
  const { access } = await door({ keys: { AKIDadmin: ["*"] } });
  const anonymous = await access.admitForwarding(
    new Request("http://follower/v1/queues/orders", { method: "DELETE" }),
    undefined,
    1 << 20,
  );
  assert.ok(anonymous.refusal);
  assert.equal(anonymous.refusal.status, 401);
  assert.ok(anonymous.refusal.headers.get("x-request-id"));
  assert.ok(anonymous.refusal.headers.get("www-authenticate"));
  assert.equal((await errorOf(anonymous.refusal)).code, "Unauthenticated");
  const encoded = await access.admitForwarding(
    new Request("http://follower/%761/queues/orders", { method: "DELETE" }),
    undefined,
    1 << 20,
  );
  assert.equal(encoded.refusal?.status, 401, "decoded like the router decodes it");
  const otherDoor = await access.admitForwarding(
    new Request("http://follower/v2/index.php?Action=ListQueue"),
    undefined,
    1 << 20,
  );
  assert.deepEqual(otherDoor, { body: null }, "other doors check their own signatures");

  const protectedGuard = new AccessGuard({ keyRing: null, loopbackOnly: true });
  const far = await protectedGuard.admitForwarding(
    new Request("http://follower/v1/queues/orders"),
    remote("192.0.2.7") as Deno.ServeHandlerInfo,
    1 << 20,
  );
  assert.equal(far.refusal?.status, 403);
  const near = await protectedGuard.admitForwarding(
    new Request("http://follower/v1/queues/orders"),
    remote("127.0.0.1") as Deno.ServeHandlerInfo,
    1 << 20,
  );
  assert.deepEqual(near, { body: null });
});
