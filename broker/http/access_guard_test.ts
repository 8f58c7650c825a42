/**
 * Every auth rule of the v1 door through `app.request()`: each route refuses missing, garbled,
 * wrong, expired and replayed credentials with 401, a key without the route's permission with
 * 403, and serves a key with exactly that permission (Bearer and signed); the open endpoints stay
 * open; the rules cover every documented route. Signatures, replays and protected mode:
 * `access_guard_signing_test.ts`.
 */
import assert from "node:assert/strict";
import { v1AccessRules } from "./v1/mod.ts";
import {
  door,
  errorOf,
  everythingBut,
  init,
  Keys,
  label,
  nowMs,
  routeCases,
  secretOf,
  signedFor,
} from "./_access_fixtures.ts";

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

Deno.test("a key with an empty allow list is disabled: it authenticates, and every v1 route refuses it 403", async () => {
  const { app, calls, status } = await door({ keys: { AKIDoff: [] } });
  for (const routeCase of routeCases) {
    for (
      const authorization of [
        `Bearer AKIDoff:${secretOf("AKIDoff")}`,
        await signedFor(routeCase, "AKIDoff"),
      ]
    ) {
      const response = await app.request(routeCase.path, init(routeCase, authorization));
      assert.equal(response.status, 403, label(routeCase));
      const error = await errorOf(response);
      assert.equal(error.code, "AccessDenied");
      assert.ok(error.message.startsWith("key 'AKIDoff' "), error.message);
    }
  }
  assert.equal(calls.length, 0);
  assert.deepEqual([status.joined, status.removed], [[], []]);
});

Deno.test("every v1 route serves a key holding exactly its permission, Bearer or signed", async () => {
  const keys: Keys = {};
  routeCases.forEach((routeCase, index) =>
    keys[`AKIDmay${index}`] = [routeCase.permission, ...routeCase.alsoNeeds ?? []]
  );
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
      AKIDany: ["queue:orders-dlq:manage", "queue:*:send"],
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
  // Without a destination messages go back to whichever queues they came from, which the request
  // does not name: that needs send on every queue (managing the dead-letter queue is not enough).
  for (const body of [{}, undefined]) {
    const toOrigin = await app.request("/v1/queues/orders-dlq/redrive", {
      method: "POST",
      headers: {
        authorization: `Bearer AKIDdlq:${secretOf("AKIDdlq")}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(toOrigin.status, 403, JSON.stringify(body));
    assert.match((await errorOf(toOrigin)).message, /lacks the permission 'queue:\*:send'/);
  }
  const allowed = await post("AKIDboth", "/v1/queues/orders-dlq/redrive", "POST", {
    destination: "payments",
  });
  assert.equal(allowed.status, 200);
  assert.equal((await post("AKIDany", "/v1/queues/orders-dlq/redrive", "POST", {})).status, 200);
  const policy = { deadLetter: { queue: "payments", maxReceiveCount: 3 } };
  assert.equal((await post("AKIDdlq", "/v1/queues/orders-dlq", "PUT", policy)).status, 403);
  assert.equal((await post("AKIDdlq", "/v1/queues/orders-dlq", "PATCH", policy)).status, 403);
  assert.equal((await post("AKIDboth", "/v1/queues/orders", "PATCH", policy)).status, 200);
  assert.deepEqual(calls.map((call) => call.method), ["redrive", "redrive", "updateQueue"]);
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

Deno.test("every documented route lists the errors the middleware can answer it", async () => {
  // Every path: 403 (protected mode) and 413 (a declared content-length over the limit, any
  // method). Every v1 route besides: 400 (an unknown query parameter), 401 (credentials) and 503
  // (a full replay cache; no leader), and 415 with a body method (a body that is not JSON).
  // openapi_errors_test.ts provokes each of them on every route.
  const { app } = await door();
  const document = await (await app.request("/openapi.json")).json();
  for (const [path, item] of Object.entries(document.paths as Record<string, object>)) {
    const v1 = path.startsWith("/v1");
    for (const [method, operation] of Object.entries(item)) {
      const { responses } = operation as { responses: Record<string, unknown> };
      const bodyMethod = ["post", "put", "patch"].includes(method);
      const expected = [
        "403",
        "413",
        ...(v1 ? ["400", "401", "503"] : []),
        ...(v1 && bodyMethod ? ["415"] : []),
      ];
      for (const status of expected) {
        assert.ok(status in responses, `${method.toUpperCase()} ${path} does not list ${status}`);
      }
      if (!v1) assert.ok(!("401" in responses), `${path} asks for no credentials`);
    }
  }
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
