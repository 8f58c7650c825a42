import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { type PushFetch, PushWorker } from "./push_worker.ts";
import { type Call, hook, settle, setup, tick } from "./_push_worker_fixtures.ts";

Deno.test("a dead endpoint holds one slot and never delays another subscription", async () => {
  const context = await setup({ requestTimeoutMs: 10_000, inflightPerSubscriptionMax: 4 });
  await hook(context, "dead");
  await hook(context, "live");
  const bodies = Array.from({ length: 12 }, (_, index) => ({ body: `m${index}` }));
  await context.topics.publish("t", bodies);
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  const live = () => calls.filter((call) => call.url === "http://live.test/");
  const dead = () => calls.filter((call) => call.url === "http://dead.test/");
  assert.equal(dead().length, 4, "at most inflightPerSubscriptionMax at once");
  // The live endpoint answers at once, round after round, while the dead one hangs.
  const answered = new Set<Call>();
  for (let round = 0; round < 6; round++) {
    for (const call of live()) {
      if (!answered.has(call)) call.answer(200);
      answered.add(call);
    }
    await tick(context);
  }
  assert.equal(live().length, 12, "every live push went out while the dead ones hung");
  assert.equal((await context.topics.getSubscription("t", "live")).pendingMessages, 0);
  await tick(context, 10_000);
  await tick(context, 1_000);
  const inflightDead = dead().filter((call) => !call.signal.aborted).length;
  assert.equal(inflightDead, 1, "after failures, a dead endpoint gets one request at a time");
  context.worker.stop();
});

Deno.test("the overall limit bounds requests across subscriptions", async () => {
  const context = await setup({ inflightMax: 5, inflightPerSubscriptionMax: 4 });
  for (const name of ["a", "b", "c"]) await hook(context, name);
  await context.topics.publish("t", Array.from({ length: 10 }, () => ({ body: "x" })));
  context.worker.start();
  await tick(context);
  assert.equal(context.endpoint.calls.length, 5);
  assert.equal(context.endpoint.concurrentMax, 5);
  context.worker.stop();
});

for (const failure of ["refused", "503"] as const) {
  Deno.test(`an unreachable endpoint is not hammered (${failure}): its lane pauses while it fails`, async () => {
    const engine = memoryEngine();
    let failing = true;
    let calls = 0;
    // Fails within a millisecond, unlike a hung endpoint that holds its slot until the timeout.
    const fetch: PushFetch = () => {
      calls++;
      if (!failing) return Promise.resolve({ status: 200, body: null });
      return failure === "503"
        ? Promise.resolve({ status: 503, body: null })
        : Promise.reject(new Error("tcp connect error: refused"));
    };
    const worker = new PushWorker({
      source: engine.topics,
      fetch,
      clock: engine.clock,
      timers: engine.clock,
      limits: { inflightPerSubscriptionMax: 4 },
      logError: () => {},
    });
    await engine.topics.createTopic("t", {});
    await engine.topics.subscribe("t", "dead", { endpoint: { url: "http://dead.test/" } });
    const bodies = Array.from({ length: 100 }, (_, index) => ({ body: `m${index}` }));
    await engine.topics.publish("t", bodies);
    worker.start();
    const pass = async (ms: number) => {
      for (let step = 0; step < ms / 50; step++) {
        engine.clock.advance(50);
        await settle();
      }
    };
    await pass(2_000);
    // Two seconds: the first 4 at once (the lane's limit before it knows), then 10, 20, 40 … ms
    // between attempts, up to one a second (about 9 more); before, every pending message was
    // tried back to back (100 first attempts, and their retries).
    assert.ok(calls <= 14, `${calls} attempts in 2 s against an endpoint that fails at once`);
    failing = false;
    await pass(3_000);
    const view = await engine.topics.getSubscription("t", "dead");
    assert.equal(view.pendingMessages, 0, "once an attempt succeeds the lane runs at full speed");
    worker.stop();
  });
}

