/**
 * The dead-letter TTL counts from a message's send, as retention does, whatever its delay: a
 * message still delayed when it passes the TTL moves too (only one in flight waits, for its
 * lock). Pinned here because a change (counting from the end of the delay, say) changes what
 * a Tick or a receive applied does, so it needs new entry forms (README, Upgrading).
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { CommandType } from "./types.ts";
import { encodeTick } from "./commands.ts";

for (const fifo of [false, true]) {
  Deno.test(`the dead-letter TTL moves a message still delayed once it is older than the TTL (fifo ${fifo})`, () => {
    const driver = new MachineDriver();
    driver.create("dlq", { fifo });
    driver.create("work", { fifo, deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 } });
    const start = driver.now;
    const groupId = fifo ? "g" : undefined;
    driver.send("work", [{ body: "late", delaySeconds: 600, groupId }]);
    driver.send("work", [{ body: "soon", delaySeconds: 100, groupId: fifo ? "h" : undefined }]);
    driver.now = start + 299_000;
    driver.apply(CommandType.TickKeepingLocks, encodeTick());
    assert.equal(driver.machine.getQueue("work", driver.now)!.delayedMessages, 1);
    driver.now = start + 301_000;
    driver.apply(CommandType.TickKeepingLocks, encodeTick());
    const work = driver.machine.getQueue("work", driver.now)!;
    assert.deepEqual([work.delayedMessages, work.activeMessages], [0, 0]);
    const dlq = driver.machine.getQueue("dlq", driver.now)!;
    assert.equal(dlq.activeMessages, 2);
    assert.equal(dlq.oldestMessageAt, start + 301_000);
  });
}
