import assert from "node:assert/strict";
import {
  type FileHandle,
  ForwardingFileHandle,
  ForwardingFileSystem,
  SimFileSystem,
} from "../../storage/mod.ts";
import { sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";

/**
 * The snapshot files' file system, with faults on demand: while `held`, the calls `holds` names
 * (each handle's `syncData`, or `discard` of a removed file) wait until `release()`; with
 * `failRemoves`, removing a stored snapshot file fails as an EIO would.
 */
class SnapshotFiles extends ForwardingFileSystem {
  held = false;
  failRemoves = false;
  waiting: (() => void)[] = [];

  constructor(readonly holds: "syncData" | "discard") {
    super(new SimFileSystem());
  }
  override remove(path: string): void {
    // A stored snapshot's file, not a temp file (writing one removes a leftover first).
    if (this.failRemoves && path.endsWith(".bin")) {
      throw new Error(`EIO: input/output error, unlink ${path} (test)`);
    }
    super.remove(path);
  }
  protected override wrap(handle: FileHandle): FileHandle {
    const turn = (call: string) =>
      this.held && this.holds === call
        ? new Promise<void>((resolve) => this.waiting.push(resolve))
        : Promise.resolve();
    return new class extends ForwardingFileHandle {
      override async syncData(): Promise<void> {
        await turn("syncData");
        await super.syncData();
      }
      override async discard(): Promise<void> {
        await turn("discard");
        await super.discard();
      }
    }(handle);
  }
  release(): void {
    this.held = false;
    for (const resume of this.waiting.splice(0)) resume();
  }
}

/** One node over `files`, snapshotting every `interval` entries, with the queue "jobs". */
async function oneNode(files: SnapshotFiles, interval: number) {
  const cluster = await TestCluster.start({
    ids: ["n1"],
    replica: { fs: files, snapshotEntriesInterval: interval },
  });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  return { cluster, leader, broker };
}

Deno.test("writes commit while a snapshot file is still being written", async () => {
  const snapshots = new SnapshotFiles("syncData");
  const { cluster, leader, broker } = await oneNode(snapshots, 5);
  /** Sends each body; true when all were answered within 3 s of cluster time. */
  const answered = async (bodies: string[]) => {
    let done = false;
    sendBodies(cluster, broker, bodies).then(() => (done = true));
    await cluster.until(() => done, 3_000).catch(() => {});
    return done;
  };
  snapshots.held = true;
  assert.ok(await answered(["1", "2", "3", "4", "5", "6"]));
  assert.ok(snapshots.waiting.length > 0, "a snapshot file waits for its fsync");
  assert.equal(
    cluster.replica(leader).status().snapshotIndex,
    0,
    "not adopted before it is durable",
  );
  // The Ready loop goes on meanwhile: these commit and answer.
  assert.ok(await answered(["7", "8", "9"]));
  assert.equal((await broker.getQueue("jobs")).activeMessages, 9);
  snapshots.release();
  await cluster.until(() => cluster.replica(leader).status().snapshotIndex > 0);
  await cluster.stopAll();
  for (const id of cluster.nodes.keys()) await cluster.boot(id);
  const restarted = await cluster.waitForLeader();
  await cluster.until(() => cluster.replica(restarted).appliedIndex > 0);
  assert.equal(
    (await settled(cluster, cluster.broker(restarted).getQueue("jobs"))).activeMessages,
    9,
  );
  await cluster.stopAll();
});

Deno.test("a compaction that fails while the one before it still runs stops the replica, and is not left unhandled", async () => {
  const files = new SnapshotFiles("discard");
  const { cluster, leader, broker } = await oneNode(files, 4);
  const replica = cluster.replica(leader);
  const snapshotAfter = async (label: string) => {
    const before = replica.status().snapshotIndex;
    for (let i = 0; i < 6 && replica.status().snapshotIndex === before; i++) {
      await sendBodies(cluster, broker, [`${label} ${i}`]).catch(() => {});
      await cluster.run(50);
    }
    assert.ok(replica.status().snapshotIndex > before, `a snapshot adopted (${label})`);
  };
  await snapshotAfter("first");
  files.held = true; // the next adoption's removal of the first snapshot's file waits
  await snapshotAfter("second");
  assert.ok(files.waiting.length > 0, "a removal waits");
  files.failRemoves = true; // the next adoption's removal fails at once
  await snapshotAfter("third");
  assert.equal(replica.failure, null, "its failure is heard after the removal before it");
  files.release();
  await cluster.until(() => replica.failure !== null, 3_000);
  assert.match(replica.failure!.message, /EIO/);
  await cluster.stopAll();
});
