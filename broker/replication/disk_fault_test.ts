import assert from "node:assert/strict";
import { receiveAll, settled, TestCluster } from "../cluster/testing/mod.ts";
import { ForwardingFileSystem, SimFileSystem } from "../../storage/mod.ts";

Deno.test("an fsync error stops the replica honestly: no longer leader, failure reported, restart cuts the unsynced tail", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  const failures: Error[] = [];
  replica.onFailure((error) => failures.push(error));
  const roles: Array<string | null> = [];
  replica.onRoleChange((change) => roles.push(change.leaderId));
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await settled(cluster, broker.sendMessages("jobs", [{ body: "kept" }]));
  const fs = cluster.node(leader).fs;
  const durable = cluster.node(leader).log!.lastIndex;

  fs.failSyncs(1);
  await assert.rejects(
    settled(cluster, broker.sendMessages("jobs", [{ body: "never durable" }])),
    /replica failed|outcome unknown/,
  );
  assert.equal(failures.length, 1, "the owner hears of the failure once");
  assert.match(failures[0].message, /EIO/);
  assert.equal(replica.isLeader, false, "a failed replica does not call itself leader");
  assert.equal(replica.leaderId, null);
  assert.deepEqual(roles.at(-1), null, "role handlers hear that it stopped leading");
  await assert.rejects(
    settled(cluster, broker.sendMessages("jobs", [{ body: "later" }])),
    /replica failed/,
  );

  // The process restarts; the kernel's page cache still shows the failed entry.
  await cluster.stop(leader);
  await cluster.boot(leader);
  assert.equal(cluster.node(leader).log!.lastIndex, durable, "the unsynced tail is cut");
  await cluster.waitForLeader();
  assert.deepEqual(await receiveAll(cluster, cluster.broker(leader)), ["kept"]);
  await cluster.stopAll();
});

Deno.test("a snapshot write a crash interrupted leaves no temp file after the restart", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  await cluster.waitForLeader();
  await cluster.stop("n1");
  // What a kill during a snapshot write (a received snapshot: up to the backlog's size) leaves.
  const fs = cluster.node("n1").fs;
  const leftover = "/data/snapshots/snapshot-00000000000000000042.bin.tmp";
  fs.open(leftover, { create: true }).writeSync(new Uint8Array(4096).fill(7));
  const transfer = "/data/snapshots/snapshot-00000000000000000042.bin.part";
  fs.open(transfer, { create: true }).writeSync(new Uint8Array(16));
  await cluster.boot("n1");
  assert.equal(fs.exists(leftover), false);
  assert.equal(fs.exists(transfer), false);
  await cluster.waitForLeader();
  await cluster.stopAll();
});

Deno.test("the snapshots directory an open creates is synced into the data directory", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  await cluster.stop("n1");
  const node = cluster.node("n1");
  node.fs = new SimFileSystem(); // a new, empty disk
  const events: string[] = [];
  const fs = new class extends ForwardingFileSystem {
    override mkdirp(path: string): void {
      events.push(`mkdir ${path}`);
      super.mkdirp(path);
    }
    override syncDirSync(path: string): void {
      events.push(`sync ${path}`);
      super.syncDirSync(path);
    }
  }(node.fs);
  await cluster.boot("n1", { fs });
  // Else a power cut could take the directory away with the snapshots fsynced in it.
  const madeAt = events.indexOf("mkdir /data/snapshots");
  assert.ok(madeAt >= 0, events.join(", "));
  assert.equal(events[madeAt + 1], "sync /data");
  await cluster.stopAll();
});
