import assert from "node:assert/strict";
import { drainMicrotasks, receiveAll, settled, TestCluster } from "../cluster/testing/mod.ts";

Deno.test("a send answered 'shutting down' never commits; one already in the log settles or is 'outcome unknown'", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  const fs = cluster.node(leader).fs;

  fs.pauseSyncs();
  const inLog = broker.sendMessages("jobs", [{ body: "in the log" }]);
  const inLogOutcome = inLog.then(() => "ok", (error: Error) => error.message);
  await drainMicrotasks();
  const closing = cluster.replica(leader).close({ drainMsMax: 2_000 });
  const refusal = await broker.sendMessages("jobs", [{ body: "refused" }]).catch((e) => e);
  const refused = (refusal as Error).message;
  assert.match(refused, /shutting down/);
  assert.equal(refusal.outcomeUnknown, undefined, "never in the log: its outcome is known");
  fs.resumeSyncs();
  await cluster.run(100);
  await closing;
  const outcome = await inLogOutcome;
  assert.ok(outcome === "ok" || /outcome .*unknown/.test(outcome), outcome);
  assert.doesNotMatch(outcome, /shutting down/);

  await cluster.stop(leader);
  await cluster.boot(leader);
  await cluster.waitForLeader();
  const bodies = await receiveAll(cluster, cluster.broker(leader));
  assert.ok(!bodies.includes("refused"), "a refused send never commits");
  if (outcome === "ok") assert.ok(bodies.includes("in the log"));
  await cluster.stopAll();
});

Deno.test("without a drain, writes still in flight at close are answered 'outcome unknown', not refused", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const broker = cluster.broker(leader);
  await settled(cluster, broker.createQueue("jobs", {}));
  cluster.node(leader).fs.pauseSyncs();
  const inLog = broker.sendMessages("jobs", [{ body: "maybe" }]).catch((error) => error);
  await drainMicrotasks();
  const closing = cluster.replica(leader).close();
  cluster.node(leader).fs.resumeSyncs();
  await closing;
  const error = await inLog;
  assert.match(error.message, /outcome .*unknown/);
  // The answer says so in a field the doors carry (`outcomeUnknown` in the v1 error body).
  assert.equal(error.outcomeUnknown, true);
  await cluster.stopAll();
});

Deno.test("a closed leader calls itself leader no more and names no leader: nothing routes to it", async () => {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  const leader = await cluster.waitForLeader();
  const replica = cluster.replica(leader);
  assert.ok(replica.isLeader);
  assert.equal(replica.leaderId, leader);
  // A one-voter group: nobody to hand over to, it leads until it closes. It stayed leader then.
  await replica.close();
  assert.equal(replica.isLeader, false);
  assert.equal(replica.leaderId, null);
  await cluster.stopAll();
});
