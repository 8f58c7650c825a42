/**
 * One receive answers at most 64 MiB of bodies (`messageLimits.receiveBodyBytesMax`): the leader
 * cuts `maxMessages` to it at the queue's `maxMessageBytes` when it writes the receive, and the
 * receive's newer layouts (ReceiveBatch 4, SendReceive 5) keep to it again when applied. So a
 * queue whose `maxMessageBytes` was raised after the receive was written, lowered below messages
 * it already held, or that took messages from a queue of larger ones (dead-lettered, redriven)
 * still answers at most 64 MiB. The earlier layouts keep their earlier meaning.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import { encodeReceiveBatch, encodeSendReceive, encodeUpdateQueue } from "./commands.ts";
import type { ReceiveResult } from "./state_machine.ts";
import type { SendReceiveResult } from "./command_results.ts";
import { StateMachine } from "./state_machine.ts";
import { NewerReleaseError } from "./release.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

function update(driver: MachineDriver, queue: string, attributes: QueueAttributesInput): void {
  const payload = encodeUpdateQueue({ queue, attributes });
  driver.apply(CommandType.UpdateQueueBarringDeleted, payload);
}

function receiveOf(maxMessages: number): Uint8Array {
  return encodeReceiveBatch({
    queue: "jobs",
    maxMessages,
    visibilityTimeoutSeconds: 0,
    deleteHandles: [],
  });
}

function inLayout(payload: Uint8Array, version: number): Uint8Array {
  const copy = payload.slice();
  copy[0] = version;
  return copy;
}

function hundred(driver: MachineDriver, queue = "jobs"): void {
  driver.send(queue, Array.from({ length: 100 }, () => ({})));
}

Deno.test("a receive written before maxMessageBytes was raised takes what one answer holds when it is applied", () => {
  for (const [layout, expected] of [[4, 64], [3, 100]]) {
    const driver = new MachineDriver();
    driver.create("jobs", { maxMessageBytes: 256 * KiB });
    // Written at 256 KiB: 256 messages fit. Before it is applied, the queue takes 1 MiB ones.
    const receive = inLayout(receiveOf(256), layout);
    driver.now += 1_000;
    update(driver, "jobs", { maxMessageBytes: MiB });
    driver.now += 1_000;
    hundred(driver);
    const { messages } = driver.apply(CommandType.ReceiveBatch, receive) as ReceiveResult;
    assert.equal(messages.length, expected, `layout ${layout}`);
  }
});

Deno.test("a SendReceive's receives written before maxMessageBytes was raised take what one answer holds", () => {
  const driver = new MachineDriver();
  driver.create("jobs", { maxMessageBytes: 256 * KiB });
  driver.now += 1_000;
  update(driver, "jobs", { maxMessageBytes: MiB });
  driver.now += 1_000;
  hundred(driver);
  const payload = encodeSendReceive({
    queue: "jobs",
    messages: [{ body: "x", delaySeconds: 0 }, { body: "y", delaySeconds: 0 }],
    receives: [{ maxMessages: 256, visibilityTimeoutSeconds: 0 }, {
      maxMessages: 256,
      visibilityTimeoutSeconds: 0,
    }],
  });
  const restored = StateMachine.restore(driver.machine.snapshot());
  const result = driver.apply(CommandType.SendReceive, payload) as SendReceiveResult;
  assert.deepEqual(result.receives.map((receive) => receive.messages.length), [64, 38]);
  // The earlier layout 4: as many as the receive was written for.
  const entry = {
    index: driver.machine.appliedIndex,
    timestamp: driver.now,
    type: CommandType.SendReceive,
    payload: inLayout(payload, 4),
  };
  const earlier = restored.apply(entry) as SendReceiveResult;

  assert.deepEqual(earlier.receives.map((receive) => receive.messages.length), [102, 0]);
});

Deno.test("messages sent before maxMessageBytes was lowered count at the largest body a queue takes", () => {
  const driver = new MachineDriver();
  driver.create("jobs", { maxMessageBytes: MiB });
  hundred(driver);
  driver.now += 1_000;
  update(driver, "jobs", { maxMessageBytes: KiB });
  driver.now += 1_000;
  hundred(driver); // these are at most 1 KiB
  const receive = (max: number) =>
    (driver.apply(CommandType.ReceiveBatch, receiveOf(max)) as ReceiveResult).messages.length;
  assert.equal(receive(256), 64);
  assert.equal(receive(256), 36 + 100);
});

Deno.test("messages moved in from a queue of larger ones count at the largest body a queue takes", () => {
  const driver = new MachineDriver();
  driver.create("jobs", { maxMessageBytes: KiB });
  driver.create("work", {
    maxMessageBytes: MiB,
    deadLetter: { queue: "jobs", maxReceiveCount: 1 },
  });
  const take = (queue: string) => {
    const payload = encodeReceiveBatch({
      queue,
      maxMessages: 256,
      visibilityTimeoutSeconds: 1,
      deleteHandles: [],
    });
    return (driver.apply(CommandType.ReceiveBatch, payload) as ReceiveResult).messages.length;
  };
  // Twice: 64 received (1 MiB: one answer holds 64), then moved to the dead-letter queue.
  for (let round = 0; round < 2; round++) {
    driver.send("work", Array.from({ length: 64 }, () => ({})));
    assert.equal(take("work"), 64);
    driver.now += 2_000;
    assert.equal(take("work"), 0);
  }
  assert.equal(driver.machine.getQueue("jobs", driver.now)!.activeMessages, 128);
  // At 1 KiB, 256 would fit; these may be up to 1 MiB.
  const { messages } = driver.apply(CommandType.ReceiveBatch, receiveOf(256)) as ReceiveResult;
  assert.equal(messages.length, 64);
});

Deno.test("the bounded layouts are the ones written; a release that does not know them refuses them", () => {
  const sendReceive = encodeSendReceive({
    queue: "jobs",
    messages: [{ body: "x", delaySeconds: 0 }],
    receives: [{ maxMessages: 1, visibilityTimeoutSeconds: 0 }],
  });
  assert.deepEqual([receiveOf(1)[0], sendReceive[0]], [4, 5], "the layouts written");
  // The previous release read ReceiveBatch up to layout 3 and SendReceive up to 4, as this one
  // reads the layouts above its own.
  const driver = new MachineDriver();
  driver.create("jobs", {});
  for (
    const [type, payload] of [[CommandType.ReceiveBatch, receiveOf(1)], [
      CommandType.SendReceive,
      sendReceive,
    ]] as const
  ) {
    assert.throws(() => driver.apply(type, inLayout(payload, payload[0] + 1)), NewerReleaseError);
  }
});
