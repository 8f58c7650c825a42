import assert from "node:assert/strict";
import { type ReceiveResult, StateMachine } from "./state_machine.ts";
import type { DeleteResult } from "./command_results.ts";
import { BrokerError } from "./errors.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import {
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeQueueCommand,
  encodeReceiveBatch,
  encodeRedrive,
  encodeRewind,
  encodeSendBatch,
  encodeTick,
  encodeUpdateQueue,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import { DecodeError } from "./binary.ts";

class Driver {
  machine = new StateMachine();
  index = 0;
  now = 1_700_000_000_000;

  apply(type: number, payload: Uint8Array): unknown {
    return this.machine.apply({ index: ++this.index, timestamp: this.now, type, payload });
  }
  create(queue: string, attributes: QueueAttributesInput): unknown {
    const resolved = resolveCreate(attributes);
    return this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolved, salt: 5 }),
    );
  }
  send(queue: string, messages: Partial<SendCommandMessage>[]): unknown {
    const full = messages.map((message) => ({ body: "x", delaySeconds: 0, ...message }));
    return this.apply(CommandType.SendBatch, encodeSendBatch({ queue, messages: full }));
  }
  receive(queue: string, maxMessages = 10, visibilityTimeoutSeconds = 0): ReceiveResult {
    return this.apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({ queue, maxMessages, visibilityTimeoutSeconds, deleteHandles: [] }),
    ) as ReceiveResult;
  }
  remove(queue: string, handles: string[]): unknown {
    return this.apply(
      CommandType.DeleteBatch,
      encodeDeleteBatch({ queue, handles: handles.map(receiptHandleToBytes) }),
    );
  }
  tick(): unknown {
    return this.apply(CommandType.TickInGroupOrder, encodeTick());
  }
}

Deno.test("entries of Raft's reserved types are ignored but count as applied", () => {
  const driver = new Driver();
  assert.equal(driver.apply(0, new Uint8Array([1, 2])), undefined);
  assert.equal(driver.apply(15, new Uint8Array(0)), undefined);
  assert.equal(driver.machine.appliedIndex, 2);
  assert.throws(() =>
    driver.machine.apply({ index: 2, timestamp: 0, type: 0, payload: new Uint8Array(0) })
  );
});

/**
 * A snapshot taken at an entry Raft made itself (a new leader's no-op, the configuration entries
 * of --force-new-cluster) stands for that entry's time: a node whose log holds no entry there
 * takes the state's time as the snapshot point's, and must not stamp before that entry.
 */
Deno.test("the state's time includes entries of Raft's reserved types, also through a snapshot", () => {
  const driver = new Driver();
  driver.create("jobs", {});
  const engineTime = driver.now;
  driver.now += 5_000;
  assert.equal(driver.apply(0, new Uint8Array(0)), undefined);
  assert.equal(driver.machine.lastTimestamp, engineTime + 5_000);
  const restored = new StateMachine();
  restored.loadSnapshot(driver.machine.snapshot());
  assert.equal(restored.lastTimestamp, engineTime + 5_000);
  // Entries after it go on from there, as they did before (their stamps never go back).
  driver.now += 1_000;
  driver.send("jobs", [{ body: "a" }]);
  assert.equal(driver.machine.lastTimestamp, engineTime + 6_000);
});

Deno.test("a message older than the TTL moves once its lock ends, not while locked", () => {
  const driver = new Driver();
  driver.create("dlq", {});
  driver.create("work", {
    retentionSeconds: 3_600,
    deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 },
  });
  driver.send("work", [{ body: "slow" }]);
  driver.now += 290_000;
  const [locked] = driver.receive("work", 1, 60).messages;
  driver.now += 20_000;
  driver.tick();
  assert.equal(driver.machine.getQueue("work", driver.now)?.inflightMessages, 1);
  assert.equal(driver.machine.getQueue("dlq", driver.now)?.activeMessages, 0);
  driver.now += 40_000;
  assert.equal(driver.machine.needsTick(driver.now), true);
  driver.tick();
  assert.equal(driver.machine.getQueue("dlq", driver.now)?.activeMessages, 1);
  const stale = driver.remove("work", [locked.receiptHandle]) as DeleteResult;
  assert.equal(stale.failures[0].code, "ReceiptHandleStale");
  assert.equal(stale.failures[0].gone, true, "moved to the dead-letter queue: gone");
});

