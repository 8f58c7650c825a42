/**
 * What the service makes of the per-handle failures of a delete or a visibility change: the
 * wire failures (by handle, not by index), and a delete's answer under `DeleteOptions`.
 *
 * @module
 */
import {
  type DeleteResult,
  type HandleFailure,
  malformedHandleFailures,
  receiptHandlesToBytes,
} from "../engine/mod.ts";
import type { DeleteMessagesResponse, HandleFailure as WireFailure } from "../../sdk/protocol.ts";
import type { DeleteOptions } from "./types.ts";

/**
 * The wire failures of `failures` (the engine's, by index into `handles`). A failure the engine
 * marks `gone` (its message left the queue) carries `gone: true`; the others have no `gone`.
 *
 * @example
 * ```ts
 * wireFailures([{ index: 1, code: "ReceiptHandleInvalid", message: "no" }], ["a", "b"]);
 * // [{ receiptHandle: "b", code: "ReceiptHandleInvalid", message: "no" }]
 * ```
 */
export function wireFailures(failures: HandleFailure[], handles: string[]): WireFailure[] {
  return failures.map((failure) => {
    const wire: WireFailure = {
      receiptHandle: handles[failure.index],
      code: failure.code,
      message: failure.message,
    };
    if (failure.gone === true) wire.gone = true;
    return wire;
  });
}

/**
 * The answer of a delete of `handles`: with `goneAsDeleted`, a handle whose message is no longer
 * in the queue (`gone`) counts as deleted and is no failure. A delete without failures (the
 * usual one) allocates nothing more.
 *
 * @example
 * ```ts
 * const gone = { index: 0, code: "ReceiptHandleStale", message: "gone", gone: true } as const;
 * deleteAnswer({ deleted: 0, failures: [gone] }, ["h"], { goneAsDeleted: true });
 * // { deleted: 1, failures: [] }
 * ```
 */
export function deleteAnswer(
  result: DeleteResult,
  handles: string[],
  options: DeleteOptions | undefined,
): DeleteMessagesResponse {
  const { deleted, failures } = result;
  if (failures.length === 0 || options?.goneAsDeleted !== true) {
    return { deleted, failures: wireFailures(failures, handles) };
  }
  const left = failures.filter((failure) => failure.gone !== true);
  return {
    deleted: deleted + failures.length - left.length,
    failures: wireFailures(left, handles),
  };
}

/**
 * The answer of deletes a receive carries that would write nothing, or null when they are to be
 * written: none, or none that could name a message (answered as `deleteMessages` answers them,
 * without a log entry; one well-formed handle among them and the engine answers each).
 *
 * @example
 * ```ts
 * unwrittenDeletes([]); // { deleted: 0, failures: [] }
 * unwrittenDeletes(["true"]); // { deleted: 0, failures: [{ receiptHandle: "true", ... }] }
 * ```
 */
export function unwrittenDeletes(handles: string[]): DeleteMessagesResponse | null {
  if (handles.length === 0) return { deleted: 0, failures: [] };
  // The consume path's usual case, a first handle well formed, converts that one only.
  if (malformedHandleFailures(receiptHandlesToBytes([handles[0]])) === null) return null;
  const malformed = malformedHandleFailures(receiptHandlesToBytes(handles));
  return malformed === null ? null : { deleted: 0, failures: wireFailures(malformed, handles) };
}
