/**
 * What a rewind does to the messages around the ones it brings back, as the README's "Dead
 * letters, redrive, purge, rewind" describes it: the window counted from each send, the messages
 * a change of `rewindSeconds` bars from rewinds (the service's UpdateQueueBarringDeleted; the
 * earlier UpdateQueueWithRewindFloor's floor where it behaves alike or differs), messages in
 * flight, a FIFO group's order, `maxBacklog`, the dead-letter TTL.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import { encodeRewind, encodeTick, encodeUpdateQueue } from "./commands.ts";
import { MachineDriver } from "./_machine_driver.ts";

/** The two update forms that close the rewind window: the service's, and the earlier one. */
const barring = CommandType.UpdateQueueBarringDeleted;
const flooring = CommandType.UpdateQueueWithRewindFloor;

class Driver extends MachineDriver {
  constructor(readonly form: number = barring) {
    super();
  }
  rewindSequence(queue: string, sequence: number): { messages: number } | BrokerError {
    return this.apply(CommandType.Rewind, encodeRewind({ queue, sequence })) as
      | { messages: number }
      | BrokerError;
  }
  /** An update in the driver's form (by default the one the service proposes). */
  update(queue: string, attributes: QueueAttributesInput): void {
    const payload = encodeUpdateQueue({ queue, attributes });
    assert.deepEqual(this.apply(this.form, payload), {
      updated: true,
      queue: this.view(queue),
    });
  }
  view(queue: string) {
    return this.machine.getQueue(queue, this.now)!;
  }
  /** Receives up to `max` and deletes them; returns their sequences. */
  consume(queue: string, max: number): number[] {
    const messages = this.receive(queue, max, 30);
    this.remove(queue, messages.map((message) => message.receiptHandle));
    return messages.map((message) => message.sequence);
  }
}

function assertRefused(result: unknown): void {
  assert.ok(result instanceof BrokerError && result.code === "InvalidParameter");
  assert.match(result.message, /no message with this sequence inside the rewind window/);
}

Deno.test("raising rewindSeconds from 0 brings back no message deleted before, even one still held behind an older one", () => {
  for (const form of [barring, flooring]) {
    const driver = new Driver(form);
    driver.create("work", { rewindSeconds: 0 });
    const start = driver.now;
    driver.send("work", [{ body: "stuck" }, { body: "done" }]);
    const [stuck, done] = driver.receive("work", 2, 43_200);
    driver.remove("work", [done.receiptHandle]); // deleted while rewind is off
    driver.now += 3_600_000;
    driver.apply(CommandType.TickInGroupOrder, encodeTick());
    assert.equal(driver.view("work").rewindableMessages, 0);
    driver.update("work", { rewindSeconds: 7_200 });
    // (Still in the queue's memory, held behind 'stuck', and inside the new window by its send.)
    assert.equal(driver.view("work").rewindableMessages, 0);
    // The floor starts a rewind at the queue's end; with 'done' barred, it starts at 'stuck',
    // still in the queue (in flight).
    const from = form === barring ? stuck.sequence : 3;
    const none = driver.rewind("work", start);
    assert.deepEqual(none, { from: { timestamp: start, sequence: from }, messages: 0 });
    assertRefused(driver.rewindSequence("work", done.sequence));
    // What is deleted from now on is rewindable, for the new window.
    driver.send("work", [{ body: "later" }]);
    assert.deepEqual(driver.consume("work", 1), [3]);
    assert.equal(driver.view("work").rewindableMessages, 1);
    assert.deepEqual(driver.rewind("work", start), {
      from: form === barring
        ? { timestamp: start, sequence: from }
        : { timestamp: driver.now, sequence: 3 },
      messages: 1,
    });
  }
});

