/**
 * When a leader's Ready may leave before its write (raft's `Ready.sendFirst`): an ordinary
 * append goes out while the leader's own write is still in flight (the followers' writes run
 * alongside it), but a Ready carrying a term and vote the node has not persisted waits for
 * them, even when the node looked like a leader at both ends.
 */
import assert from "node:assert/strict";
import { type Message, MessageType, nodeId, type Term } from "../../raft/mod.ts";
import { drainMicrotasks, settled, TestCluster } from "../cluster/testing/mod.ts";
import { testMessage } from "../../raft/testing/mod.ts";

/** Lets I/O callbacks and microtasks run `count` times while the clock stands still. */
async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await drainMicrotasks();
}

/** Records every message delivered, with what `note()` said at that point. */
function recordDeliveries<T>(
  cluster: TestCluster,
  note: () => T,
): { message: Message; note: T }[] {
  const delivered: { message: Message; note: T }[] = [];
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message) => {
    delivered.push({ message, note: note() });
    deliver(message);
  };
  return delivered;
}

Deno.test("a leader's append reaches the followers while its own write is still in flight", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await cluster.run(500);
  const fs = cluster.node(leader).fs;
  const log = cluster.node(leader).log!;
  const events: string[] = [];
  const next = cluster.replica(leader).status().lastIndex + 1;
  const delivered = recordDeliveries(cluster, () => log.durableIndex >= next);
  fs.pauseSyncs(); // the leader's write of the next entry cannot complete
  const send = broker.sendMessages("jobs", [{ body: "x" }]);
  send.catch(() => {});
  await turns(20);
  for (const { message, note: durable } of delivered) {
    if (message.type !== MessageType.App || message.from !== leader) continue;
    if (message.entries.some((entry) => entry.index === next)) {
      events.push(
        `append of ${next} to ${message.to}${durable ? "" : " (not durable on the leader)"}`,
      );
    }
  }
  assert.ok(fs.heldSyncCount > 0, "the leader's write waits on its fsync");
  events.push("leader's write completes");
  fs.resumeSyncs();
  await settled(cluster, send);
  const followers = [...cluster.nodes.keys()].filter((id) => id !== leader);
  assert.deepEqual(events, [
    ...followers.map((id) => `append of ${next} to ${id} (not durable on the leader)`),
    "leader's write completes",
  ]);
  await cluster.stopAll();
});

Deno.test("a leader re-elected while its Ready was out persists its new term and vote before sending", async () => {
  // One voter and a learner (never started: what n1 sends it is only recorded).
  const cluster = await TestCluster.start({ ids: ["n1"] });
  await cluster.waitForLeader();
  const replica = cluster.replica("n1");
  await settled(cluster, replica.proposeConfigChange({ type: "addLearner", nodeId: "n2" }));
  await settled(cluster, cluster.broker("n1").createQueue("jobs", {}));
  await cluster.run(500);
  const { fs, log } = cluster.node("n1");
  const term = replica.status().term;
  const steady = replica.status().lastIndex + 1;
  const delivered = recordDeliveries(cluster, () => null);
  fs.pauseSyncs();
  const send = cluster.broker("n1").sendMessages("jobs", [{ body: "x" }]);
  send.catch(() => {});
  await turns(20);
  assert.ok(fs.heldSyncCount > 0 && log!.durableIndex < steady, "the Ready's write is in flight");
  // While it is, a leader of a later term the node does not know deposes it (an old member's,
  // say), and it wins the next term alone: all before the write finishes.
  const deposer = term + 4;
  cluster.deliver(
    testMessage({
      type: MessageType.App,
      from: nodeId("n9"),
      to: nodeId("n1"),
      term: deposer as Term,
    }),
  );
  await cluster.until(() => {
    const status = replica.status();
    return status.role === "leader" && status.term === deposer + 1;
  });
  assert.equal(replica.isLeader, true, "the replica saw no role change: leader then and now");
  // The held write completes; the next Ready (the new term and vote, the new term's first entry,
  // appends to the learner in that term) writes its own. Nothing it sends may leave before.
  fs.resumeSyncs();
  fs.pauseSyncs();
  await turns(40);
  assert.ok(log!.durableIndex >= steady, "the first Ready's write completed");
  assert.ok(log!.lastIndex > steady && fs.heldSyncCount > 0, "the new term's write is in flight");
  const early = delivered.filter(({ message }) => message.from === "n1" && message.term > term);
  assert.deepEqual(
    early.map(({ message }) => `${message.type} to ${message.to} in term ${message.term}`),
    [],
    "sent in the new term before its term and vote were durable",
  );
  fs.resumeSyncs();
  await cluster.until(() =>
    delivered.some(({ message }) => message.from === "n1" && message.term === deposer + 1)
  );
  await settled(cluster, send).catch(() => {});
  await cluster.stopAll();
});
