/**
 * The dead-letter TTL of a standard queue keeps the expired messages that are in flight until
 * their lock ends (ttl_pending.ts). `needsTick` (the leader, about once a second), every Tick
 * and every receive must not walk all of them: these tests count the looks at messages' state
 * (`Map.get` of the queue's tracked messages, never time), and pin what the looks decide.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import {
  encodeChangeVisibility,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeQueueCommand,
  encodeReceiveBatch,
  encodeSendBatch,
  encodeTick,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import type { DeleteResult, ReceiveResult } from "./command_results.ts";
import type { Delivery } from "./queue.ts";
import { countCalls } from "./_count_calls.ts";

/** Calls of `Map.prototype.get` (a message's state, among a few other maps') while `run` runs. */
function mapGets(run: () => void): number {
  return countCalls(Map.prototype, "get", run);
}

/**
 * A standard queue with a TTL of 300 s and `count` messages, each received with a 12 h lock (its
 * delivery in `deliveries`, in sequence order), 301 s later; `apply` applies an entry now.
 */
function keptMessages(count: number, attributes: { rewindSeconds?: number } = {}) {
  const machine = new StateMachine();
  let index = 0;
  let now = 1_700_000_000_000;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: now, type, payload });
  const createDlq = () =>
    apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue: "dlq", attributes: resolveCreate({}), salt: 1 }),
    );
  createDlq();
  apply(
    CommandType.CreateQueue,
    encodeCreateQueue({
      queue: "work",
      attributes: resolveCreate({
        ...attributes,
        deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 },
      }),
      salt: 1,
    }),
  );
  for (let first = 0; first < count; first += 10) {
    const messages: SendCommandMessage[] = [];
    for (let message = 0; message < 10; message++) messages.push({ body: "x", delaySeconds: 0 });
    apply(CommandType.SendBatch, encodeSendBatch({ queue: "work", messages }));
  }
  const receive = (queue: string, seconds: number) =>
    (apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue,
        maxMessages: 10,
        visibilityTimeoutSeconds: seconds,
        deleteHandles: [],
      }),
    ) as ReceiveResult).messages;
  const deliveries: Delivery[] = [];
  while (deliveries.length < count) deliveries.push(...receive("work", 43_200));
  now += 301_000;
  const tick = () => {
    apply(CommandType.Tick, encodeTick());
    now += 1_000;
  };
  const changeVisibility = (deliveryAt: number, seconds: number) =>
    apply(
      CommandType.ChangeVisibility,
      encodeChangeVisibility({
        queue: "work",
        entries: [{
          handle: receiptHandleToBytes(deliveries[deliveryAt].receiptHandle),
          visibilityTimeoutSeconds: seconds,
        }],
      }),
    );
  const advance = (ms: number) => now += ms;
  return {
    machine,
    tick,
    apply,
    receive,
    deliveries,
    changeVisibility,
    createDlq,
    now: () => now,
    advance,
  };
}

Deno.test("needsTick looks at none of the kept messages whose lock stays", () => {
  const { machine, tick, now } = keptMessages(2_000);
  tick(); // every message expires in flight, and is kept
  assert.equal(machine.getQueue("work", now())!.inflightMessages, 2_000);
  assert.equal(machine.needsTick(now()), false); // each kept message is looked at once
  const answers: boolean[] = [];
  const looks = mapGets(() => {
    for (let call = 0; call < 3; call++) answers.push(machine.needsTick(now()));
  });
  assert.deepEqual(answers, [false, false, false]);
  // A walk over the kept messages looked at each of the 2,000 per call (6,000 here).
  assert.ok(looks <= 30, `${looks} looks`);
});

Deno.test("a Tick or a receive looks at none of the kept messages whose lock stays", () => {
  const { machine, tick, receive, now } = keptMessages(2_000);
  tick(); // every message expires in flight, and is kept
  const looks = mapGets(() => {
    tick();
    assert.deepEqual(receive("work", 30), []);
  });
  assert.equal(machine.getQueue("work", now())!.inflightMessages, 2_000);
  // Each of the 2,000 kept messages was looked at per Tick and per receive (4,000 here).
  assert.ok(looks <= 60, `${looks} looks`);
});

