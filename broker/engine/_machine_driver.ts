/**
 * Test helper: drives one `StateMachine` with entries at a settable clock (`now`), through the
 * commands a test needs most. `machine` may be replaced, e.g. by a restored copy.
 *
 * @module
 */
import { type ReceiveResult, StateMachine } from "./state_machine.ts";
import type { DeleteResult } from "./command_results.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import {
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeRewind,
  encodeSendBatch,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { receiptHandleToBytes } from "./receipt.ts";

export class MachineDriver {
  machine = new StateMachine();
  now = 1_700_000_000_000;

  apply(type: number, payload: Uint8Array): unknown {
    const index = this.machine.appliedIndex + 1;
    return this.machine.apply({ index, timestamp: this.now, type, payload });
  }
  create(queue: string, attributes: QueueAttributesInput): void {
    const resolved = resolveCreate(attributes);
    this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolved, salt: 5 }),
    );
  }
  /** Sends `messages`, each with body "x" and no delay unless it says otherwise. */
  send(queue: string, messages: Partial<SendCommandMessage>[]): unknown {
    const full = messages.map((message) => ({ body: "x", delaySeconds: 0, ...message }));
    return this.apply(CommandType.SendBatch, encodeSendBatch({ queue, messages: full }));
  }
  /** Receives up to `max`, each locked for `seconds`. */
  receive(queue: string, max: number, seconds: number): ReceiveResult["messages"] {
    const payload = encodeReceiveBatch({
      queue,
      maxMessages: max,
      visibilityTimeoutSeconds: seconds,
      deleteHandles: [],
    });
    return (this.apply(CommandType.ReceiveBatch, payload) as ReceiveResult).messages;
  }
  remove(queue: string, handles: string[]): DeleteResult {
    const payload = encodeDeleteBatch({ queue, handles: handles.map(receiptHandleToBytes) });
    return this.apply(CommandType.DeleteBatch, payload) as DeleteResult;
  }
  rewind(queue: string, timestamp: number): { messages: number } {
    return this.apply(CommandType.Rewind, encodeRewind({ queue, timestamp })) as {
      messages: number;
    };
  }
}
