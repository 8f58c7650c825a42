/**
 * A replica stopped (`abandon`, `close`) or failed (`onFailure`) while a Ready waits at one of its
 * steps (recording a lost state, installing a snapshot, dispatching its write, recording a
 * repair) goes no further with that Ready: it applies, appends, writes and snapshots nothing more.
 */
import assert from "node:assert/strict";
import { type Entry, type Message, MessageType } from "../../raft/mod.ts";
import { SimFileSystem } from "../../storage/mod.ts";
import {
  drainMicrotasks,
  followerOf,
  sendBodies,
  settled,
  TestCluster,
} from "../cluster/testing/mod.ts";

const logDir = "/data/log";
const damageFile = `${logDir}/damage`;
const snapshotsDir = "/data/snapshots";

/** Holds the `syncDir` calls `hold` picks (until `release`, which disarms it). */
function holdDirSyncs(fs: SimFileSystem, hold: (path: string) => boolean) {
  const syncDir = fs.syncDir.bind(fs);
  const held: Array<() => void> = [];
  let armed = true;
  fs.syncDir = (path: string) => {
    if (!armed || !hold(path)) return syncDir(path);
    return new Promise<void>((resolve, reject) => {
      held.push(() => syncDir(path).then(resolve, reject));
    });
  };
  return {
    get count(): number {
      return held.length;
    },
    release(): void {
      armed = false;
      for (const release of held.splice(0)) release();
    },
  };
}

/** A follower of a cluster with queue "jobs" is stopped and given an empty disk (still down). */
async function wipedFollower(cluster: TestCluster) {
  const leader = await cluster.waitForLeader();
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  await sendBodies(cluster, cluster.broker(leader), ["a", "b"]);
  const wiped = followerOf(cluster, leader);
  cluster.crash(wiped);
  const fs = new SimFileSystem();
  cluster.node(wiped).fs = fs;
  return { leader, wiped, fs };
}

/** Damages entry 2 (the queue's creation) on `id`'s disk and reads it: the replica fails. */
function failByDamagedRead(cluster: TestCluster, id: string): void {
  const fs = cluster.node(id).fs;
  const segment = fs.readDir(logDir).filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`${logDir}/${segment}`, 40);
  assert.throws(() => cluster.replica(id).entry(2, false));
  assert.ok(cluster.replica(id).failure !== null, "the replica failed");
}

Deno.test("a replica stopped while it records the state it lost writes nothing of that Ready", async () => {
  const cluster = await TestCluster.start();
  const { wiped, fs } = await wipedFollower(cluster);
  // The record of its loss waits for its directory sync: the Ready stays there.
  const hold = holdDirSyncs(fs, (path) => path === logDir && fs.exists(damageFile));
  await cluster.boot(wiped);
  await cluster.until(() => hold.count > 0);
  const log = cluster.node(wiped).log!;
  const hardState = log.readHardState();
  cluster.replica(wiped).abandon(); // as a killed process: it touches its storage no more

  hold.release();
  await cluster.run(500);
  assert.deepEqual(log.readHardState(), hardState, "hard state written after the stop");
  assert.equal(log.lastIndex, 0, "entries appended after the stop");
  await cluster.stopAll();
});

