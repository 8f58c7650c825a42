import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { StateMachine } from "./state_machine.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import {
  encodeChangeVisibility,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeQueueCommand,
  encodeReceiveBatch,
  encodeRedrive,
  encodeRewind,
  encodeSendBatch,
  encodeSendReceive,
  encodeTick,
  encodeUpdateQueue,
} from "./commands.ts";
import { BrokerError } from "./errors.ts";
import { resolveCreate, resolveUpdate } from "./queue_attributes.ts";
import {
  decodeReceiptBytes,
  encodeReceiptBytes,
  receiptBytesToHandle,
  receiptHandleToBytes,
} from "./receipt.ts";
import {
  type HandleOutcome,
  type ModelHandle,
  type ModelQueue,
  ReferenceModel,
} from "./_reference_model.ts";
import type { Delivery, HandleFailure } from "./queue.ts";
import { heldDueChecks } from "./held_due.ts";
import { trackCountChecks } from "./track_counts.ts";

const names = ["a", "f", "da", "df"] as const;
const variants: Record<string, QueueAttributesInput[]> = {
  a: [
    {
      visibilityTimeoutSeconds: 5,
      retentionSeconds: 400,
      rewindSeconds: 200,
      maxBacklog: 8,
      maxMessageBytes: 1024,
      deadLetter: { queue: "da", maxReceiveCount: 2, maxTimeToLiveSeconds: 300 },
    },
    { retentionSeconds: 60, rewindSeconds: 60, deadLetter: { queue: "da", maxReceiveCount: 1 } },
    {},
    // (Only the dead-letter TTL runs use it: a rewind window and retention beyond the TTL.)
    {
      retentionSeconds: 1_000,
      rewindSeconds: 400,
      deadLetter: { queue: "da", maxTimeToLiveSeconds: 300 },
    },
  ],
  f: [
    {
      fifo: true,
      visibilityTimeoutSeconds: 5,
      retentionSeconds: 400,
      rewindSeconds: 400,
      maxMessageBytes: 1024,
      deadLetter: { queue: "df", maxReceiveCount: 2 },
    },
    {
      fifo: true,
      retentionSeconds: 350,
      rewindSeconds: 100,
      deadLetter: { queue: "df", maxTimeToLiveSeconds: 300 },
    },
    { fifo: true, maxBacklog: 6 },
    // (Only the dead-letter TTL runs use it: a rewind window and retention beyond the TTL.)
    {
      fifo: true,
      retentionSeconds: 1_000,
      rewindSeconds: 400,
      deadLetter: { queue: "df", maxTimeToLiveSeconds: 300 },
    },
  ],
  da: [{ retentionSeconds: 1000, rewindSeconds: 100 }, { visibilityTimeoutSeconds: 2 }],
  df: [{ fifo: true, rewindSeconds: 100 }, { fifo: true, retentionSeconds: 120 }],
};

/** PATCH bodies: lock, retention, rewind window, backlog and dead-letter policy changes. */
const updates: QueueAttributesInput[] = [
  { visibilityTimeoutSeconds: 1 },
  { visibilityTimeoutSeconds: 43_200 },
  { retentionSeconds: 60, rewindSeconds: 0 },
  { retentionSeconds: 1_000 },
  { rewindSeconds: 0 },
  { rewindSeconds: 60 },
  { maxBacklog: 3 },
  { maxMessageBytes: 1024 },
  { deadLetter: null },
  { deadLetter: { queue: "da", maxReceiveCount: 1 } },
  { deadLetter: { queue: "df", maxReceiveCount: 3, maxTimeToLiveSeconds: 300 } },
  { deadLetter: { queue: "a", maxTimeToLiveSeconds: 300 } },
  { deadLetter: { queue: "f", maxReceiveCount: 1 } },
  { retentionSeconds: 350, deadLetter: { queue: "da", maxTimeToLiveSeconds: 300 } },
  { tags: { team: "billing" } },
  { tags: null },
  { rewindSeconds: 300 },
];

const queueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("a", "f") },
  { weight: 1, arbitrary: fc.constantFrom("da", "df") },
);
const pickArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("real" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("forged" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("any" as const), index: fc.nat() }) },
);
type Pick = { kind: "real" | "forged" | "garbage" | "any"; index: number };
const sendArb = fc.record({
  body: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom("", "x", "hello") },
    { weight: 1, arbitrary: fc.constantFrom("é".repeat(600), "y".repeat(1100)) },
  ),
  delaySeconds: fc.constantFrom(0, 0, 0, 1, 5, 60),
  groupId: fc.option(fc.constantFrom("g1", "g2", "g3"), { nil: undefined }),
  dedupId: fc.option(fc.constantFrom("d1", "d2", "d3", "d4"), { nil: undefined }),
});
/**
 * An entry in the earliest form of its command (UpdateQueue, Tick, Redrive, Rewind, ReceiveBatch
 * layout 1, SendReceive layout 2), which keeps its earlier meaning (`CommandType`): one in four.
 * The others are in the newest form (TickKeepingLocks, RedriveAfterHousekeeping,
 * RewindFromWindow, ReceiveBatch 3, SendReceive 4); the forms
 * between are pinned by `entry_forms_test.ts`.
 */
const earlierArb = fc.constantFrom(false, false, false, true);
/** The form of an update: the newest (the service's) in two of five, each earlier one in one. */
const updateFormArb = fc.constantFrom(
  CommandType.UpdateQueueBarringDeleted,
  CommandType.UpdateQueueBarringDeleted,
  CommandType.UpdateQueueWithRewindFloor,
  CommandType.UpdateQueueKeepingPolicy,
  CommandType.UpdateQueue,
);
const opArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("create" as const),
      queue: queueArb,
      variant: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("deleteQueue" as const), queue: queueArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("update" as const),
      queue: queueArb,
      change: fc.nat(updates.length - 1),
      form: updateFormArb,
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("send" as const),
      queue: queueArb,
      messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("sendReceive" as const),
      queue: queueArb,
      messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
      receives: fc.array(
        fc.record({
          max: fc.integer({ min: 1, max: 4 }),
          visibilitySeconds: fc.constantFrom(0, 1, 5, 30, 400, 43_200),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      earlier: earlierArb,
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant("receive" as const),
      queue: queueArb,
      max: fc.integer({ min: 1, max: 4 }),
      visibilitySeconds: fc.constantFrom(0, 1, 5, 30, 400, 43_200),
      deletes: fc.array(pickArb, { maxLength: 2 }),
      earlier: earlierArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      queue: queueArb,
      handles: fc.array(pickArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("visibility" as const),
      queue: queueArb,
      entries: fc.array(
        fc.record({ pick: pickArb, seconds: fc.constantFrom(0, 0, 1, 10, 43_200) }),
        {
          minLength: 1,
          maxLength: 2,
        },
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("rewind" as const),
      queue: queueArb,
      earlier: earlierArb,
      bySequence: fc.boolean(),
      back: fc.constantFrom(0, 1_000, 10_000, 50_000, 150_000, 500_000),
      sequence: fc.integer({ min: 0, max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const), queue: queueArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("redrive" as const),
      queue: queueArb,
      destination: fc.option(queueArb, { nil: undefined }),
      max: fc.integer({ min: 1, max: 5 }),
      earlier: earlierArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("tick" as const), earlier: earlierArb }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.constantFrom(0, 100, 1_000, 1_000, 5_000, 5_000, 30_000, 61_000, 301_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("snapshot" as const) }) },
);
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

interface IssuedHandle {
  queue: string;
  handle: string;
  incarnation: number;
  sequence: number;
  delivery: number;
}

class Harness {
  machine = new StateMachine();
  model = new ReferenceModel();
  now = 1_000_000;
  index = 0;
  issued: IssuedHandle[] = [];

  /** A machine restored from a snapshot of `machine`: it must answer every later entry alike. */
  twin?: StateMachine;

  apply(type: number, payload: Uint8Array): unknown {
    this.index++;
    const entry = { index: this.index, timestamp: this.now, type, payload };
    const result = this.machine.apply(entry);
    if (this.twin) {
      assert.deepEqual(comparable(this.twin.apply(entry)), comparable(result), "restored twin");
    }
    return result;
  }

  /** The twin answers every query as the original does, and snapshots to the same bytes. */
  compareTwin(context: string): void {
    const twin = this.twin;
    if (!twin) return;
    const machine = this.machine;
    for (const name of names) {
      // hasReceivable and receivableCount may differ: stale heap entries of locks that were
      // changed count as candidates until a release drops them, and a restore has none.
      assert.deepEqual(twin.getQueue(name, this.now), machine.getQueue(name, this.now), context);
    }
    assert.equal(twin.needsTick(this.now), machine.needsTick(this.now), `needsTick ${context}`);
    assert.equal(twin.lowestReferencedIndex(), machine.lowestReferencedIndex(), context);
    assert.deepEqual(twin.snapshot(), machine.snapshot(), `snapshot bytes after ${context}`);
  }

  resolve(pick: Pick, queue: string): { bytes: Uint8Array; model: ModelHandle } {
    const pool = pick.kind === "any"
      ? this.issued
      : this.issued.filter((issued) => issued.queue === queue);
    if (pick.kind === "garbage" || pool.length === 0) {
      return {
        bytes: receiptHandleToBytes("not-a-handle"),
        model: { kind: "garbage", incarnation: 0, sequence: 0, delivery: 0 },
      };
    }
    // Prefer recent handles: they are the ones still current.
    const recent = Math.min(pool.length, 8);
    const issued = pool[pool.length - 1 - (pick.index % recent)];
    const model: ModelHandle = {
      kind: "real",
      incarnation: issued.incarnation,
      sequence: issued.sequence,
      delivery: issued.delivery,
    };
    let bytes = receiptHandleToBytes(issued.handle);
    if (pick.kind === "forged") {
      const fields = decodeReceiptBytes(bytes)!;
      bytes = encodeReceiptBytes({ ...fields, deliveryIndex: fields.deliveryIndex + 1 });
      model.kind = "forged";
    }
    return { bytes, model };
  }

  modelQueue(name: string): ModelQueue | undefined {
    return this.model.queues.get(name);
  }
}

function outcomeOf(failures: HandleFailure[], count: number): HandleOutcome[] {
  const outcomes: HandleOutcome[] = Array(count).fill("ok");
  for (const failure of failures) {
    outcomes[failure.index] = failure.gone ? "ReceiptHandleStaleGone" : failure.code;
  }
  return outcomes;
}

/** A result with its errors as plain fields (deepEqual does not compare Error messages). */
function comparable(result: unknown): unknown {
  return result instanceof BrokerError
    ? { code: result.code, message: result.message, field: result.field }
    : result;
}

function errorCode(result: unknown): string | undefined {
  return result instanceof BrokerError ? result.code : undefined;
}

function runOp(h: Harness, op: Op): void {
  switch (op.op) {
    case "create":
      return create(h, op.queue, op.variant);
    case "deleteQueue": {
      const result = h.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: op.queue }));
      const existed = h.model.queues.delete(op.queue);
      assert.equal(errorCode(result), existed ? undefined : "QueueNotFound");
      return;
    }
    case "send":
      return send(h, op);
    case "sendReceive":
      return sendReceive(h, op);
    case "receive":
      return receive(h, op);
    case "delete":
      return deleteMessages(h, op);
    case "visibility":
      return visibility(h, op);
    case "rewind":
      return rewind(h, op);
    case "purge": {
      const result = h.apply(CommandType.Purge, encodeQueueCommand({ queue: op.queue }));
      const queue = h.modelQueue(op.queue);
      if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
      assert.deepEqual(result, { purged: h.model.purge(queue) });
      return;
    }
    case "redrive":
      return redrive(h, op);
    case "tick":
      h.apply(op.earlier ? CommandType.Tick : CommandType.TickKeepingLocks, encodeTick());
      h.model.tick(h.now, !op.earlier);
      return;
    case "advance":
      h.now += op.ms;
      return;
    case "snapshot": {
      const bytes = h.machine.snapshot();
      const restored = StateMachine.restore(bytes);
      assert.deepEqual(restored.snapshot(), bytes, "snapshot of a restored machine differs");
      assert.equal(restored.appliedIndex, h.index);
      // The model checks the restored machine from here on; the one it was taken of goes on
      // beside it as the twin, which must answer every later entry the same.
      [h.twin, h.machine] = [h.machine, restored];
      return;
    }
    case "update":
      return update(h, op.queue, updates[op.change], op.form);
  }
}

