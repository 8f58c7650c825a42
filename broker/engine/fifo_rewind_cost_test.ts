/**
 * A rewind runs in the apply path of every replica: on a FIFO queue its work must follow the
 * messages it brings back, not every message the queue retains. These tests count operations
 * (never time) on the group columns, and check that the groups end as a restore derives them.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { SeqColumn } from "./seq_column.ts";
import { countCalls } from "./_count_calls.ts";
import { MachineDriver } from "./_machine_driver.ts";

Deno.test("a rewind of a FIFO queue reads the group columns for the messages it brings back, not for the backlog", () => {
  const driver = new MachineDriver();
  driver.create("work", { fifo: true, rewindSeconds: 3_600 });
  // A backlog of 20,000 messages in 100 groups nobody has read yet.
  for (let first = 0; first < 20_000; first += 100) {
    driver.send(
      "work",
      Array.from({ length: 100 }, (_, index) => ({
        body: "x",
        delaySeconds: 0,
        groupId: `g${(first + index) % 100}`,
      })),
    );
  }
  // Later, 10 messages of group 'late', each read and deleted while the other groups' heads
  // stay in flight.
  driver.now += 60_000;
  const rewindTo = driver.now;
  driver.send(
    "work",
    Array.from({ length: 10 }, () => ({ body: "y", delaySeconds: 0, groupId: "late" })),
  );
  for (let round = 0; round < 10; round++) {
    const received = driver.receive("work", 101, 60);
    assert.equal(received.length, round === 0 ? 101 : 1);
    driver.remove("work", [received[received.length - 1].receiptHandle]);
  }
  let result: unknown;
  const reads = countCalls(SeqColumn.prototype, "get", () => {
    result = driver.rewind("work", rewindTo);
  });
  assert.deepEqual((result as { messages: number }).messages, 10);
  assert.ok(reads <= 100, `${reads} column reads for a rewind of 10 messages`);
  // The groups are as a restore derives them: both answer the same receives from here on.
  const copy = new MachineDriver();
  copy.machine = StateMachine.restore(driver.machine.snapshot());
  copy.now = driver.now;
  for (let round = 0; round < 4; round++) {
    for (const replica of [driver, copy]) replica.now += 61_000;
    const ids = [driver, copy].map((replica) => {
      const received = replica.receive("work", 101, 60);
      // Every other one deleted; the rest come back when their locks end.
      replica.remove(
        "work",
        received.filter((_, at) => at % 2 === 0).map((message) => message.receiptHandle),
      );
      return received.map((message) => message.id);
    });
    assert.equal(ids[0].length, 101);
    assert.deepEqual(ids[1], ids[0], `round ${round}`);
  }
  assert.deepEqual(copy.machine.snapshot(), driver.machine.snapshot());
});
