/**
 * The preconditions of appending to the log: indexes continue it, terms and timestamps never go
 * back, and every record fits the format.
 *
 * @module
 */
import assert from "node:assert/strict";
import { invariant } from "./invariant.ts";
import { type LogEntry, recordBytes, recordBytesMax } from "./record.ts";

/** Asserts that `entries` may follow a log ending at `last` (a broken rule is a bug). */
export function assertAppendable(
  entries: readonly LogEntry[],
  last: { index: number; term: number; timestamp: number },
): void {
  let { index, term, timestamp } = last;
  for (const entry of entries) {
    index++;
    invariant(entry.index === index, "appended indexes must continue the log");
    // Messages built only on failure: a template argument is built on every call.
    if (!(entry.term >= term)) assert.fail(`term ${entry.term} at ${index} is below ${term}`);
    if (!(entry.timestamp >= timestamp)) assert.fail(`timestamp at ${index} goes backwards`);
    invariant(recordBytes(entry.payload.length) <= recordBytesMax, "entry exceeds 8 MiB");
    term = entry.term;
    timestamp = entry.timestamp;
  }
}
