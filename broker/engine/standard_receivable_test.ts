/**
 * What a receive on a standard queue could take between applies (`receivableCount`,
 * `hasReceivable`: the long polls' wake-ups): a lock or delay that ended counts once, and only
 * while its message is still in the queue with that lock; a lock that was deleted, changed or
 * ended early (its heap entry left behind until the next apply releases it) counts nothing.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { CommandType } from "./types.ts";
import { encodeChangeVisibility, encodeQueueCommand } from "./commands.ts";
import { receiptHandleToBytes } from "./receipt.ts";

function changeVisibility(driver: MachineDriver, handle: string, seconds: number): void {
  const payload = encodeChangeVisibility({
    queue: "jobs",
    entries: [{ handle: receiptHandleToBytes(handle), visibilityTimeoutSeconds: seconds }],
  });
  driver.apply(CommandType.ChangeVisibility, payload);
}

Deno.test("messages deleted while in flight are not receivable once their old lock ends", () => {
  const driver = new MachineDriver();
  driver.create("jobs", {});
  const start = driver.now;
  driver.send("jobs", [{}, {}, {}]);
  const handles = driver.receive("jobs", 10, 30).map((message) => message.receiptHandle);
  driver.remove("jobs", handles);
  const machine = driver.machine;
  const after = start + 31_000; // the deleted messages' locks would have ended
  assert.equal(machine.getQueue("jobs", after)!.activeMessages, 0);
  assert.equal(machine.receivableCount("jobs", after, 10), 0);
  assert.equal(machine.hasReceivable("jobs", after), false);
});

Deno.test("a lock changed, or ended early, counts once: as it is now, not as it was", () => {
  const driver = new MachineDriver();
  driver.create("jobs", {});
  const start = driver.now;
  driver.send("jobs", [{}, {}]);
  const [early, longer] = driver.receive("jobs", 10, 30).map((message) => message.receiptHandle);
  changeVisibility(driver, early, 0); // visible again now
  changeVisibility(driver, longer, 60); // locked until 60 s
  const machine = driver.machine;
  const after = start + 31_000;
  assert.equal(machine.getQueue("jobs", after)!.activeMessages, 1);
  assert.equal(machine.receivableCount("jobs", after, 10), 1);
  assert.equal(machine.receivableCount("jobs", start + 61_000, 10), 2);
});

Deno.test("a purge or a delayed message's deletion leaves nothing receivable behind", () => {
  const driver = new MachineDriver();
  driver.create("jobs", {});
  const start = driver.now;
  driver.send("jobs", [{ delaySeconds: 5 }]);
  driver.receive("jobs", 10, 30); // nothing visible yet
  driver.send("jobs", [{}]);
  driver.receive("jobs", 10, 30); // the second, locked until 30 s
  driver.apply(CommandType.Purge, encodeQueueCommand({ queue: "jobs" }));
  driver.send("jobs", [{ delaySeconds: 40 }]);
  const machine = driver.machine;
  for (const at of [start + 6_000, start + 31_000]) {
    assert.equal(machine.receivableCount("jobs", at, 10), 0);
    assert.equal(machine.hasReceivable("jobs", at), false);
  }
  assert.equal(machine.receivableCount("jobs", start + 41_000, 10), 1);
});
