/**
 * `--force-new-cluster` on the replica (`replication/force_new_cluster.ts`): the survivor of a
 * three-node group whose other two nodes are gone becomes the sole voter at open, through its
 * log, with every message it held; the new membership and the dropped member records outlive
 * restarts and snapshots; forcing again writes nothing; a node with nothing to recover refuses.
 */
import assert from "node:assert/strict";
import { encodeConfigChange, EntryType, nodeId } from "../../raft/mod.ts";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { CommandType, encodeJson, StateMachine } from "../engine/mod.ts";
import {
  ForceNewClusterError,
  type ForceNewClusterOptions,
  RaftReplica,
} from "../replication/mod.ts";
import { newestSnapshotMeta } from "../replication/log_storage.ts";
import { ManualClock } from "../replication/testing/mod.ts";
import { noPeers } from "./node.ts";
import { followerOf, receiveAll, sendBodies, settled, TestCluster } from "./testing/mod.ts";

/** What `startNode` passes, with the reports kept. */
function forcing(reports: string[], machine: () => StateMachine): ForceNewClusterOptions {
  return {
    recordRemovals: (removed) =>
      [...new Set([...removed, ...machine().members().map((member) => member.id)])].map((id) => ({
        type: CommandType.SetMember,
        payload: encodeJson({ id, remove: true }),
      })),
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
