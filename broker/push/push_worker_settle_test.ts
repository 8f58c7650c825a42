/**
 * A throw while the worker settles an attempt (its `onPushed` hook, a push source whose
 * `recordPushOutcomes` throws instead of rejecting) is logged with the subscription and the
 * message; the worker goes on with its counters consistent. It was an unhandled rejection, which
 * ends the process.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { manualEndpoint, settle, sourceWith } from "./_push_worker_fixtures.ts";
import { PushWorker } from "./push_worker.ts";
import type { PushSource } from "../service/mod.ts";

async function start(
  wrap: (source: PushSource) => PushSource,
  onPushed?: (latencyMs: number) => void,
) {
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const logged: string[] = [];
  await engine.topics.createTopic("t", {});
  await engine.topics.subscribe("t", "hook", { endpoint: { url: "http://hook.test/" } });
  const worker = new PushWorker({
    source: wrap(engine.topics),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    onPushed,
    logError: (message, error) => logged.push(`${message}: ${(error as Error).message}`),
  });
  const tick = async (ms: number) => {
    engine.clock.advance(ms);
    await settle();
  };
  return { engine, endpoint, logged, worker, tick };
}

Deno.test("an onPushed hook that throws is logged; the push is recorded and the worker goes on", async () => {
  const { engine, endpoint, logged, worker, tick } = await start((source) => source, () => {
    throw new Error("metrics broke");
  });
  worker.start();
  await engine.topics.publish("t", [{ body: "first" }]);
  await tick(0);
  endpoint.calls[0].answer(200);
  await tick(0);
  assert.equal((await engine.topics.getSubscription("t", "hook")).pendingMessages, 0);
  assert.deepEqual(
    { ...worker.stats(), requests: 0 },
    { requests: 0, failures: 0, inflight: 0, recording: 0, unreadable: 0, running: true },
  );
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^push: .*message 1 of t\/hook.*: metrics broke$/);

  await engine.topics.publish("t", [{ body: "second" }]);
  await tick(0);
  assert.equal(endpoint.calls.length, 2, "the next message is pushed");
  endpoint.calls[1].answer(200);
  await tick(0);
  assert.equal((await engine.topics.getSubscription("t", "hook")).pendingMessages, 0);
  assert.equal(worker.stats().inflight, 0);
  worker.stop();
});

Deno.test("a push source whose recordPushOutcomes throws is a failed proposal: logged, proposed again", async () => {
  let throws = 1;
  const { engine, endpoint, logged, worker, tick } = await start((source) =>
    sourceWith(source, {
      recordPushOutcomes: (outcomes) => {
        if (throws-- > 0) throw new Error("proposal refused at once");
        return source.recordPushOutcomes(outcomes);
      },
    })
  );
  worker.start();
  await engine.topics.publish("t", [{ body: "first" }]);
  await tick(0);
  endpoint.calls[0].answer(200);
  await tick(0);
  assert.equal(worker.stats().inflight, 0, "the request's slot is free");
  assert.equal(worker.stats().recording, 1, "the outcome waits to be proposed again");
  assert.match(logged[0], /^push: recording 1 outcomes failed: proposal refused at once$/);
  await tick(5_000);
  assert.equal((await engine.topics.getSubscription("t", "hook")).pendingMessages, 0);
  assert.equal(worker.stats().recording, 0);
  assert.equal(endpoint.calls.length, 1, "recorded, not pushed again");
  worker.stop();
});
