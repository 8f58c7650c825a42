/**
 * Handles the leader can refuse without a log entry: a delete or visibility change whose every
 * handle is not even well formed (wrong length, not base64url, a bad version or field) would be
 * answered `ReceiptHandleInvalid` for each by the state machine anyway, after a replicated,
 * fsynced entry that changes nothing. Whether a well-formed handle is current (its queue, tag
 * and delivery) is only known when the command is applied, so a batch with any such handle is
 * proposed whole, as before.
 *
 * @module
 */
import type { HandleFailure } from "./queue.ts";
import { decodeReceiptBytes, notAReceiptHandle } from "./receipt.ts";

/**
 * The failures the state machine would give when no handle of `handles` (the bytes of
 * `receiptHandlesToBytes`) is well formed; null when one is (the command must be proposed).
 *
 * @example
 * ```ts
 * const failures = malformedHandleFailures(receiptHandlesToBytes(["true"]));
 * // [{ index: 0, code: "ReceiptHandleInvalid", message: "not a receipt handle" }]
 * ```
 */
export function malformedHandleFailures(handles: Uint8Array[]): HandleFailure[] | null {
  if (handles.length === 0) return null;
  for (const bytes of handles) {
    if (decodeReceiptBytes(bytes) !== null) return null;
  }
  return handles.map((_, index) => ({
    index,
    code: "ReceiptHandleInvalid",
    message: notAReceiptHandle,
  }));
}
