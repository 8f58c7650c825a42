/**
 * Cluster time across a snapshot that embeds no entries: the log then holds no entry at the
 * snapshot point, and the time of that point comes from the state the snapshot holds. A node
 * that installed one (or restarted after it) and then leads must stamp at or after it, or the
 * nodes holding the snapshot point's entry would see the log's time go back.
 */
import assert from "node:assert/strict";
import type { ClockLike } from "./types.ts";
import { followerOf, settled, TestCluster } from "../cluster/testing/mod.ts";

/** Ten minutes behind the cluster's clock: its cluster time must come from the log instead. */
function behind(cluster: TestCluster): { clock: ClockLike; monotonic: ClockLike } {
  return { clock: { now: () => cluster.clock.now() - 600_000 }, monotonic: cluster.clock };
}

/**
 * A group snapshotting after every entry, whose follower (its wall clock behind) misses writes
 * spread over some seconds and then installs the leader's snapshot, which holds no message and
 * so embeds no entries. Returns the follower's id and the time of the snapshot point.
 */
async function installedWithoutEntries(): Promise<
  { cluster: TestCluster; leader: string; lagging: string; snapshotTime: number }
> {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 1 } });
  const leader = await cluster.waitForLeader();
  const lagging = followerOf(cluster, leader);
  await settled(cluster, cluster.broker(leader).createQueue("q0", {}));
  await cluster.run(300);
  await cluster.stop(lagging);
  await cluster.boot(lagging, behind(cluster));
  await cluster.run(300);
  cluster.isolate(lagging);
  for (let i = 1; i <= 6; i++) {
    await cluster.run(1_000);
    await settled(cluster, cluster.broker(leader).createQueue(`q${i}`, {}));
  }
  await cluster.run(300); // the leader's snapshot of its last entry is adopted
  const last = cluster.node(leader).log!.lastIndex;
  assert.equal(cluster.replica(leader).status().snapshotIndex, last, "snapshot at the last entry");
  const snapshotTime = cluster.node(leader).log!.entry(last).timestamp;
  cluster.heal();
  await cluster.until(() => cluster.replica(lagging).status().snapshotIndex === last);
  const log = cluster.node(lagging).log!;
  assert.equal(log.lastIndex, last, "nothing past the snapshot yet");
  assert.equal(log.firstIndex, last + 1, "the log holds no entry at the snapshot point");
  const now = cluster.replica(lagging).now();
  assert.ok(now >= snapshotTime, `cluster time ${now} follows the snapshot's ${snapshotTime}`);
  return { cluster, leader, lagging, snapshotTime };
}

function failed(cluster: TestCluster): boolean {
  return [...cluster.nodes.values()].some((node) => node.replica!.failure !== null);
}

/** Every node of `ids` runs, and each one's log time stamps never go back. */
function assertOrdered(cluster: TestCluster, ids = [...cluster.nodes.keys()]): void {
  for (const node of ids.map((id) => cluster.node(id))) {
    assert.equal(node.replica!.failure, null, `${node.id} kept running`);
    const log = node.log!;
    let previous = 0;
    for (let index = log.firstIndex; index <= log.lastIndex; index++) {
      const { timestamp } = log.entry(index);
      assert.ok(timestamp >= previous, `${node.id}: entry ${index} at ${timestamp} < ${previous}`);
      previous = timestamp;
    }
  }
}

/** Makes `id` lead, writes through it and checks every node took the write in order. */
async function leadAndWrite(cluster: TestCluster, from: string, id: string, after: number) {
  cluster.replica(from).transferLeadership(id);
  await cluster.until(() => cluster.replica(id).isLeader);
  let done = false;
  const write = cluster.broker(id).createQueue("late", {}).finally(() => (done = true));
  write.catch(() => {});
  // Not `settled`: a write the others refuse never settles, and awaiting it would hang the test.
  await cluster.until(() => done || failed(cluster));
  assertOrdered(cluster);
  await write;
  const target = cluster.replica(id).appliedIndex;
  await cluster.until(() =>
    [...cluster.nodes.values()].every((node) => node.replica!.appliedIndex >= target)
  );
  assertOrdered(cluster);
  const log = cluster.node(id).log!;
  const stamps = [];
  for (let index = log.firstIndex; index <= log.lastIndex; index++) {
    stamps.push(log.entry(index).timestamp);
  }
  assert.ok(stamps.every((stamp) => stamp >= after), `stamps ${stamps} before ${after}`);
}

