import assert from "node:assert/strict";
import { settled, TestCluster } from "../cluster/testing/mod.ts";

/** The replica's stamp of its last entry is within a second of the (manual) wall clock. */
function assertNearWall(cluster: TestCluster, id: string): void {
  const stamped = cluster.node(id).log!.lastTimestamp!;
  const wallMs = cluster.clock.now();
  assert.ok(Math.abs(stamped - wallMs) <= 1_000, `stamped ${stamped}, wall ${wallMs}`);
}

Deno.test("a brand-new group stamps its first writes with the wall clock, not the epoch", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await settled(cluster, broker.sendMessages("jobs", [{ body: "a" }]));
  assertNearWall(cluster, leader);
  await cluster.stopAll();
});

Deno.test("a group restarted before its first write still starts from the wall clock", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  // Only Raft's own entries (the leader's no-op, stamped 0) are in the log.
  assert.equal(cluster.node(leader).log!.lastTimestamp, 0);
  await cluster.stop(leader);
  await cluster.boot(leader);
  await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  assertNearWall(cluster, leader);
  await cluster.stopAll();
});