/** The failures of a delete of `handles`, as `[code, gone]` pairs. */
function deleteOutcomes(driver: Driver, queue: string, handles: string[]) {
  const result = driver.remove(queue, handles) as DeleteResult;
  return result.failures.map((failure) => [failure.code, failure.gone ?? false]);
}

Deno.test("a stale handle says gone when its message left the queue, not when it is still there", () => {
  const driver = new Driver();
  driver.create("work", { retentionSeconds: 3_600, rewindSeconds: 3_600 });
  driver.send("work", [{ body: "a" }, { body: "b" }, { body: "c" }]);
  const [a, b, c] = driver.receive("work", 3, 30).messages;
  assert.deepEqual(deleteOutcomes(driver, "work", [a.receiptHandle]), []);
  // Deleted: the same handle again (a retried delete whose first answer was lost).
  assert.deepEqual(deleteOutcomes(driver, "work", [a.receiptHandle]), [
    ["ReceiptHandleStale", true],
  ]);
  // Delivered again after its lock ended: the first handle is an older delivery, not gone.
  driver.now += 31_000;
  const [b2] = driver.receive("work", 1, 30).messages;
  assert.equal(b2.id, b.id);
  assert.deepEqual(deleteOutcomes(driver, "work", [b.receiptHandle]), [
    ["ReceiptHandleStale", false],
  ]);
  // Rewound: the deleted message is back, its old handle names a delivery before the rewind.
  driver.apply(CommandType.Rewind, encodeRewind({ queue: "work", sequence: a.sequence }));
  assert.deepEqual(deleteOutcomes(driver, "work", [a.receiptHandle]), [
    ["ReceiptHandleStale", false],
  ]);
  // Purged: every message left; a restored snapshot answers the same.
  driver.apply(CommandType.Purge, encodeQueueCommand({ queue: "work" }));
  const handles = [a.receiptHandle, b.receiptHandle, b2.receiptHandle, c.receiptHandle];
  const gone = handles.map(() => ["ReceiptHandleStale", true]);
  assert.deepEqual(deleteOutcomes(driver, "work", handles), gone);
  driver.machine = StateMachine.restore(driver.machine.snapshot());
  assert.deepEqual(deleteOutcomes(driver, "work", handles), gone);
});

Deno.test("a handle of a message that retention dropped is gone", () => {
  const driver = new Driver();
  driver.create("work", { retentionSeconds: 60 });
  driver.send("work", [{ body: "old" }]);
  const [old] = driver.receive("work", 1, 30).messages;
  driver.now += 61_000;
  driver.tick();
  assert.equal(driver.machine.getQueue("work", driver.now)?.activeMessages, 0);
  assert.deepEqual(deleteOutcomes(driver, "work", [old.receiptHandle]), [
    ["ReceiptHandleStale", true],
  ]);
});

