import assert from "node:assert/strict";
import { CommandType } from "../engine/mod.ts";
import { drainMicrotasks, settled, TestCluster } from "../cluster/testing/mod.ts";

/** Lets I/O callbacks and microtasks run `turns` times while the clock stands still. */
async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await drainMicrotasks();
}

/** A promise's outcome as it stands, without waiting. */
function watch<T>(promise: Promise<T>): { done: boolean; value?: T } {
  const state: { done: boolean; value?: T } = { done: false };
  promise.then((value) => {
    state.done = true;
    state.value = value;
  }, () => (state.done = true));
  return state;
}

async function oneNode() {
  const cluster = await TestCluster.start({ ids: ["n1"] });
  await cluster.waitForLeader();
  const broker = cluster.broker("n1");
  await settled(cluster, broker.createQueue("jobs", { visibilityTimeoutSeconds: 30 }));
  await cluster.run(500);
  return { cluster, broker, fs: cluster.node("n1").fs, replica: cluster.replica("n1") };
}

Deno.test("on one node a lone send is answered after its own fsync, with no tick or linger", async () => {
  const { cluster, broker, fs } = await oneNode();
  const syncsBefore = fs.stats.syncs;
  const timeBefore = cluster.clock.now();
  const send = watch(broker.sendMessages("jobs", [{ body: "alone" }]));
  await turns(20);
  assert.ok(send.done, "answered while the clock stood still");
  assert.equal(cluster.clock.now(), timeBefore);
  assert.equal(fs.stats.syncs - syncsBefore, 1, "one fdatasync, nothing else");
  await cluster.stopAll();
});

Deno.test("on one node a send made while a receive's deletes are written reaches it one fsync later", async () => {
  const { cluster, broker, fs, replica } = await oneNode();
  await settled(cluster, broker.sendMessages("jobs", [{ body: "first" }]));
  const first = await settled(cluster, broker.receiveMessages("jobs", {}));
  const handle = first.messages[0].receiptHandle;
  const before = replica.status().lastIndex;
  const timeBefore = cluster.clock.now();
  fs.pauseSyncs(); // the deletes' write is in flight
  const receive = watch(
    broker.receiveMessages("jobs", { deleteReceiptHandles: [handle], waitSeconds: 0 }),
  );
  await turns(5);
  const send = watch(broker.sendMessages("jobs", [{ body: "next" }]));
  await turns(5);
  assert.ok(!receive.done && !send.done);
  const syncsBefore = fs.stats.syncs;
  fs.resumeSyncs();
  await turns(20);
  assert.ok(receive.done && send.done, "both answered while the clock stood still");
  assert.equal(cluster.clock.now(), timeBefore);
  assert.equal(receive.value?.deleted, 1);
  assert.deepEqual(receive.value?.messages.map((message) => message.body), ["next"]);
  const types = [before + 1, before + 2].map((index) => replica.entry(index).type);
  assert.deepEqual(types, [CommandType.DeleteBatch, CommandType.SendReceive]);
  assert.equal(replica.status().lastIndex, before + 2, "no lock entry of its own");
  assert.ok(fs.stats.syncs - syncsBefore <= 2, `${fs.stats.syncs - syncsBefore} fsyncs`);
  await cluster.stopAll();
});
