/**
 * A power cut while a follower rewrites its log from a received snapshot (`rewriteLog` in
 * `snapshot_io.ts`: the log reset durably, the snapshot's entries appended, one sync at the end).
 * On ext4 the journal may commit the new segment's name before that sync, with only part of its
 * bytes: the next open finds a torn record below the snapshot's index. The snapshot file still
 * embeds those entries, so nothing is lost: the node must not distrust its log for it.
 *
 * `SimFileSystem` makes a name durable only by a directory fsync, which the log orders after the
 * bytes before it: the test makes the directory fsync itself, as the journal would, right before
 * the rewrite's first data sync, and cuts the power there with part of the bytes written.
 */
import assert from "node:assert/strict";
import { decodeSnapshotContainer } from "./snapshot_container.ts";
import { type FileHandle, readSnapshotFile } from "../../storage/mod.ts";
import { followerOf, sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";

const logDir = "/data/log";
const snapshotsDir = "/data/snapshots";

/**
 * Once armed, the first segment file the node creates makes its name durable (and stops every
 * sync) when its data is first synced: where a power cut leaves the name with part of the bytes.
 */
function journalCommitsTheNextSegment(cluster: TestCluster, id: string) {
  const fs = cluster.node(id).fs;
  const state = { armed: false, reached: false };
  const open = fs.open.bind(fs);
  fs.open = (path: string, options?: { create?: boolean }): FileHandle => {
    const handle = open(path, options);
    if (!state.armed || options?.create !== true || !path.startsWith(logDir + "/")) return handle;
    if (!path.endsWith(".log")) return handle;
    state.armed = false;
    const syncData = handle.syncData.bind(handle);
    handle.syncData = async () => {
      await fs.syncDir(logDir);
      state.reached = true;
      fs.pauseSyncs(); // held until the crash
      await syncData();
    };
    handle.syncDataSync = () => assert.fail("the rewrite syncs a new segment asynchronously");
    return handle;
  };
  return state;
}

function storedSnapshot(cluster: TestCluster, id: string, index: number) {
  const name = `snapshot-${String(index).padStart(20, "0")}.bin`;
  return decodeSnapshotContainer(readSnapshotFile(cluster.node(id).fs, snapshotsDir, name)!);
}

Deno.test("a crash while a received snapshot's entries are rewritten into the log, leaving a torn record below the snapshot, is repaired from the snapshot without distrust", async () => {
  const cluster = await TestCluster.start({
    replica: { snapshotEntriesInterval: 4, raft: { snapshotChunkBytes: 512 } },
  });
  const leader = await cluster.waitForLeader();
  const lagging = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await cluster.run(300);
  cluster.isolate(lagging);
  // Unreceived messages keep their entries referenced: the snapshot embeds them (one segment).
  const bodies = Array.from({ length: 12 }, (_, i) => `${i}:${"b".repeat(120)}`);
  for (const body of bodies) await sendBodies(cluster, cluster.broker(leader), [body]);
  assert.ok(cluster.replica(leader).status().snapshotIndex > 4, "the leader compacted");
  const hook = journalCommitsTheNextSegment(cluster, lagging);
  hook.armed = true;
  cluster.heal();
  await cluster.until(() => hook.reached);
  cluster.crash(lagging, () => 0.55); // 55% of the new segment's bytes survive

  await cluster.boot(lagging);
  const log = cluster.node(lagging).log!;
  const status = cluster.replica(lagging).status();
  const cut = log.recovery.corruptAt;
  assert.ok(log.recovery.tornTail === true && cut?.index !== undefined, "a torn record was cut");
  assert.ok(cut.index > log.firstIndex && cut.index <= status.snapshotIndex, `cut at ${cut.index}`);
  assert.deepEqual(
    cluster.node(lagging).warnings.filter((warning) => /DAMAGED|distrusted/.test(warning)),
    [],
  );
  assert.equal(status.canCampaign, true, "the node votes: nothing it held is lost");
  assert.equal(log.damage, null);
  // The log holds the snapshot's entries again, and the file no longer carries them.
  assert.ok(log.lastIndex >= status.snapshotIndex);
  assert.equal(storedSnapshot(cluster, lagging, status.snapshotIndex).entries.length, 0);
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(lagging).machine.appliedIndex >= target);
  assert.deepEqual(
    cluster.node(lagging).machine.snapshot(),
    cluster.node(leader).machine.snapshot(),
  );
  for (let index = log.firstIndex; index <= target; index++) {
    assert.deepEqual(log.entry(index), cluster.node(leader).log!.entry(index), `entry ${index}`);
  }
  await cluster.stopAll();
});
