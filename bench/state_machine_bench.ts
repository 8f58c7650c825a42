/**
 * `deno bench` of the queue engine's apply path for one API batch of 16 messages of 1 KB: the
 * work every replica does per committed entry, without HTTP, Raft or disk.
 *
 * The engine's mod.ts does not export the state machine and the command codecs (yet), so this
 * file reaches into broker/ directly; it is a bench of internals by design.
 *
 * @module
 */

import {
  CommandType,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeSendBatch,
  receiptHandleToBytes,
  type ReceiveResult,
  resolveCreate,
  type SendCommandMessage,
  StateMachine,
} from "../broker/testing.ts";

const batchSize = 16;
const body = "x".repeat(1024);
const messages: SendCommandMessage[] = Array.from({ length: batchSize }, () => ({
  body,
  delaySeconds: 0,
}));

/** One state machine with one queue, applying entries with increasing index and time. */
class Engine {
  machine = new StateMachine();
  index = 0;
  now = 1_700_000_000_000;

  constructor() {
    this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue: "bench", attributes: resolveCreate({}), salt: 7 }),
    );
  }

  apply(type: number, payload: Uint8Array): unknown {
    this.now += 1;
    return this.machine.apply({ index: ++this.index, timestamp: this.now, type, payload });
  }

  receive(deleteHandles: Uint8Array[]): Uint8Array[] {
    const result = this.apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue: "bench",
        maxMessages: batchSize,
        visibilityTimeoutSeconds: 30,
        deleteHandles,
      }),
    ) as ReceiveResult;
    return result.messages.map((message) => receiptHandleToBytes(message.receiptHandle));
  }
}

const sendPayload = encodeSendBatch({ queue: "bench", messages });

Deno.bench("encode a SendBatch command, 16 × 1 KB", { group: "command codec" }, () => {
  encodeSendBatch({ queue: "bench", messages });
});

const sending = new Engine();
Deno.bench("apply SendBatch, 16 × 1 KB", { group: "apply", baseline: true }, () => {
  sending.apply(CommandType.SendBatch, sendPayload);
});

const cycling = new Engine();
Deno.bench("apply SendBatch + ReceiveBatch + DeleteBatch, 16 each", { group: "apply" }, () => {
  cycling.apply(CommandType.SendBatch, sendPayload);
  const handles = cycling.receive([]);
  cycling.apply(CommandType.DeleteBatch, encodeDeleteBatch({ queue: "bench", handles }));
});

const piggybacking = new Engine();
let held: Uint8Array[] = [];
Deno.bench("apply SendBatch + ReceiveBatch acking the previous 16", { group: "apply" }, () => {
  piggybacking.apply(CommandType.SendBatch, sendPayload);
  held = piggybacking.receive(held);
});
