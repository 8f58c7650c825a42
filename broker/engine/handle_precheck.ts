/**
 * Handles the leader can refuse without a log entry: a delete or visibility change whose every
 * handle the state machine would answer `ReceiptHandleInvalid` whatever it applies before it —
 * one not even well formed (wrong length, not base64url, a bad version or field), one of an
 * earlier incarnation of the queue (another queue's, or one deleted since: incarnations only
 * grow), and one of the queue's own incarnation whose tag does not verify with its salt (garbled
 * or forged; an incarnation keeps its salt) — would otherwise cost a replicated, fsynced entry
 * that changes nothing. Whether a verified handle is current (its delivery) is only known when
 * the command is applied, and a handle of a later incarnation than the leader has applied may
 * verify then, so a batch with any such handle is proposed whole, as before.
 *
 * @module
 */
import type { HandleFailure } from "./queue.ts";
import type { QueueMeta } from "./queue_store.ts";
import { decodeReceiptBytes, notAReceiptHandle, receiptTag } from "./receipt.ts";

/**
 * The failures the state machine would give when no handle of `handles` (the bytes of
 * `receiptHandlesToBytes`) could be current on `queue` (its meta as applied; without it, only
 * malformed handles count); null when one could (the command must be proposed). The messages are
 * the state machine's own.
 *
 * @example
 * ```ts
 * const failures = malformedHandleFailures(receiptHandlesToBytes(["true"]));
 * // [{ index: 0, code: "ReceiptHandleInvalid", message: "not a receipt handle" }]
 * ```
 */
export function malformedHandleFailures(
  handles: Uint8Array[],
  queue?: Pick<QueueMeta, "name" | "incarnation" | "salt">,
): HandleFailure[] | null {
  if (handles.length === 0) return null;
  const failures: HandleFailure[] = [];
  for (const [index, bytes] of handles.entries()) {
    const message = refusal(bytes, queue);
    if (message === null) return null;
    failures.push({ index, code: "ReceiptHandleInvalid", message });
  }
  return failures;
}

/** The state machine's refusal of `bytes` on `queue` at any later state, or null. */
function refusal(
  bytes: Uint8Array,
  queue: Pick<QueueMeta, "name" | "incarnation" | "salt"> | undefined,
): string | null {
  const fields = decodeReceiptBytes(bytes);
  if (fields === null) return notAReceiptHandle;
  if (queue === undefined || fields.incarnation > queue.incarnation) return null;
  if (fields.incarnation < queue.incarnation) {
    return `not a receipt handle of queue '${queue.name}'`;
  }
  return fields.tag !== receiptTag(queue.salt, fields) ? "receipt handle does not verify" : null;
}
