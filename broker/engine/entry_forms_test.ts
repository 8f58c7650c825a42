/**
 * A command whose meaning changed keeps its earlier meaning in its earlier form, and takes the
 * new one only in a new form that an earlier release refuses (`CommandType`:
 * UpdateQueueKeepingPolicy, RedriveInGroupOrder, TickInGroupOrder, UpdateQueueWithRewindFloor,
 * TickKeepingLocks, RedriveAfterHousekeeping (`redrive_housekeeping_test.ts`),
 * UpdateQueueBarringDeleted, RewindFromWindow (`rewind_window_test.ts`); `commands.ts`:
 * ReceiveBatch layouts 2 to 4, SendReceive layouts 3 to 5: the last ones in
 * `receive_answer_bound_test.ts`; `topic_commands.ts`: PushResults layout 2 in
 * `push_final_try_test.ts`).
 * Replicas apply one log — some of it replayed, some restored from a snapshot, maybe by an
 * earlier release — so an entry must mean the same to every one.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import {
  type AppliedEntry,
  CommandType,
  commandTypes,
  type QueueAttributesInput,
} from "./types.ts";
import {
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeQueueCommand,
  encodeReceiveBatch,
  encodeRedrive,
  encodeSendBatch,
  encodeSendReceive,
  encodeTick,
  encodeUpdateQueue,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { newerEntryError, NewerReleaseError } from "./release.ts";
import { ByteReader } from "./binary.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import { MessageRuns } from "./message_runs.ts";
import { RunSet } from "./run_set.ts";

const newerTypes: number[] = [
  CommandType.UpdateQueueKeepingPolicy,
  CommandType.RedriveInGroupOrder,
  CommandType.TickInGroupOrder,
  CommandType.UpdateQueueWithRewindFloor,
];

/**
 * The release before these forms: it knew none of the newer types, and its decoders read
 * ReceiveBatch in layout 1 only and a SendBatch table (SendBatch, SendReceive) up to layout 2,
 * throwing `NewerLayoutError` above, which `apply` turns into this refusal.
 */
function applyAsEarlierRelease(snapshot: Uint8Array, entry: AppliedEntry): unknown {
  const types = new Set([...commandTypes].filter((type) => !newerTypes.includes(type)));
  const machine = new StateMachine({ commandTypes: types });
  machine.loadSnapshot(snapshot);
  const highest = new Map<number, number>([
    [CommandType.ReceiveBatch, 1],
    [CommandType.SendBatch, 2],
    [CommandType.SendReceive, 2],
  ]).get(entry.type);
  if (highest !== undefined && entry.payload[0] > highest) {
    throw newerEntryError(entry, entry.payload[0]);
  }
  return machine.apply(entry);
}

class Driver {
  machine = new StateMachine();
  index = 0;
  now = 1_700_000_000_000;
  /** The receipt handles of the last `receive`. */
  lastHandles: string[] = [];

  entry(type: number, payload: Uint8Array): AppliedEntry {
    return { index: this.index + 1, timestamp: this.now, type, payload };
  }
  apply(type: number, payload: Uint8Array): unknown {
    const entry = this.entry(type, payload);
    this.index++;
    return this.machine.apply(entry);
  }
  create(queue: string, attributes: QueueAttributesInput): void {
    const command = { queue, attributes: resolveCreate(attributes), salt: 3 };
    const result = this.apply(CommandType.CreateQueue, encodeCreateQueue(command));
    assert.deepEqual(result, { created: true, queue: this.machine.getQueue(queue, this.now) });
  }
  send(queue: string, messages: Partial<SendCommandMessage>[]): string[] {
    const full = messages.map((message) => ({ body: "x", delaySeconds: 0, ...message }));
    const result = this.apply(CommandType.SendBatch, encodeSendBatch({ queue, messages: full }));
    return (result as { messages: { id: string }[] }).messages.map((message) => message.id);
  }
  /** Ids received (layout 2, the one written now). */
  receive(queue: string, maxMessages: number): string[] {
    const payload = encodeReceiveBatch({
      queue,
      maxMessages,
      visibilityTimeoutSeconds: 0,
      deleteHandles: [],
    });
    const result = this.apply(CommandType.ReceiveBatch, payload);
    const { messages } = result as { messages: { id: string; receiptHandle: string }[] };
    this.lastHandles = messages.map((message) => message.receiptHandle);
    return messages.map((message) => message.id);
  }
  count(queue: string): number {
    return this.machine.getQueue(queue, this.now)!.activeMessages;
  }

