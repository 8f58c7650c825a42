/**
 * A redrive runs the queue's housekeeping first (RedriveAfterHousekeeping): a message past the
 * queue's retention is dropped, not moved out with a new send time (where its retention would
 * start again). The earlier forms (Redrive, RedriveOfCreated, RedriveInGroupOrder) keep their
 * meaning: they move what no Tick has expired yet.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { CommandType, commandTypes } from "./types.ts";
import { encodeRedrive } from "./commands.ts";
import { StateMachine } from "./state_machine.ts";
import { NewerReleaseError } from "./release.ts";

/** "dlq" (retention 300 s) holds a1 (sent at the start) and a2 (sent at 200 s); now 310 s. */
function expiredInDlq(fifo: boolean): { driver: MachineDriver; start: number } {
  const driver = new MachineDriver();
  driver.create("dlq", { fifo, retentionSeconds: 300 });
  driver.create("work", { fifo, deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
  const start = driver.now;
  driver.send("dlq", [{ body: "a1", groupId: fifo ? "g" : undefined }]);
  driver.now = start + 200_000;
  driver.send("dlq", [{ body: "a2", groupId: fifo ? "g" : undefined }]);
  driver.now = start + 310_000;
  return { driver, start };
}

const redriveTypes = [
  CommandType.Redrive,
  CommandType.RedriveOfCreated,
  CommandType.RedriveInGroupOrder,
  CommandType.RedriveAfterHousekeeping,
];

for (const fifo of [false, true]) {
  Deno.test(`RedriveAfterHousekeeping drops what retention expired instead of moving it (fifo ${fifo}); the earlier forms move it, as before`, () => {
    for (const type of redriveTypes) {
      const { driver, start } = expiredInDlq(fifo);
      const createdAt = driver.machine.getQueue("dlq", driver.now)!.createdAt;
      const payload = encodeRedrive({
        queue: "dlq",
        destination: "work",
        maxMessages: 10,
        ifCreatedAt: type === CommandType.Redrive ? undefined : createdAt,
      });
      const restored = StateMachine.restore(driver.machine.snapshot());
      const result = driver.apply(type, payload);
      const housekeeps = type === CommandType.RedriveAfterHousekeeping;
      const context = `type ${type}`;
      assert.deepEqual(result, { moved: housekeeps ? 1 : 2 }, context);
      const work = driver.machine.getQueue("work", driver.now)!;
      assert.equal(work.activeMessages, housekeeps ? 1 : 2, context);
      // Moved messages start their retention in "work" at the move, expired or not.
      assert.equal(work.oldestMessageAt, start + 310_000, context);
      assert.equal(driver.machine.getQueue("dlq", driver.now)!.oldestMessageAt, null, context);
      // A restored replica applies the entry the same way.
      restored.apply({ index: driver.machine.appliedIndex, timestamp: driver.now, type, payload });
      assert.deepEqual(restored.snapshot(), driver.machine.snapshot(), `${context}: restored`);
    }
  });
}

Deno.test("RedriveAfterHousekeeping is refused by a release that doesn't know it, and refuses a queue created again before it housekeeps", () => {
  const { driver, start } = expiredInDlq(false);
  const payload = encodeRedrive({ queue: "dlq", destination: "work", maxMessages: 10 });
  const earlier = new StateMachine({
    commandTypes: new Set(
      [...commandTypes].filter((type) => type !== CommandType.RedriveAfterHousekeeping),
    ),
  });
  earlier.loadSnapshot(driver.machine.snapshot());
  const entry = {
    index: driver.machine.appliedIndex + 1,
    timestamp: driver.now,
    type: CommandType.RedriveAfterHousekeeping,
    payload,
  };
  assert.throws(() => earlier.apply(entry), NewerReleaseError);
  // ifCreatedAt of another incarnation: QueueNotFound, and nothing changed (not even expiry);
  // a destination that does not fit: InvalidParameter, the same.
  const stale = { queue: "dlq", destination: "work", maxMessages: 10, ifCreatedAt: 1 };
  const self = { queue: "dlq", destination: "dlq", maxMessages: 10 };
  for (const [command, code] of [[stale, "QueueNotFound"], [self, "InvalidParameter"]] as const) {
    const refused = driver.apply(CommandType.RedriveAfterHousekeeping, encodeRedrive(command));
    assert.equal((refused as { code: string }).code, code);
    assert.equal(driver.machine.getQueue("dlq", driver.now)!.oldestMessageAt, start, code);
    assert.equal(driver.machine.getQueue("dlq", driver.now)!.activeMessages, 2, code);
  }
});
