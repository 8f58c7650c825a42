/**
 * What a rewind does to the messages around the ones it brings back, as the README's "Dead
 * letters, redrive, purge, rewind" describes it: the window counted from each send, the rewind
 * floor a change of `rewindSeconds` raises, messages in flight, a FIFO group's order,
 * `maxBacklog`, the dead-letter TTL.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import { encodeRewind, encodeTick, encodeUpdateQueue } from "./commands.ts";
import { MachineDriver } from "./_machine_driver.ts";

class Driver extends MachineDriver {
  rewindSequence(queue: string, sequence: number): { messages: number } | BrokerError {
    return this.apply(CommandType.Rewind, encodeRewind({ queue, sequence })) as
      | { messages: number }
      | BrokerError;
  }
  /** An update in the form the service proposes. */
  update(queue: string, attributes: QueueAttributesInput): void {
    const payload = encodeUpdateQueue({ queue, attributes });
    assert.deepEqual(this.apply(CommandType.UpdateQueueWithRewindFloor, payload), {
      updated: true,
      queue: this.view(queue),
    });
  }
  view(queue: string) {
    return this.machine.getQueue(queue, this.now)!;
  }
}

Deno.test("raising rewindSeconds from 0 brings back no message deleted before, even one still held behind an older one", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 0 });
  const start = driver.now;
  driver.send("work", [{ body: "stuck" }, { body: "done" }]);
  const [, done] = driver.receive("work", 2, 43_200);
  driver.remove("work", [done.receiptHandle]); // deleted while rewind is off
  driver.now += 3_600_000;
  driver.apply(CommandType.TickInGroupOrder, encodeTick());
  assert.equal(driver.view("work").rewindableMessages, 0);
  driver.update("work", { rewindSeconds: 7_200 });
  // (Still in the queue's memory, held behind 'stuck', and inside the new window by its send.)
  assert.equal(driver.view("work").rewindableMessages, 0);
  const none = driver.rewind("work", start);
  assert.deepEqual(none, { from: { timestamp: start, sequence: 3 }, messages: 0 });
  assert.ok(driver.rewindSequence("work", done.sequence) instanceof BrokerError);
  // What is deleted from now on is rewindable, for the new window.
  driver.send("work", [{ body: "later" }]);
  driver.remove("work", driver.receive("work", 1, 30).map((message) => message.receiptHandle));
  assert.equal(driver.view("work").rewindableMessages, 1);
  assert.deepEqual(driver.rewind("work", start), {
    from: { timestamp: driver.now, sequence: 3 },
    messages: 1,
  });
});

Deno.test("a message out of the smaller window stays out when rewindSeconds is lowered and raised again", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 3_600 });
  const start = driver.now;
  driver.send("work", [{ body: "stuck" }, { body: "b" }]);
  const [, b] = driver.receive("work", 2, 43_200);
  driver.remove("work", [b.receiptHandle]);
  driver.now = start + 570_000;
  driver.send("work", [{ body: "c" }]);
  const [c] = driver.receive("work", 1, 43_200);
  driver.remove("work", [c.receiptHandle]);
  assert.equal(driver.view("work").rewindableMessages, 2);
  driver.now = start + 600_000;
  driver.update("work", { rewindSeconds: 60 }); // b is out of the 60 s window, c is in it
  assert.equal(driver.view("work").rewindableMessages, 1);
  driver.now = start + 620_000;
  assert.deepEqual(driver.rewindSequence("work", c.sequence), {
    from: { timestamp: start + 570_000, sequence: c.sequence },
    messages: 1,
  });
  driver.remove("work", driver.receive("work", 1, 43_200).map((message) => message.receiptHandle));
  // c leaves the 60 s window at 630 s; raised at 1,200 s, neither b nor c comes back.
  driver.now = start + 1_200_000;
  driver.update("work", { rewindSeconds: 3_600 });
  assert.equal(driver.view("work").rewindableMessages, 0);
  for (const sequence of [b.sequence, c.sequence]) {
    const refused = driver.rewindSequence("work", sequence);
    assert.ok(refused instanceof BrokerError && refused.code === "InvalidParameter");
    assert.match(refused.message, /no message with this sequence inside the rewind window/);
  }
  assert.equal(driver.rewind("work", start).messages, 0);
});

/** Queue work, rewind 3,600 s: a, b sent at 0 s and c, d at 300 s, all deleted; at 330 s
 * lowered to 60 (the floor rises to c) and raised to 3,600 again. */
