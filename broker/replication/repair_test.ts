import assert from "node:assert/strict";
import { repairProgress } from "./recovery.ts";
import {
  followerOf,
  receiveAll,
  sendBodies,
  settled,
  TestCluster,
} from "../cluster/testing/mod.ts";
import { lastSegmentRecords, logDir, persistedCommit } from "./_log_fixtures.ts";

function leaderAmong(cluster: TestCluster, ids: string[]): string | null {
  return ids.find((id) => cluster.node(id).replica?.isLeader) ?? null;
}

Deno.test("damage above the persisted commit index still keeps the node from voting", async () => {
  // The commit index is persisted lazily: a node acknowledges far more than it has recorded as
  // committed, so a damaged record above that mark may hold a write a majority counted on.
  const cluster = await TestCluster.start({
    replica: { commitPersistIntervalMs: 1e9, commitPersistEntries: 1e9 },
  });
  const leader = await cluster.waitForLeader();
  const [damaged, lagging] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["a", "b"]);
  cluster.isolate(lagging);
  await sendBodies(cluster, cluster.broker(leader), ["x"]); // acknowledged by leader + damaged
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(damaged).machine.appliedIndex >= target);
  cluster.crash(damaged);
  const fs = cluster.node(damaged).fs;
  const { path, records } = lastSegmentRecords(fs);
  const [lastIndex, lastOffset] = records.at(-1)!;
  assert.equal(lastIndex, target);
  assert.ok(persistedCommit(fs) < lastIndex, "the damaged entry is above the persisted commit");
  fs.flipBit(path, lastOffset + 40);
  // The leader goes away; the damaged node and the one that never saw "x" remain.
  cluster.heal();
  cluster.isolate(leader);
  await cluster.boot(damaged);
  await cluster.run(5000);
  assert.equal(leaderAmong(cluster, [damaged, lagging]), null, "no leader without x is elected");
  assert.ok(cluster.node(damaged).warnings.some((warning) => warning.includes("LOG DAMAGED")));
  cluster.heal();
  const next = await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["a", "b", "x"]);
  await cluster.until(() => cluster.replica(damaged).status().canCampaign);
  await cluster.stopAll();
});

Deno.test("a damaged node repaired under the same leader asks for a new term before it votes", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 1000 } });
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["1", "2", "3", "4", "5", "6"]);
  const damaged = followerOf(cluster, leader);
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(damaged).machine.appliedIndex >= target);
  await cluster.stop(damaged); // the final hard state records the commit index
  const fs = cluster.node(damaged).fs;
  const segment = fs.readDir(logDir).filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`${logDir}/${segment}`, 40); // inside the first record's payload
  cluster.isolate(damaged);
  await cluster.boot(damaged);
  const node = cluster.node(damaged);
  assert.ok(node.warnings.some((warning) => warning.includes("LOG DAMAGED")));
  assert.equal(cluster.replica(damaged).status().canCampaign, false);
  await cluster.run(5000);
  assert.notEqual(cluster.replica(damaged).status().role, "candidate");
  assert.notEqual(cluster.replica(damaged).status().role, "leader");
  const term = cluster.replica(leader).status().term;
  cluster.heal();
  await cluster.until(() => cluster.replica(damaged).status().canCampaign);
  assert.ok(node.warnings.some((warning) => warning.includes("asking")), "it asked");
  assert.ok(cluster.replica(damaged).status().term > term, "it trusts itself in a newer term");
  assert.ok(node.machine.appliedIndex >= target);
  assert.equal(node.log!.damage, null, "the damage record is cleared");
  await cluster.stopAll();
});

Deno.test("a damaged node keeps acknowledging writes while it may not vote", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const [damaged, other] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["1", "2"]);
  await cluster.until(() =>
    cluster.node(damaged).machine.appliedIndex >= cluster.replica(leader).appliedIndex
  );
  await cluster.stop(damaged);
  const fs = cluster.node(damaged).fs;
  const segment = fs.readDir(logDir).filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`${logDir}/${segment}`, 40);
  await cluster.stop(other);
  await cluster.boot(damaged);
  // Leader + damaged node are a majority: writes commit although one of them distrusts its log.
  await sendBodies(cluster, cluster.broker(leader), ["3"]);
  await cluster.run(3000);
  assert.equal(cluster.replica(damaged).status().canCampaign, false, "no new term without a third");
  await cluster.boot(other);
  await cluster.until(() => cluster.replica(damaged).status().canCampaign);
  const next = await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["1", "2", "3"]);
  await cluster.stopAll();
});

Deno.test("repair progress: caught up, then a newer term", () => {
  const goal = { target: 10, term: 3 };
  const at = (term: number, commit: number, termAtCommit: number, leaderId: string | null = "n1") =>
    repairProgress(goal, { term, commit, termAtCommit, leaderId });
  assert.equal(at(3, 9, 3), "wait", "below the old commit");
  assert.equal(at(3, 12, 3, null), "wait", "no leader");
  assert.equal(at(4, 12, 3), "wait", "the commit is of an older term than the leader's");
  assert.equal(at(3, 12, 3), "needNewTerm", "caught up under a leader of the damage's term");
  assert.equal(at(4, 12, 4), "done");
});
