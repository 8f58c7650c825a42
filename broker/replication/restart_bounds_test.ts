/**
 * What a restart reads back is bounded in bytes, whatever the entry count: big entries (batches
 * of large messages) must not leave gigabytes to replay (a snapshot is due after so many payload
 * bytes) nor a long tail past the persisted commit (written after so many bytes appended).
 */
import assert from "node:assert/strict";
import { sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";
import { type RaftReplicaOptions, replicaSettings } from "./replica_status.ts";

const body = (tag: string) => tag + "x".repeat(4_000);

async function oneNode(snapshotBytesInterval: number, commitPersistBytes = 1e12) {
  const cluster = await TestCluster.start({
    ids: ["n1"],
    replica: {
      snapshotEntriesInterval: 1_000_000,
      snapshotBytesInterval,
      commitPersistIntervalMs: 1e9,
      commitPersistEntries: 1e9,
      commitPersistBytes,
    },
  });
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  return { cluster, leader };
}

Deno.test("a snapshot is taken once the entries applied since the last one pass the byte interval", async () => {
  const { cluster, leader } = await oneNode(30_000);
  const snapshotIndex = () => cluster.replica(leader).status().snapshotIndex;
  await sendBodies(cluster, cluster.broker(leader), ["a", "b", "c", "d", "e"].map(body));
  await cluster.run(500);
  assert.equal(snapshotIndex(), 0, "20 kB applied: below the interval");
  await sendBodies(cluster, cluster.broker(leader), ["f", "g", "h"].map(body));
  await cluster.until(() => snapshotIndex() > 0);
  const first = snapshotIndex();
  await sendBodies(cluster, cluster.broker(leader), ["i", "j"].map(body));
  await cluster.run(500);
  assert.equal(snapshotIndex(), first, "the count starts again at the snapshot");
  await cluster.stopAll();
});

Deno.test("bytes replayed at a restart count toward the next snapshot", async () => {
  const { cluster, leader } = await oneNode(30_000);
  await sendBodies(cluster, cluster.broker(leader), ["a", "b", "c", "d", "e"].map(body));
  assert.equal(cluster.replica(leader).status().snapshotIndex, 0);
  await cluster.stopAll();
  await cluster.boot(leader);
  const restarted = await cluster.waitForLeader();
  const snapshotIndex = () => cluster.replica(restarted).status().snapshotIndex;
  await cluster.until(() => cluster.replica(restarted).appliedIndex > 0);
  assert.equal(snapshotIndex(), 0);
  // 20 kB replayed + 12 kB new pass 30 kB; the new entries alone would not.
  await sendBodies(cluster, cluster.broker(restarted), ["f", "g", "h"].map(body));
  await cluster.until(() => snapshotIndex() > 0);
  assert.equal(
    (await settled(cluster, cluster.broker(restarted).getQueue("jobs"))).activeMessages,
    8,
  );
  await cluster.stopAll();
});

Deno.test("the commit index is written once the entries appended since pass the byte bound", async () => {
  const { cluster, leader } = await oneNode(1e12, 30_000);
  const persistedCommit = () => cluster.node(leader).log!.readHardState().commit;
  await sendBodies(cluster, cluster.broker(leader), ["a", "b", "c", "d", "e"].map(body));
  await cluster.run(500);
  const early = persistedCommit();
  assert.ok(early < cluster.replica(leader).appliedIndex, "20 kB appended: not yet written");
  await sendBodies(cluster, cluster.broker(leader), ["f", "g", "h"].map(body));
  await cluster.until(() => persistedCommit() > early);
  await cluster.stopAll();
});

Deno.test("the defaults are the README's: a snapshot after 10,000 entries or 256 MiB, the commit index written after 3 s, 10,000 entries or 64 MiB", () => {
  const settings = replicaSettings({} as RaftReplicaOptions);
  assert.equal(settings.snapshotEntriesInterval, 10_000);
  assert.equal(settings.snapshotBytesInterval, 256 * 1024 * 1024);
  assert.equal(settings.commitPersistIntervalMs, 3_000);
  assert.equal(settings.commitPersistEntries, 10_000);
  assert.equal(settings.commitPersistBytes, 64 * 1024 * 1024);
});