Deno.test("a follower that installed a snapshot without entries and then leads stamps after it", async () => {
  const { cluster, leader, lagging, snapshotTime } = await installedWithoutEntries();
  await leadAndWrite(cluster, leader, lagging, snapshotTime);
  await cluster.stopAll();
});

Deno.test("a node restarted on a log holding no entry past its snapshot stamps after it when it leads", async () => {
  const { cluster, leader, lagging, snapshotTime } = await installedWithoutEntries();
  await cluster.stop(lagging);
  await cluster.boot(lagging, behind(cluster));
  assert.equal(cluster.node(lagging).log!.lastTimestamp, null, "the log holds no entry");
  const now = cluster.replica(lagging).now();
  assert.ok(now >= snapshotTime, `cluster time ${now} starts from the snapshot's ${snapshotTime}`);
  await cluster.run(300);
  await leadAndWrite(cluster, leader, lagging, snapshotTime);
  await cluster.stopAll();
});

Deno.test("forcing a new cluster on a log holding no entry past its snapshot stamps after it", async () => {
  const { cluster, leader, lagging, snapshotTime } = await installedWithoutEntries();
  for (const id of cluster.nodes.keys()) if (id !== lagging) cluster.crash(id);
  assert.notEqual(leader, lagging);
  await cluster.stop(lagging);
  const force = { recordRemovals: () => [], report: () => {} };
  await cluster.boot(lagging, { ...behind(cluster), forceNewCluster: force });
  const log = cluster.node(lagging).log!;
  assert.ok(log.lastIndex >= log.firstIndex, "the forced entries were written");
  assertOrdered(cluster, [lagging]);
  for (let index = log.firstIndex; index <= log.lastIndex; index++) {
    const { timestamp } = log.entry(index);
    assert.ok(timestamp >= snapshotTime, `forced entry ${index} at ${timestamp} < ${snapshotTime}`);
  }
  await cluster.stop(lagging);
});

/**
 * --force-new-cluster stamps its configuration entries with the node's wall clock when that is
 * later than the log, so they follow the last write by the outage. A snapshot taken at them
 * stands for their time, not the last write's: a node whose log holds no entry at that point
 * (one that installs the snapshot, and restarts after it) takes the state's time as the point's,
 * and stamping between the two would put its entries before the ones the others hold there,
 * which they drop (the group stalls).
 */
Deno.test("a snapshot taken at the entries of --force-new-cluster stands for their time", async () => {
  const { cluster, leader, lagging } = await installedWithoutEntries();
  for (const id of cluster.nodes.keys()) if (id !== lagging) cluster.crash(id);
  assert.notEqual(leader, lagging);
  await cluster.stop(lagging);
  const force = { recordRemovals: () => [], report: () => {} };
  const ahead = { now: () => cluster.clock.now() + 600_000 };
  await cluster.boot(lagging, { clock: ahead, monotonic: cluster.clock, forceNewCluster: force });
  await cluster.until(() => cluster.replica(lagging).isLeader);
  await cluster.run(300); // a snapshot of the forced entries (and the leader's no-op)
  const log = cluster.node(lagging).log!;
  const point = cluster.replica(lagging).status().snapshotIndex;
  assert.ok(point > 0 && log.firstIndex <= point, "a snapshot at an entry the log holds");
  const pointTime = log.entry(point).timestamp;
  await cluster.stop(lagging);
  await cluster.boot(lagging, behind(cluster));
  assert.equal(cluster.replica(lagging).status().snapshotIndex, point);
  assert.equal(cluster.node(lagging).machine.appliedIndex, point, "nothing past it");
  assert.equal(cluster.node(lagging).machine.lastTimestamp, pointTime, "the snapshot's time");
  await cluster.stop(lagging);
});
