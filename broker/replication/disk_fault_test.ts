import assert from "node:assert/strict";
import { receiveAll, settled, TestCluster } from "../cluster/testing/mod.ts";

Deno.test("an fsync error stops the replica honestly: no longer leader, failure reported, restart cuts the unsynced tail", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  const failures: Error[] = [];
  replica.onFailure((error) => failures.push(error));
  const roles: Array<string | null> = [];
  replica.onRoleChange((change) => roles.push(change.leaderId));
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await settled(cluster, broker.sendMessages("jobs", [{ body: "kept" }]));
  const fs = cluster.node(leader).fs;
  const durable = cluster.node(leader).log!.lastIndex;

  fs.failSyncs(1);
  await assert.rejects(
    settled(cluster, broker.sendMessages("jobs", [{ body: "never durable" }])),
    /replica failed|outcome unknown/,
  );
  assert.equal(failures.length, 1, "the owner hears of the failure once");
  assert.match(failures[0].message, /EIO/);
  assert.equal(replica.isLeader, false, "a failed replica does not call itself leader");
  assert.equal(replica.leaderId, null);
  assert.deepEqual(roles.at(-1), null, "role handlers hear that it stopped leading");
  await assert.rejects(
    settled(cluster, broker.sendMessages("jobs", [{ body: "later" }])),
    /replica failed/,
  );

  // The process restarts; the kernel's page cache still shows the failed entry.
  await cluster.stop(leader);
  await cluster.boot(leader);
  assert.equal(cluster.node(leader).log!.lastIndex, durable, "the unsynced tail is cut");
  await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(leader)), ["kept"]);
  await cluster.stopAll();
});
