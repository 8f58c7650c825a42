/**
 * Before every receive the queue forgets the deleted messages at its head. With thousands of
 * messages in flight and the head deleted a few at a time (a consumer acknowledging in order),
 * that work must follow the messages forgotten, not every message in flight: it runs on every
 * replica's apply path. These tests count steps over the engine's maps (never time) and check
 * the queue answers as a restored copy does.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { countCalls } from "./_count_calls.ts";
import { MachineDriver } from "./_machine_driver.ts";

/** The prototype whose `next` every step over a Map's keys, values or entries calls. */
const mapIterator = Object.getPrototypeOf(new Map().entries()) as { next(): unknown };

/** Receives until the queue answers nothing, 250 at a time. */
function receiveAll(driver: MachineDriver, seconds: number) {
  const all = [];
  for (let batch = driver.receive("work", 250, seconds); batch.length > 0;) {
    all.push(...batch);
    batch = driver.receive("work", 250, seconds);
  }
  return all;
}

Deno.test("forgetting the deleted head costs steps for the messages forgotten, not for those in flight", () => {
  const driver = new MachineDriver();
  driver.create("work", {});
  for (let first = 0; first < 20_000; first += 250) {
    driver.send("work", Array.from({ length: 250 }, () => ({})));
  }
  const received = receiveAll(driver, 600);
  assert.equal(received.length, 20_000);
  let steps = 0;
  for (let round = 0; round < 10; round++) {
    driver.remove("work", received.slice(round * 10, round * 10 + 10).map((m) => m.receiptHandle));
    driver.now += 1;
    // The receive runs the queue's housekeeping first: 10 more deleted messages at the head.
    steps += countCalls(mapIterator, "next", () => {
      assert.equal(driver.receive("work", 1, 600).length, 0);
    });
  }
  assert.ok(steps <= 1_000, `${steps} map steps to forget 100 messages with 19,900 in flight`);
  // The same state as a restore derives it: the locks still hold, the rest come back in order.
  const copy = new MachineDriver();
  copy.machine = StateMachine.restore(driver.machine.snapshot());
  copy.now = driver.now;
  for (const replica of [driver, copy]) replica.now += 601_000;
  const [ids, copied] = [driver, copy].map((replica) =>
    receiveAll(replica, 60).map((message) => message.id)
  );
  assert.equal(ids.length, 19_900);
  assert.deepEqual(copied, ids);
  assert.deepEqual(ids.slice(0, 3), received.slice(100, 103).map((m) => m.id));
});