Deno.test("a changed lock of a kept message is followed, and a Tick moves only it", () => {
  const { machine, tick, changeVisibility, deliveries, receive, now, advance } = keptMessages(
    2_000,
  );
  tick();
  assert.equal(machine.needsTick(now()), false);
  let looks = mapGets(() => {
    changeVisibility(1_234, 10);
    assert.equal(machine.needsTick(now() + 9_999), false);
  });
  assert.ok(looks <= 30, `${looks} looks`);
  assert.equal(machine.needsTick(now() + 10_000), true, "the changed lock ends: a Tick is due");
  advance(10_000);
  looks = mapGets(tick);
  assert.ok(looks <= 60, `${looks} looks`);
  assert.deepEqual(receive("dlq", 30).map((moved) => moved.id), [deliveries[1_234].id]);
  assert.equal(machine.getQueue("work", now())!.inflightMessages, 1_999);
  assert.equal(machine.needsTick(now()), false);
});

Deno.test("kept messages whose locks end go to the dead-letter queue in sequence order", () => {
  const { machine, tick, changeVisibility, deliveries, receive, now, advance } = keptMessages(
    2_000,
  );
  tick();
  assert.equal(machine.needsTick(now()), false);
  // Locks end out of order: released now (0), and at a later time than a lock changed after.
  for (const at of [1_500, 7, 900]) changeVisibility(at, 0);
  changeVisibility(1_999, 20);
  changeVisibility(3, 10);
  assert.equal(machine.needsTick(now()), true);
  advance(30_000);
  tick();
  const moved = [...receive("dlq", 30), ...receive("dlq", 30)].map((message) => message.id);
  assert.deepEqual(moved, [3, 7, 900, 1_500, 1_999].map((at) => deliveries[at].id));
  assert.equal(machine.getQueue("work", now())!.inflightMessages, 1_995);
});

Deno.test("a kept message whose lock ends by itself goes on the next Tick", () => {
  const { machine, tick, changeVisibility, deliveries, receive, now, advance } = keptMessages(
    2_000,
  );
  tick();
  changeVisibility(3, 400);
  tick(); // (it is looked at: still in flight, it stays)
  assert.equal(machine.needsTick(now()), false);
  advance(400_000);
  assert.equal(machine.needsTick(now()), true);
  tick();
  assert.deepEqual(receive("dlq", 30).map((moved) => moved.id), [deliveries[3].id]);
});

Deno.test("a kept message locked again while its dead-letter queue is gone is followed", () => {
  const { machine, tick, apply, changeVisibility, createDlq, receive, now, advance } = keptMessages(
    20,
  );
  tick();
  changeVisibility(5, 0); // its lock ends
  assert.equal(machine.needsTick(now()), true); // (the kept messages are looked at)
  apply(CommandType.DeleteQueue, encodeQueueCommand({ queue: "dlq" }));
  // With no dead-letter queue it stays, and is received again: locked until 600 s from now.
  assert.equal(receive("work", 600).length, 1);
  createDlq();
  assert.equal(machine.needsTick(now() + 599_999), false);
  assert.equal(machine.needsTick(now() + 600_000), true, "its new lock ends: a Tick is due");
  advance(600_000);
  tick();
  assert.equal(receive("dlq", 30).length, 1);
});

Deno.test("a deleted kept message asks for a Tick, which forgets it", () => {
  const { machine, tick, apply, deliveries, now } = keptMessages(2_000);
  tick();
  assert.equal(machine.needsTick(now()), false);
  const result = apply(
    CommandType.DeleteBatch,
    encodeDeleteBatch({
      queue: "work",
      handles: [receiptHandleToBytes(deliveries[5].receiptHandle)],
    }),
  ) as DeleteResult;
  assert.equal(result.deleted, 1);
  assert.equal(machine.needsTick(now()), true);
  tick();
  assert.equal(machine.needsTick(now()), false);
  assert.equal(machine.getQueue("dlq", now())!.activeMessages, 0);
});

Deno.test("a purge of kept messages asks for a Tick; snapshots round-trip", () => {
  // (The purged messages stay in the rewind window: only the kept ones make a Tick due.)
  const { machine, tick, apply, now } = keptMessages(2_000, { rewindSeconds: 3_600 });
  tick();
  assert.equal(machine.needsTick(now()), false);
  apply(CommandType.Purge, encodeQueueCommand({ queue: "work" }));
  const purged = machine.snapshot();
  assert.deepEqual(StateMachine.restore(purged).snapshot(), purged);
  assert.equal(machine.needsTick(now()), true);
  tick();
  assert.equal(machine.needsTick(now()), false);
  const ticked = machine.snapshot();
  assert.deepEqual(StateMachine.restore(ticked).snapshot(), ticked);
  assert.equal(machine.getQueue("dlq", now())!.activeMessages, 0);
});
