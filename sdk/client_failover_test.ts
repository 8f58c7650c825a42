/**
 * A node that accepts requests and never answers (a frozen process) against the client's
 * `headTimeoutMs`, on real sockets through each transport: reads move on to another node at
 * once, a send that can't be repeated fails fast only when the node is unresponsive, a slow but
 * live node is waited for, and the silent node is avoided afterwards.
 *
 * No timing assertion: each call runs under a 15 s signal, half the 30 s `timeoutMs` the
 * clients keep, so waiting out the full timeout (the behaviour before `headTimeoutMs`) ends
 * in `Aborted` and fails the test.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "./client.ts";
import { Acknowledger } from "./consumer_acks.ts";
import { CmqdError, TransportError } from "./errors.ts";
import { Http1Transport } from "./http1.ts";
import { FetchTransport, type HttpTransport } from "./transport.ts";
import { NodeHttpTransport } from "./transport_node.ts";
import type { ReceivedMessage } from "./protocol.ts";
import { deferred } from "./_test_helpers.ts";

/** Bounds every call: well under the clients' 30 s `timeoutMs`. */
const callBoundMs = 15_000;

/** Accepts connections and reads what they send, never writing a byte back. */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  void (async () => {
    for await (const connection of listener) {
      connections.push(connection);
      void (async () => {
        const buffer = new Uint8Array(16 * 1024);
        try {
          while (await connection.read(buffer) !== null) {
            // swallowed
          }
        } catch {
          // closed
        }
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    /** Connections accepted so far (each abandoned attempt closes its own). */
    get accepted() {
      return connections.length;
    },
    close() {
      listener.close();
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

/** A broker stand-in: answers by `handler`, counting requests per `METHOD path`. */
function answeringServer(
  handler: (request: Request, url: string) => Response | Promise<Response>,
) {
  const seen: string[] = [];
  let url = "";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      return handler(request, url);
    },
  );
  url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    seen,
    count: (what: string) => seen.filter((entry) => entry === what).length,
    close: () => server.shutdown(),
  };
}

/** Answers like a leader naming `leader` (itself unless given). */
function brokerLike(leader?: string) {
  return (request: Request, self: string) => {
    const headers = { "x-cmqd-leader": leader ?? self };
    const path = new URL(request.url).pathname;
    if (path.endsWith("/messages")) {
      return Response.json({ messages: [{ id: "m1", sequence: 1 }] }, { headers });
    }
    return Response.json({ name: "q" }, { headers });
  };
}

const transports = [
  ["Http1Transport", (): HttpTransport => new Http1Transport()],
  ["NodeHttpTransport", (): HttpTransport => new NodeHttpTransport()],
  ["FetchTransport", (): HttpTransport => new FetchTransport()],
] as const;

for (const [name, makeTransport] of transports) {
  Deno.test({
    name: `${name}: a read sent to a silent node moves on, and the node is avoided afterwards`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const frozen = silentServer();
      const live = answeringServer(brokerLike());
      const client = new CmqdClient({
        baseUrl: [frozen.url, live.url],
        transport: makeTransport(),
        headTimeoutMs: 300,
      });
      try {
        const signal = AbortSignal.timeout(callBoundMs);
        assert.deepEqual(await client.getQueue("q", { signal }), { name: "q" });
        assert.equal(frozen.accepted, 1, "tried the silent node first");
        assert.equal(live.count("GET /v1/queues/q"), 1);
        // A send whose messages carry a dedupId is as safe to repeat as a read.
        const sent = await client.sendMessages("q", [{ body: "x", dedupId: "d1" }], { signal });
        assert.equal(sent.messages[0].id, "m1");
        await client.getQueue("q", { signal });
        assert.equal(frozen.accepted, 1, "the silent node is not asked again");
      } finally {
        client.close();
        frozen.close();
        await live.close();
      }
    },
  });

  Deno.test({
    name: `${name}: a send without dedupId to an unresponsive node fails fast, outcome unknown`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const frozen = silentServer();
      const live = answeringServer(brokerLike());
      const client = new CmqdClient({
        baseUrl: [frozen.url, live.url],
        transport: makeTransport(),
        headTimeoutMs: 300,
      });
      try {
        const signal = AbortSignal.timeout(callBoundMs);
        const error = await client.sendMessages("q", [{ body: "x" }], { signal }).then(
          () => assert.fail("the send resolved"),
          (error: unknown) => error,
        );
        assert.ok(error instanceof CmqdError, String(error));
        assert.equal(error.code, "Timeout", error.message);
        assert.match(error.message, /may or may not have taken effect/);
        // One attempt for the send, one connection for the /healthz probe; nothing elsewhere.
        assert.equal(frozen.accepted, 2);
        assert.deepEqual(live.seen, []);
        // The next call goes to the other node first.
        await client.sendMessages("q", [{ body: "y" }], { signal });
        assert.deepEqual(live.seen, ["POST /v1/queues/q/messages"]);
        assert.equal(frozen.accepted, 2);
      } finally {
        client.close();
        frozen.close();
        await live.close();
      }
    },
  });
}

Deno.test({
  name: "a node that is slow but answers /healthz is waited for: no fail-fast, no second send",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const release = deferred<void>();
    const slow = answeringServer(async (request, self) => {
      if (new URL(request.url).pathname === "/healthz") return Response.json({ status: "ok" });
      await release.promise;
      return brokerLike()(request, self);
    });
    const other = answeringServer(brokerLike());
    const client = new CmqdClient({ baseUrl: [slow.url, other.url], headTimeoutMs: 100 });
    try {
      const sending = client.sendMessages("q", [{ body: "x" }], {
        signal: AbortSignal.timeout(callBoundMs),
      });
      // Answer only once the probe has been answered: the send must still be waiting.
      for (let i = 0; i < 1_500 && slow.count("GET /healthz") === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(slow.count("GET /healthz"), 1, "the silent node's health was asked");
      await new Promise((resolve) => setTimeout(resolve, 200));
      release.resolve();
      assert.equal((await sending).messages[0].id, "m1");
      assert.deepEqual(other.seen, []);
    } finally {
      release.resolve();
      client.close();
      await slow.close();
      await other.close();
    }
  },
});

Deno.test({
  name:
    "a consumer's lock change leaves a silent node before the call is given up, with the lock still held",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const frozen = silentServer();
    const live = answeringServer(async (request) => {
      const { entries } = await request.json() as { entries: { receiptHandle: string }[] };
      return Response.json({
        entries: entries.map((entry) => ({ receiptHandle: entry.receiptHandle, visibleAt: 1 })),
        failures: [],
      });
    });
    // The client's own head timeout (5 s by default) is longer than the call's give-up point.
    const client = new CmqdClient({ baseUrl: [frozen.url, live.url] });
    const acks = new Acknowledger({
      client,
      queue: "q",
      deleteLingerMs: 0,
      report: () => {},
      onDeleted: () => {},
    });
    const message = { id: "m1", receiptHandle: "h1" } as ReceivedMessage;
    try {
      // 4 s of lock left: given up after 2 s; the silent node is left after half of that.
      const outcome = await acks.changeVisibility(message, 30, Date.now() + 4_000);
      assert.deepEqual(outcome, { ok: true, visibleAt: 1 });
      assert.equal(frozen.accepted, 1, "tried the silent node first");
      assert.equal(live.count("POST /v1/queues/q/messages/visibility"), 1);
      // And it is avoided for the next change.
      assert.equal((await acks.changeVisibility(message, 30, Date.now() + 4_000)).ok, true);
      assert.equal(frozen.accepted, 1);
    } finally {
      client.close();
      frozen.close();
      await live.close();
    }
  },
});