Deno.test("onDeadLettered reports each message moved to a dead-letter queue, by the queue it left", () => {
  const driver = new Driver();
  const moved: string[] = [];
  driver.machine.onDeadLettered = (queue) => moved.push(queue);
  driver.create("dlq", {});
  driver.create("work", { deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
  driver.create("aging", {
    retentionSeconds: 3_600,
    deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 },
  });
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.send("aging", [{ body: "old" }]);
  assert.equal(driver.receive("work", 10, 1).messages.length, 2);
  assert.deepEqual(moved, [], "a first receive moves nothing");
  driver.now += 1_000;
  assert.equal(driver.receive("work", 10, 1).messages.length, 0);
  assert.deepEqual(moved, ["work", "work"], "too many receives");
  driver.now += 300_000;
  driver.tick();
  assert.deepEqual(moved, ["work", "work", "aging"], "the dead-letter TTL");
  assert.equal(driver.machine.getQueue("dlq", driver.now)?.activeMessages, 3);
  const redrive = encodeRedrive({ queue: "dlq", destination: "work", maxMessages: 10 });
  assert.deepEqual(driver.apply(CommandType.Redrive, redrive), { moved: 3 });
  assert.equal(moved.length, 3, "a redrive out of the dead-letter queue is no dead-lettering");
});

Deno.test("onQueueDeleted reports each queue a DeleteQueue removed, not a refused one", () => {
  const driver = new Driver();
  const deleted: string[] = [];
  driver.machine.onQueueDeleted = (queue) => deleted.push(queue);
  driver.create("work", {});
  const remove = (queue: string) =>
    driver.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue }));
  assert.deepEqual(remove("work"), { deleted: true });
  assert.ok(remove("work") instanceof BrokerError, "QueueNotFound");
  assert.deepEqual(deleted, ["work"]);
});

Deno.test("onTouched reports a queue a DeleteQueue removed, gone when it is called", () => {
  const driver = new Driver();
  driver.create("work", {});
  const touched: [string, boolean][] = [];
  driver.machine.onTouched = (queue) =>
    touched.push([queue, driver.machine.queueMeta(queue) !== undefined]);
  const remove = () => driver.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: "work" }));
  assert.deepEqual(remove(), { deleted: true });
  assert.ok(remove() instanceof BrokerError, "QueueNotFound: deletes nothing, touches nothing");
  assert.deepEqual(touched, [["work", false]]);
});

Deno.test("retention expiry and deletes free the log prefix and stop the ticks", () => {
  const driver = new Driver();
  driver.create("q", { retentionSeconds: 60 });
  const firstSend = driver.index + 1;
  driver.send("q", [{}, {}]);
  driver.send("q", [{}]);
  assert.equal(driver.machine.lowestReferencedIndex(), firstSend);
  const received = driver.receive("q", 2);
  driver.remove("q", received.messages.map((message) => message.receiptHandle));
  assert.equal(driver.machine.needsTick(driver.now), false);
  driver.now += 1;
  assert.equal(driver.machine.needsTick(driver.now), true);
  driver.tick();
  assert.equal(driver.machine.lowestReferencedIndex(), firstSend + 1);
  assert.equal(driver.machine.needsTick(driver.now), false);
  driver.now += 60_000;
  assert.equal(driver.machine.needsTick(driver.now), true, "retention expiry is due");
  driver.tick();
  assert.equal(driver.machine.getQueue("q", driver.now)?.activeMessages, 0);
  assert.equal(driver.machine.lowestReferencedIndex(), driver.index + 1);
  assert.equal(driver.machine.needsTick(driver.now + 3_600_000), false);
});

Deno.test("onAvailable reports sends that are receivable now, not delayed ones", () => {
  const driver = new Driver();
  const available: string[] = [];
  driver.machine.onAvailable = (queue) => available.push(queue);
  driver.create("q", {});
  driver.send("q", [{ delaySeconds: 10 }]);
  assert.deepEqual(available, []);
  assert.equal(driver.machine.nextVisibleAt("q"), driver.now + 10_000);
  driver.send("q", [{}]);
  assert.deepEqual(available, ["q"]);
});

Deno.test("restore rejects bytes that are not a snapshot", () => {
  assert.throws(() => StateMachine.restore(new Uint8Array([1, 2, 3])), DecodeError);
  const driver = new Driver();
  driver.create("q", { fifo: true });
  driver.send("q", [{ groupId: "g" }, { groupId: "h" }]);
  const bytes = driver.machine.snapshot();
  assert.throws(() => StateMachine.restore(bytes.subarray(0, bytes.length - 3)), DecodeError);
  const copy = StateMachine.restore(bytes);
  assert.deepEqual(copy.getQueue("q", driver.now), driver.machine.getQueue("q", driver.now));
});

