import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import {
  receiveAll,
  receiveAllFromLeader,
  sendBodies,
  settled,
  TestCluster,
} from "../cluster/testing/mod.ts";

function leaderAmong(cluster: TestCluster, ids: string[]): string | null {
  return ids.find((id) => cluster.node(id).replica?.isLeader) ?? null;
}

/** Stops `id` at once and gives it an empty disk (a replaced one); it stays down. */
function wipe(cluster: TestCluster, id: string): void {
  cluster.crash(id);
  cluster.node(id).fs = new SimFileSystem();
}

/**
 * The leader and one follower acknowledge "x" while the other follower (`lagging`) is cut off;
 * then the up-to-date follower's disk is replaced and it is restarted with the same options
 * while the leader is unreachable.
 */
async function wipeTheUpToDateFollower(cluster: TestCluster) {
  const leader = await cluster.waitForLeader();
  const [wiped, lagging] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["a", "b"]);
  cluster.isolate(lagging);
  await sendBodies(cluster, cluster.broker(leader), ["x"]); // acknowledged by leader + wiped
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(wiped).machine.appliedIndex >= target);
  wipe(cluster, wiped);
  cluster.heal();
  cluster.isolate(leader);
  await cluster.boot(wiped);
  return { leader, wiped, lagging };
}

Deno.test("a voter restarted on an empty disk helps elect no leader that lacks writes it acknowledged", async () => {
  const cluster = await TestCluster.start();
  const { wiped, lagging } = await wipeTheUpToDateFollower(cluster);
  await cluster.run(5000);
  assert.equal(leaderAmong(cluster, [wiped, lagging]), null, "the lagging node is not elected");
  cluster.heal();
  // Repaired under the leader of the term it learned, the node asks for a newer term: the
  // leader hands its leadership on and refuses proposals meanwhile, which a client retries.
  assert.deepEqual(await receiveAllFromLeader(cluster), ["a", "b", "x"]);
  await cluster.stopAll();
});

Deno.test("a wiped voter is non-voting until repaired by a newer-term leader, across a restart", async () => {
  const cluster = await TestCluster.start();
  const { leader, wiped } = await wipeTheUpToDateFollower(cluster);
  const term = cluster.replica(leader).status().term;
  cluster.heal();
  const node = cluster.node(wiped);
  await cluster.until(() => node.warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.replica(wiped).status().canCampaign, false);
  // A crash before the repair: the loss is on disk, the node still may not vote.
  cluster.crash(wiped);
  await cluster.boot(wiped);
  assert.ok(node.log!.damage !== null, "the loss is recorded as damage");
  assert.equal(cluster.replica(wiped).status().canCampaign, false);
  await cluster.until(() => cluster.replica(wiped).status().canCampaign);
  assert.ok(cluster.replica(wiped).status().term > term, "it votes again in a newer term");
  assert.equal(node.log!.damage, null, "the damage record is cleared");
  const next = await cluster.waitForLeader();
  await cluster.until(() => node.machine.appliedIndex >= cluster.replica(next).status().commit);
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["a", "b", "x"]);
  await cluster.stopAll();
});

Deno.test("a new cluster of empty nodes elects a leader without distrusting anyone", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  for (const id of cluster.nodes.keys()) {
    assert.equal(cluster.replica(id).status().canCampaign, true, id);
    assert.ok(!cluster.node(id).warnings.some((warning) => warning.includes("LOG LOST")), id);
  }
  await cluster.stopAll();
});

Deno.test("a joining node on an empty disk is not fresh", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  const [other] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  wipe(cluster, other);
  await cluster.boot(other, { joining: true });
  await cluster.run(2000);
  assert.ok(!cluster.node(other).warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.replica(other).status().canCampaign, true);
  await cluster.stopAll();
});