Deno.test({
  name: "a leader hint naming the silent node is not followed while it is suspect",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const frozen = silentServer();
    // A follower that has not noticed the freeze keeps naming the old leader.
    const follower = answeringServer(brokerLike(frozen.url));
    const client = new CmqdClient({
      baseUrl: [follower.url, frozen.url],
      headTimeoutMs: 300,
    });
    try {
      const signal = AbortSignal.timeout(callBoundMs);
      await client.getQueue("q", { signal });
      assert.equal(client.leaderUrl, frozen.url);
      await client.getQueue("q", { signal }); // to the hinted node, then on to the follower
      assert.equal(frozen.accepted, 1);
      await client.listQueues({}, { signal });
      await client.getQueue("q", { signal });
      assert.equal(frozen.accepted, 1, "the hint is not followed while the node is suspect");
      assert.equal(follower.seen.length, 4);
    } finally {
      client.close();
      frozen.close();
      await follower.close();
    }
  },
});

Deno.test({
  name:
    "a call's own short head timeout leaves a slow node for that call only; a second one in a row marks it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The leader answers, only slower than a call's own 100 ms head timeout; the follower names
    // it as the leader.
    const slow = answeringServer(async (request, self) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return brokerLike()(request, self);
    });
    const follower = answeringServer(brokerLike(slow.url));
    // The client's own head timeout: 5 s.
    const client = new CmqdClient({ baseUrl: [slow.url, follower.url] });
    try {
      const signal = AbortSignal.timeout(callBoundMs);
      await client.getQueue("q", { signal, headTimeoutMs: 100 }); // left for the follower
      assert.equal(follower.count("GET /v1/queues/q"), 1);
      assert.equal(client.leaderUrl, slow.url);
      // One late head under a call's own shorter bound is no sign of a frozen node: the next
      // call, with the client's own bound, goes to the leader the hint names and is answered.
      await client.getQueue("q", { signal });
      assert.equal(slow.count("GET /v1/queues/q"), 2);
      assert.equal(follower.count("GET /v1/queues/q"), 1);
      // Twice in a row with no answer between: avoided, the hint notwithstanding.
      await client.getQueue("q", { signal, headTimeoutMs: 100 });
      await client.getQueue("q", { signal, headTimeoutMs: 100 });
      assert.equal(slow.count("GET /v1/queues/q"), 4);
      await client.getQueue("q", { signal });
      assert.equal(slow.count("GET /v1/queues/q"), 4, "the node is avoided after two in a row");
      assert.equal(follower.count("GET /v1/queues/q"), 4);
    } finally {
      client.close();
      await slow.close();
      await follower.close();
    }
  },
});

