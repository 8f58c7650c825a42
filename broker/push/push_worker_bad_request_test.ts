/**
 * A push whose request can't be built (its tag can't be percent-encoded for the header: a lone
 * surrogate, which publishing refuses now but a message an older release accepted may hold) is a
 * failed attempt of that message: the worker goes on with every other push, before and after.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { manualEndpoint, settle, sourceWith } from "./_push_worker_fixtures.ts";
import { PushWorker } from "./push_worker.ts";

Deno.test("a push whose request can't be built is a failed attempt; the worker keeps pushing the others", async () => {
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const logged: string[] = [];
  await engine.topics.createTopic("t", {});
  for (const name of ["bad", "good"]) {
    await engine.topics.subscribe("t", name, { endpoint: { url: `http://${name}.test/` } });
  }
  await engine.topics.publish("t", [{ body: "first" }]);
  const worker = new PushWorker({
    source: sourceWith(engine.topics, {
      // As an older release's message could be: a tag encodeURIComponent refuses.
      duePushes: (target, now, options) =>
        engine.topics.duePushes(target, now, options).map((delivery) =>
          target.subscription === "bad" ? { ...delivery, tags: ["ok", "\ud800"] } : delivery
        ),
    }),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    logError: (message) => logged.push(message),
  });
  const tick = async (ms: number) => {
    engine.clock.advance(ms);
    await settle();
  };
  worker.start();
  await tick(0);
  const pushedTo = () => endpoint.calls.map((call) => new URL(call.url).hostname);
  assert.deepEqual(pushedTo(), ["good.test"], "the other subscription's push went out");
  endpoint.calls[0].answer(200);
  await tick(0);
  let bad = await engine.topics.getSubscription("t", "bad");
  assert.equal(bad.pendingMessages, 1, "the message stays pending, for its retries");
  assert.equal(bad.lastError?.message, "push request can't be built: URI malformed");
  assert.equal(worker.stats().inflight, 0, "no slot is held by the request that never started");
  assert.equal(worker.stats().failures, 1);

  // The worker lives on: a later message is pushed, and the bad one is tried again on schedule.
  await engine.topics.publish("t", [{ body: "second" }]);
  await tick(0);
  assert.deepEqual(pushedTo(), ["good.test", "good.test"]);
  endpoint.calls[1].answer(200);
  await tick(1_000);
  bad = await engine.topics.getSubscription("t", "bad");
  assert.equal(worker.stats().running, true);
  assert.ok(worker.stats().requests >= 4, `retried: ${worker.stats().requests} requests`);
  assert.match(logged[0], /^push: the request of message 1 of t\/bad can't be built$/);
  worker.stop();
});