Deno.test("turning rewind on over a backlog: its messages are rewindable once deleted (the earlier form's floor kept them out)", () => {
  for (const form of [barring, flooring]) {
    const driver = new Driver(form);
    driver.create("work", { rewindSeconds: 0 });
    const start = driver.now;
    driver.send("work", [{ body: "old" }]);
    driver.consume("work", 1); // deleted while rewind is off: never comes back
    driver.send("work", [{ body: "a" }, { body: "b" }]); // the backlog
    driver.now += 1_000;
    driver.update("work", { rewindSeconds: 3_600 });
    driver.now += 1_000;
    assert.deepEqual(driver.consume("work", 2), [2, 3]);
    const expected = form === barring ? 2 : 0;
    assert.equal(driver.view("work").rewindableMessages, expected, `form ${form}`);
    assert.equal(driver.rewind("work", start).messages, expected, `form ${form}`);
    if (form === barring) {
      assert.deepEqual(driver.consume("work", 10), [2, 3], "in send order, 'old' not among them");
      assert.equal((driver.rewindSequence("work", 2 /* a */) as { messages: number }).messages, 2);
      assertRefused(driver.rewindSequence("work", 1 /* old */));
    } else {
      assertRefused(driver.rewindSequence("work", 2));
    }
  }
});

Deno.test("lowering and raising rewindSeconds bars what was deleted then, not a message still in the queue", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 3_600 });
  const start = driver.now;
  driver.send("work", [{ body: "gone" }, { body: "waiting" }]);
  driver.consume("work", 1); // 'gone', deleted; 'waiting' stays in the queue
  driver.now += 100_000;
  driver.update("work", { rewindSeconds: 60 }); // both were sent before the 60 s window
  driver.update("work", { rewindSeconds: 3_600 });
  assert.deepEqual(driver.consume("work", 1), [2]);
  assert.equal(driver.view("work").rewindableMessages, 1);
  assert.deepEqual(driver.rewind("work", start), {
    from: { timestamp: start, sequence: 2 },
    messages: 1,
  });
  assert.deepEqual(driver.consume("work", 10), [2]);
  assertRefused(driver.rewindSequence("work", 1));
});

Deno.test("a FIFO rewind passes over barred messages between the ones it brings back, in group order", () => {
  const driver = new Driver();
  driver.create("work", { fifo: true, rewindSeconds: 0 });
  const start = driver.now;
  driver.send("work", [{ body: "1", groupId: "g" }, { body: "2", groupId: "h" }]);
  assert.deepEqual(driver.receive("work", 1, 30).map((message) => message.sequence), [1]);
  driver.remove("work", [driver.receive("work", 1, 30)[0].receiptHandle]); // 2 (h), deleted
  driver.send("work", [{ body: "3", groupId: "h" }, { body: "4", groupId: "g" }]);
  driver.update("work", { rewindSeconds: 600 }); // bars 2; 1 is in flight, 3 and 4 queued
  driver.now += 31_000; // 1's lock ends
  assert.deepEqual(driver.consume("work", 10), [1, 3]);
  assert.deepEqual(driver.consume("work", 10), [4]);
  assert.equal(driver.view("work").rewindableMessages, 3);
  assert.deepEqual(driver.rewind("work", start).messages, 3);
  const first = driver.receive("work", 10, 30).map((message) => message.sequence);
  assert.deepEqual(first, [1, 3], "each group's first; 2 stays deleted");
  assert.deepEqual(driver.view("work").inflightMessages, 2);
  assert.equal(driver.view("work").activeMessages, 1, "4 waits behind 1 in g");
});

/** Queue work, rewind 3,600 s: a, b sent at 0 s and c, d at 300 s, all deleted; at 330 s
 * lowered to 60 (a and b barred, or the floor raised to c) and raised to 3,600 again. */
function flooredQueue(form: number): { driver: Driver; start: number } {
  const driver = new Driver(form);
  driver.create("work", { rewindSeconds: 3_600 });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.consume("work", 2);
  driver.now = start + 300_000;
  driver.send("work", [{ body: "c" }, { body: "d" }]);
  driver.consume("work", 2);
  driver.now = start + 330_000;
  driver.update("work", { rewindSeconds: 60 });
  driver.update("work", { rewindSeconds: 3_600 });
  return { driver, start };
}

