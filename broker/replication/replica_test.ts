import assert from "node:assert/strict";
import { seededRandom } from "../../storage/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { ReplicationError } from "./errors.ts";
import {
  drainMicrotasks,
  followerOf,
  receiveAll,
  receiveAllFromLeader,
  sendBodies,
  settled,
  TestCluster,
} from "../cluster/testing/mod.ts";

Deno.test("a three-node group elects a leader and replicates writes to every replica", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["a", "b", "c"]);
  const index = cluster.replica(leader).appliedIndex;
  await cluster.until(() =>
    [...cluster.nodes.values()].every((n) => n.machine.appliedIndex >= index)
  );
  const images = [...cluster.nodes.values()].map((node) => node.machine.snapshot());
  for (const image of images) assert.deepEqual(image, images[0]);
  assert.equal(cluster.replica(leader).status().peers.length, 2);
  await cluster.stopAll();
});

Deno.test("a follower refuses proposals and names the leader", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const follower = followerOf(cluster, leader);
  await cluster.until(() => cluster.replica(follower).leaderId === leader);
  await assert.rejects(
    cluster.replica(follower).propose(26, new Uint8Array()),
    (error: unknown) =>
      error instanceof ReplicationError && error.code === "NoLeader" &&
      error.message.includes(leader) &&
      error.retryAfterSeconds === 1,
  );
  await assert.rejects(cluster.replica(follower).readBarrier(), /not the leader/);
  await cluster.stopAll();
});

Deno.test("proposals made in one turn share one append and one fsync", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await cluster.run(500);
  const fs = cluster.node(leader).fs;
  const before = fs.stats.syncs;
  const sends = Array.from(
    { length: 50 },
    (_, i) => broker.sendMessages("jobs", [{ body: `${i}` }]),
  );
  await settled(cluster, Promise.all(sends));
  // One fsync for the batch of 50 (a heartbeat-driven hard state write may add a couple).
  assert.ok(fs.stats.syncs - before <= 3, `${fs.stats.syncs - before} fsyncs`);
  await cluster.stopAll();
});

Deno.test("timestamps never go backwards when the leader's clock does", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  const base = cluster.clock.now();
  let skew = 0;
  const clock = { now: () => base + skew };
  Object.defineProperty(cluster.clock, "now", { value: () => clock.now() + 0 });
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  skew = -60_000;
  await sendBodies(cluster, cluster.broker(leader), ["x", "y"]);
  const log = cluster.node(leader).log!;
  let previous = -Infinity;
  for (let index = log.firstIndex; index <= log.lastIndex; index++) {
    const timestamp = log.entry(index).timestamp;
    assert.ok(timestamp >= previous, `entry ${index} goes back in time`);
    previous = timestamp;
  }
  assert.ok(replica.appliedIndex > 0);
  await cluster.stopAll();
});

Deno.test("a restarted cluster recovers its queues and messages from snapshots and the log", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  let leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["1", "2", "3", "4", "5", "6", "7", "8"]);
  await cluster.run(500);
  await cluster.stopAll();
  for (const id of cluster.nodes.keys()) await cluster.boot(id);
  leader = await cluster.waitForLeader();
  assert.deepEqual(
    await receiveAll(cluster, cluster.broker(leader)),
    ["1", "2", "3", "4", "5", "6", "7", "8"],
  );
  await cluster.stopAll();
});

Deno.test("a write refused while the leader hands its leadership on is a NotReady that took nothing", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const target = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  cluster.isolate(target); // the hand-off waits for it to catch up
  await sendBodies(cluster, cluster.broker(leader), ["a"]);
  cluster.replica(leader).transferLeadership(target);
  const refused = await settled(
    cluster,
    cluster.broker(leader).sendMessages("jobs", [{ body: "b" }]),
  ).catch((error) => error);
  assert.ok(refused instanceof BrokerError, String(refused));
  assert.equal(refused.code, "NotReady"); // 503, which clients retry
  assert.match(refused.message, /leader-transfer/);
  assert.equal(refused.retryAfterSeconds, 1);
  assert.equal(refused.outcomeUnknown, undefined);
  cluster.heal();
  assert.deepEqual(await receiveAllFromLeader(cluster), ["a"], "the refused write is not taken");
  await cluster.stopAll();
});

