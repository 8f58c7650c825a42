/**
 * A replica that stopped (failed, or closed) reports what its getters say: no role of leader, no
 * leader known, and no progress of the peers it no longer sends to. `/v1/cluster` and the
 * `cmqd_raft_role` metric are rendered from `status()`: a failed leader showed itself leader.
 */
import assert from "node:assert/strict";
import { settled, TestCluster } from "../cluster/testing/mod.ts";

Deno.test("a failed leader's status reports a follower that knows no leader and no peer progress", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  assert.equal(replica.status().role, "leader");
  assert.equal(replica.status().peers.length, 2);
  const term = replica.status().term;

  const fs = cluster.node(leader).fs;
  const segment = fs.readDir("/data/log").filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`/data/log/${segment}`, 40); // inside entry 2 (the queue's creation)
  assert.throws(() => replica.entry(2, false));
  assert.ok(replica.failure !== null, "the replica failed");
  assert.equal(replica.isLeader, false);

  const status = replica.status();
  assert.equal(status.role, "follower");
  assert.equal(status.leaderId, null);
  assert.deepEqual(status.peers, []);
  assert.equal(status.term, term, "the term it reached stays");
  await cluster.stopAll();
});

Deno.test("a closed leader's status reports a follower that knows no leader", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  assert.equal(replica.status().role, "leader");
  await replica.close();
  const status = replica.status();
  assert.equal(status.role, "follower");
  assert.equal(status.leaderId, null);
  await cluster.stopAll();
});
