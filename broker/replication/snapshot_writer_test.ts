import assert from "node:assert/strict";
import {
  type FileHandle,
  ForwardingFileHandle,
  ForwardingFileSystem,
  SimFileSystem,
} from "../../storage/mod.ts";
import { sendBodies, settled, TestCluster } from "../cluster/testing/mod.ts";

/** A file system whose file syncs wait while `held` (the snapshot files' fsyncs, here). */
class HeldSyncs extends ForwardingFileSystem {
  held = false;
  waiting: (() => void)[] = [];

  constructor() {
    super(new SimFileSystem());
  }
  protected override wrap(handle: FileHandle): FileHandle {
    const turn = () =>
      this.held ? new Promise<void>((resolve) => this.waiting.push(resolve)) : Promise.resolve();
    return new class extends ForwardingFileHandle {
      override async syncData(): Promise<void> {
        await turn();
        await super.syncData();
      }
    }(handle);
  }
  release(): void {
    this.held = false;
    for (const resume of this.waiting.splice(0)) resume();
  }
}

Deno.test("writes commit while a snapshot file is still being written", async () => {
  const snapshots = new HeldSyncs();
  const cluster = await TestCluster.start({
    ids: ["n1"],
    replica: { fs: snapshots, snapshotEntriesInterval: 5 },
  });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
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