function flooredQueue(): { driver: Driver; start: number } {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 3_600 });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.now = start + 300_000;
  driver.send("work", [{ body: "c" }, { body: "d" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.now = start + 330_000;
  driver.update("work", { rewindSeconds: 60 });
  driver.update("work", { rewindSeconds: 3_600 });
  return { driver, start };
}

Deno.test("below the rewind floor, a rewind by sequence is refused and one by timestamp starts at the floor", () => {
  const { driver, start } = flooredQueue();
  assert.equal(driver.view("work").rewindableMessages, 2, "c and d; a and b are below the floor");
  const refused = driver.rewindSequence("work", 1);
  assert.ok(refused instanceof BrokerError && refused.code === "InvalidParameter");
  assert.match(refused.message, /no message with this sequence inside the rewind window/);
  assert.deepEqual(driver.rewind("work", start), {
    from: { timestamp: start + 300_000, sequence: 3 },
    messages: 2,
  });
  assert.deepEqual(driver.receive("work", 10, 30).map((message) => message.sequence), [3, 4]);
});

Deno.test("housekeeping forgets deleted messages below the rewind floor", () => {
  const { driver } = flooredQueue();
  const sendOfC = driver.machine.appliedIndex - 4; // then: receive, delete, two updates
  assert.ok(driver.machine.lowestReferencedIndex() < sendOfC);
  assert.equal(driver.machine.needsTick(driver.now), true);
  driver.apply(CommandType.TickInGroupOrder, encodeTick());
  assert.equal(driver.machine.lowestReferencedIndex(), sendOfC, "a and b are forgotten");
  assert.equal(driver.machine.needsTick(driver.now), false);
  assert.equal(driver.view("work").rewindableMessages, 2);
});

Deno.test("a snapshot keeps the rewind floor (version 3), and writes version 2 once it is moot", () => {
  const { driver, start } = flooredQueue();
  const bytes = driver.machine.snapshot();
  assert.equal(bytes[4], 3, "a floor above the queue's lowest message");
  const twin = StateMachine.restore(bytes);
  assert.deepEqual(twin.snapshot(), bytes);
  assert.deepEqual(twin.getQueue("work", driver.now), driver.view("work"));
  const entry = { index: driver.machine.appliedIndex + 1, timestamp: driver.now };
  const rewind = {
    type: CommandType.Rewind,
    payload: encodeRewind({ queue: "work", sequence: 1 }),
  };
  const refused = twin.apply({ ...entry, ...rewind });
  assert.ok(refused instanceof BrokerError && refused.code === "InvalidParameter");
  const tick = { type: CommandType.TickInGroupOrder, payload: encodeTick() };
  twin.apply({ ...entry, index: entry.index + 1, ...tick });
  assert.equal(twin.snapshot()[4], 2, "a and b are forgotten: the floor is the lowest message");
  assert.deepEqual(twin.getQueue("work", driver.now)!.rewindableMessages, 2);
  assert.equal(
    (twin.apply({ ...entry, index: entry.index + 2, ...rewind }) as BrokerError).code,
    "InvalidParameter",
  );
  const byTime = encodeRewind({ queue: "work", timestamp: start });
  const result = twin.apply({
    ...entry,
    index: entry.index + 3,
    type: CommandType.Rewind,
    payload: byTime,
  });
  assert.deepEqual(result, { from: { timestamp: start + 300_000, sequence: 3 }, messages: 2 });
});

Deno.test("a rewind leaves a message in flight as it is; on a FIFO queue its group's rewound head waits for it", () => {
  const driver = new Driver();
  driver.create("work", { fifo: true, rewindSeconds: 600 });
  const start = driver.now;
  driver.send("work", ["1", "2", "3"].map((body) => ({ body, groupId: "g" })));
  const [first] = driver.receive("work", 1, 30);
  driver.remove("work", [first.receiptHandle]);
  const [second] = driver.receive("work", 1, 30);
  assert.equal(driver.rewind("work", start).messages, 1);
  assert.deepEqual(driver.receive("work", 10, 30), [], "the group has a message in flight");
  assert.equal(driver.view("work").inflightMessages, 1);
  driver.now += 31_000; // the lock ends: the rewound head comes first, then the one in flight
  const [again] = driver.receive("work", 10, 30);
  assert.deepEqual([again.sequence, again.receiveCount], [first.sequence, 1]);
  driver.remove("work", [again.receiptHandle]);
  const [next] = driver.receive("work", 10, 30);
  assert.deepEqual([next.sequence, next.receiveCount], [second.sequence, 2]);
  // On a standard queue a lock held across a rewind still deletes its message.
  driver.create("plain", { rewindSeconds: 600 });
  driver.send("plain", [{ body: "a" }, { body: "b" }]);
  const [a, b] = driver.receive("plain", 2, 30);
  driver.remove("plain", [a.receiptHandle]);
  assert.equal(driver.rewind("plain", start).messages, 1);
  assert.deepEqual(driver.remove("plain", [b.receiptHandle]), { deleted: 1, failures: [] });
});

Deno.test("a rewind is not refused by maxBacklog; sends are until the queue is below it again", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 600, maxBacklog: 2 });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.send("work", [{ body: "c" }, { body: "d" }]);
  assert.equal(driver.rewind("work", start).messages, 2);
  assert.equal(driver.view("work").activeMessages, 4);
  const refused = driver.send("work", [{ body: "e" }]);
  assert.ok(refused instanceof BrokerError && refused.code === "BacklogFull");
});

Deno.test("rewound messages older than the dead-letter TTL move to the dead-letter queue at the next receive", () => {
  const driver = new Driver();
  driver.create("dlq", {});
  const policy = { queue: "dlq", maxTimeToLiveSeconds: 300 };
  driver.create("work", { rewindSeconds: 3_600, deadLetter: policy });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.now += 400_000;
  assert.equal(driver.rewind("work", start).messages, 2);
  assert.deepEqual(driver.receive("work", 10, 30), []);
  assert.equal(driver.view("dlq").activeMessages, 2);
  // Without the TTL, a rewind replays them.
  const update = encodeUpdateQueue({ queue: "work", attributes: { deadLetter: null } });
  driver.apply(CommandType.UpdateQueue, update);
  driver.send("work", [{ body: "c" }]);
  driver.remove("work", driver.receive("work", 1, 30).map((message) => message.receiptHandle));
  assert.equal(driver.rewind("work", start).messages, 3);
  assert.equal(driver.receive("work", 10, 30).length, 3);
});