Deno.test("bodies read ahead and in flight stay within heldBodyBytesMax, however many subscriptions", async () => {
  const engine = memoryEngine();
  const source = engine.topics;
  const read = source.duePushes.bind(source);
  let held = 0;
  let heldMax = 0;
  source.duePushes = (target, now, options) => {
    const due = read(target, now, options);
    for (const delivery of due) held += delivery.body.length;
    heldMax = Math.max(heldMax, held);
    return due;
  };
  // Every push is answered 500 at once: each lane drops to one request at a time.
  const fetch: PushFetch = (_url, init) => {
    held -= JSON.parse(init.body).msgBody.length;
    return Promise.resolve({ status: 500, body: null });
  };
  const worker = new PushWorker({
    source,
    fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits: { heldBodyBytesMax: 1_000_000 },
    logError: () => {},
  });
  await source.createTopic("t", { maxMessageBytes: 1_048_576 });
  for (let index = 0; index < 10; index++) {
    await source.subscribe("t", `s${index}`, { endpoint: { url: `http://s${index}.test/` } });
  }
  const body = "b".repeat(20_000);
  for (let batch = 0; batch < 4; batch++) {
    await source.publish("t", Array.from({ length: 16 }, () => ({ body })));
  }
  worker.start();
  for (let step = 0; step < 100; step++) {
    engine.clock.advance(50);
    await settle();
  }
  // Before: each lane read 64 bodies ahead and sent one at a time, 10 × 64 × 20 kB held at once.
  assert.ok(heldMax <= 1_000_000 + body.length, `${heldMax} body bytes held at once`);
  assert.ok(worker.stats().requests >= 10 * 64, "every message was tried on every subscription");
  worker.stop();
});

Deno.test("after a restart of the worker (a new leader), a subscription known to fail starts at one request", async () => {
  const context = await setup({
    inflightMax: 8,
    inflightPerSubscriptionMax: 4,
    requestTimeoutMs: 10_000,
  });
  await hook(context, "dead-a");
  await hook(context, "dead-b");
  const ten = Array.from({ length: 10 }, (_, index) => ({ body: `${index}` }));
  await context.topics.publish("t", ten);
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  for (const call of calls) call.answer(503); // both fail: recorded in the replicated state
  await tick(context);
  context.worker.stop(); // leadership moves; the next leader knows them only by that state
  await hook(context, "live");
  await context.topics.publish("t", [{ body: "x" }]);
  context.worker.start();
  await tick(context, 2_000);
  const after = calls.slice(8);
  const to = (url: string) => after.filter((call) => call.url === url).length;
  assert.equal(to("http://dead-a.test/"), 1, "a failing endpoint holds one slot, not four");
  assert.equal(to("http://dead-b.test/"), 1);
  assert.equal(to("http://live.test/"), 1, "the healthy subscription got its push at once");
  context.worker.stop();
});

Deno.test("a slow endpoint holding big bodies does not keep another subscription's push from starting", async () => {
  // Before, the first lane of a pass read bodies until heldBodyBytesMax was used up, all in
  // flight to an endpoint that had not answered yet (up to 15 s); every other subscription found
  // no room and pushed nothing meanwhile, though request slots were free.
  const context = await setup({ heldBodyBytesMax: 8 * 1024 });
  await hook(context, "slow", { filterTags: ["big"] });
  await hook(context, "fast", { filterTags: ["small"] });
  const big = "b".repeat(1024);
  await context.topics.publish(
    "t",
    Array.from({ length: 20 }, () => ({ body: big, tags: ["big"] })),
  );
  await context.topics.publish("t", [{ body: "x", tags: ["small"] }]);
  context.worker.start();
  for (let step = 0; step < 5; step++) await tick(context, 100);
  const to = (name: string) =>
    context.endpoint.calls.filter((call) => call.url === `http://${name}.test/`).length;
  assert.ok(to("slow") > 0, "the slow endpoint has requests in flight");
  assert.equal(
    to("fast"),
    1,
    "the other subscription got its push without waiting on the slow one",
  );
  context.worker.stop();
});