Deno.test("a follower that missed compacted entries catches up through a snapshot with bodies", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 4 } });
  let leader = await cluster.waitForLeader();
  const lagging = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await cluster.run(300);
  cluster.isolate(lagging);
  await sendBodies(cluster, cluster.broker(leader), ["p", "q", "r", "s", "t", "u", "v", "w"]);
  assert.ok(cluster.replica(leader).status().snapshotIndex > 4, "the leader compacted");
  cluster.heal();
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(lagging).machine.appliedIndex >= target);
  assert.ok(cluster.replica(lagging).status().snapshotIndex > 0, "installed a snapshot");
  // Make the lagging node lead: it must serve the bodies it got inside the snapshot.
  cluster.replica(leader).transferLeadership(lagging);
  await cluster.until(() => cluster.replica(lagging).isLeader);
  leader = await cluster.waitForLeader();
  assert.equal(leader, lagging);
  assert.deepEqual(
    await receiveAll(cluster, cluster.broker(leader)),
    ["p", "q", "r", "s", "t", "u", "v", "w"],
  );
  await cluster.stopAll();
});

Deno.test("a proposal whose outcome is unknown is answered NotReady after the timeout", async () => {
  const cluster = await TestCluster.start({ replica: { proposalTimeoutMs: 2000 } });
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  cluster.isolate(leader);
  const send = cluster.broker(leader).sendMessages("jobs", [{ body: "lost?" }]);
  await assert.rejects(
    settled(cluster, send, 5000),
    (error: unknown) =>
      error instanceof BrokerError && (error.code === "NotReady" || error.code === "NoLeader"),
  );
  await cluster.stopAll();
});

Deno.test("a read barrier resolves on the leader once it confirmed its leadership", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await settled(cluster, cluster.replica(leader).readBarrier());
  const queue = await settled(cluster, cluster.broker(leader).getQueue("jobs"));
  assert.equal(queue.name, "jobs");
  await cluster.stopAll();
});

Deno.test("role changes are reported", async () => {
  const cluster = await TestCluster.start();
  const changes: string[] = [];
  for (const id of cluster.nodes.keys()) {
    cluster.replica(id).onRoleChange((change) => changes.push(`${id}:${change.role}`));
  }
  const leader = await cluster.waitForLeader();
  assert.ok(changes.includes(`${leader}:leader`));
  await cluster.stopAll();
});

Deno.test("a crash with a torn tail loses nothing that was acknowledged", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["k1", "k2", "k3"]);
  const pending = cluster.broker(leader).sendMessages("jobs", [{ body: "maybe" }]);
  pending.catch(() => {});
  await drainMicrotasks();
  cluster.crash(leader, seededRandom(3));
  const next = await cluster.waitForLeader();
  const bodies = await receiveAll(cluster, cluster.broker(next));
  for (const body of ["k1", "k2", "k3"]) assert.ok(bodies.includes(body), `${body} survived`);
  await cluster.boot(leader);
  await cluster.run(1000);
  await cluster.stopAll();
});

Deno.test("membership: a node is removed, re-added as a learner and promoted", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const other = followerOf(cluster, leader);
  const replica = cluster.replica(leader);
  await settled(cluster, replica.proposeConfigChange({ type: "remove", nodeId: other }));
  assert.deepEqual(replica.status().config.voters.includes(other as never), false);
  await settled(cluster, replica.proposeConfigChange({ type: "addLearner", nodeId: other }));
  await cluster.run(500);
  await settled(cluster, replica.proposeConfigChange({ type: "promote", nodeId: other }));
  assert.ok(replica.status().config.voters.includes(other as never));
  await cluster.stopAll();
});
