/**
 * An answer whose status arrives near the end of the request timeout (README, "Topics": "The
 * status decides ... one not finished 2 s after its status arrived ends the connection without
 * changing the outcome"): the worker with the real HTTP client and a raw endpoint that sends a
 * 2xx status, then never ends its body.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { PushHttpClient } from "./http_client.ts";
import { type PushFetch, PushWorker } from "./push_worker.ts";
import { settle } from "./_push_worker_fixtures.ts";

Deno.test("a 2xx status that arrived before the timeout is a delivery, even when its body outlasts the timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  let requests = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      await conn.read(new Uint8Array(4096));
      requests++;
      // The status, then a body that never comes whole.
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nab"),
      );
    }
  })();
  const engine = memoryEngine();
  const client = new PushHttpClient({ bodyWaitMs: 300 });
  let heads = 0;
  // The real client, told when a status arrived (it says so through `onHead`, as the worker asks).
  const fetch: PushFetch = (url, init) =>
    client.fetch(url, {
      ...init,
      onHead: () => {
        heads++;
        init.onHead?.();
      },
    });
  const worker = new PushWorker({
    source: engine.topics,
    fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits: { requestTimeoutMs: 1_000 },
    logError: () => {},
  });
  try {
    await engine.topics.createTopic("t", {});
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/notify`;
    await engine.topics.subscribe("t", "hook", { endpoint: { url } });
    await engine.topics.publish("t", [{ body: "pay 10" }]);
    worker.start();
    await settle();
    for (let wait = 0; heads === 0 && wait < 2_000; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(heads, 1, "the 2xx status arrived");
    // The request's timeout passes while the body is still awaited (the status came just in time).
    engine.clock.advance(1_000);
    await settle();
    const view = () => engine.topics.getSubscription("t", "hook");
    for (let wait = 0; (await view()).pendingMessages !== 0 && wait < 2_000; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const subscription = await view();
    assert.equal(subscription.lastError ?? null, null, "no failed attempt");
    assert.equal(subscription.deliveredMessages, 1, "the 2xx counted");
    assert.equal(subscription.pendingMessages, 0);
    assert.equal(requests, 1, "and the endpoint that took it does not get it again");
  } finally {
    worker.stop();
    client.close();
    listener.close();
    for (const conn of open) conn.close();
    await serving.catch(() => {});
  }
});

Deno.test("a request whose status arrived is out of its timeout, yet stop still aborts it", async () => {
  const engine = memoryEngine();
  const signals: AbortSignal[] = [];
  // Sends its status at once, then its body never ends (the client's bound is not modelled).
  const fetch: PushFetch = (_url, init) => {
    signals.push(init.signal);
    init.onHead?.();
    return new Promise((_, reject) => {
      init.signal.addEventListener("abort", () => reject(new Error("aborted")));
    });
  };
  const worker = new PushWorker({
    source: engine.topics,
    fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits: { requestTimeoutMs: 1_000 },
    logError: () => {},
  });
  await engine.topics.createTopic("t", {});
  await engine.topics.subscribe("t", "hook", { endpoint: { url: "http://hook.test/" } });
  await engine.topics.publish("t", [{ body: "x" }]);
  worker.start();
  await settle();
  assert.equal(signals.length, 1);
  engine.clock.advance(5_000);
  await settle();
  assert.equal(signals[0].aborted, false, "no timeout once the status arrived");
  assert.equal(worker.stats().inflight, 1);
  worker.stop();
  assert.equal(signals[0].aborted, true, "stop ends it");
});
