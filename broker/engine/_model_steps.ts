/**
 * Each operation of `state_machine_model_test.ts` applied to the state machine as a log entry and
 * to the reference model, with the machine's answer checked against the model's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
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
import { decodeReceiptBytes, receiptHandleToBytes } from "./receipt.ts";
import { type HandleOutcome, type ModelQueue } from "./_reference_model.ts";
import type { Delivery, HandleFailure } from "./queue.ts";
import { type Op, updates, variants } from "./_model_ops.ts";
import { errorCode, type Harness, outcomeOf } from "./_model_harness.ts";

export function runOp(h: Harness, op: Op): void {
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

export function create(h: Harness, name: string, variant: number): void {
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
