import assert from "node:assert/strict";
import { settled, TestCluster } from "../cluster/testing/mod.ts";
import { ReplicationError } from "./errors.ts";

Deno.test("a read of an applied entry from a log a failed write stopped answers NotReady, not the raw error", async () => {
  // Found by the simulation with disk I/O errors (seed 820061 at --io-rate 300): a receive's
  // bodies, read after a write had failed the log, got the storage error itself (a 500).
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  await settled(cluster, broker.sendMessages("jobs", [{ body: "stored" }]));
  const replica = cluster.replica(leader);
  const applied = replica.status().applied;
  cluster.node(leader).fs.failNext("write", 1);
  const failed = broker.sendMessages("jobs", [{ body: "not stored" }]).catch((error) => error);
  await cluster.run(100);
  assert.ok((await failed) instanceof Error);
  assert.throws(
    () => replica.entry(applied),
    (error) => error instanceof ReplicationError && error.code === "NotReady",
  );
  await cluster.stopAll();
});
