/**
 * A read that meets the replica's refusal at its read barrier (the node stopped leading, or is
 * not ready) is answered as that refusal, a `BrokerError` of the same code with its Retry-After,
 * like a write's — not as a stray `ReplicationError`, which the doors answer as a 500 bug.
 */
import assert from "node:assert/strict";
import { BrokerError } from "../engine/mod.ts";
import { ReplicationError } from "../replication/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";

Deno.test("every read through the read barrier turns a replica's refusal into its BrokerError", async () => {
  const { replica, broker, topics } = memoryEngine({ randomSalt: () => 42 });
  await broker.createQueue("jobs", {});
  await topics.createTopic("news", {});
  await topics.subscribe("news", "to-jobs", { endpoint: { queue: "jobs" } });
  const refusals = [
    new ReplicationError("NoLeader", "not the leader", { retryAfterSeconds: 1 }),
    new ReplicationError("NotReady", "a hand-off is under way", { retryAfterSeconds: 2 }),
  ];
  const reads: [string, () => Promise<unknown>][] = [
    ["listQueues", () => broker.listQueues({})],
    ["getQueue", () => broker.getQueue("jobs")],
    ["listTopics", () => topics.listTopics({})],
    ["getTopic", () => topics.getTopic("news")],
    ["listSubscriptions", () => topics.listSubscriptions("news", {})],
    ["getSubscription", () => topics.getSubscription("news", "to-jobs")],
    ["barrier", () => topics.barrier()],
  ];
  for (const refusal of refusals) {
    Object.assign(replica, { readBarrier: () => Promise.reject(refusal) });
    for (const [name, read] of reads) {
      await assert.rejects(read, (error: unknown) => {
        assert.ok(error instanceof BrokerError, `${name}: ${String(error)}`);
        assert.equal(error.code, refusal.code, name);
        assert.equal(error.retryAfterSeconds, refusal.retryAfterSeconds, name);
        return true;
      });
    }
  }
});
