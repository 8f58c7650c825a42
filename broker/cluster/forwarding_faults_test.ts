import assert from "node:assert/strict";
import { forwardingHandler, leaderHeader } from "./forwarding.ts";
import { Metrics } from "../http/mod.ts";
import { manualBudget, streamedRequest, trickle, until } from "../http/_body_timers.ts";

/** A view whose leader the test moves, telling subscribers as a replica's role change would. */
function movableView(leaderUrl: string) {
  const listeners: Array<() => void> = [];
  const state = { leaderUrl: leaderUrl as string | null };
  return {
    view: {
      isLeader: () => false,
      leaderUrl: () => state.leaderUrl,
      onLeaderChange: (listener: () => void) => void listeners.push(listener),
    },
    moveTo(url: string | null) {
      state.leaderUrl = url;
      for (const listener of listeners) listener();
    },
  };
}

Deno.test("a request forwarded to a leader that froze is answered 503 at once when a new leader is known", async () => {
  // A real endpoint that accepts the request and never answers (a SIGSTOPped leader).
  const never = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await never.promise;
    return new Response("too late");
  });
  const frozen = `http://127.0.0.1:${server.addr.port}`;
  const leader = movableView(frozen);
  const handler = forwardingHandler({
    view: leader.view,
    local: () => new Response("local"),
    requestBytesMax: 1024,
  });
  try {
    const answer = handler(
      new Request("http://me/v1/queues/a/messages", { method: "POST", body: "{}" }),
    );
    let settled = false;
    answer.finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "the frozen leader holds the request");
    leader.moveTo(null); // an election starts: nobody better to name yet
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(settled, false, "still waiting while no new leader is known");
    leader.moveTo("http://127.0.0.1:2");
    const response = await answer;
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal(response.headers.get(leaderHeader), "http://127.0.0.1:2");
    const body = await response.json();
    assert.equal(body.error.code, "NoLeader");
    assert.match(body.error.message, /leader changed/);
    // The leader may have carried the request out: the answer says so (the SDK then resends only
    // a call that is safe to repeat).
    assert.equal(body.error.outcomeUnknown, true);
  } finally {
    never.resolve();
    await server.shutdown();
  }
});

Deno.test("a forwarded body without a length is cut off at the limit with 413 RequestTooLarge", async () => {
  let fetched = false;
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    requestBytesMax: 1024,
    fetch: (() => {
      fetched = true;
      return Promise.resolve(new Response("leader"));
    }) as typeof fetch,
  });
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(512));
      controller.close();
    },
  });
  const response = await handler(
    new Request("http://me/v1/queues/a/messages", { method: "POST", body: chunks }),
  );
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "RequestTooLarge");
  assert.equal(fetched, false, "nothing reaches the leader");
});

Deno.test("forwards in flight are bounded: past the limit a follower answers 503 at once", async () => {
  const never = Promise.withResolvers<Response>();
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    requestBytesMax: 1024,
    forwardsInFlightMax: 2,
    fetch: (() => never.promise) as typeof fetch,
  });
  const request = () => new Request("http://me/v1/queues/a", { method: "GET" });
  const held = [handler(request()), handler(request())];
  const third = await handler(request());
  assert.equal(third.status, 503);
  assert.equal((await third.json()).error.code, "NotReady");
  never.resolve(new Response("ok"));
  for (const response of await Promise.all(held)) assert.equal(response.status, 200);
});

Deno.test("a request still in the admission check counts as a forward in flight", async () => {
  const admitted = Promise.withResolvers<void>();
  const leaderBodies: string[] = [];
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    // Reads the body (as a credentials check does) and hands it on.
    admit: async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      await admitted.promise;
      return { body };
    },
    requestBytesMax: 1024,
    forwardsInFlightMax: 1,
    fetch: ((_url: string, init: RequestInit) => {
      leaderBodies.push(new TextDecoder().decode(init.body as Uint8Array));
      return Promise.resolve(new Response("ok"));
    }) as typeof fetch,
  });
  const post = (body: string) =>
    new Request("http://me/v1/queues/a/messages", { method: "POST", body });
  const first = handler(post("first"));
  const second = await handler(post("second"));
  assert.equal(second.status, 503);
  assert.equal((await second.json()).error.code, "NotReady");
  admitted.resolve();
  assert.equal((await first).status, 200);
  assert.deepEqual(leaderBodies, ["first"], "the body the check read is what is sent on");
});

