/**
 * A node that has just become leader may not have applied every entry the old leader committed
 * (Raft: it learns the commit index once an entry of its own term commits). A topic call whose
 * check finds its topic, subscription or queue missing must confirm that through the read
 * barrier before answering "not found": before, a publish to a topic the old leader had created
 * (and acknowledged) answered 404 TopicNotFound in that window.
 */
import assert from "node:assert/strict";
import { BrokerError, StateMachine } from "../engine/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { EngineTopicService } from "./topic_service.ts";

/**
 * The topic service of a new leader whose state machine has applied nothing yet of what the
 * old leader (`memoryEngine`'s replica) committed; its read barrier applies all of it, as the
 * replica's does. Proposals go to the old leader's replica (their results are its answers).
 */
async function newLeader() {
  const old = memoryEngine();
  await old.broker.createQueue("jobs", {});
  await old.topics.createTopic("news", {});
  await old.topics.subscribe("news", "to-jobs", { endpoint: { queue: "jobs" } });
  const lagging = new StateMachine();
  let barriers = 0;
  const topics = new EngineTopicService({
    proposer: {
      propose: (type, payload) => old.replica.propose(type, payload),
      readBarrier: () => {
        barriers++;
        for (let index = lagging.appliedIndex + 1; index <= old.replica.lastIndex; index++) {
          lagging.apply(old.replica.entry(index));
        }
        return Promise.resolve();
      },
      now: () => old.clock.now(),
    },
    machine: lagging,
    log: old.replica,
  });
  return { old, topics, lagging, barriers: () => barriers };
}

Deno.test("a new leader that has not applied a topic yet publishes to it instead of answering TopicNotFound", async () => {
  const { topics, barriers } = await newLeader();
  const published = await topics.publish("news", [{ body: "hello" }]);
  assert.equal(published.messages[0].fannedOut, 1);
  assert.equal(barriers(), 1);
});

Deno.test("subscribe, updates and deletes on a new leader wait for what it has not applied yet", async () => {
  const calls: [string, (topics: EngineTopicService) => Promise<unknown>][] = [
    ["subscribe", (t) => t.subscribe("news", "more", { endpoint: { queue: "jobs" } })],
    ["updateTopic", (t) => t.updateTopic("news", { retentionSeconds: 600 })],
    ["updateSubscription", (t) => t.updateSubscription("news", "to-jobs", { filterTags: ["a"] })],
    ["unsubscribe", (t) => t.unsubscribe("news", "to-jobs")],
    ["deleteTopic", (t) => t.deleteTopic("news")],
  ];
  for (const [name, call] of calls) {
    const { topics } = await newLeader();
    await assert.doesNotReject(() => call(topics), name);
  }
});

Deno.test("what is missing after the read barrier is still not found, and nothing is proposed", async () => {
  const { old, topics, barriers } = await newLeader();
  const before = old.replica.lastIndex;
  const missing: [string, () => Promise<unknown>, string][] = [
    ["publish", () => topics.publish("gone", [{ body: "x" }]), "TopicNotFound"],
    ["unsubscribe", () => topics.unsubscribe("news", "gone"), "SubscriptionNotFound"],
    [
      "subscribe to a missing queue",
      () => topics.subscribe("news", "s", { endpoint: { queue: "gone" } }),
      "InvalidParameter",
    ],
  ];
  for (const [name, call, code] of missing) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof BrokerError, name);
      assert.equal(error.code, code, name);
      return true;
    });
  }
  assert.ok(barriers() >= 1);
  assert.equal(old.replica.lastIndex, before, "nothing written");
});
