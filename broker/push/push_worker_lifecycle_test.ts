/**
 * The push worker over time and through deletes (README, "Topics": "Retries", "Isolation"): a
 * topic deleted and made again under its name while its pushes are in flight, and an endpoint
 * that answers every request only after the timeout, for minutes.
 */
import assert from "node:assert/strict";
import { hook, setup, tick } from "./_push_worker_fixtures.ts";

Deno.test("a topic deleted with pushes in flight: they end, nothing new starts, and a topic made again under its name is pushed on its own", async () => {
  const context = await setup({ inflightMax: 3 });
  await hook(context, "merchant");
  await context.topics.publish(
    "t",
    Array.from({ length: 10 }, (_, index) => ({ body: `old ${index}` })),
  );
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  assert.equal(calls.length, 3, "three in flight, the others read ahead or waiting");
  const inFlight = [...calls];

  await context.topics.deleteTopic("t");
  await context.topics.createTopic("t", {});
  await hook(context, "merchant");
  await context.topics.publish("t", [{ body: "new 0" }, { body: "new 1" }]);
  await tick(context);
  // The old requests still hold the node's three slots: nothing new goes out yet.
  assert.equal(calls.length, 3);
  // The old endpoint fails them: their outcomes are stale (another incarnation) and change nothing.
  for (const call of inFlight) call.answer(500);
  await tick(context);
  await tick(context, 5_000);
  const bodies = calls.slice(3).map((call) => JSON.parse(call.body).msgBody).sort();
  assert.deepEqual(bodies, ["new 0", "new 1"], "only the new topic's messages, once each");
  for (const call of calls.slice(3)) call.answer(200);
  await tick(context);
  const view = await context.topics.getSubscription("t", "merchant");
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.deliveredMessages, 2);
  assert.equal(view.failedMessages, 0);
  assert.equal(view.lastError ?? null, null, "the old topic's failures are not this one's");
  assert.equal(context.worker.stats().inflight, 0);
  await tick(context, 60_000);
  assert.equal(calls.length, 5, "nothing of the deleted topic was pushed after the delete");
  context.worker.stop();
});

Deno.test("an endpoint that answers only after the timeout gets one request at a time for as long as it is slow, and its messages stay pending", async () => {
  const requestTimeoutMs = 10_000;
  const context = await setup({ requestTimeoutMs, inflightPerSubscriptionMax: 8 });
  await hook(context, "slow");
  await hook(context, "fast");
  await context.topics.publish(
    "t",
    Array.from({ length: 50 }, (_, index) => ({ body: `${index}` })),
  );
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  const startedAt = new Map<object, number>();
  const answered = new Set<object>();
  const slowInFlight = () =>
    calls.filter((call) =>
      call.url === "http://slow.test/" && !call.signal.aborted && !answered.has(call)
    ).length;
  let inFlightMax = 0;
  for (let second = 0; second < 180; second++) {
    const now = context.clock.now();
    for (const call of calls) {
      if (!startedAt.has(call)) startedAt.set(call, now);
      if (answered.has(call) || call.signal.aborted) continue;
      // The fast endpoint answers at once; the slow one 5 s after the timeout.
      const slow = call.url === "http://slow.test/";
      if (!slow || now - startedAt.get(call)! >= requestTimeoutMs + 5_000) {
        answered.add(call);
        call.answer(200);
      }
    }
    await tick(context, 1_000);
    // After the first round timed out, one request at a time.
    if (second > requestTimeoutMs / 1000 + 1) inFlightMax = Math.max(inFlightMax, slowInFlight());
  }
  const slowRequests = calls.filter((call) => call.url === "http://slow.test/").length;
  assert.equal(inFlightMax, 1, "one request at a time once it failed");
  // 8 at first, then about one per timeout (and its pause): not a request per message per retry.
  assert.ok(slowRequests <= 8 + 180_000 / requestTimeoutMs, `${slowRequests} requests`);
  const slow = await context.topics.getSubscription("t", "slow");
  assert.equal(slow.pendingMessages, 50, "no timed-out message is dropped");
  assert.equal(slow.failedMessages, 0);
  const fast = await context.topics.getSubscription("t", "fast");
  assert.equal(fast.pendingMessages, 0, "the other subscription was never held up");
  context.worker.stop();
});
