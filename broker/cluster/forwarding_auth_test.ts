/**
 * Credentials across forwarding, wired as `node.ts` wires them: a follower (the forwarding
 * handler with its own guard) in front of a leader served over real HTTP. The follower verifies
 * before it relays; the leader verifies again and alone decides about replays.
 */
import assert from "node:assert/strict";
import { FileKeyRing, NonceCache } from "../auth/mod.ts";
import { AccessGuard, createApp, Metrics } from "../http/mod.ts";
import { FakeStatus, recordingService } from "../http/testing/mod.ts";
import { signRequest } from "../../sdk/signing.ts";
import { forwardedHeader, forwardingHandler } from "./forwarding.ts";

const keysText = JSON.stringify({
  keys: [{ secretId: "AKIDapp", secretKey: "app-secret", allow: ["queue:orders:send"] }],
});

async function guard(loopbackOnly = false): Promise<AccessGuard> {
  const keyRing = await FileKeyRing.load("c.json", () => Promise.resolve(keysText));
  return new AccessGuard({ keyRing, loopbackOnly, nonceCache: new NonceCache() });
}

async function pair() {
  const { service, calls } = recordingService();
  const leaderApp = createApp({
    service,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: await guard(),
  });
  const leader = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    leaderApp.fetch,
  );
  const leaderUrl = `http://127.0.0.1:${leader.addr.port}`;
  let relayed = 0;
  const followerGuard = await guard();
  const followerApp = createApp({
    service: recordingService().service,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: followerGuard,
  });
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => leaderUrl },
    local: (request, info) => followerApp.fetch(request, info),
    admit: (request, info) => followerGuard.admitForwarding(request, info, 1 << 20),
    requestBytesMax: 1 << 20,
    fetch: (input, init) => {
      relayed++;
      return fetch(input, init);
    },
  });
  return { follower, calls, relayed: () => relayed, close: () => leader.shutdown() };
}

const path = "/v1/queues/orders/messages";
const body = JSON.stringify({ messages: [{ body: "via follower" }] });

async function signed(): Promise<string> {
  return await signRequest({
    method: "POST",
    path,
    body,
    secretId: "AKIDapp",
    secretKey: "app-secret",
  });
}

function post(authorization: string | null, requestBody: BodyInit = body): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== null) headers.authorization = authorization;
  return new Request(`http://follower${path}`, { method: "POST", headers, body: requestBody });
}

Deno.test("a signed request sent to a follower is relayed and served by the leader", async () => {
  const cluster = await pair();
  try {
    const response = await cluster.follower(post(await signed()));
    assert.equal(response.status, 200, await response.clone().text());
    await response.body?.cancel();
    assert.equal(cluster.relayed(), 1);
    assert.deepEqual(cluster.calls.map((call) => call.args), [["orders", [{
      body: "via follower",
    }]]]);
  } finally {
    await cluster.close();
  }
});

Deno.test("a signed chunked body is relayed as the bytes the follower verified", async () => {
  const cluster = await pair();
  try {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(body);
        controller.enqueue(bytes.slice(0, 10));
        controller.enqueue(bytes.slice(10));
        controller.close();
      },
    });
    const response = await cluster.follower(post(await signed(), stream));
    assert.equal(response.status, 200, await response.clone().text());
    await response.body?.cancel();
    assert.equal(cluster.calls.length, 1);
  } finally {
    await cluster.close();
  }
});

Deno.test("a replay sent to a follower is relayed and refused by the leader", async () => {
  const cluster = await pair();
  try {
    const authorization = await signed();
    const first = await cluster.follower(post(authorization));
    assert.equal(first.status, 200);
    await first.body?.cancel();
    const replay = await cluster.follower(post(authorization));
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).error.message, /\(replay\)$/);
    assert.equal(cluster.calls.length, 1, "the replay ran nothing");
  } finally {
    await cluster.close();
  }
});

