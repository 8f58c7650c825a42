/**
 * The FIFO group columns take values out of sequence order: a group's link is set at its
 * previous message when the next one arrives, which may be far below the links set so far.
 */
import assert from "node:assert/strict";
import { SeqColumn } from "./seq_column.ts";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import {
  encodeCreateQueue,
  encodeReceiveBatch,
  encodeSendBatch,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import type { ReceiveResult } from "./command_results.ts";

Deno.test("a column takes a value below the first chunk it holds, and refuses one below a trim", () => {
  const column = new SeqColumn();
  column.set(10_000, 3);
  column.set(5, 7);
  column.set(9_000, 11);
  assert.deepEqual([column.get(5), column.get(9_000), column.get(10_000), column.get(6)], [
    7,
    11,
    3,
    0,
  ]);
  column.trimBelow(8_192);
  assert.equal(column.get(5), 0);
  assert.throws(() => column.set(8_191, 1), RangeError);
  column.set(8_192, 13);
  assert.equal(column.get(8_192), 13);
});

Deno.test("a FIFO group's next message links back across thousands of other groups' messages", () => {
  let machine = new StateMachine();
  let index = 0;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: 1_700_000_000_000 + index, type, payload });
  apply(
    CommandType.CreateQueue,
    encodeCreateQueue({ queue: "q", attributes: resolveCreate({ fifo: true }), salt: 1 }),
  );
  const send = (groups: string[]) => {
    const messages: SendCommandMessage[] = groups.map((groupId) => ({
      body: groupId,
      delaySeconds: 0,
      groupId,
    }));
    const result = apply(CommandType.SendBatch, encodeSendBatch({ queue: "q", messages }));
    assert.ok(!(result instanceof Error), String(result));
  };
  send(["old"]); // sequence 1
  for (let first = 0; first < 5_000; first += 10) {
    send(Array.from({ length: 10 }, (_, offset) => `g${first + offset}`));
  }
  send(["g4999"]); // the first link: at sequence 5001, in the column's second chunk
  send(["old"]); // its link goes at sequence 1, in the first chunk
  machine = StateMachine.restore(machine.snapshot());
  send(["g0"]); // after a restore too (sequence 2)
  const received = apply(
    CommandType.ReceiveBatch,
    encodeReceiveBatch({
      queue: "q",
      maxMessages: 3,
      visibilityTimeoutSeconds: 30,
      deleteHandles: [],
    }),
  ) as ReceiveResult;
  assert.deepEqual(received.messages.map((message) => message.sequence), [1, 2, 3]);
  assert.equal(machine.getQueue("q", 0)!.activeMessages, 5_001);
});
