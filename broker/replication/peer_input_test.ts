/**
 * Messages an authenticated peer can send that pass the transport's stateless checks but no
 * correct node sends: the node they reach must drop them and keep running.
 */
import assert from "node:assert/strict";
import { type Message, MessageType } from "../../raft/mod.ts";
import { followerOf, sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";

/** Wraps delivery: `filter` sees every message and says whether it goes through (or a copy). */
function intercept(cluster: TestCluster, filter: (message: Message) => Message | null): void {
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message) => {
    const passed = filter(message);
    if (passed !== null) deliver(passed);
  };
}

Deno.test("an append whose first entry's timestamp is before the follower's last entry is dropped", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const follower = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await cluster.run(300);
  let changed = 0;
  intercept(cluster, (message) => {
    if (message.type !== MessageType.App || message.to !== follower) return message;
    if (message.entries.length === 0 || changed >= 2) return message;
    changed++;
    const entries = message.entries.map((entry) => ({ ...entry }));
    entries[0].timestamp = 0;
    return { ...message, entries };
  });
  await sendBodies(cluster, cluster.broker(leader), ["a"]);
  await sendBodies(cluster, cluster.broker(leader), ["b"]);
  await cluster.until(() =>
    cluster.node(follower).machine.appliedIndex >= cluster.replica(leader).appliedIndex
  );
  assert.equal(changed, 2, "appends with a timestamp going back were delivered");
  assert.equal(cluster.replica(follower).failure, null, "the follower's replica kept running");
  assert.deepEqual(
    cluster.node(follower).machine.snapshot(),
    cluster.node(leader).machine.snapshot(),
  );
  await cluster.stopAll();
});

Deno.test("an append going back from the follower's snapshot point is dropped", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 1 } });
  const leader = await cluster.waitForLeader();
  const follower = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await cluster.run(1_000);
  let changed = 0;
  intercept(cluster, (message) => {
    if (message.type !== MessageType.App || message.to !== follower) return message;
    if (message.entries.length === 0 || changed >= 2) return message;
    // Right after the entry Raft sees compacted: only the snapshot knows the time before it.
    if (message.index !== cluster.replica(follower).status().snapshotIndex) return message;
    changed++;
    const entries = message.entries.map((entry) => ({ ...entry }));
    entries[0].timestamp = 1;
    return { ...message, entries };
  });
  for (const body of ["a", "b", "c"]) {
    await sendBodies(cluster, cluster.broker(leader), [body]);
    await cluster.run(1_000);
  }
  await cluster.until(() =>
    cluster.replica(follower).failure !== null ||
    cluster.node(follower).machine.appliedIndex >= cluster.replica(leader).appliedIndex
  );
  assert.equal(cluster.replica(follower).failure, null, "the follower's replica kept running");
  assert.ok(changed > 0, "an append right after the snapshot point went back");
  assert.deepEqual(
    cluster.node(follower).machine.snapshot(),
    cluster.node(leader).machine.snapshot(),
  );
  await cluster.stopAll();
});
