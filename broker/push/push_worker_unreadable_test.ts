/**
 * A message whose body can't be read back: the subscription's other pushes go on, the message is
 * retried later and reported once; a read that failed the replica ends the pass there.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { EngineTopicService } from "../service/mod.ts";
import { ReplicationError } from "../replication/mod.ts";
import { PushWorker } from "./push_worker.ts";
import { manualEndpoint, settle, sourceWith } from "./_push_worker_fixtures.ts";

/** A topic service whose log read of `unreadable` entries throws `error()`. */
async function withUnreadableEntries(error: () => Error) {
  const engine = memoryEngine();
  const unreadable = new Set<number>();
  const topics = new EngineTopicService({
    proposer: engine.replica,
    machine: engine.replica.machine,
    log: {
      entry: (index) => {
        if (unreadable.has(index)) throw error();
        return engine.replica.entry(index);
      },
    },
  });
  const endpoint = manualEndpoint();
  const logged: string[] = [];
  const worker = new PushWorker({
    source: topics,
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    logError: (message) => logged.push(message),
  });
  await topics.createTopic("t", {});
  await topics.subscribe("t", "s", { endpoint: { url: "http://s.test/" }, format: "simplified" });
  for (const body of ["a", "b", "c"]) await topics.publish("t", [{ body }]); // one entry each
  const tick = async (ms = 0) => {
    engine.clock.advance(ms);
    await settle();
  };
  return { ...engine, topics, endpoint, logged, worker, unreadable, tick };
}

Deno.test("an unreadable message is skipped: the subscription's other pushes go on, it is reported once and retried until it reads", async () => {
  const context = await withUnreadableEntries(() => new RangeError("entry is not in the log"));
  const [target] = context.replica.machine.topics.pushTargets();
  const due = context.replica.machine.topics.duePushes(target, Infinity, {
    limit: 10,
    skip: () => false,
  });
  context.unreadable.add(due[1].logIndex); // message "b"
  context.worker.start();
  await context.tick();
  const calls = context.endpoint.calls;
  assert.deepEqual(calls.map((call) => call.body), ["a", "c"], "the others are pushed");
  calls.forEach((call) => call.answer(200));
  for (let pass = 0; pass < 20; pass++) await context.tick(1_000);
  assert.equal(calls.length, 2, "still unreadable");
  assert.equal(context.logged.length, 1, `reported once: ${context.logged.join(" | ")}`);
  assert.match(context.logged[0], /message 2 of t\/s can't be read/);
  assert.equal(context.worker.stats().unreadable, 1);
  let view = await context.topics.getSubscription("t", "s");
  assert.equal(view.pendingMessages, 1, "not dropped: it stays pending");

  context.unreadable.clear(); // readable again (say, the entry is back)
  for (let pass = 0; pass < 70 && calls.length < 3; pass++) await context.tick(1_000);
  assert.deepEqual(calls.map((call) => call.body), ["a", "c", "b"]);
  calls[2].answer(200);
  await context.tick();
  view = await context.topics.getSubscription("t", "s");
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.deliveredMessages, 3);
  context.worker.stop();
});

Deno.test("a read that failed the replica ends the read: nothing is skipped or pushed by this node", async () => {
  const context = await withUnreadableEntries(() =>
    new ReplicationError("NotReady", "replica failed: corrupt log: bad crc")
  );
  const [target] = context.replica.machine.topics.pushTargets();
  const due = context.replica.machine.topics.duePushes(target, Infinity, {
    limit: 10,
    skip: () => false,
  });
  context.unreadable.add(due[1].logIndex);
  assert.throws(
    () => context.topics.duePushes(target, Infinity, { limit: 10, skip: () => false }),
    ReplicationError,
  );
});

Deno.test("a pass that stops the worker (its read failed the replica) starts no request after the stop", async () => {
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  await engine.topics.createTopic("t", {});
  for (const name of ["a", "b"]) {
    await engine.topics.subscribe("t", name, { endpoint: { url: `http://${name}.test/` } });
  }
  await engine.topics.publish("t", [{ body: "m" }]);
  let worker: PushWorker | null = null;
  const stopAndThrow = () => {
    // What a replica does when a read finds damage: it fails, its role-change handler stops the
    // worker, and the read throws.
    worker!.stop();
    throw new ReplicationError("NotReady", "replica failed: corrupt log: bad crc");
  };
  let reads = 0;
  worker = new PushWorker({
    source: sourceWith(engine.topics, {
      duePushes: (target, now, options) =>
        reads++ === 0 ? stopAndThrow() : engine.topics.duePushes(target, now, options),
    }),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    logError: () => {},
  });
  worker.start();
  for (let pass = 0; pass < 5; pass++) {
    engine.clock.advance(1_000);
    await settle();
  }
  assert.equal(worker.stats().running, false);
  assert.equal(endpoint.calls.length, 0, "a stopped worker pushes nothing");
  assert.equal(reads, 1, "and reads nothing more");
});