Deno.test("member addresses are replicated state and survive a snapshot", () => {
  const machine = new StateMachine();
  const seen: [string, string | null][] = [];
  machine.onMember = (id, address) => seen.push([id, address?.peerAddress ?? null]);
  const member = (index: number, body: object) =>
    machine.apply({
      index,
      timestamp: 1000,
      type: CommandType.SetMember,
      payload: new TextEncoder().encode(JSON.stringify(body)),
    });
  member(1, { id: "n4", peerAddress: "10.0.0.4:9877", clientUrl: "http://10.0.0.4:9876" });
  member(2, { id: "n5", peerAddress: "10.0.0.5:9877", clientUrl: "http://10.0.0.5:9876" });
  member(3, { id: "n5", remove: true });
  assert.ok(member(4, { id: "n6" }) instanceof BrokerError, "a malformed record is refused");
  assert.deepEqual(seen, [["n4", "10.0.0.4:9877"], ["n5", "10.0.0.5:9877"], ["n5", null]]);
  const copy = StateMachine.restore(machine.snapshot());
  assert.deepEqual(copy.members(), [
    { id: "n4", peerAddress: "10.0.0.4:9877", clientUrl: "http://10.0.0.4:9876" },
  ]);
});

Deno.test("a snapshot loaded in place tells onMember what it records and forgets, as entries do", () => {
  const record = (machine: StateMachine, index: number, body: object) =>
    machine.apply({
      index,
      timestamp: 1000,
      type: CommandType.SetMember,
      payload: new TextEncoder().encode(JSON.stringify(body)),
    });
  const leader = new StateMachine();
  record(leader, 1, { id: "n1", peerAddress: "10.0.0.1:9877", clientUrl: "http://10.0.0.1:9876" });
  record(leader, 2, { id: "n4", peerAddress: "10.0.0.4:9877", clientUrl: "http://10.0.0.4:9876" });
  const follower = new StateMachine();
  record(follower, 1, {
    id: "n1",
    peerAddress: "10.0.0.1:9877",
    clientUrl: "http://10.0.0.1:9876",
  });
  record(follower, 2, {
    id: "n5",
    peerAddress: "10.0.0.5:9877",
    clientUrl: "http://10.0.0.5:9876",
  });
  const seen: [string, string | null][] = [];
  follower.onMember = (id, address) => seen.push([id, address?.peerAddress ?? null]);
  follower.loadSnapshot(leader.snapshot());
  // n1 unchanged is not told again; n5 is forgotten, n4 recorded (a follower caught up by a
  // snapshot used to learn neither, and kept dialling n5, never n4).
  assert.deepEqual(seen, [["n5", null], ["n4", "10.0.0.4:9877"]]);
});

Deno.test("a Redrive with ifCreatedAt moves only from the queue created then, not one created again under its name", () => {
  const driver = new Driver();
  driver.create("work", {});
  driver.create("dlq", {});
  const createdAt = driver.machine.getQueue("dlq", driver.now)!.createdAt;
  driver.send("dlq", [{ body: "a" }]);
  const redrive = (ifCreatedAt: number) =>
    driver.apply(
      CommandType.RedriveOfCreated,
      encodeRedrive({ queue: "dlq", destination: "work", maxMessages: 10, ifCreatedAt }),
    );
  assert.deepEqual(redrive(createdAt), { moved: 1 }, "the same queue");
  driver.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: "dlq" }));
  driver.now += 1;
  driver.create("dlq", {});
  driver.send("dlq", [{ body: "b" }, { body: "c" }]);
  const refused = redrive(createdAt);
  assert.ok(refused instanceof BrokerError && refused.code === "QueueNotFound", String(refused));
  assert.equal(driver.machine.getQueue("dlq", driver.now)?.activeMessages, 2, "nothing moved");
  assert.equal(driver.machine.getQueue("work", driver.now)?.activeMessages, 1);
  const bad = driver.apply(
    CommandType.RedriveOfCreated,
    new TextEncoder().encode(JSON.stringify({ queue: "dlq", maxMessages: 1, ifCreatedAt: -1 })),
  );
  assert.ok(bad instanceof BrokerError && bad.code === "InvalidParameter", String(bad));
});

