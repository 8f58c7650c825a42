/**
 * `--force-new-cluster` on the replica (`replication/force_new_cluster.ts`): the survivor of a
 * three-node group whose other two nodes are gone becomes the sole voter at open, through its
 * log, with every message it held; the new membership and the dropped member records outlive
 * restarts and snapshots; forcing again writes nothing; a node with nothing to recover refuses.
 */
import assert from "node:assert/strict";
import { encodeConfigChange, EntryType, nodeId } from "../../raft/mod.ts";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { CommandType, encodeJson, engineCommandTypeMin, StateMachine } from "../engine/mod.ts";
import {
  ForceNewClusterError,
  type ForceNewClusterOptions,
  RaftReplica,
} from "../replication/mod.ts";
import { newestSnapshotMeta } from "../replication/log_storage.ts";
import { ManualClock } from "../replication/testing/mod.ts";
import { noPeers } from "./node.ts";
import { memberRecordRemovals } from "./forced_records.ts";
import { followerOf, receiveAll, sendBodies, settled, TestCluster } from "./testing/mod.ts";

/** What `startNode` passes (node `self`), with the reports kept. */
function forcing(
  reports: string[],
  machine: () => StateMachine,
  self = "",
): ForceNewClusterOptions {
  return {
    recordRemovals: (removed) => memberRecordRemovals(machine(), self, removed),
    report: (message) => reports.push(message),
  };
}

async function leadAlone(cluster: TestCluster, id: string): Promise<void> {
  cluster.replica(id).campaign();
  await cluster.until(() => cluster.replica(id).isLeader);
  await cluster.until(() => {
    const status = cluster.replica(id).status();
    return status.applied === status.commit && status.commit === status.lastIndex;
  });
}

Deno.test("the survivor of a lost majority becomes the sole voter and keeps every message", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 8 } });
  try {
    const leader = await cluster.waitForLeader();
    await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
    const record = { id: "n3", peerAddress: "127.0.0.1:1", clientUrl: "http://127.0.0.1:2" };
    await settled(
      cluster,
      cluster.replica(leader).propose(CommandType.SetMember, encodeJson(record)),
    );
    const bodies = ["a", "b", "c", "d", "e"];
    await sendBodies(cluster, cluster.broker(leader), bodies);
    const survivor = followerOf(cluster, leader);
    await cluster.until(() =>
      cluster.replica(survivor).status().lastIndex === cluster.replica(leader).status().lastIndex
    );
    for (const id of cluster.nodes.keys()) if (id !== survivor) cluster.crash(id);
    await cluster.run(3000);
    assert.equal(cluster.replica(survivor).isLeader, false, "stranded without a majority");

    await cluster.stop(survivor);
    const reports: string[] = [];
    const node = cluster.node(survivor);
    await cluster.boot(survivor, { forceNewCluster: forcing(reports, () => node.machine) });
    const removed = [...cluster.nodes.keys()].filter((id) => id !== survivor);
    assert.equal(reports.length, 1);
    assert.match(reports[0], /^WARNING: --force-new-cluster: .*SOLE VOTER/);
    assert.match(reports[0], new RegExp(`removed '${removed[0]}', '${removed[1]}'`));
    assert.deepEqual(cluster.replica(survivor).status().config, {
      voters: [survivor],
      learners: [],
    });
    await leadAlone(cluster, survivor);
    assert.deepEqual(await receiveAll(cluster, cluster.broker(survivor)), bodies);
    assert.deepEqual(node.machine.members(), [], "the removed members' records are gone");
    const forcedIndex = cluster.replica(survivor).status().lastIndex;
    const later = ["f", "g", "h", "i", "j", "k", "l", "m", "n", "o"];
    await sendBodies(cluster, cluster.broker(survivor), later); // each commits alone

    // A restart without the flag keeps it, also from the snapshot taken since.
    await cluster.run(100);
    await cluster.stop(survivor);
    const snapshot = newestSnapshotMeta(node.fs, "/data/snapshots");
    assert.ok(snapshot !== null && snapshot.index > forcedIndex, "a snapshot taken since");
    assert.deepEqual(snapshot.config, { voters: [survivor], learners: [] });
    await cluster.boot(survivor);
    assert.deepEqual(cluster.replica(survivor).status().config.voters, [survivor]);
    await leadAlone(cluster, survivor);
    const queue = await settled(cluster, cluster.broker(survivor).getQueue("jobs"));
    assert.equal(queue.activeMessages + queue.inflightMessages, bodies.length + later.length);

    // Forcing again is harmless: nothing written, one line said.
    const lastIndex = cluster.replica(survivor).status().lastIndex;
    await cluster.stop(survivor);
    const again: string[] = [];
    await cluster.boot(survivor, { forceNewCluster: forcing(again, () => node.machine) });
    assert.equal(cluster.replica(survivor).status().lastIndex, lastIndex);
    assert.equal(again.length, 1);
    assert.match(again[0], /already the sole voter of its group .*nothing to change/);
  } finally {
    await cluster.stopAll();
  }
});

