/**
 * What an operator's alerts rely on across a group's life (README, "Operations"): on each node,
 * every counter (and histogram count and sum) of `/metrics` never goes down within the process —
 * through dead-lettering, a follower that catches up by a snapshot, a queue deleted and created
 * again under its name (its own series leaves with it and counts from 0 again, the only reset:
 * the test allows exactly that one), and a hand-over of leadership — and every node's per-queue
 * gauges, once it has applied what the leader has, are what the leader's `GET` of the queue
 * answers, the node-wide totals their sums. Three real nodes in one process, on simulated disks,
 * over an in-memory network whose links the test cuts.
 */
import assert from "node:assert/strict";
import { parsePrometheusStrict } from "../http/testing/mod.ts";
import type { CmqdNode } from "./node.ts";
import { NodeNetwork, startNodeGroup } from "./_node_group.ts";
import { until } from "./testing/mod.ts";

/** Each node's last value of every counter series seen (a series that left keeps its last). */
class CounterWatch {
  readonly decreases: string[] = [];
  readonly #last = new Map<string, Map<string, number>>();

  /** Scrapes `node`, strictly parsed; notes each counter series lower than before. */
  async scrape(id: string, node: CmqdNode, step: string): Promise<Map<string, number>> {
    const text = await (await node.app.request("/metrics")).text();
    const samples = new Map<string, number>();
    const last = this.#last.get(id) ?? new Map<string, number>();
    for (const family of parsePrometheusStrict(text).values()) {
      const counting = family.type === "counter" || family.type === "histogram";
      for (const sample of family.samples) {
        const labels = sample.labels.map(([name, value]) => `${name}="${value}"`).join(",");
        const key = labels === "" ? sample.name : `${sample.name}{${labels}}`;
        samples.set(key, sample.value);
        const before = last.get(key);
        if (counting && before !== undefined && sample.value < before) {
          this.decreases.push(`${step}, ${id}: ${key} ${before} -> ${sample.value}`);
        }
        if (counting) last.set(key, sample.value);
      }
    }
    this.#last.set(id, last);
    return samples;
  }
}

Deno.test("/metrics counters never go down on a node, and every node's queue gauges are the leader's view", async () => {
  const network = new NodeNetwork();
  const ids = ["n1", "n2", "n3"];
  const group = await startNodeGroup(network, ids, {
    handOffMsMax: 500,
    snapshotEntriesInterval: 16,
  });
  const nodes = new Map(group.map((node, index) => [ids[index], node]));
  const leaderOf = () => group.find((node) => node.replica.isLeader);
  const watch = new CounterWatch();
  const scrapeAll = async (step: string) => {
    for (const [id, node] of nodes) await watch.scrape(id, node, step);
  };
  /** Each node, once it applied what the leader has: its gauges against the leader's GET. */
  const gaugesAgree = async (step: string) => {
    const leader = leaderOf()!;
    await until(
      () => group.every((node) => node.machine.appliedIndex === leader.machine.appliedIndex),
      "every node to apply what the leader has",
    );
    for (const [id, node] of nodes) {
      const samples = await watch.scrape(id, node, step);
      const sums = { active: 0, inflight: 0, delayed: 0 };
      const { queues } = await leader.broker.listQueues({ limit: 100 });
      assert.equal(samples.get("cmqd_queues"), queues.length, `${step}, ${id}: queues`);
      for (const queue of queues) {
        const answer = await leader.broker.getQueue(queue.name);
        for (const state of ["active", "inflight", "delayed"] as const) {
          const value = samples.get(`cmqd_queue_${state}_messages{queue="${queue.name}"}`);
          assert.equal(value, answer[`${state}Messages`], `${step}, ${id}: ${state} ${queue.name}`);
          sums[state] += value!;
        }
      }
      for (const state of ["active", "inflight", "delayed"] as const) {
        assert.equal(
          samples.get(`cmqd_${state}_messages`),
          sums[state],
          `${step}, ${id}: ${state}`,
        );
      }
    }
  };
  /** Sends one message to `jobs` and has it dead-lettered (maxReceiveCount 1). */
  const deadLetterOne = async () => {
    const leader = leaderOf()!;
    await leader.broker.sendMessages("jobs", [{ body: "poison" }]);
    const receive = () => leader.broker.receiveMessages("jobs", { maxMessages: 10 });
    const [message] = (await receive()).messages;
    await leader.broker.changeVisibility("jobs", [
      { receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 0 },
    ]);
    assert.equal((await receive()).messages.length, 0, "moved to dlq");
  };
  try {
    await until(() => leaderOf() !== undefined, "a leader");
    const leader = leaderOf()!;
    await scrapeAll("start");
    await leader.broker.createQueue("dlq", {});
    const attributes = { deadLetter: { queue: "dlq", maxReceiveCount: 1 } };
    await leader.broker.createQueue("jobs", attributes);
    await leader.broker.createQueue("inbox", {});
    await leader.topics.createTopic("news", {});
    await leader.topics.subscribe("news", "copy", { endpoint: { queue: "inbox" } });
    await leader.topics.publish("news", [{ body: "1" }, { body: "2" }]);
    await deadLetterOne();
    await deadLetterOne();
    await gaugesAgree("dead-lettered");

    // A follower cut off while the log moves past a snapshot and `jobs` is made again.
    const lagging = ids.find((id) => nodes.get(id) !== leader)!;
    network.cut.add(lagging);
    for (let round = 0; round < 20; round++) {
      await leader.broker.sendMessages("inbox", [{ body: `a${round}` }]);
    }
    await leader.topics.publish("news", [{ body: "3" }]);
    await deadLetterOne();
    await scrapeAll("before the delete");
    await leader.broker.deleteQueue("jobs");
    await leader.broker.createQueue("jobs", attributes);
    await deadLetterOne();
    for (let round = 0; round < 20; round++) {
      await leader.broker.sendMessages("inbox", [{ body: `b${round}` }]);
    }
    await leader.broker.receiveMessages("inbox", { maxMessages: 5, visibilityTimeoutSeconds: 60 });
    await leader.broker.sendMessages("inbox", [{ body: "later", delaySeconds: 60 }]);
    await scrapeAll("cut off");
    network.cut.delete(lagging);
    await gaugesAgree("caught up");
    assert.ok(
      nodes.get(lagging)!.replica.status().snapshotIndex > 0,
      "the follower caught up by a snapshot",
    );

    // A hand-over to the node that caught up; it leads the next moves.
    leader.replica.transferLeadership(lagging);
    await until(() => nodes.get(lagging)!.replica.isLeader, "the hand-over");
    await deadLetterOne();
    await leaderOf()!.topics.publish("news", [{ body: "4" }]);
    await gaugesAgree("handed over");
  } finally {
    for (const node of group) await node.close();
  }
  // The one reset each node may show: `jobs` created again counts its moves from 0 (README).
  const resets = watch.decreases.filter((line) =>
    !line.includes('cmqd_messages_dead_lettered_total{queue="jobs"}')
  );
  assert.deepEqual(resets, [], "no counter went down");
});