Deno.test("by default a follower holds 1,024 forwards in flight and answers the next 503 NotReady with Retry-After: 1", async () => {
  const never = Promise.withResolvers<Response>();
  let fetched = 0;
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    requestBytesMax: 1024,
    fetch: (() => {
      fetched++;
      return never.promise;
    }) as typeof fetch,
  });
  const request = () => new Request("http://me/v1/queues/a", { method: "GET" });
  const held = Array.from({ length: 1024 }, () => handler(request()));
  const past = await handler(request());
  assert.equal(past.status, 503);
  assert.equal(past.headers.get("retry-after"), "1");
  assert.equal((await past.json()).error.code, "NotReady");
  assert.equal(fetched, 1024, "the one past the bound never reaches the leader");
  never.resolve(new Response("ok"));
  for (const response of await Promise.all(held)) assert.equal(response.status, 200);
});

Deno.test("a follower reads the bodies it relays within the node's budget: 503 when full, 408 when stalled, none kept", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 1000 });
  const sent: number[] = [];
  const metrics = new Metrics();
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader" },
    local: () => new Response("local"),
    requestBytesMax: 4096,
    bodies,
    metrics,
    fetch: (_url, init) => {
      sent.push((init?.body as Uint8Array).byteLength);
      return Promise.resolve(new Response("{}"));
    },
  });
  const url = "http://me/v1/queues/a/messages";
  const slow = trickle();
  const held = handler(streamedRequest(url, slow.stream));
  slow.send(900);
  await until(() => bodies.reservedBytes === 900, "the first body's reservation");
  // A body that does not fit is refused before a byte of it is read.
  const refused = streamedRequest(url, trickle().stream, {}, 200);
  const busy = await handler(refused);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.equal((await busy.json()).error.code, "NotReady");
  assert.equal(refused.bodyUsed, false);
  // The first one stalls: abandoned, answered 408, nothing relayed.
  timers.tick(2);
  const stalled = await held;
  assert.equal(stalled.status, 408);
  assert.equal((await stalled.json()).error.code, "RequestTimeout");
  assert.deepEqual(sent, []);
  assert.equal(bodies.reservedBytes, 0);
  // Once it is back, a body is relayed whole.
  const ok = await handler(new Request(url, { method: "POST", body: "x".repeat(900) }));
  await ok.body?.cancel();
  assert.deepEqual(sent, [900]);
  const text = metrics.text();
  assert.match(text, /cmqd_forwarded_requests_total\{outcome="busy"\} 1/);
  assert.match(text, /cmqd_forwarded_requests_total\{outcome="stalled"\} 1/);
});

Deno.test("a follower counts the bodies it relays against their connection's share", async () => {
  const { bodies } = manualBudget({ bytesMax: 4000 });
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader" },
    local: () => new Response("local"),
    requestBytesMax: 600,
    bodies,
    fetch: () => Promise.resolve(new Response("{}")),
  });
  const url = "http://me/v1/queues/a/messages";
  const on = (port: number): Deno.ServeHandlerInfo => ({
    remoteAddr: { transport: "tcp", hostname: "10.0.0.7", port },
    completed: Promise.resolve(),
  });
  const slow = [trickle(), trickle()];
  const held = slow.map((each) => handler(streamedRequest(url, each.stream, {}, 500), on(40001)));
  await until(() => bodies.reservedBytes === 1000, "the connection's share held");
  const refused = streamedRequest(url, trickle().stream, {}, 100);
  const busy = await handler(refused, on(40001));
  assert.equal(busy.status, 503);
  assert.match((await busy.json()).error.message, /this connection is sending 1000 bytes/);
  assert.equal(refused.bodyUsed, false);
  const other = await handler(
    new Request(url, { method: "POST", body: "x".repeat(500) }),
    on(40002),
  );
  await other.body?.cancel();
  assert.equal(other.status, 200);
  for (const each of slow) each.fail();
  for (const answer of held) await (await answer).body?.cancel();
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.connectionCount, 0);
});