function create(h: Harness, name: string, variant: number): void {
  const input = variants[name][variant % variants[name].length];
  const attributes = resolveCreate(input);
  const result = h.apply(
    CommandType.CreateQueue,
    encodeCreateQueue({ queue: name, attributes, salt: 1234 + h.index }),
  );
  const existing = h.modelQueue(name);
  let expected: unknown;
  if (existing) {
    // A create without tags (as every variant is) matches the queue whatever its tags.
    const { tags: _tags, ...untagged } = existing.attributes;
    const same = isDeepStrictEqual(untagged, attributes);
    expected = same
      ? { created: false, queue: h.machine.getQueue(name, h.now) }
      : "QueueAlreadyExists";
  } else {
    const target = attributes.deadLetter ? h.modelQueue(attributes.deadLetter.queue) : undefined;
    if (attributes.deadLetter && (!target || target.attributes.fifo !== attributes.fifo)) {
      expected = "InvalidParameter";
    } else {
      expected = { created: true, queue: h.machine.getQueue(name, h.now) };
      h.model.queues.set(name, {
        name,
        incarnation: h.index,
        attributes,
        nextSequence: 1,
        rewindFloor: 0,
        messages: [],
        dedup: new Map(),
      });
    }
  }
  if (typeof expected === "string") assert.equal(errorCode(result), expected);
  else assert.deepEqual(result, expected);
}