Deno.test("out of the smaller window, a rewind by sequence is refused and one by timestamp starts after", () => {
  for (const form of [barring, flooring]) {
    const { driver, start } = flooredQueue(form);
    assert.equal(driver.view("work").rewindableMessages, 2, "c and d; a and b are out");
    assertRefused(driver.rewindSequence("work", 1));
    assert.deepEqual(driver.rewind("work", start), {
      from: { timestamp: start + 300_000, sequence: 3 },
      messages: 2,
    });
    assert.deepEqual(driver.receive("work", 10, 30).map((message) => message.sequence), [3, 4]);
  }
});

Deno.test("housekeeping forgets deleted messages out of the smaller window", () => {
  for (const form of [barring, flooring]) {
    const { driver } = flooredQueue(form);
    const sendOfC = driver.machine.appliedIndex - 4; // then: receive, delete, two updates
    assert.ok(driver.machine.lowestReferencedIndex() < sendOfC);
    assert.equal(driver.machine.needsTick(driver.now), true);
    driver.apply(CommandType.TickInGroupOrder, encodeTick());
    assert.equal(driver.machine.lowestReferencedIndex(), sendOfC, "a and b are forgotten");
    assert.equal(driver.machine.needsTick(driver.now), false);
    assert.equal(driver.view("work").rewindableMessages, 2);
  }
});

Deno.test("a snapshot keeps the barred messages (version 4) or the floor (version 3), and writes version 2 once moot", () => {
  for (const [form, version] of [[barring, 4], [flooring, 3]]) {
    const { driver, start } = flooredQueue(form);
    const bytes = driver.machine.snapshot();
    assert.equal(bytes[4], version, "messages out of the window still retained");
    const twin = StateMachine.restore(bytes);
    assert.deepEqual(twin.snapshot(), bytes);
    assert.deepEqual(twin.getQueue("work", driver.now), driver.view("work"));
    const entry = { index: driver.machine.appliedIndex + 1, timestamp: driver.now };
    const rewind = {
      type: CommandType.Rewind,
      payload: encodeRewind({ queue: "work", sequence: 1 }),
    };
    assertRefused(twin.apply({ ...entry, ...rewind }));
    const tick = { type: CommandType.TickInGroupOrder, payload: encodeTick() };
    twin.apply({ ...entry, index: entry.index + 1, ...tick });
    assert.equal(twin.snapshot()[4], 2, "a and b are forgotten: nothing out is retained");
    assert.deepEqual(twin.getQueue("work", driver.now)!.rewindableMessages, 2);
    assertRefused(twin.apply({ ...entry, index: entry.index + 2, ...rewind }));
    const byTime = encodeRewind({ queue: "work", timestamp: start });
    const result = twin.apply({
      ...entry,
      index: entry.index + 3,
      type: CommandType.Rewind,
      payload: byTime,
    });
    assert.deepEqual(result, { from: { timestamp: start + 300_000, sequence: 3 }, messages: 2 });
  }
});

Deno.test("barred messages behind one still in the queue: a restored replica answers every later entry alike", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 0 });
  const start = driver.now;
  driver.send("work", ["a", "b", "c", "d", "e"].map((body) => ({ body })));
  const [a, b, , d] = driver.receive("work", 5, 43_200);
  driver.remove("work", [b.receiptHandle, d.receiptHandle]);
  driver.update("work", { rewindSeconds: 600 }); // bars b and d; a, c, e stay rewindable
  const bytes = driver.machine.snapshot();
  assert.equal(bytes[4], 4);
  const twin = new Driver();
  twin.machine = StateMachine.restore(bytes);
  const later = driver.now + 1_000;
  for (const copy of [driver, twin]) {
    copy.now = later;
    copy.remove("work", [a.receiptHandle]);
    copy.apply(CommandType.TickInGroupOrder, encodeTick());
  }
  assert.deepEqual(twin.machine.snapshot(), driver.machine.snapshot());
  for (const copy of [driver, twin]) {
    assert.equal(copy.view("work").rewindableMessages, 1, "a; b and d are barred");
    assert.deepEqual(copy.rewind("work", start), {
      from: { timestamp: start, sequence: 1 },
      messages: 1,
    });
    assert.equal(copy.machine.needsTick(copy.now), false);
  }
  assert.deepEqual(twin.machine.snapshot(), driver.machine.snapshot());
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
