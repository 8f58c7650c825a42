/**
 * A node whose log was cut below its persisted commit distrusts it until a leader repairs it
 * (`recovery.ts`). Meanwhile it follows the leader and appends, so a crash can tear its new
 * tail: a second cut, above the commit it persisted since. That cut alone is a harmless torn
 * tail; the damage record must still carry the first cut, or the node votes again with entries
 * it acknowledged before the first cut still missing, and a candidate without them can win.
 *
 * The test lets the leader re-send only part of what the node lost (the crash comes before the
 * rest arrives) and writes the torn record of the next entry itself: what a crash during that
 * entry's write leaves.
 */
import assert from "node:assert/strict";
import { type Message, MessageType } from "../../raft/mod.ts";
import { receiveAll, sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";
import { lastSegmentRecords, persistedCommit } from "./_log_fixtures.ts";

/** Lets `to` receive entries (and learn commit indexes) only up to `limit` (null: all). */
function limitEntries(cluster: TestCluster, to: string) {
  const state = { limit: null as number | null };
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message: Message) => {
    const { limit } = state;
    if (limit !== null && message.to === to) {
      if (message.type === MessageType.App) {
        message.entries = message.entries.filter((entry) => entry.index <= limit);
      }
      message.commit = Math.min(message.commit, limit) as Message["commit"];
    }
    deliver(message);
  };
  return state;
}

Deno.test("a torn tail above the commit, before an earlier cut below it is repaired, keeps the node from voting", async () => {
  const cluster = await TestCluster.start({
    replica: {
      commitPersistIntervalMs: 1e9,
      commitPersistEntries: 1e9,
      snapshotEntriesInterval: 1e4,
    },
  });
  const leader = await cluster.waitForLeader();
  const [damaged, lagging] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  const limit = limitEntries(cluster, damaged);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["a", "b"]);
  await cluster.until(() =>
    cluster.node(lagging).machine.appliedIndex >= cluster.replica(leader).appliedIndex
  );
  await cluster.until(() =>
    cluster.node(damaged).machine.appliedIndex >= cluster.replica(leader).appliedIndex
  );
  await cluster.stop(damaged); // the final hard state records the commit index
  const fs = cluster.node(damaged).fs;
  const kept = persistedCommit(fs);
  assert.equal(cluster.node(lagging).log!.lastIndex, kept);
  await cluster.boot(damaged);
  // "x" is acknowledged by the leader and the damaged node only.
  cluster.isolate(lagging);
  await sendBodies(cluster, cluster.broker(leader), ["x"]);
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(damaged).machine.appliedIndex >= target);
  cluster.crash(damaged);
  assert.equal(persistedCommit(fs), kept, "x is above the persisted commit");
  // The first cut: a torn-looking record at the persisted commit (the disk lost what followed).
  const first = lastSegmentRecords(fs);
  const at = first.records.find(([index]) => index === kept);
  assert.ok(at !== undefined, "the entry at the persisted commit is in the last segment");
  const handle = fs.open(first.path);
  handle.truncate(at[1] + 10);
  await handle.syncData();
  handle.close();
  // The node distrusts its log; the leader re-sends it entries up to the persisted commit only.
  limit.limit = kept;
  await cluster.boot(damaged);
  assert.equal(cluster.replica(damaged).status().canCampaign, false);
  await cluster.until(() => cluster.node(damaged).log!.lastIndex >= kept);
  await cluster.run(500);
  assert.equal(cluster.node(damaged).log!.lastIndex, kept);
  // A crash tears the record after it (what was being written): a cut above the commit.
  cluster.crash(damaged);
  fs.appendRaw(lastSegmentRecords(fs).path, new Uint8Array(64));
  limit.limit = null;
  cluster.heal();
  cluster.isolate(leader); // the only other node holding x goes away
  await cluster.boot(damaged);
  assert.equal(cluster.node(damaged).log!.recovery.corruptAt?.index, kept + 1);
  assert.equal(cluster.replica(damaged).status().canCampaign, false, "still unrepaired");
  assert.ok(cluster.node(damaged).log!.damage !== null, "the damage record is kept");
  await cluster.run(5000);
  for (const id of [damaged, lagging]) {
    assert.equal(cluster.replica(id).isLeader, false, "no leader without x is elected");
  }
  cluster.heal();
  const next = await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["a", "b", "x"]);
  await cluster.until(() => cluster.replica(damaged).status().canCampaign);
  await cluster.stopAll();
});