function update(h: Harness, name: string, input: QueueAttributesInput, form: number): void {
  const result = h.apply(form, encodeUpdateQueue({ queue: name, attributes: input }));
  const earlier = form === CommandType.UpdateQueue;
  const queue = h.modelQueue(name);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  let attributes;
  try {
    attributes = resolveUpdate(queue.attributes, input);
  } catch (error) {
    assert.ok(error instanceof BrokerError);
    return assert.equal(errorCode(result), error.code);
  }
  // Only a policy the update sets is checked: one kept may name a queue deleted since. (The
  // earlier form checks the one kept too.)
  const policy = input.deadLetter || earlier ? attributes.deadLetter : undefined;
  const target = policy ? h.modelQueue(policy.queue) : undefined;
  if (policy && (!target || target === queue || target.attributes.fifo !== queue.attributes.fifo)) {
    return assert.equal(errorCode(result), "InvalidParameter");
  }
  assert.deepEqual(result, { updated: true, queue: h.machine.getQueue(name, h.now) });
  const rewindSeconds = [queue.attributes.rewindSeconds, attributes.rewindSeconds] as const;
  if (form === CommandType.UpdateQueueWithRewindFloor) {
    h.model.raiseRewindFloor(queue, h.now, ...rewindSeconds);
  } else if (form === CommandType.UpdateQueueBarringDeleted) {
    h.model.barDeleted(queue, h.now, ...rewindSeconds);
  }
  queue.attributes = attributes;
}

function send(h: Harness, op: Extract<Op, { op: "send" }>): void {
  const result = h.apply(
    CommandType.SendBatch,
    encodeSendBatch({ queue: op.queue, messages: op.messages }),
  );
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const expected = h.model.send(queue, {
    now: h.now,
    index: h.index,
    messages: op.messages.map((message) => ({
      bodyBytes: new TextEncoder().encode(message.body).length,
      delaySeconds: message.delaySeconds,
      groupId: message.groupId,
      dedupId: message.dedupId,
    })),
  });
  if ("error" in expected) assert.equal(errorCode(result), expected.error);
  else assert.deepEqual(result, expected);
}

function receive(h: Harness, op: Extract<Op, { op: "receive" }>): void {
  const picks = op.deletes.map((pick) => h.resolve(pick, op.queue));
  const payload = encodeReceiveBatch({
    queue: op.queue,
    maxMessages: op.max,
    visibilityTimeoutSeconds: op.visibilitySeconds,
    deleteHandles: picks.map((pick) => pick.bytes),
  });
  if (op.earlier) payload[0] = 1; // the earlier layout: the same bytes after the version
  const result = h.apply(CommandType.ReceiveBatch, payload);
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const actual = result as { messages: Delivery[]; deleted?: number; failures?: HandleFailure[] };
  if (picks.length > 0) {
    const expectedOutcomes = picks.map((pick) => h.model.deleteMessage(queue, pick.model));
    assert.deepEqual(outcomeOf(actual.failures!, picks.length), expectedOutcomes);
    assert.equal(actual.deleted, expectedOutcomes.filter((outcome) => outcome === "ok").length);
  }
  const { max, visibilitySeconds, earlier } = op;
  expectDeliveries(h, { queue, max, visibilitySeconds, earlier }, actual);
}

