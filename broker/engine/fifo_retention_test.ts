/**
 * Retention on a FIFO queue keeps a message in flight until its lock ends (README, "Dead letters,
 * redrive, purge, rewind"): dropping it at once ended its group's lock, so the group's next
 * message went to another receiver while the first was still being worked on under its lock (and
 * that worker's delete answered `gone`). Expired messages not in flight still go at once. Entries
 * of the earlier forms (Tick, TickInGroupOrder, ReceiveBatch layouts 1–2, SendReceive layouts
 * 2–3) keep dropping it: `entry_forms_test.ts`.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import { encodeChangeVisibility, encodeTick } from "./commands.ts";
import { receiptHandleToBytes } from "./receipt.ts";

const second = 1_000;

function fifoDriver(): { driver: MachineDriver; start: number } {
  const driver = new MachineDriver();
  driver.create("orders", { fifo: true, retentionSeconds: 300 });
  return { driver, start: driver.now };
}

Deno.test("retention keeps a FIFO message in flight, and its group waits, until the lock is deleted", () => {
  const { driver, start } = fifoDriver();
  driver.send("orders", [{ body: "pay 1", groupId: "acct" }, { body: "other 1", groupId: "o" }]);
  driver.now = start + 250 * second;
  const [head] = driver.receive("orders", 1, 600);
  assert.equal(head.sequence, 1);
  driver.send("orders", [{ body: "pay 2", groupId: "acct" }, { body: "other 2", groupId: "o" }]);
  driver.now = start + 310 * second; // "pay 1" and "other 1" are past retention
  driver.apply(CommandType.TickKeepingLocks, encodeTick());
  // "other 1" expired (not in flight): gone; "pay 2" waits behind "pay 1", still locked.
  assert.deepEqual(driver.receive("orders", 10, 30).map((message) => message.sequence), [4]);
  const view = driver.machine.getQueue("orders", driver.now)!;
  assert.equal(view.inflightMessages, 2);
  assert.equal(view.activeMessages, 1);
  // A restored replica holds the same.
  driver.machine = StateMachine.restore(driver.machine.snapshot());
  assert.deepEqual(driver.receive("orders", 10, 30), []);
  // The worker's delete still deletes it, and frees the group.
  assert.deepEqual(driver.remove("orders", [head.receiptHandle]), { deleted: 1, failures: [] });
  assert.deepEqual(driver.receive("orders", 10, 30).map((message) => message.sequence), [3]);
});

Deno.test("a FIFO message kept past retention goes once its lock ends, never delivered again", () => {
  const { driver, start } = fifoDriver();
  driver.send("orders", [{ body: "pay 1", groupId: "acct" }]);
  driver.now = start + 250 * second;
  const [head] = driver.receive("orders", 1, 60); // locked until 310 s
  driver.send("orders", [{ body: "pay 2", groupId: "acct" }]);
  driver.now = start + 305 * second;
  assert.deepEqual(driver.receive("orders", 10, 30), []);
  // Extended by its worker: kept on.
  const change = encodeChangeVisibility({
    queue: "orders",
    entries: [{ handle: receiptHandleToBytes(head.receiptHandle), visibilityTimeoutSeconds: 20 }],
  });
  driver.apply(CommandType.ChangeVisibility, change);
  driver.apply(CommandType.TickKeepingLocks, encodeTick());
  // Nothing to do until the lock ends (no Tick every second meanwhile).
  assert.equal(driver.machine.needsTick(driver.now), false);
  assert.equal(driver.machine.needsTick(start + 324 * second), false);
  assert.equal(driver.machine.needsTick(start + 325 * second), true);
  driver.now = start + 325 * second;
  assert.deepEqual(driver.receive("orders", 10, 30).map((message) => message.sequence), [2]);
  assert.equal(
    driver.machine.getQueue("orders", driver.now)!.oldestMessageAt,
    start + 250 * second,
  );
  const stale = driver.remove("orders", [head.receiptHandle]);
  assert.equal(stale.failures[0]?.gone, true);
});
