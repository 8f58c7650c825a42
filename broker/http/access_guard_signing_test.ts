/**
 * The v1 door's signatures, replay cache, key reloads, protected mode and the follower's
 * credential check, through `app.request()` (the remote address is faked through the connection
 * info hono passes as `env`).
 */
import assert from "node:assert/strict";
import { FileKeyRing, NonceCache } from "../auth/mod.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";
import {
  answers,
  bodyText,
  door,
  errorOf,
  init,
  RouteCase,
  routeCases,
  secretOf,
  signedFor,
} from "./_access_fixtures.ts";

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

Deno.test("a tab after the scheme name changes nothing: the signature still covers the body", async () => {
  // A signature made over an empty body must not carry a body added later, however the header
  // separates the scheme from its fields (a tab was once read as "not signed" by the body reader
  // and as signed by the verifier, which then checked the empty body).
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  for (
    const [method, path] of [["PUT", "/v1/queues/orders"], ["POST", "/v1/queues/orders/messages"]]
  ) {
    const bodiless = { method, path, permission: "" };
    const signed = await signedFor(bodiless, "AKIDadmin");
    const tabbed = signed.replace(/^CMQD1-HMAC-SHA256 /, "CMQD1-HMAC-SHA256\t");
    assert.notEqual(tabbed, signed);
    // The direct path and hono's (a media type with parameters goes to hono).
    for (const type of ["application/json", "application/json; charset=utf-8"]) {
      const response = await app.request(path, {
        method,
        headers: { authorization: tabbed, "content-type": type },
        body: JSON.stringify(method === "PUT" ? { maxBacklog: 5 } : { messages: [{ body: "x" }] }),
      });
      assert.equal(response.status, 401, `${method} ${path} as ${type}`);
      assert.match((await errorOf(response)).message, /^signature does not match/);
    }
  }
  assert.deepEqual(calls, []);
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
  assert.equal(
    full.headers.get("retry-after"),
    "311",
    "when the oldest second is dropped (300 s window + 10 s margin)",
  );
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
  // Alternating clients: a loopback address seen before does not let the next one through.
  for (const [address, status] of [["127.0.0.1", 200], ["10.1.2.3", 403], ["127.0.0.1", 200]]) {
    const response = await app.request("/healthz", {}, remote(address as string));
    assert.equal(response.status, status, address as string);
    await response.body?.cancel();
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
  // The CMQ door's own check and answer (every CMQ answer is a 200; `code` tells a refusal).
  assert.equal(otherDoor.refusal?.status, 200);
  assert.equal((await otherDoor.refusal.json()).code, 4100);
  // The PHP SDK's GET path is the CMQ door's too (not answered locally as a path leading nowhere).
  const phpGet = await access.admitForwarding(
    new Request("http://follower/v2/index.php/v2/index.php?Action=ListQueue"),
    undefined,
    1 << 20,
  );
  assert.equal(phpGet.refusal?.status, 200);
  assert.equal((await phpGet.refusal.json()).code, 4100);

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