/** Checks a receive's deliveries against the model's (which it advances) and keeps the handles. */
function expectDeliveries(
  h: Harness,
  receive: { queue: ModelQueue; max: number; visibilitySeconds: number; earlier: boolean },
  actual: { messages: Delivery[] },
): void {
  const queue = receive.queue;
  const seconds = receive.visibilitySeconds || queue.attributes.visibilityTimeoutSeconds;
  const expected = h.model.receive(queue, {
    now: h.now,
    index: h.index,
    max: receive.max,
    visibilityMs: seconds * 1000,
    inGroupOrder: !receive.earlier,
  });
  const shape = (delivery: Delivery) => {
    const fields = decodeReceiptBytes(receiptHandleToBytes(delivery.receiptHandle))!;
    return {
      sequence: delivery.sequence,
      id: delivery.id,
      logIndex: delivery.logIndex,
      slot: delivery.slot,
      enqueuedAt: delivery.enqueuedAt,
      firstReceivedAt: delivery.firstReceivedAt,
      receiveCount: delivery.receiveCount,
      visibleAt: delivery.visibleAt,
      handle: [fields.incarnation, fields.sequence, fields.deliveryIndex],
    };
  };
  assert.deepEqual(
    actual.messages.map(shape),
    expected.map((message) => ({
      sequence: message.sequence,
      id: message.id,
      logIndex: message.logIndex,
      slot: message.slot,
      enqueuedAt: message.enqueuedAt,
      firstReceivedAt: message.firstReceivedAt,
      receiveCount: message.receiveCount,
      visibleAt: message.visibleAt,
      handle: [queue.incarnation, message.sequence, h.index],
    })),
  );
  for (const delivery of actual.messages) {
    h.issued.push({
      queue: queue.name,
      handle: delivery.receiptHandle,
      incarnation: queue.incarnation,
      sequence: delivery.sequence,
      delivery: h.index,
    });
  }
}

/** A send and the receives in its entry: the same as the send, then each receive, in order. */
function sendReceive(h: Harness, op: Extract<Op, { op: "sendReceive" }>): void {
  const receives = op.receives.slice(0, op.messages.length);
  const payload = encodeSendReceive({
    queue: op.queue,
    messages: op.messages,
    receives: receives.map((receive) => ({
      maxMessages: receive.max,
      visibilityTimeoutSeconds: receive.visibilitySeconds,
    })),
  });
  if (op.earlier) payload[0] = 2; // the earlier layout: the same bytes after the version
  const result = h.apply(CommandType.SendReceive, payload);
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const sent = h.model.send(queue, {
    now: h.now,
    index: h.index,
    messages: op.messages.map((message) => ({
      bodyBytes: new TextEncoder().encode(message.body).length,
      delaySeconds: message.delaySeconds,
      groupId: message.groupId,
      dedupId: message.dedupId,
    })),
  });
  if ("error" in sent) return assert.equal(errorCode(result), sent.error);
  const actual = result as { messages: unknown; receives: { messages: Delivery[] }[] };
  assert.deepEqual(actual.messages, sent.messages);
  assert.equal(actual.receives.length, receives.length);
  receives.forEach((receive, index) => {
    expectDeliveries(h, { queue, ...receive, earlier: op.earlier }, actual.receives[index]);
  });
}

function deleteMessages(h: Harness, op: Extract<Op, { op: "delete" }>): void {
  const picks = op.handles.map((pick) => h.resolve(pick, op.queue));
  const result = h.apply(
    CommandType.DeleteBatch,
    encodeDeleteBatch({ queue: op.queue, handles: picks.map((pick) => pick.bytes) }),
  );
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const actual = result as { deleted: number; failures: HandleFailure[] };
  const expected = picks.map((pick) => h.model.deleteMessage(queue, pick.model));
  assert.deepEqual(outcomeOf(actual.failures, picks.length), expected);
  assert.equal(actual.deleted, expected.filter((outcome) => outcome === "ok").length);
}