  /** The next entry `type, payload` is refused by an earlier release, which changes nothing. */
  assertEarlierRefuses(type: number, payload: Uint8Array): void {
    const snapshot = this.machine.snapshot();
    assert.throws(
      () => applyAsEarlierRelease(snapshot, this.entry(type, payload)),
      NewerReleaseError,
    );
  }
}

/** The same bytes in the earlier layout (the layouts differ in their version byte only). */
function inLayout(payload: Uint8Array, version: number): Uint8Array {
  const copy = payload.slice();
  copy[0] = version;
  return copy;
}

Deno.test("UpdateQueue keeps refusing an update of a queue whose dead-letter queue was deleted; UpdateQueueKeepingPolicy applies it", () => {
  const driver = new Driver();
  driver.create("dlq", {});
  driver.create("work", { deadLetter: { queue: "dlq", maxReceiveCount: 3 } });
  driver.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: "dlq" }));
  const update = encodeUpdateQueue({ queue: "work", attributes: { visibilityTimeoutSeconds: 45 } });
  const visibility = () => driver.machine.getQueue("work", driver.now)!.visibilityTimeoutSeconds;

  // The earlier form means what it meant: the kept policy is checked, and refuses the update.
  const refused = driver.apply(CommandType.UpdateQueue, update);
  assert.ok(refused instanceof BrokerError, String(refused));
  assert.equal(refused.code, "InvalidParameter");
  assert.match(refused.message, /deadLetter\.queue.*'dlq' does not exist/);
  assert.equal(visibility(), 30, "nothing changed");

  driver.assertEarlierRefuses(CommandType.UpdateQueueKeepingPolicy, update);
  assert.deepEqual(driver.apply(CommandType.UpdateQueueKeepingPolicy, update), {
    updated: true,
    queue: driver.machine.getQueue("work", driver.now),
  });
  assert.equal(visibility(), 45);
  const { deadLetter } = driver.machine.queueMeta("work")!.attributes;
  assert.deepEqual(deadLetter, { queue: "dlq", maxReceiveCount: 3 }, "the policy stays");
});

/**
 * A FIFO queue with a dead-letter TTL of 300 s: g1, g2 (group g) and h1 sent at the start, g1
 * received at 299 s (locked for 60 s), now 301 s: all three are expired.
 */
function expiredFifoGroup(): { driver: Driver; ids: string[] } {
  const driver = new Driver();
  driver.create("work", { fifo: true, visibilityTimeoutSeconds: 60 });
  driver.create("dlq", { fifo: true });
  const policy = { deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 } };
  const update = encodeUpdateQueue({ queue: "work", attributes: policy });
  const updated = driver.apply(CommandType.UpdateQueueKeepingPolicy, update);
  assert.deepEqual(updated, { updated: true, queue: driver.machine.getQueue("work", driver.now) });
  const start = driver.now;
  const ids = driver.send("work", [
    { body: "g1", groupId: "g" },
    { body: "g2", groupId: "g" },
    { body: "h1", groupId: "h" },
  ]);
  driver.now = start + 299_000;
  assert.deepEqual(driver.receive("work", 1), [ids[0]]);
  driver.now = start + 301_000;
  return { driver, ids };
}

/** The entries that run the dead-letter TTL: [name, earlier form, newer form]. */
const ttlForms: [string, number, Uint8Array, Uint8Array][] = (() => {
  const written = encodeReceiveBatch({
    queue: "work",
    maxMessages: 10,
    visibilityTimeoutSeconds: 0,
    deleteHandles: [],
  });
  // (The forms in group order that came first: ReceiveBatch layout 2, SendReceive layout 3.)
  const receive = inLayout(written, 2);
  const sendReceive = inLayout(
    encodeSendReceive({
      queue: "work",
      messages: [{ body: "k1", delaySeconds: 0, groupId: "k" }],
      receives: [{ maxMessages: 10, visibilityTimeoutSeconds: 0 }],
    }),
    3,
  );
  return [
    ["Tick", CommandType.Tick, encodeTick(), encodeTick()],
    ["ReceiveBatch", CommandType.ReceiveBatch, inLayout(receive, 1), receive],
    ["SendReceive", CommandType.SendReceive, inLayout(sendReceive, 2), sendReceive],
  ];
})();