Deno.test("a follower stopped while it installs a snapshot appends none of that Ready's entries", async () => {
  const cluster = await TestCluster.start({
    replica: { snapshotEntriesInterval: 4, raft: { snapshotChunkBytes: 512 } },
  });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  const lagging = followerOf(cluster, leader);
  const sent = new Map<number, Entry>(); // every entry the leader sent, by index
  let lastChunk: Message | null = null; // the chunk that completes the snapshot, held back
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message) => {
    if (message.from === leader && message.type === MessageType.App) {
      for (const entry of message.entries) sent.set(entry.index, entry);
    }
    const chunk = message.snapshot;
    if (message.to === lagging && chunk !== undefined) {
      if (chunk.offset + chunk.data.length === chunk.totalBytes) {
        lastChunk ??= message;
        return;
      }
    }
    deliver(message);
  };
  await settled(cluster, broker.createQueue("jobs", {}));
  await cluster.run(300);
  cluster.isolate(lagging);
  const bodies = Array.from({ length: 12 }, (_, i) => `${i}:${"b".repeat(300)}`);
  await sendBodies(cluster, broker, bodies);
  cluster.heal();
  await cluster.until(() => lastChunk !== null);
  const snapshot = lastChunk!.snapshot!;
  await sendBodies(cluster, broker, ["after"]); // entries past the snapshot, sent to the third
  const entries = [...sent.values()].filter((entry) => entry.index > snapshot.index)
    .sort((a, b) => a.index - b.index);
  assert.ok(entries.length > 0 && entries[0].index === snapshot.index + 1);
  await cluster.run(300);

  // The snapshot's last chunk and the append after it arrive together: one Ready carries both.
  const fs = cluster.node(lagging).fs;
  const log = cluster.node(lagging).log!;
  fs.pauseSyncs();
  deliver(lastChunk!);
  deliver({
    ...lastChunk!,
    type: MessageType.App,
    snapshot: undefined,
    index: snapshot.index,
    logTerm: snapshot.term,
    entries,
    commit: snapshot.index,
  });
  await cluster.until(() => fs.heldSyncCount > 0); // the install's first sync
  const closing = cluster.replica(lagging).close();
  await cluster.run(50);

  fs.resumeSyncs();
  await cluster.run(500);
  await closing;
  assert.ok(log.lastIndex <= snapshot.index, `appended up to ${log.lastIndex} after the stop`);
  await cluster.stopAll();
});

Deno.test("a leader failing while its Ready's write is dispatched applies none of that Ready's entries", async () => {
  const cluster = await TestCluster.start();
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await cluster.run(500);
  const replica = cluster.replica(leader);
  const fs = cluster.node(leader).fs;

  // "a" is committed by the followers while the leader's own write of it waits.
  fs.pauseSyncs();
  broker.sendMessages("jobs", [{ body: "a" }]).catch(() => {});
  await drainMicrotasks();
  const a = replica.status().lastIndex;
  await cluster.until(() => replica.status().commit >= a);
  assert.ok(replica.appliedIndex < a, "not applied before it is durable here");
  // "b" joins the next Ready, which applies "a" (durable by then) while "b" is written.
  broker.sendMessages("jobs", [{ body: "b" }]).catch(() => {});
  await drainMicrotasks();
  const b = replica.status().lastIndex;
  // The leader sends "b" before it writes it; it fails as that append leaves.
  let appliedAtFailure: number | null = null;
  const deliver = cluster.deliver.bind(cluster);
  cluster.deliver = (message) => {
    const carriesB = message.entries.some((entry) => entry.index === b);
    if (appliedAtFailure === null && message.from === leader && carriesB) {
      failByDamagedRead(cluster, leader);
      appliedAtFailure = replica.appliedIndex;
    }
    deliver(message);
  };

  fs.resumeSyncs();
  for (let turn = 0; turn < 20; turn++) await drainMicrotasks();
  await cluster.run(500);
  assert.ok(appliedAtFailure !== null && appliedAtFailure < a, "it failed before applying a");
  assert.equal(replica.appliedIndex, appliedAtFailure, "entries applied after the failure");
  await cluster.stopAll();
});

Deno.test("a replica stopped while it records its repair starts no snapshot", async () => {
  const cluster = await TestCluster.start({ replica: { snapshotEntriesInterval: 1 } });
  const { wiped, fs } = await wipedFollower(cluster);
  // The removal of the damage record (the repair is complete) waits for its directory sync.
  let recorded = false;
  const hold = holdDirSyncs(fs, (path) => {
    if (path !== logDir) return false;
    recorded ||= fs.exists(damageFile);
    return recorded && !fs.exists(damageFile);
  });
  await cluster.boot(wiped);
  await cluster.until(() => hold.count > 0);
  await cluster.run(100);
  const files = fs.readDir(snapshotsDir);
  cluster.replica(wiped).abandon();

  hold.release();
  await cluster.run(500);
  assert.deepEqual(fs.readDir(snapshotsDir), files, "a snapshot written after the stop");
  await cluster.stopAll();
});