function visibility(h: Harness, op: Extract<Op, { op: "visibility" }>): void {
  const picks = op.entries.map((entry) => ({
    ...h.resolve(entry.pick, op.queue),
    seconds: entry.seconds,
  }));
  const result = h.apply(
    CommandType.ChangeVisibility,
    encodeChangeVisibility({
      queue: op.queue,
      entries: picks.map((pick) => ({
        handle: pick.bytes,
        visibilityTimeoutSeconds: pick.seconds,
      })),
    }),
  );
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const actual = result as {
    entries: { index: number; visibleAt: number }[];
    failures: HandleFailure[];
  };
  const expected = picks.map((pick) =>
    h.model.changeVisibility(queue, { handle: pick.model, seconds: pick.seconds, now: h.now })
  );
  const actualOutcomes: (HandleOutcome | number)[] = outcomeOf(actual.failures, picks.length);
  for (const entry of actual.entries) actualOutcomes[entry.index] = entry.visibleAt;
  assert.deepEqual(actualOutcomes, expected);
}

function rewind(h: Harness, op: Extract<Op, { op: "rewind" }>): void {
  const target = op.bySequence ? { sequence: op.sequence } : { timestamp: h.now - op.back };
  const type = op.earlier ? CommandType.Rewind : CommandType.RewindFromWindow;
  const result = h.apply(type, encodeRewind({ queue: op.queue, ...target }));
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const expected = h.model.rewind(queue, { now: h.now, ...target, fromWindow: !op.earlier });
  if ("error" in expected) assert.equal(errorCode(result), expected.error);
  else assert.deepEqual(result, expected);
}

function redrive(h: Harness, op: Extract<Op, { op: "redrive" }>): void {
  const result = h.apply(
    op.earlier ? CommandType.Redrive : CommandType.RedriveAfterHousekeeping,
    encodeRedrive({ queue: op.queue, destination: op.destination, maxMessages: op.max }),
  );
  const queue = h.modelQueue(op.queue);
  if (!queue) return assert.equal(errorCode(result), "QueueNotFound");
  const { destination, max } = op;
  const [inGroupOrder, housekeeps] = [!op.earlier, !op.earlier];
  const expected = h.model.redrive(queue, {
    now: h.now,
    destination,
    max,
    inGroupOrder,
    housekeeps,
  });
  if ("error" in expected) assert.equal(errorCode(result), expected.error);
  else assert.deepEqual(result, expected);
}

function compareCounts(h: Harness, context: string): void {
  for (const name of names) {
    const queue = h.modelQueue(name);
    const view = h.machine.getQueue(name, h.now);
    if (!queue) {
      assert.equal(view, undefined);
      continue;
    }
    assert.ok(view, `${name} missing`);
    const {
      activeMessages,
      inflightMessages,
      delayedMessages,
      rewindableMessages,
      oldestMessageAt,
    } = view;
    assert.deepEqual(
      { activeMessages, inflightMessages, delayedMessages, rewindableMessages, oldestMessageAt },
      h.model.counts(queue, h.now),
      `counts of ${name} after ${context}`,
    );
    // Long polls wake as many receivers as this count: it may be high, never too low.
    for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
      const count = machine.receivableCount(name, h.now, 1_000);
      const receivable = machine.hasReceivable(name, h.now);
      if (receivable) assert.ok(count >= 1, `${name} count after ${context}`);
      if (h.model.hasCandidate(queue, h.now)) {
        assert.ok(receivable, `${name} has a receivable message after ${context}`);
      }
      if (!queue.attributes.fifo) assert.ok(count >= activeMessages, `${name} count >= active`);
      // FIFO: exactly one per open group (a delay that ended behind a lock opens none).
      const openGroups: number = h.model.openHeads(queue, h.now).length;
      if (queue.attributes.fifo) assert.equal(count, openGroups, `${name} open groups, ${context}`);
    }
  }
}

/** A Tick is asked for whenever the dead-letter TTL has a message to move. */
function checkTtlDue(h: Harness, context: string): void {
  for (const [name, queue] of h.model.queues) {
    if (!h.model.ttlMoveDue(queue, h.now)) continue;
    for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
      assert.ok(machine.needsTick(h.now), `needsTick (TTL of ${name}) after ${context}`);
    }
  }
}

/**
 * Every queue's due time: the held FIFO groups' part and the part of a standard queue's messages
 * the TTL keeps in flight are kept up to date as they change, and `heldDueChecks` makes each call
 * compare them with a walk over all of them (it throws if not equal; a Tick also checks the kept
 * messages it moves against a walk).
 */
function checkDueTimes(h: Harness, context: string): void {
  for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
    for (const [name, due] of machine.queueDueTimes(h.now)) {
      assert.ok(!Number.isNaN(due), `due time of ${name} after ${context}`);
    }
  }
}