Deno.test("the dead-letter TTL keeps its earlier meaning in Tick, ReceiveBatch layout 1 and SendReceive layout 2, and keeps a FIFO group's order in the newer forms only", () => {
  for (const [name, type, earlier, newer] of ttlForms) {
    const newerType = type === CommandType.Tick ? CommandType.TickInGroupOrder : type;
    assert.equal(newer[0], { Tick: undefined, ReceiveBatch: 2, SendReceive: 3 }[name]);
    for (
      const [payload, entryType, expected] of [
        // The earlier meaning: only g1 (in flight) stays; g2 moves ahead of it.
        [earlier, type, "g2 h1"],
        // In group order: g2 waits behind g1.
        [newer, newerType, "h1"],
      ] as const
    ) {
      const { driver, ids } = expiredFifoGroup();
      const names = new Map(ids.map((id, index) => [id, ["g1", "g2", "h1"][index]]));
      // A replica that restored a snapshot taken now applies the entry alike.
      const restored = StateMachine.restore(driver.machine.snapshot());
      const entry = driver.entry(entryType, payload);
      driver.apply(entryType, payload);
      restored.apply(entry);
      assert.deepEqual(restored.snapshot(), driver.machine.snapshot(), `${name}: restored`);
      const moved = driver.receive("dlq", 10).map((id) => names.get(id)).join(" ");
      assert.equal(moved, expected, `${name} in form ${entryType}/${payload[0]}`);
    }
    const { driver } = expiredFifoGroup();
    driver.assertEarlierRefuses(newerType, newer);
    // This release applies the earlier form's bytes (and an earlier release would too).
    assert.doesNotThrow(() => driver.apply(type, earlier));
  }
});