Deno.test("a follower answers bad credentials itself and relays nothing", async () => {
  const cluster = await pair();
  try {
    for (const authorization of [null, "Bearer AKIDapp:guess", "Bearer AKIDnobody:x"]) {
      const response = await cluster.follower(post(authorization));
      assert.equal(response.status, 401, String(authorization));
      assert.equal((await response.json()).error.code, "Unauthenticated");
    }
    const forged = await signRequest({
      method: "POST",
      path,
      body: "{}",
      secretId: "AKIDapp",
      secretKey: "app-secret",
    });
    assert.equal((await cluster.follower(post(forged))).status, 401, "signed another body");
    assert.equal(cluster.relayed(), 0);
    assert.equal(cluster.calls.length, 0);
  } finally {
    await cluster.close();
  }
});

Deno.test("a key without the permission is refused by the leader, also through a follower", async () => {
  const cluster = await pair();
  try {
    const purge = new Request("http://follower/v1/queues/orders/purge", {
      method: "POST",
      headers: { authorization: "Bearer AKIDapp:app-secret" },
    });
    const response = await cluster.follower(purge);
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error.code, "AccessDenied");
    assert.equal(cluster.calls.length, 0);
  } finally {
    await cluster.close();
  }
});

Deno.test("a follower in protected mode relays nothing for a remote client", async () => {
  const followerGuard = await guard(true);
  let relayed = 0;
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://127.0.0.1:1" },
    local: () => new Response("local"),
    admit: (request, info) => followerGuard.admitForwarding(request, info, 1 << 20),
    requestBytesMax: 1 << 20,
    fetch: () => {
      relayed++;
      return Promise.resolve(new Response("leader"));
    },
  });
  const info = {
    remoteAddr: { transport: "tcp" as const, hostname: "198.51.100.9", port: 5 },
    completed: Promise.resolve(),
  };
  const response = await follower(post("Bearer AKIDapp:app-secret"), info);
  assert.equal(response.status, 403);
  assert.equal(response.headers.get("x-cmqd-leader"), "http://127.0.0.1:1");
  assert.equal(relayed, 0);
});

Deno.test("the forwarded marker grants nothing: a leader checks a marked request like any other", async () => {
  for (const loopbackOnly of [false, true]) {
    const { service, calls } = recordingService();
    const leaderGuard = await guard(loopbackOnly);
    const leaderApp = createApp({
      service,
      status: new FakeStatus(),
      metrics: new Metrics(),
      access: leaderGuard,
    });
    const leader = forwardingHandler({
      view: { isLeader: () => true, leaderUrl: () => "http://127.0.0.1:1" },
      local: (request, info) => leaderApp.fetch(request, info),
      admit: (request, info) => leaderGuard.admitForwarding(request, info, 1 << 20),
      requestBytesMax: 1 << 20,
      fetch: () => Promise.reject(new Error("a leader relays nothing")),
    });
    const remote = {
      remoteAddr: { transport: "tcp" as const, hostname: "198.51.100.9", port: 5 },
      completed: Promise.resolve(),
    };
    const loopback = { ...remote, remoteAddr: { ...remote.remoteAddr, hostname: "127.0.0.1" } };
    const marked = (authorization: string | null, route = path) => {
      const request = route === path ? post(authorization) : new Request(`http://leader${route}`, {
        headers: authorization === null ? {} : { authorization },
      });
      request.headers.set(forwardedHeader, "1");
      return request;
    };
    if (loopbackOnly) {
      // Protected mode: a remote client is refused on the hot path and the hono routes alike.
      for (const route of [path, "/v1/queues/orders"]) {
        const response = await leader(marked("Bearer AKIDapp:app-secret", route), remote);
        assert.equal(response.status, 403, route);
        assert.equal((await response.json()).error.code, "AccessDenied");
      }
    } else {
      for (const route of [path, "/v1/queues/orders"]) {
        const response = await leader(marked(null, route), loopback);
        assert.equal(response.status, 401, route);
        assert.equal((await response.json()).error.code, "Unauthenticated");
      }
      const authorization = await signed();
      const first = await leader(marked(authorization), loopback);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      const replay = await leader(marked(authorization), loopback);
      assert.equal(replay.status, 401);
      assert.match((await replay.json()).error.message, /\(replay\)$/);
    }
    assert.equal(calls.length, loopbackOnly ? 0 : 1, "only the first signed send ran");
  }
});