function runModel(ops: Op[], variants: Record<string, number>): void {
  const h = new Harness();
  for (const name of ["da", "df", "a", "f"]) create(h, name, variants[name] ?? 0);
  heldDueChecks.enabled = true;
  trackCountChecks.enabled = true;
  try {
    ops.forEach((op, step) => {
      runOp(h, op);
      const context = `step ${step} ${JSON.stringify(op)}`;
      compareCounts(h, context);
      h.compareTwin(context);
      checkTtlDue(h, context);
      checkDueTimes(h, context);
    });
  } finally {
    heldDueChecks.enabled = false;
    trackCountChecks.enabled = false;
  }
  assert.ok(h.machine.lowestReferencedIndex() >= 1);
}

Deno.test("the state machine matches the reference model on random command sequences", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, {}),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

/**
 * Steered to the dead-letter TTL (of `queue`, its dead-letter queue `dlq`): a TTL of 300 s, locks
 * that outlast it, time jumps past it, and snapshots while messages are kept (held FIFO groups,
 * a standard queue's messages in flight: the restored machine must go on exactly like the
 * original), both entry forms mixed.
 */
const ttlOps = (queue: "f" | "a", dlq: "df" | "da") => {
  const policy = queue === "f" ? 10 : 13; // (a TTL with `dlq` as the dead-letter queue)
  const ttlQueueArb = fc.oneof(
    { weight: 8, arbitrary: fc.constant(queue) },
    { weight: 1, arbitrary: fc.constant(dlq) },
  );
  return fc.oneof(
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("create" as const),
        queue: ttlQueueArb,
        variant: fc.constantFrom(1, 3, 3, 0),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("deleteQueue" as const), queue: ttlQueueArb }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("update" as const),
        queue: ttlQueueArb,
        // Lock times, retention, rewind window, the policy removed and set again, tags.
        change: fc.constantFrom(0, 1, 3, 4, 5, 8, policy, policy, 14, 16),
        form: updateFormArb,
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant("send" as const),
        queue: ttlQueueArb,
        messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("sendReceive" as const),
        queue: ttlQueueArb,
        messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
        receives: fc.array(
          fc.record({ max: fc.integer({ min: 1, max: 4 }), visibilitySeconds: lockArb }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        earlier: earlierArb,
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant("receive" as const),
        queue: ttlQueueArb,
        max: fc.integer({ min: 1, max: 4 }),
        visibilitySeconds: lockArb,
        deletes: fc.array(pickArb, { maxLength: 2 }),
        earlier: earlierArb,
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("delete" as const),
        queue: ttlQueueArb,
        handles: fc.array(pickArb, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("visibility" as const),
        queue: ttlQueueArb,
        entries: fc.array(
          fc.record({ pick: pickArb, seconds: fc.constantFrom(0, 1, 10, 43_200) }),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("rewind" as const),
        queue: ttlQueueArb,
        earlier: earlierArb,
        bySequence: fc.boolean(),
        back: fc.constantFrom(0, 1_000, 10_000, 50_000, 150_000),
        sequence: fc.integer({ min: 0, max: 30 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const), queue: ttlQueueArb }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("redrive" as const),
        queue: fc.constant(dlq),
        destination: fc.option(fc.constant(queue), { nil: undefined }),
        max: fc.integer({ min: 1, max: 5 }),
        earlier: earlierArb,
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("tick" as const), earlier: earlierArb }) },
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant("advance" as const),
        ms: fc.constantFrom(1_000, 5_000, 30_000, 61_000, 301_000, 301_000),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("snapshot" as const) }) },
  );
};
const lockArb = fc.constantFrom(0, 5, 30, 400, 400, 43_200);

Deno.test("the state machine matches the reference model on FIFO dead-letter TTL sequences", () => {
  fc.assert(
    fc.property(
      fc.array(ttlOps("f", "df"), { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, { f: 3 }),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

Deno.test("the state machine matches the reference model on standard dead-letter TTL sequences", () => {
  fc.assert(
    fc.property(
      fc.array(ttlOps("a", "da"), { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, { a: 3 }),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

Deno.test("receipt handle helpers round-trip", () => {
  const bytes = encodeReceiptBytes({ incarnation: 3, sequence: 9, deliveryIndex: 12, tag: 77 });
  assert.deepEqual(receiptHandleToBytes(receiptBytesToHandle(bytes)), bytes);
});