Deno.test("Redrive and RedriveOfCreated move past a FIFO message that stays, as before; RedriveInGroupOrder moves each group's prefix only", () => {
  const cases = [
    [CommandType.Redrive, 2],
    [CommandType.RedriveOfCreated, 2],
    [CommandType.RedriveInGroupOrder, 1],
  ] as const;
  for (const [type, moved] of cases) {
    const driver = new Driver();
    driver.create("dlq", { fifo: true });
    driver.create("work", { fifo: true, deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
    const createdAt = driver.machine.getQueue("dlq", driver.now)!.createdAt;
    driver.send("dlq", [
      { body: "g1", groupId: "g" },
      { body: "g2", groupId: "g" },
      { body: "h1", groupId: "h" },
    ]);
    driver.receive("dlq", 1); // g1 in flight
    const payload = encodeRedrive({
      queue: "dlq",
      destination: "work",
      maxMessages: 10,
      ifCreatedAt: type === CommandType.Redrive ? undefined : createdAt,
    });
    if (type === CommandType.RedriveInGroupOrder) driver.assertEarlierRefuses(type, payload);
    // The earlier forms move g2 ahead of g1 (in flight); the newer one leaves g2 behind it.
    assert.deepEqual(driver.apply(type, payload), { moved }, `type ${type}`);
    assert.equal(driver.count("work"), moved);
  }
});

/**
 * The list an earlier release reads as the first queue's TTL-pending messages (state snapshot
 * version 2: `QueueStore.writeState`).
 */
function ttlListOfFirstQueue(snapshot: Uint8Array): number[] {
  const reader = new ByteReader(snapshot);
  reader.skip(4 + 1 + 16); // magic, version, appliedIndex, lastTimestamp
  assert.ok(reader.u32() > 0);
  reader.string16(); // name
  reader.skip(8 + 4); // incarnation, salt
  reader.string32(); // attributes
  reader.skip(16); // createdAt, modifiedAt
  MessageRuns.read(reader);
  RunSet.read(reader);
  reader.skip(reader.u32() * 41); // tracked: sequence, state, visibleAt, 3 counters
  for (let count = reader.u32(); count > 0; count--) {
    reader.skip(24); // moved-in ids
    reader.string16();
  }
  for (let count = reader.u32(); count > 0; count--) {
    reader.string16(); // dedup ids
    reader.skip(16);
  }
  reader.skip(24); // undeleted, cursor, ttlCursor
  return Array.from({ length: reader.u32() }, () => reader.uint());
}

Deno.test("a snapshot lists a FIFO queue's expired messages still in the queue where an earlier release reads its TTL-pending ones", () => {
  for (const [type, kept] of [[CommandType.Tick, [1]], [CommandType.TickInGroupOrder, [1, 2]]]) {
    const { driver } = expiredFifoGroup();
    driver.apply(type as number, encodeTick());
    // The earlier meaning keeps g1 (in flight); in group order g2 waits behind it too. An
    // earlier release restoring this snapshot moves them (once due) as this one does.
    const snapshot = driver.machine.snapshot();
    assert.deepEqual(ttlListOfFirstQueue(snapshot), kept, `type ${type}`);
    const restored = StateMachine.restore(snapshot);
    assert.deepEqual(restored.snapshot(), snapshot);
  }
});

Deno.test("UpdateQueue and UpdateQueueKeepingPolicy leave the rewind floor: raised from 0, rewindSeconds brings back a message deleted before; UpdateQueueWithRewindFloor does not", () => {
  const forms = [
    [CommandType.UpdateQueue, 1],
    [CommandType.UpdateQueueKeepingPolicy, 1],
    [CommandType.UpdateQueueWithRewindFloor, 0],
  ] as const;
  for (const [type, rewindable] of forms) {
    const driver = new Driver();
    driver.create("work", { rewindSeconds: 0, visibilityTimeoutSeconds: 3_600 });
    const ids = driver.send("work", [{ body: "stuck" }, { body: "done" }]);
    assert.deepEqual(driver.receive("work", 2), ids);
    driver.apply(
      CommandType.DeleteBatch,
      encodeDeleteBatch({
        queue: "work",
        handles: [receiptHandleToBytes(driver.lastHandles[1])],
      }),
    );
    driver.now += 60_000;
    const update = encodeUpdateQueue({ queue: "work", attributes: { rewindSeconds: 600 } });
    if (type === CommandType.UpdateQueueWithRewindFloor) {
      driver.assertEarlierRefuses(type, update);
    }
    const result = driver.apply(type, update);
    const view = driver.machine.getQueue("work", driver.now)!;
    assert.deepEqual(result, { updated: true, queue: view });
    assert.equal(view.rewindableMessages, rewindable, `type ${type}`);
    // A snapshot where the floor matters is in a version an earlier release (which reads up to
    // version 2) refuses (release_test); without one, the snapshot is as before.
    const snapshot = driver.machine.snapshot();
    assert.equal(snapshot[4], rewindable === 0 ? 3 : 2, `type ${type}`);
  }
});

/**
 * The release before TickKeepingLocks: it knew every type up to 40, ReceiveBatch up to layout
 * 2 and a SendBatch table (SendBatch, SendReceive) up to layout 3.
 */
function applyAsPreviousRelease(snapshot: Uint8Array, entry: AppliedEntry): unknown {
  const types = new Set([...commandTypes].filter((type) => type !== CommandType.TickKeepingLocks));
  const machine = new StateMachine({ commandTypes: types });
  machine.loadSnapshot(snapshot);
  const highest = new Map<number, number>([
    [CommandType.ReceiveBatch, 2],
    [CommandType.SendBatch, 3],
    [CommandType.SendReceive, 3],
  ]).get(entry.type);
  if (highest !== undefined && entry.payload[0] > highest) {
    throw newerEntryError(entry, entry.payload[0]);
  }
  return machine.apply(entry);
}

Deno.test("retention drops a FIFO message in flight, as before, in Tick, TickInGroupOrder, ReceiveBatch layouts 1-2 and SendReceive layouts 2-3; the newer forms keep it until its lock ends", () => {
  const receive = encodeReceiveBatch({
    queue: "work",
    maxMessages: 10,
    visibilityTimeoutSeconds: 0,
    deleteHandles: [],
  });
  const sendReceive = encodeSendReceive({
    queue: "work",
    messages: [{ body: "k1", delaySeconds: 0, groupId: "k" }],
    receives: [{ maxMessages: 10, visibilityTimeoutSeconds: 0 }],
  });
  assert.deepEqual([receive[0], sendReceive[0]], [4, 5], "the layouts written");
  const forms: [number, Uint8Array, boolean][] = [
    [CommandType.Tick, encodeTick(), false],
    [CommandType.TickInGroupOrder, encodeTick(), false],
    [CommandType.TickKeepingLocks, encodeTick(), true],
    [CommandType.ReceiveBatch, inLayout(receive, 1), false],
    [CommandType.ReceiveBatch, inLayout(receive, 2), false],
    [CommandType.ReceiveBatch, inLayout(receive, 3), true],
    [CommandType.ReceiveBatch, receive, true],
    [CommandType.SendReceive, inLayout(sendReceive, 2), false],
    [CommandType.SendReceive, inLayout(sendReceive, 3), false],
    [CommandType.SendReceive, inLayout(sendReceive, 4), true],
    [CommandType.SendReceive, sendReceive, true],
  ];
  for (const [type, payload, keeps] of forms) {
    // g1 sent at the start, received at 250 s (locked for 600 s); g2 sent then; h1 sent at the
    // start, never received. At 310 s g1 and h1 are past retention (300 s).
    const driver = new Driver();
    driver.create("work", { fifo: true, retentionSeconds: 300, visibilityTimeoutSeconds: 600 });
    const start = driver.now;
    driver.send("work", [{ body: "g1", groupId: "g" }, { body: "h1", groupId: "h" }]);
    driver.now = start + 250_000;
    assert.equal(driver.receive("work", 1).length, 1);
    driver.send("work", [{ body: "g2", groupId: "g" }]);
    driver.now = start + 310_000;
    const restored = StateMachine.restore(driver.machine.snapshot());
    const entry = driver.entry(type, payload);
    const context = `form ${type}/${payload[0]}`;
    if (keeps) {
      assert.throws(
        () => applyAsPreviousRelease(driver.machine.snapshot(), entry),
        NewerReleaseError,
        context,
      );
    }
    const result = driver.apply(type, payload);
    restored.apply(entry);
    assert.deepEqual(restored.snapshot(), driver.machine.snapshot(), `${context}: restored`);
    // h1 is gone either way; g1 stays in flight only in the newer forms, and g2 waits behind it.
    const oldest = driver.machine.getQueue("work", driver.now)!.oldestMessageAt;
    assert.equal(oldest, keeps ? start : start + 250_000, context);
    const delivered = (result ?? {}) as {
      messages?: unknown[];
      receives?: { messages: unknown[] }[];
    };
    const count = delivered.messages?.length ?? 0;
    if (type === CommandType.ReceiveBatch) assert.equal(count, keeps ? 0 : 1, context);
    if (type === CommandType.SendReceive) {
      assert.equal(delivered.receives![0].messages.length, keeps ? 1 : 2, context);
    }
  }
});

Deno.test("UpdateQueueWithRewindFloor keeps its floor, which also keeps out a message deleted after it; UpdateQueueBarringDeleted bars only what was deleted, and a release that doesn't know it refuses it", () => {
  const forms = [
    [CommandType.UpdateQueueWithRewindFloor, 0, 3],
    [CommandType.UpdateQueueBarringDeleted, 1, 4],
  ] as const;
  for (const [type, rewindable, version] of forms) {
    const driver = new Driver();
    driver.create("work", { rewindSeconds: 0, visibilityTimeoutSeconds: 3_600 });
    driver.send("work", [{ body: "done" }, { body: "backlog" }]);
    assert.equal(driver.receive("work", 1).length, 1);
    const handle = (index: number) => receiptHandleToBytes(driver.lastHandles[index]);
    driver.apply(
      CommandType.DeleteBatch,
      encodeDeleteBatch({ queue: "work", handles: [handle(0)] }),
    );
    driver.now += 60_000;
    const update = encodeUpdateQueue({ queue: "work", attributes: { rewindSeconds: 600 } });
    if (type === CommandType.UpdateQueueBarringDeleted) {
      const snapshot = driver.machine.snapshot();
      const types = new Set([...commandTypes].filter((known) => known !== type));
      const previous = new StateMachine({ commandTypes: types });
      previous.loadSnapshot(snapshot);
      assert.throws(() => previous.apply(driver.entry(type, update)), NewerReleaseError);
    }
    assert.deepEqual(driver.apply(type, update), {
      updated: true,
      queue: driver.machine.getQueue("work", driver.now),
    });
    // A snapshot where a floor or a barred message matters is in a version an earlier release
    // refuses (it reads up to 2, or 3, the version before this one).
    assert.equal(driver.machine.snapshot()[4], version, `type ${type}`);
    assert.equal(driver.receive("work", 1).length, 1, "the backlog's message");
    driver.apply(
      CommandType.DeleteBatch,
      encodeDeleteBatch({ queue: "work", handles: [handle(0)] }),
    );
    const view = driver.machine.getQueue("work", driver.now)!;
    assert.equal(view.rewindableMessages, rewindable, `type ${type}`);
  }
});
