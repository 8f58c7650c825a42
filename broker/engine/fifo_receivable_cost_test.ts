/**
 * What a receive on a FIFO queue could take between applies (`receivableCount`, `hasReceivable`)
 * is asked by the long polls after every apply and on every lock's end: its work must stay
 * bounded however many release-heap entries were left behind (purged, deleted or re-locked
 * messages) until the next apply pops them. These tests count steps over the engine's maps
 * (never time).
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { countCalls } from "./_count_calls.ts";

/** A FIFO queue "orders" whose 20,000 messages (one group each) were deleted while locked 5 s. */
function deletedInFlight(): { driver: MachineDriver; start: number } {
  const driver = new MachineDriver();
  driver.create("orders", { fifo: true });
  const start = driver.now;
  for (let first = 0; first < 20_000; first += 250) {
    driver.send("orders", Array.from({ length: 250 }, (_, at) => ({ groupId: `g${first + at}` })));
  }
  const handles: string[] = [];
  for (let batch = driver.receive("orders", 250, 5); batch.length > 0;) {
    handles.push(...batch.map((message) => message.receiptHandle));
    batch = driver.receive("orders", 250, 5);
  }
  assert.equal(handles.length, 20_000);
  for (let first = 0; first < handles.length; first += 250) {
    assert.equal(driver.remove("orders", handles.slice(first, first + 250)).deleted, 250);
  }
  return { driver, start };
}

Deno.test("a FIFO count's scan is bounded by the heap entries it visits, stale ones included", () => {
  const { driver, start } = deletedInFlight();
  const machine = driver.machine;
  const after = start + 6_000; // the 20,000 stale entries are all due, none opens a group
  let count = -1;
  let has = true;
  const steps = countCalls(Map.prototype, "get", () => {
    count = machine.receivableCount("orders", after, 10);
    has = machine.hasReceivable("orders", after);
  });
  assert.ok(steps <= 2_500, `${steps} map lookups to count past 20,000 stale entries`);
  // A scan that gives up answers "at least one": one receive may wake and find nothing.
  assert.ok(count <= 1, `count ${count}`);
  // That receive's apply pops the stale entries: the count is exact again, at no cost.
  driver.now = after;
  assert.equal(driver.receive("orders", 10, 30).length, 0);
  const cleared = countCalls(Map.prototype, "get", () => {
    count = machine.receivableCount("orders", after, 10);
    has = machine.hasReceivable("orders", after);
  });
  assert.equal(count, 0);
  assert.equal(has, false);
  assert.ok(cleared <= 20, `${cleared} map lookups on an empty queue`);
});
