/**
 * A replica that fails (`onFailure`) while a Ready is being persisted stops there: the rest of
 * that Ready sends nothing and does not announce the role it carries, so the failed node keeps
 * claiming no leader (it does not call itself leader again once its write returns).
 */
import assert from "node:assert/strict";
import { type Message } from "../../raft/mod.ts";
import { settled, TestCluster } from "../cluster/testing/mod.ts";
import type { RoleChange } from "./mod.ts";

/** A cluster with a queue created, and a follower that has applied everything committed. */
async function clusterWithQueue() {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  const follower = [...cluster.nodes.keys()].find((id) => id !== leader)!;
  await cluster.until(() =>
    cluster.replica(follower).appliedIndex >= cluster.replica(leader).status().commit
  );
  return { cluster, leader, follower };
}

Deno.test("a replica failing while a new leader's first Ready is persisted claims no leader and sends nothing more", async () => {
  const { cluster, leader, follower: next } = await clusterWithQueue();
  const replica = cluster.replica(next);
  const fs = cluster.node(next).fs;

  // Once its vote is durable (it is a candidate), its disk holds every flush: the Ready that
  // makes it leader (its no-op) stays in its write.
  const roles: RoleChange[] = [];
  let failed = false;
  replica.onRoleChange((change) => {
    if (failed) roles.push(change);
    if (change.role === "candidate") fs.pauseSyncs();
  });
  replica.onFailure(() => failed = true);
  const sentAfterFailure: Message[] = [];
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message: Message) => {
    if (failed && message.from === next) sentAfterFailure.push(message);
    deliver(message);
  };
  cluster.replica(leader).transferLeadership(next);
  await cluster.until(() => replica.status().role === "leader");
  assert.ok(fs.heldSyncCount > 0, "the new leader's first write is held");
  assert.equal(replica.isLeader, false, "its Ready is not handled yet");

  // Meanwhile a read of an applied entry finds damage: the replica stops.
  const segment = fs.readDir("/data/log").filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`/data/log/${segment}`, 40); // inside entry 2 (the queue's creation)
  assert.throws(() => replica.entry(2, false));
  assert.ok(replica.failure !== null && failed, "the replica failed");
  assert.equal(replica.leaderId, null);

  fs.resumeSyncs();
  await cluster.run(500);
  assert.deepEqual(roles, [], "role changes announced after the failure");
  assert.equal(replica.isLeader, false, "a failed replica calls itself leader");
  assert.equal(replica.leaderId, null, "a failed replica names a leader");
  assert.deepEqual(sentAfterFailure.map((m) => `${m.type}>${m.to}`), [], "sent after failing");
  await cluster.stopAll();
});

Deno.test("a failed replica asked to campaign starts no election: its term and role stay", async () => {
  const { cluster, follower } = await clusterWithQueue();
  const replica = cluster.replica(follower);
  const fs = cluster.node(follower).fs;
  const segment = fs.readDir("/data/log").filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`/data/log/${segment}`, 40); // inside entry 2 (the queue's creation)
  assert.throws(() => replica.entry(2, false));
  assert.ok(replica.failure !== null, "the replica failed");
  const before = replica.status();

  replica.campaign();
  const after = replica.status();
  assert.equal(after.term, before.term, "a failed replica's term moved");
  assert.equal(after.role, before.role, "a failed replica's role moved");
  await cluster.stopAll();
});
