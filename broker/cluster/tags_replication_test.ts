/**
 * Queue tags are replicated state: every replica of a three-node Raft group holds the same tags,
 * a follower that missed compacted entries gets them inside a snapshot, and a restarted group
 * recovers them.
 */
import assert from "node:assert/strict";
import { followerOf, settled, TestCluster } from "./testing/mod.ts";

Deno.test("queue tags reach every replica, through a snapshot too, and survive a restart", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 4 } });
  let leader = await cluster.waitForLeader();
  const lagging = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("q", { tags: { env: "prod" } }));
  await cluster.run(300);
  cluster.isolate(lagging);
  const broker = cluster.broker(leader);
  for (let index = 0; index < 6; index++) {
    await settled(cluster, broker.changeQueueTags("q", { set: { [`k${index}`]: `${index}` } }));
  }
  await settled(cluster, broker.changeQueueTags("q", { remove: ["env", "k0"] }));
  const expected = { k1: "1", k2: "2", k3: "3", k4: "4", k5: "5" };
  assert.deepEqual((await broker.getQueue("q")).tags, expected);
  assert.ok(cluster.replica(leader).status().snapshotIndex > 4, "the leader compacted");
  cluster.heal();
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() =>
    [...cluster.nodes.values()].every((node) => node.machine.appliedIndex >= target)
  );
  assert.ok(cluster.replica(lagging).status().snapshotIndex > 0, "installed a snapshot");
  for (const node of cluster.nodes.values()) {
    assert.deepEqual(node.machine.getQueue("q", cluster.clock.now())?.tags, expected, node.id);
  }
  await cluster.stopAll();
  for (const id of cluster.nodes.keys()) await cluster.boot(id);
  leader = await cluster.waitForLeader();
  assert.deepEqual((await cluster.broker(leader).getQueue("q")).tags, expected);
  await cluster.stopAll();
});
