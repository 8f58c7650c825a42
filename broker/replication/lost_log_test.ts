/**
 * A node whose log directory (its entries and its Raft hard state: term and vote) is lost while
 * its snapshots directory survives: distrusted like a wiped disk (`lost_log.ts`).
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import {
  receiveAll,
  receiveAllFromLeader,
  sendBodies,
  settled,
  TestCluster,
} from "../cluster/testing/mod.ts";

const snapshotsDir = "/data/snapshots";

function leaderAmong(cluster: TestCluster, ids: string[]): string | null {
  return ids.find((id) => cluster.node(id).replica?.isLeader) ?? null;
}

/**
 * Stops `id` at once and gives it a disk that holds only its snapshots directory (its log
 * directory is gone); it stays down.
 */
async function loseLog(cluster: TestCluster, id: string): Promise<void> {
  cluster.crash(id);
  const old = cluster.node(id).fs;
  const fs = new SimFileSystem();
  fs.mkdirp(snapshotsDir);
  for (const name of old.readDir(snapshotsDir)) {
    const handle = fs.open(`${snapshotsDir}/${name}`, { create: true });
    handle.writeSync(old.fileBytes(`${snapshotsDir}/${name}`));
    await handle.syncData();
    handle.close();
  }
  await fs.syncDir(snapshotsDir);
  cluster.node(id).fs = fs;
}

/** Entries that leave nothing referenced: a snapshot of them needs no log entry. */
async function queues(cluster: TestCluster, leader: string, names: string[]): Promise<void> {
  for (const name of names) await settled(cluster, cluster.broker(leader).createQueue(name, {}));
}

/**
 * Snapshots are taken on every node while nothing is referenced; the leader and one follower
 * then acknowledge "x" while the other follower (`lagging`) is cut off; then the up-to-date
 * follower loses its log directory (its snapshots stay) and is restarted with the same options
 * while the leader is unreachable.
 */
async function loseTheUpToDateFollowersLog(cluster: TestCluster) {
  const leader = await cluster.waitForLeader();
  const [lost, lagging] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await queues(cluster, leader, ["q1", "q2", "q3", "q4", "q5", "q6", "jobs"]);
  await cluster.until(() => cluster.replica(lost).status().snapshotIndex > 0);
  cluster.isolate(lagging);
  await sendBodies(cluster, cluster.broker(leader), ["x"]); // acknowledged by leader + lost
  const target = cluster.replica(leader).appliedIndex;
  await cluster.until(() => cluster.node(lost).machine.appliedIndex >= target);
  const snapshotIndex = cluster.replica(lost).status().snapshotIndex;
  assert.ok(snapshotIndex > 0 && snapshotIndex < target, "x is past the snapshot");
  await loseLog(cluster, lost);
  cluster.heal();
  cluster.isolate(leader);
  await cluster.boot(lost);
  return { leader, lost, lagging, snapshotIndex };
}

Deno.test("a voter that lost its log but kept a snapshot helps elect no leader lacking writes it acknowledged", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  const { lost, lagging } = await loseTheUpToDateFollowersLog(cluster);
  assert.ok(cluster.node(lost).warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.replica(lost).status().canCampaign, false);
  await cluster.run(5000);
  assert.equal(leaderAmong(cluster, [lost, lagging]), null, "the lagging node is not elected");
  cluster.heal();
  // Once caught up under the leader of the term it learned, the node asks for a newer term: the
  // leader hands its leadership on and refuses proposals meanwhile (503 NotReady), which a
  // client retries.
  assert.deepEqual(await receiveAllFromLeader(cluster), ["x"]);
  await cluster.stopAll();
});

/** The term of the first leader the node heard from after losing its log (its warning). */
function learnedTerm(cluster: TestCluster, id: string): number | null {
  for (const warning of cluster.node(id).warnings) {
    const found = /^LOG LOST: leader \S+ of term (\d+) found/.exec(warning);
    if (found !== null) return Number(found[1]);
  }
  return null;
}

Deno.test("a voter that lost its log is non-voting until a leader of a term after the first one it hears from repaired it, across restarts", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  const { leader, lost } = await loseTheUpToDateFollowersLog(cluster);
  const termBefore = cluster.replica(leader).status().term;
  // A restart before it heard from any leader keeps it non-voting, the term still to learn.
  cluster.crash(lost);
  await cluster.boot(lost);
  assert.equal(cluster.replica(lost).status().canCampaign, false);
  assert.ok(cluster.node(lost).warnings.some((warning) => warning.includes("first hears from")));
  cluster.heal();
  await cluster.until(() => learnedTerm(cluster, lost) !== null);
  const learned = learnedTerm(cluster, lost)!;
  assert.ok(learned >= termBefore, "the term learned is the leader's");
  // A restart after: still non-voting.
  cluster.crash(lost);
  await cluster.boot(lost);
  assert.ok(cluster.node(lost).log!.damage !== null, "the loss is recorded as damage");
  assert.equal(cluster.replica(lost).status().canCampaign, false);
  await cluster.until(() => cluster.replica(lost).status().canCampaign);
  assert.ok(cluster.replica(lost).status().term > learned, "it votes again in a newer term");
  assert.equal(cluster.node(lost).log!.damage, null, "the damage record is cleared");
  const next = await cluster.waitForLeader();
  await cluster.until(() =>
    cluster.node(lost).machine.appliedIndex >= cluster.replica(next).status().commit
  );
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["x"]);
  await cluster.stopAll();
});