Deno.test("forcing a node whose log holds nothing is refused, and writes nothing", async () => {
  const fs = new SimFileSystem();
  const clock = new ManualClock();
  const log = await SegmentLog.open("/d/log", { fs });
  try {
    await assert.rejects(
      () =>
        RaftReplica.open({
          nodeId: "n2",
          log,
          machine: new StateMachine(),
          transport: noPeers(),
          clock,
          timers: clock,
          prng: { next: () => 0.5 },
          fs,
          snapshotsDir: "/d/snapshots",
          initialVoters: ["n1", "n2", "n3"],
          forceNewCluster: forcing([], () => new StateMachine()),
        }),
      (error: Error) =>
        error instanceof ForceNewClusterError &&
        error.message.startsWith(
          "--force-new-cluster: the log of node 'n2' holds no entries, so there is nothing to " +
            "recover",
        ),
    );
    assert.equal(log.lastIndex, 0);
    assert.deepEqual(log.readHardState(), { term: 0, vote: null, commit: 0 });
  } finally {
    await log.close();
  }
});

Deno.test("forcing a node its own log shows removed is refused, and writes nothing", async () => {
  const fs = new SimFileSystem();
  const clock = new ManualClock();
  const log = await SegmentLog.open("/d/log", { fs });
  const removal = encodeConfigChange({ type: "remove", nodeId: nodeId("n3") });
  log.append([{ term: 2, index: 1, timestamp: 1, type: EntryType.ConfigChange, payload: removal }]);
  await log.sync();
  await log.writeHardState({ term: 2, vote: null, commit: 0 });
  try {
    await assert.rejects(
      () =>
        RaftReplica.open({
          nodeId: "n3",
          log,
          machine: new StateMachine(),
          transport: noPeers(),
          clock,
          timers: clock,
          prng: { next: () => 0.5 },
          fs,
          snapshotsDir: "/d/snapshots",
          initialVoters: ["n1", "n2", "n3"],
          forceNewCluster: forcing([], () => new StateMachine()),
        }),
      (error: Error) =>
        error instanceof ForceNewClusterError &&
        error.message ===
          "--force-new-cluster: node 'n3' is not a member of the configuration in its log " +
            "(voters n1, n2, learners none): it was removed, or never finished joining, so its " +
            "data is not the group's; start the flag on a surviving member's data directory",
    );
    assert.equal(log.lastIndex, 1);
    assert.deepEqual(log.readHardState(), { term: 2, vote: null, commit: 0 });
  } finally {
    await log.close();
  }
});

/**
 * A follower installing a snapshot that embeds no entries takes its point's time from the image
 * (`installReceivedSnapshot`). An image an earlier release wrote holds the time of an engine whose
 * state time skipped Raft's own entries (no-ops, membership changes), so at such an entry it could
 * only be right if that entry is stamped as the engine entry before it. It is: Raft's entries take
 * their predecessor's stamp, and the configuration changes of --force-new-cluster, stamped with a
 * wall clock ahead of the log, follow member-record removals stamped the same. Checked along a log
 * through a forced start ten minutes ahead: the earlier engine's time, and that of the image it
 * takes, is every entry's own stamp.
 */
Deno.test("an earlier engine's image at an entry Raft made itself holds that entry's time", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 1_000_000 } });
  try {
    const leader = await cluster.waitForLeader();
    await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
    await sendBodies(cluster, cluster.broker(leader), ["a", "b"]);
    const survivor = followerOf(cluster, leader);
    await cluster.until(() =>
      cluster.replica(survivor).status().lastIndex === cluster.replica(leader).status().lastIndex
    );
    for (const id of cluster.nodes.keys()) if (id !== survivor) cluster.crash(id);
    await cluster.stop(survivor);
    const node = cluster.node(survivor);
    const ahead = { now: () => cluster.clock.now() + 600_000 };
    await cluster.boot(survivor, {
      clock: ahead,
      monotonic: cluster.clock,
      forceNewCluster: forcing([], () => node.machine, survivor),
    });
    await leadAlone(cluster, survivor);
    await sendBodies(cluster, cluster.broker(survivor), ["c"]);
    const log = node.log!;
    assert.equal(log.firstIndex, 1, "the whole log is there");
    const earlier = new StateMachine();
    let raftMade = 0;
    for (let index = 1; index <= log.lastIndex; index++) {
      const entry = log.entry(index);
      const own = entry.type < engineCommandTypeMin;
      // The earlier engine: Raft's entries moved its applied index, never its time.
      earlier.apply({ ...entry, timestamp: own ? 0 : entry.timestamp });
      assert.equal(earlier.lastTimestamp, entry.timestamp, `entry ${index} (type ${entry.type})`);
      if (!own) continue;
      raftMade++;
      const installed = new StateMachine();
      installed.loadSnapshot(earlier.snapshot());
      assert.equal(installed.lastTimestamp, entry.timestamp, `an image at entry ${index}`);
    }
    assert.ok(raftMade >= 4, "no-ops and the forced changes were checked");
    const forced = log.entries(1, log.lastIndex + 1, Infinity).filter((entry) =>
      entry.type === EntryType.ConfigChange
    ).at(-1)!;
    assert.ok(forced.timestamp >= cluster.clock.now() + 500_000, "the forced changes' time jumped");
  } finally {
    await cluster.stopAll();
  }
});
