/**
 * The harness of `state_machine_model_test.ts`: a state machine and the reference model side by
 * side (and, after a snapshot, the restored machine's twin), the receipt handles issued so far,
 * and how results and errors are compared.
 *
 * @module
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import { decodeReceiptBytes, encodeReceiptBytes, receiptHandleToBytes } from "./receipt.ts";
import {
  type HandleOutcome,
  type ModelHandle,
  type ModelQueue,
  ReferenceModel,
} from "./_reference_model.ts";
import type { HandleFailure } from "./queue.ts";
import { names, type Pick } from "./_model_ops.ts";

interface IssuedHandle {
  queue: string;
  handle: string;
  incarnation: number;
  sequence: number;
  delivery: number;
}

export class Harness {
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
      assert.deepEqual(twin.getQueue(name, this.now), machine.getQueue(name, this.now), context);
      // A heap entry left behind by a lock that was deleted or changed (a restore has none)
      // counts nothing either way.
      const receivable: boolean[] = [machine, twin].map((it) => it.hasReceivable(name, this.now));
      assert.equal(receivable[0], receivable[1], `hasReceivable ${context}`);
      const counts: number[] = [machine, twin].map((it) =>
        it.receivableCount(name, this.now, 1_000)
      );
      assert.equal(counts[0], counts[1], `receivableCount ${context}`);
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

export function outcomeOf(failures: HandleFailure[], count: number): HandleOutcome[] {
  const outcomes: HandleOutcome[] = Array(count).fill("ok");
  for (const failure of failures) {
    outcomes[failure.index] = failure.gone ? "ReceiptHandleStaleGone" : failure.code;
  }
  return outcomes;
}

/** A result with its errors as plain fields (deepEqual does not compare Error messages). */
export function comparable(result: unknown): unknown {
  return result instanceof BrokerError
    ? { code: result.code, message: result.message, field: result.field }
    : result;
}

export function errorCode(result: unknown): string | undefined {
  return result instanceof BrokerError ? result.code : undefined;
}