Deno.test({
  name: "a receive's head timeout adds its long-poll wait",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const never = deferred<Response>();
    // Holds the receive like a long poll, and never answers /healthz: a cut poll would fail.
    const node = answeringServer(async (request, self) => {
      if (new URL(request.url).pathname === "/healthz") return await never.promise;
      await new Promise((resolve) => setTimeout(resolve, 600));
      return Response.json({ messages: [] }, { headers: { "x-cmqd-leader": self } });
    });
    const other = answeringServer(brokerLike());
    const client = new CmqdClient({ baseUrl: [node.url, other.url], headTimeoutMs: 100 });
    try {
      const answer = await client.receiveMessages("q", { waitSeconds: 2 }, {
        signal: AbortSignal.timeout(callBoundMs),
      });
      assert.deepEqual(answer, { messages: [] });
      assert.equal(node.count("GET /healthz"), 0);
    } finally {
      never.resolve(new Response(null));
      client.close();
      await node.close();
      await other.close();
    }
  },
});

Deno.test({
  name: "with one node known the head timeout does not apply: the call waits for timeoutMs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const frozen = silentServer();
    const client = new CmqdClient({
      baseUrl: frozen.url,
      headTimeoutMs: 50,
      timeoutMs: 600,
      retry: { attemptsMax: 1 },
    });
    try {
      await assert.rejects(client.getQueue("q"), (error: CmqdError) => {
        assert.equal(error.code, "Timeout");
        assert.match(error.message, /no answer within 600 ms/);
        return true;
      });
      assert.equal(frozen.accepted, 1, "no /healthz probe either");
    } finally {
      client.close();
      frozen.close();
    }
  },
});

Deno.test("headTimeoutMs must be positive", () => {
  assert.throws(() => new CmqdClient({ baseUrl: "http://a:1", headTimeoutMs: 0 }), RangeError);
});

/**
 * A transport on two fake nodes, `a` and `b`, whose every answer names `a` the leader. While
 * `stallBody` is set, `a` sends its head and then never the body (until the attempt is aborted);
 * while `silentHead` is set, it sends nothing at all.
 */
function stallingNodes() {
  const a = "http://node-a:1";
  const b = "http://node-b:1";
  const state = { stallBody: false, silentHead: false, seen: [] as string[] };
  const abortedWith = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      const fail = () => reject(new TransportError("aborted"));
      if (signal.aborted) fail();
      else signal.addEventListener("abort", fail, { once: true });
    });
  const transport: HttpTransport = {
    request(request) {
      const node = new URL(request.url).origin;
      state.seen.push(node === a ? "a" : "b");
      if (node === a && state.silentHead) return abortedWith(request.signal);
      const stalled = node === a && state.stallBody;
      request.onHead?.();
      return Promise.resolve({
        status: 200,
        header: (name: string) => name === "x-cmqd-leader" ? a : null,
        text: () =>
          stalled ? abortedWith(request.signal) : Promise.resolve(JSON.stringify({ name: "q" })),
      });
    },
  };
  return { a, b, state, transport };
}

Deno.test("a body that stalls after its head does not mark the node frozen", async () => {
  const { a, b, state, transport } = stallingNodes();
  // The client's own timeoutMs, shorter than its head timeout: past it a silent node is frozen.
  const client = new CmqdClient({
    baseUrl: [a, b],
    transport,
    timeoutMs: 100,
    sleep: () => Promise.resolve(),
  });
  state.stallBody = true;
  const signal = AbortSignal.timeout(callBoundMs);
  // The repeatable read times out on `a`'s body and is answered by `b`, which names `a`.
  assert.deepEqual(await client.getQueue("q", { signal }), { name: "q" });
  assert.deepEqual(state.seen, ["a", "b"]);
  assert.equal(client.leaderUrl, a);
  state.stallBody = false;
  // `a` answered its head: it is not avoided, so the hint is followed.
  await client.getQueue("q", { signal });
  assert.deepEqual(state.seen, ["a", "b", "a"]);
});

Deno.test("a stalled body is no strike against the node either", async () => {
  const { a, b, state, transport } = stallingNodes();
  const client = new CmqdClient({ baseUrl: [a, b], transport, sleep: () => Promise.resolve() });
  const signal = AbortSignal.timeout(callBoundMs);
  // The call's own timeoutMs, shorter than the client's: a timeout under it strikes a silent node.
  state.stallBody = true;
  await client.getQueue("q", { signal, timeoutMs: 100 });
  assert.deepEqual(state.seen, ["a", "b"]);
  state.stallBody = false;
  state.silentHead = true;
  // A late head under the call's own shorter bound: the first strike, so `a` is not avoided.
  await client.getQueue("q", { signal, headTimeoutMs: 100 });
  assert.deepEqual(state.seen, ["a", "b", "a", "b"]);
  state.silentHead = false;
  await client.getQueue("q", { signal });
  assert.deepEqual(state.seen, ["a", "b", "a", "b", "a"]);
});
