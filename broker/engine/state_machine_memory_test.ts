import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import { encodeCreateQueue, encodeSendBatch, encodeTick } from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";

/** Sends `total` messages in batches of `batch` into a fresh queue; returns RAM bytes/message. */
function bytesPerMessage(options: { total: number; batch: number; fifo: boolean }): number {
  const machine = new StateMachine();
  let index = 0;
  const now = 1_700_000_000_000;
  machine.apply({
    index: ++index,
    timestamp: now,
    type: CommandType.CreateQueue,
    payload: encodeCreateQueue({
      queue: "backlog",
      attributes: resolveCreate({ fifo: options.fifo, maxBacklog: 1_000_000_000 }),
      salt: 1,
    }),
  });
  const empty = machine.memoryBytes();
  const payloads = [0, 1, 2, 3].map((variant) =>
    encodeSendBatch({
      queue: "backlog",
      messages: Array.from({ length: options.batch }, (_, slot) => ({
        body: `message ${slot}`,
        delaySeconds: 0,
        groupId: options.fifo ? `group-${(slot + variant) % 7}` : undefined,
      })),
    })
  );
  for (let sent = 0; sent < options.total; sent += options.batch) {
    // A new millisecond every few batches, as under real load.
    const timestamp = now + Math.floor(sent / 64);
    const payload = payloads[(sent / options.batch) % payloads.length];
    const result = machine.apply({
      index: ++index,
      timestamp,
      type: CommandType.SendBatch,
      payload,
    });
    assert.ok(!(result instanceof Error), String(result));
  }
  machine.apply({
    index: ++index,
    timestamp: now + 1_000_000,
    type: CommandType.Tick,
    payload: encodeTick(),
  });
  assert.equal(machine.getQueue("backlog", now + 1_000_000)?.activeMessages, options.total);
  return (machine.memoryBytes() - empty) / options.total;
}

Deno.test("a backlog of 1M messages sent in batches of 16 costs at most 16 bytes each", () => {
  const bytes = bytesPerMessage({ total: 1_000_000, batch: 16, fifo: false });
  console.log(`standard queue, batches of 16: ${bytes.toFixed(2)} B/message`);
  assert.ok(bytes <= 16, `${bytes} bytes per message`);
});

Deno.test("a fifo backlog in batches of 16 costs at most 16 bytes each", () => {
  const bytes = bytesPerMessage({ total: 256_000, batch: 16, fifo: true });
  console.log(`fifo queue, batches of 16: ${bytes.toFixed(2)} B/message`);
  assert.ok(bytes <= 16, `${bytes} bytes per message`);
});

Deno.test("a backlog of single sends costs at most 16 bytes each", () => {
  const bytes = bytesPerMessage({ total: 100_000, batch: 1, fifo: false });
  console.log(`standard queue, single sends: ${bytes.toFixed(2)} B/message`);
  assert.ok(bytes <= 16, `${bytes} bytes per message`);
});
