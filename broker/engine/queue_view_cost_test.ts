/**
 * The API view of a queue (every GET of a queue, list pages, GetQueueAttributes: monitoring and
 * autoscalers poll it) runs on the leader's main thread: its work must not grow with the messages
 * in flight or delayed. These tests count operations (never time): reads of the queue's maps and
 * steps of their iterators.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import {
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeSendBatch,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import type { ReceiveResult } from "./command_results.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import { countCalls } from "./_count_calls.ts";

/**
 * A standard queue "work" with `count` messages in flight: the first `short` of them locked for
 * 1 s, the others for 12 h (their receipt handles in `handles`). `apply` applies an entry at `now`.
 */
function inflightQueue(count: number, short: number) {
  const machine = new StateMachine();
  let index = 0;
  const now = 1_700_000_000_000;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: now, type, payload });
  apply(
    CommandType.CreateQueue,
    encodeCreateQueue({ queue: "work", attributes: resolveCreate({}), salt: 1 }),
  );
  for (let sent = 0; sent < count; sent += 10) {
    const messages: SendCommandMessage[] = [];
    for (let slot = 0; slot < 10; slot++) messages.push({ body: "x", delaySeconds: 0 });
    apply(CommandType.SendBatch, encodeSendBatch({ queue: "work", messages }));
  }
  const handles: Uint8Array[] = [];
  for (let received = 0; received < count; received += 10) {
    const result = apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue: "work",
        maxMessages: 10,
        visibilityTimeoutSeconds: received < short ? 1 : 43_200,
        deleteHandles: [],
      }),
    ) as ReceiveResult;
    assert.equal(result.messages.length, 10);
    for (const message of result.messages) {
      handles.push(receiptHandleToBytes(message.receiptHandle));
    }
  }
  return { machine, now, apply, handles };
}

const mapIterator = Object.getPrototypeOf(new Map().values()) as Iterator<unknown>;

/** Map reads and map iterator steps while `run` runs. */
function mapWork(run: () => void): { reads: number; steps: number } {
  let reads = 0;
  const steps = countCalls(mapIterator, "next", () => {
    reads = countCalls(Map.prototype, "get", run);
  });
  return { reads, steps };
}

Deno.test("a queue's view with 10,000 messages in flight, none of whose locks ended, walks none of them", () => {
  const { machine, now } = inflightQueue(10_000, 0);
  let view = machine.getQueue("work", now);
  const work = mapWork(() => view = machine.getQueue("work", now + 60_000));
  assert.equal(view?.inflightMessages, 10_000);
  assert.equal(view?.activeMessages, 0);
  // (One read finds the queue, the rest would be messages looked at.)
  assert.ok(work.reads + work.steps <= 2, `view: ${JSON.stringify(work)}`);
});

Deno.test("a queue's view looks only at the messages whose locks ended since the last apply", () => {
  const { machine, now } = inflightQueue(10_000, 100);
  let view = machine.getQueue("work", now);
  // No apply since: the 100 locks of 1 s ended, but no release made those messages visible yet.
  const work = mapWork(() => view = machine.getQueue("work", now + 2_000));
  assert.equal(view?.inflightMessages, 9_900);
  assert.equal(view?.activeMessages, 100);
  assert.ok(work.reads + work.steps <= 102, `view: ${JSON.stringify(work)}`);
});

Deno.test("a queue's view walks its few tracked messages rather than many locks that ended since", () => {
  const { machine, now, apply, handles } = inflightQueue(10_000, 10_000);
  // 9,990 deleted: their release heap entries stay (stale) until the next apply's release.
  for (let first = 10; first < handles.length; first += 10) {
    const batch = handles.slice(first, first + 10);
    apply(CommandType.DeleteBatch, encodeDeleteBatch({ queue: "work", handles: batch }));
  }
  let view = machine.getQueue("work", now);
  assert.equal(view?.inflightMessages, 10);
  // No apply since: 10,000 entries are due (9,990 of them stale), 10 messages are tracked.
  const work = mapWork(() => view = machine.getQueue("work", now + 2_000));
  assert.equal(view?.inflightMessages, 0);
  assert.equal(view?.activeMessages, 10);
  assert.ok(work.reads + work.steps <= 12, `view: ${JSON.stringify(work)}`);
});

Deno.test("the totals over 10,000 queues read each queue's kept counts: no message looked at", () => {
  const machine = new StateMachine();
  let index = 0;
  const now = 1_700_000_000_000;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: now, type, payload });
  for (let n = 0; n < 10_000; n++) {
    const queue = `q${n}`;
    apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolveCreate({}), salt: 1 }),
    );
    const messages = [{ body: "x", delaySeconds: 0 }, { body: "y", delaySeconds: n % 3 }];
    apply(CommandType.SendBatch, encodeSendBatch({ queue, messages }));
    if (n % 2 === 0) {
      apply(
        CommandType.ReceiveBatch,
        encodeReceiveBatch({
          queue,
          maxMessages: 1,
          visibilityTimeoutSeconds: 60,
          deleteHandles: [],
        }),
      );
    }
  }
  let totals = machine.depthTotals(now);
  const work = mapWork(() => totals = machine.depthTotals(now));
  // One step per queue (and the end): the queues map itself, no message's entry.
  assert.deepEqual(work, { reads: 0, steps: 10_001 });
  assert.deepEqual(totals, {
    activeMessages: 5_000 + 3_334,
    inflightMessages: 5_000,
    delayedMessages: 6_666,
  });
  // Past the delays, before any apply released them: as the views count them.
  const later = machine.depthTotals(now + 5_000);
  assert.deepEqual(later, { activeMessages: 15_000, inflightMessages: 5_000, delayedMessages: 0 });
});
