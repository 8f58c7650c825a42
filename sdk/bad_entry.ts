/**
 * Which entry of a batch request the broker refused it for. The broker checks every entry of a
 * batch (messages of a send, lock changes, receipt handles of a delete or of a receive carrying
 * deletes) before it acts on any, and refuses the whole request for the first bad one with a 400
 * (or 413) naming it: `messages.3.body`, `entries.3.receiptHandle`, `receiptHandles.3`,
 * `deleteReceiptHandles.3`. That entry fails alone; the others, untouched, can be sent again
 * without it. Internal to the producer and the consumer.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";

/** The batches of the API whose entries a refusal may name. */
export type BatchList = "messages" | "entries" | "receiptHandles" | "deleteReceiptHandles";

/**
 * The index of the one entry of the request's `list` that `error` names, if it is the broker's
 * 400 or 413 naming one below `length` (see the module doc).
 */
export function badEntryIndex(error: unknown, length: number, list: BatchList): number | undefined {
  if (!(error instanceof CmqdError) || (error.status !== 400 && error.status !== 413)) {
    return undefined;
  }
  const match = new RegExp(`^${list}\\.(\\d+)(\\.|$)`).exec(error.field ?? "");
  if (match === null) return undefined;
  const index = Number(match[1]);
  return index < length ? index : undefined;
}
