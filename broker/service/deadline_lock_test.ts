/**
 * A long poll writes no lock after its wait ended: a client that waits `waitSeconds` (and, with
 * an HTTP timeout near it, may give up then) gets an empty answer at its deadline, and a message
 * that became receivable just then stays visible for the next receive instead of being locked
 * for a client that may be gone, invisible for the whole visibility timeout. A receive woken for
 * messages (or taken along by a send) before its deadline still takes them.
 */
import assert from "node:assert/strict";
import { EngineService } from "./mod.ts";
import { ManualClock, MemoryReplica } from "../replication/testing/mod.ts";
import { StateMachine } from "../engine/mod.ts";
import { flush, setup } from "../cluster/testing/mod.ts";

async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await flush();
}

/**
 * An engine whose timers lag its clock: `clock` moves time, `timers` fire only when advanced
 * (a deadline passed, its timer not yet run: a busy event loop).
 */
function laggingTimers() {
  const clock = new ManualClock(1_700_000_000_000);
  const timers = new ManualClock(1_700_000_000_000);
  const replica = new MemoryReplica({ clock, machine: new StateMachine() });
  const broker = new EngineService({
    proposer: replica,
    machine: replica.machine,
    log: replica,
    timers,
    randomSalt: () => 42,
  });
  return { clock, timers, broker };
}

Deno.test("a receive whose wait ended before its timer ran is not taken along by a send", async () => {
  const { clock, broker } = laggingTimers();
  await broker.createQueue("jobs", {});
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await settle();
  assert.equal(broker.parkedReceivers, 1);
  clock.advance(5_000); // its deadline
  await broker.sendMessages("jobs", [{ body: "m" }]);
  assert.deepEqual((await receive).messages, []);
  const queue = await broker.getQueue("jobs");
  assert.deepEqual([queue.activeMessages, queue.inflightMessages], [1, 0]);
});

Deno.test("a receive whose wait ended before its timer ran is not woken for a lock that ended", async () => {
  const { clock, broker } = laggingTimers();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "m" }]);
  await broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 1 });
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await settle();
  assert.equal(broker.parkedReceivers, 1);
  clock.advance(5_000); // the lock ended, and the wait
  // Any apply on the queue offers what it has to the receives parked on it.
  await broker.updateQueue("jobs", { visibilityTimeoutSeconds: 31 });
  await settle();
  assert.deepEqual((await receive).messages, []);
  const queue = await broker.getQueue("jobs");
  assert.deepEqual([queue.activeMessages, queue.inflightMessages], [1, 0]);
});

Deno.test("a receive woken by its deadline as a delay ends answers empty and leaves the message visible", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "m", delaySeconds: 5 }]);
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await settle();
  assert.equal(broker.parkedReceivers, 1);
  clock.advance(5_000); // its deadline, and the delay's end
  assert.deepEqual((await receive).messages, []);
  const queue = await broker.getQueue("jobs");
  assert.deepEqual([queue.activeMessages, queue.inflightMessages], [1, 0]);
  const next = await broker.receiveMessages("jobs", {});
  assert.deepEqual(next.messages.map((message) => message.body), ["m"]);
});

Deno.test("a receive woken for a message before its deadline still takes it", async () => {
  const { broker, clock } = setup();
  await broker.createQueue("jobs", {});
  await broker.sendMessages("jobs", [{ body: "m", delaySeconds: 4 }]);
  const receive = broker.receiveMessages("jobs", { waitSeconds: 5 });
  await settle();
  clock.advance(4_000);
  await settle();
  clock.advance(1_000);
  assert.deepEqual((await receive).messages.map((message) => message.body), ["m"]);
});