Deno.test("a queue updated to a dead-letter policy after its tags restores from a snapshot to the same bytes and view", () => {
  const driver = new Driver();
  driver.create("dlq", {});
  driver.create("work", { tags: { team: "billing" } });
  const policy = { deadLetter: { queue: "dlq", maxReceiveCount: 2 } };
  const update = encodeUpdateQueue({ queue: "work", attributes: policy });
  const updated = driver.apply(CommandType.UpdateQueue, update);
  assert.deepEqual(updated, { updated: true, queue: driver.machine.getQueue("work", driver.now) });
  // A replica that replayed the update and one that installed a snapshot taken after it hold
  // the same queue: their views list the same keys in the same order, their snapshots agree.
  const bytes = driver.machine.snapshot();
  const restored = StateMachine.restore(bytes);
  assert.deepEqual(restored.snapshot(), bytes);
  assert.equal(
    JSON.stringify(restored.getQueue("work", driver.now)),
    JSON.stringify(driver.machine.getQueue("work", driver.now)),
  );
});

Deno.test("a Tick forgets an expired dedup id that was sent before one sent again after its window", () => {
  const driver = new Driver();
  driver.create("q", {});
  const start = driver.now;
  driver.send("q", [{ dedupId: "hot" }]);
  driver.now = start + 1_000;
  driver.send("q", [{ dedupId: "cold" }]);
  // "hot" is out of its window: the send enqueues a new message and starts a new window.
  driver.now = start + 300_000;
  const again = driver.send("q", [{ dedupId: "hot" }]) as { messages: { sequence: number }[] };
  assert.equal(again.messages[0].sequence, 3);
  driver.now = start + 301_000;
  const before = driver.machine.memoryBytes();
  driver.tick();
  // "cold" expired now and is forgotten, though "hot", sent before it, is still in its window.
  assert.ok(driver.machine.memoryBytes() < before, "the expired dedup id is dropped");
  driver.now = start + 600_000;
  assert.equal(driver.machine.needsTick(driver.now), true, "the second window of 'hot' ends");
});

Deno.test("the dead-letter TTL of a FIFO queue moves a group's messages in send order, waiting for the lock of one in flight", () => {
  const driver = new Driver();
  driver.create("dlq", { fifo: true });
  driver.create("work", {
    fifo: true,
    visibilityTimeoutSeconds: 60,
    deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 },
  });
  const start = driver.now;
  const sent = driver.send("work", [
    { body: "g1", groupId: "g" },
    { body: "g2", groupId: "g" },
    { body: "h1", groupId: "h" },
  ]) as { messages: { id: string }[] };
  const [g1, g2, h1] = sent.messages.map((message) => message.id);
  driver.now = start + 299_000;
  assert.deepEqual(driver.receive("work", 1).messages.map((message) => message.id), [g1]);
  driver.now = start + 301_000;
  driver.tick();
  // h1 moved; g2 waits behind g1, whose lock runs until start + 359 s.
  const work = driver.machine.getQueue("work", driver.now)!;
  assert.deepEqual([work.inflightMessages, work.activeMessages], [1, 1]);
  // A replica that restores a snapshot taken now moves the same messages in the same order.
  const copy = new Driver();
  copy.machine = StateMachine.restore(driver.machine.snapshot());
  [copy.index, copy.now] = [driver.index, driver.now];
  for (const replica of [driver, copy]) {
    replica.now = start + 359_000;
    assert.equal(replica.machine.needsTick(replica.now), true, "the lock's end is due");
    replica.tick();
    assert.equal(replica.machine.getQueue("work", replica.now)!.activeMessages, 0);
    const first = replica.receive("dlq", 10).messages;
    const ids = first.map((message) => message.id);
    assert.deepEqual(ids, [h1, g1], "g2 stays behind g1 in the dead-letter queue");
    replica.remove("dlq", first.map((message) => message.receiptHandle));
    assert.deepEqual(replica.receive("dlq", 10).messages.map((message) => message.id), [g2]);
  }
  assert.deepEqual(copy.machine.snapshot(), driver.machine.snapshot());
});

