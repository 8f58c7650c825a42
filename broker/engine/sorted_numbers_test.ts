/**
 * `SortedNumbers` against a plain sorted array, and the work of its inserts and deletes with a
 * member per FIFO group or per message: counted as the array members a `splice` shifts (never
 * timed).
 */
import assert from "node:assert/strict";
import { SortedNumbers } from "./sorted_numbers.ts";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import {
  encodeCreateQueue,
  encodeReceiveBatch,
  encodeSendBatch,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import type { ReceiveResult } from "./command_results.ts";

Deno.test("SortedNumbers answers as a sorted array does, through splits and emptied blocks", () => {
  let seed = 7;
  const random = (limit: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % limit;
  };
  const set = new SortedNumbers();
  let reference: number[] = [];
  for (let step = 0; step < 30_000; step++) {
    const value = random(5_000);
    const choice = random(100);
    if (choice < 55) {
      const absent = !reference.includes(value);
      assert.equal(set.add(value), absent);
      if (absent) reference = [...reference, value].sort((left, right) => left - right);
    } else if (choice < 95) {
      const present = reference.includes(value);
      assert.equal(set.delete(value), present);
      if (present) reference = reference.filter((member) => member !== value);
    } else if (choice < 97) {
      set.trimBelow(value >> 3);
      reference = reference.filter((member) => member >= value >> 3);
    } else if (choice < 98) {
      // Values above every member, many at once (past a block's 512).
      const above = (reference.at(-1) ?? 0) + 1 + value;
      const values = Array.from({ length: random(1_200) }, (_, at) => above + 2 * at);
      set.appendSorted(values);
      reference = [...reference, ...values];
    } else {
      assert.equal(set.has(value), reference.includes(value));
      const rank = random(reference.length + 2);
      assert.equal(set.at(rank), reference[rank]);
    }
    assert.equal(set.size, reference.length);
    assert.equal(set.at(0), reference[0]);
  }
  assert.deepEqual(set.toArray(), reference);
  set.clear();
  assert.deepEqual([set.size, set.at(0), set.delete(1), set.has(1)], [0, undefined, false, false]);
  set.trimBelow(10);
  assert.equal(set.add(1), true);
  assert.throws(() => set.appendSorted([1, 2]), /appended above members/);
  assert.throws(() => set.appendSorted([3, 2]), /appended values ascend/);
});

/** Array members shifted by `splice` (those after the first index it changes) while `run` runs. */
function shiftedBySplice(run: () => void): number {
  const original = Array.prototype.splice;
  let shifted = 0;
  Array.prototype.splice = function (this: unknown[], start: number, ...rest: unknown[]) {
    shifted += Math.max(0, this.length - start);
    return original.call(this, start, ...(rest as [number, ...unknown[]]));
  } as typeof original;
  try {
    run();
  } finally {
    Array.prototype.splice = original;
  }
  return shifted;
}

function engine(fifo: boolean) {
  const machine = new StateMachine();
  let index = 0;
  let now = 1_700_000_000_000;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: now, type, payload });
  apply(
    CommandType.CreateQueue,
    encodeCreateQueue({ queue: "q", attributes: resolveCreate({ fifo }), salt: 1 }),
  );
  const send = (groups: number[]) => {
    const messages: SendCommandMessage[] = groups.map((group) => ({
      body: "x",
      delaySeconds: 0,
      ...(fifo ? { groupId: `g${group}` } : {}),
    }));
    apply(CommandType.SendBatch, encodeSendBatch({ queue: "q", messages }));
  };
  const receive = (maxMessages: number, seconds: number, deleteHandles: Uint8Array[] = []) =>
    (apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue: "q",
        maxMessages,
        visibilityTimeoutSeconds: seconds,
        deleteHandles,
      }),
    ) as ReceiveResult).messages.map((message) => receiptHandleToBytes(message.receiptHandle));
  return { machine, send, receive, pass: (ms: number) => now += ms };
}

const groups = 20_000;

Deno.test("receives on a FIFO queue with many groups shift no ordered set of the groups", () => {
  const { send, receive } = engine(true);
  // Two messages per group, the second round in reverse: after the first round is deleted, the
  // heads are ordered against the groups' order.
  for (const reverse of [false, true]) {
    for (let first = 0; first < groups; first += 250) {
      send(Array.from({ length: 250 }, (_, at) => reverse ? groups - 1 - first - at : first + at));
    }
  }
  let handles: Uint8Array[] = [];
  for (let round = 0; round < 5; round++) handles = receive(10, 30, handles);
  const shifted = shiftedBySplice(() => {
    for (let round = 0; round < 20; round++) handles = receive(10, 30, handles);
  });
  // 200 deliveries and deletes, each a change or two of the ready groups: a sorted array of
  // 20,000 shifted about 20,000 members per change (about 4,000,000 here; about 50,000 in blocks).
  assert.ok(shifted <= 200 * 2 * 600, `${shifted} members shifted`);
});

Deno.test("every lock of a large backlog ending at once shifts no ordered set of the messages", () => {
  const { machine, send, receive, pass } = engine(false);
  for (let first = 0; first < groups; first += 250) {
    send(Array.from({ length: 250 }, (_, at) => first + at));
  }
  // Locks of 1-40 s by turns, so they end out of sequence order.
  for (let round = 0; round < groups / 250; round++) receive(250, 1 + (round * 7) % 40);
  pass(60_000);
  const shifted = shiftedBySplice(() => receive(1, 30));
  // 20,000 inserts out of order: about 90,000,000 members shifted in one sorted array, about
  // 560,000 in blocks.
  assert.equal(machine.getQueue("q", 0)!.inflightMessages, 1);
  assert.ok(shifted <= groups * 100, `${shifted} members shifted`);
});
