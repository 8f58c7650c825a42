/**
 * What a receive on a FIFO queue could take between applies (`receivableCount`, `hasReceivable`:
 * the long polls' wake-ups): a delay or lock that ended counts only when it opens its group.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";

Deno.test("a FIFO message whose delay ended behind its group's message in flight is not receivable", () => {
  const driver = new MachineDriver();
  driver.create("orders", { fifo: true });
  const start = driver.now;
  driver.send("orders", [{ groupId: "g" }, { groupId: "g", delaySeconds: 5 }]);
  assert.equal(driver.receive("orders", 10, 60).length, 1); // the first, locked for 60 s
  const machine = driver.machine;
  // At 6 s the second one's delay ended, but it waits behind the first (in flight).
  const at6 = start + 6_000;
  assert.equal(machine.receivableCount("orders", at6, 10), 0);
  assert.equal(machine.hasReceivable("orders", at6), false);
  // At 61 s the lock ended: the first is receivable again (one group, one message).
  const at61 = start + 61_000;
  assert.equal(machine.receivableCount("orders", at61, 10), 1);
  assert.equal(machine.hasReceivable("orders", at61), true);
});

Deno.test("a FIFO group whose delayed head's delay ended counts once, and a group already counted not again", () => {
  const driver = new MachineDriver();
  driver.create("orders", { fifo: true });
  const start = driver.now;
  driver.send("orders", [
    { groupId: "a", delaySeconds: 5 },
    { groupId: "a", delaySeconds: 5 },
    { groupId: "b" },
    { groupId: "b", delaySeconds: 5 },
  ]);
  const machine = driver.machine;
  assert.equal(machine.receivableCount("orders", start, 10), 1); // b's head
  // At 6 s: a's head opens a (its second waits behind it); b was open already.
  assert.equal(machine.receivableCount("orders", start + 6_000, 10), 2);
  assert.equal(machine.receivableCount("orders", start + 6_000, 1), 1);
});