Deno.test("a redrive of a FIFO dead-letter queue moves no message of a group ahead of one that stays (in flight)", () => {
  const driver = new Driver();
  driver.create("dlq", { fifo: true });
  driver.create("work", { fifo: true, deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
  const sent = driver.send("dlq", [
    { body: "g1", groupId: "g" },
    { body: "g2", groupId: "g" },
    { body: "h1", groupId: "h" },
  ]) as { messages: { id: string }[] };
  const [g1, g2, h1] = sent.messages.map((message) => message.id);
  // Someone reads the dead-letter queue: g1 is in flight, g2 waits behind it.
  assert.deepEqual(driver.receive("dlq", 1).messages.map((message) => message.id), [g1]);
  const redrive = encodeRedrive({ queue: "dlq", destination: "work", maxMessages: 10 });
  const type = CommandType.RedriveInGroupOrder;
  assert.deepEqual(driver.apply(type, redrive), { moved: 1 }, "h1 only");
  driver.now += 31_000; // g1's lock ends
  assert.deepEqual(driver.apply(type, redrive), { moved: 2 });
  const first = driver.receive("work", 10).messages;
  assert.deepEqual(first.map((message) => message.id), [h1, g1], "g2 stays behind g1");
  driver.remove("work", first.map((message) => message.receiptHandle));
  assert.deepEqual(driver.receive("work", 10).messages.map((message) => message.id), [g2]);
});

Deno.test("a FIFO group held by the dead-letter TTL behind a lock of a message after its head asks for a Tick when that lock ends", () => {
  const driver = new Driver();
  driver.create("dlq", { fifo: true });
  driver.create("work", {
    fifo: true,
    rewindSeconds: 600,
    deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 },
  });
  const start = driver.now;
  const sent = driver.send("work", [
    { body: "g1", groupId: "g" },
    { body: "g2", groupId: "g" },
  ]) as { messages: { id: string }[] };
  const [g1, g2] = sent.messages.map((message) => message.id);
  const first = driver.receive("work", 1).messages;
  driver.remove("work", first.map((message) => message.receiptHandle));
  assert.deepEqual(driver.receive("work", 1, 400).messages.map((message) => message.id), [g2]);
  // g1 comes back as the group's head, behind which g2 is in flight (until start + 400 s).
  driver.apply(CommandType.Rewind, encodeRewind({ queue: "work", timestamp: start }));
  driver.now = start + 301_000;
  driver.tick(); // both expired; the group waits for g2's lock
  assert.equal(driver.machine.getQueue("work", driver.now)!.activeMessages, 1);
  const copy = new Driver();
  copy.machine = StateMachine.restore(driver.machine.snapshot());
  [copy.index, copy.now] = [driver.index, driver.now];
  for (const replica of [driver, copy]) {
    replica.now = start + 399_000;
    assert.equal(replica.machine.needsTick(replica.now), false, "g2 is still in flight");
    replica.now = start + 400_000;
    assert.equal(replica.machine.needsTick(replica.now), true, "g2's lock ended: g1, g2 are due");
    replica.tick();
    assert.equal(replica.machine.getQueue("work", replica.now)!.activeMessages, 0);
    assert.deepEqual(replica.receive("dlq", 10).messages.map((message) => message.id), [g1]);
  }
  assert.deepEqual(copy.machine.snapshot(), driver.machine.snapshot());
});