Deno.test("a voter whose log directory is emptied (its snapshots kept) is distrusted the same way", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  const leader = await cluster.waitForLeader();
  const [follower] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await queues(cluster, leader, ["q1", "q2", "q3", "q4", "q5", "q6", "jobs"]);
  await cluster.until(() => cluster.replica(follower).status().snapshotIndex > 0);
  const term = cluster.replica(leader).status().term;
  await cluster.stop(follower);
  const fs = cluster.node(follower).fs;
  for (const name of fs.readDir("/data/log")) fs.remove(`/data/log/${name}`);
  await fs.syncDir("/data/log");
  await cluster.boot(follower);
  assert.ok(cluster.node(follower).warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.replica(follower).status().canCampaign, false);
  await cluster.until(() => cluster.replica(follower).status().canCampaign);
  assert.ok(cluster.replica(follower).status().term > term, "repaired under a newer term");
  await cluster.stopAll();
});

Deno.test("a single voter that lost its log carries on from its snapshot, in a term past it", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"], replica: { snapshotEntriesInterval: 5 } });
  await cluster.waitForLeader();
  await queues(cluster, "n1", ["q1", "q2", "q3", "q4", "q5", "q6", "jobs"]);
  await cluster.until(() => cluster.replica("n1").status().snapshotIndex > 0);
  const { snapshotIndex, term } = cluster.replica("n1").status();
  await loseLog(cluster, "n1");
  await cluster.boot("n1");
  const warnings = cluster.node("n1").warnings;
  assert.ok(warnings.some((warning) => warning.includes("LOG LOST") && warning.includes("only")));
  await cluster.waitForLeader();
  const status = cluster.replica("n1").status();
  assert.equal(status.canCampaign, true);
  assert.ok(status.term > term, "its new term is past the snapshot's");
  assert.ok(status.commit > snapshotIndex, "it commits again");
  assert.equal(cluster.node("n1").log!.damage, null);
  await settled(cluster, cluster.broker("n1").getQueue("q1")); // the snapshot's state
  await cluster.stopAll();
});

Deno.test("a voter whose snapshots were lost but whose log survives keeps its term and vote", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  const leader = await cluster.waitForLeader();
  const [follower] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await queues(cluster, leader, ["q1", "q2", "q3", "q4", "q5", "q6", "jobs"]);
  await cluster.until(() => cluster.replica(follower).status().snapshotIndex > 0);
  await cluster.stop(follower);
  const fs = cluster.node(follower).fs;
  const hardState = cluster.node(leader).log!.readHardState();
  for (const name of fs.readDir(snapshotsDir)) fs.remove(`${snapshotsDir}/${name}`);
  await fs.syncDir(snapshotsDir);
  await cluster.boot(follower);
  assert.ok(!cluster.node(follower).warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.node(follower).log!.readHardState().term, hardState.term);
  await cluster.until(() => cluster.replica(follower).status().canCampaign);
  await cluster.stopAll();
});

Deno.test("a voter that lost the log entries its snapshot needs starts over, and is repaired only under a term after its first leader's", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 5 } });
  const leader = await cluster.waitForLeader();
  const [follower] = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await queues(cluster, leader, ["jobs"]);
  await sendBodies(cluster, cluster.broker(leader), ["a"]); // referenced by every snapshot
  await queues(cluster, leader, ["q1", "q2", "q3", "q4", "q5", "q6"]);
  await cluster.until(() => cluster.replica(follower).status().snapshotIndex > 0);
  const term = cluster.replica(leader).status().term;
  await loseLog(cluster, follower);
  await cluster.boot(follower);
  const warnings = cluster.node(follower).warnings;
  assert.ok(warnings.some((warning) => warning.includes("starting over")));
  assert.ok(warnings.some((warning) => warning.includes("LOG LOST")));
  assert.equal(cluster.replica(follower).status().canCampaign, false);
  await cluster.until(() => cluster.replica(follower).status().canCampaign);
  assert.ok(learnedTerm(cluster, follower)! >= term);
  assert.ok(cluster.replica(follower).status().term > learnedTerm(cluster, follower)!);
  const next = await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(next)), ["a"]);
  await cluster.stopAll();
});

Deno.test("a single voter that lost the entries its snapshot needs says so and stays non-voting, as with any damage", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"], replica: { snapshotEntriesInterval: 5 } });
  await cluster.waitForLeader();
  await queues(cluster, "n1", ["jobs"]);
  await sendBodies(cluster, cluster.broker("n1"), ["a"]); // referenced by every snapshot
  await queues(cluster, "n1", ["q1", "q2", "q3", "q4", "q5", "q6"]);
  await cluster.until(() => cluster.replica("n1").status().snapshotIndex > 0);
  await loseLog(cluster, "n1");
  await cluster.boot("n1");
  const warnings = cluster.node("n1").warnings;
  assert.ok(warnings.some((warning) => warning.includes("LOG LOST") && warning.includes("only")));
  assert.ok(warnings.some((warning) => warning.includes("started over")));
  await cluster.run(3000);
  assert.equal(cluster.replica("n1").status().canCampaign, false);
  assert.equal(cluster.replica("n1").isLeader, false);
  await cluster.stopAll();
});
