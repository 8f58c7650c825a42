/**
 * Reading an applied entry back from the log (`RaftReplica.entry`): the one read of the log
 * outside the Ready loop, and what a failure of it means for the replica.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SegmentLog } from "../../storage/mod.ts";
import { ReplicationError } from "./errors.ts";
import type { AppliedEntry } from "./types.ts";

/**
 * Entry `index` of `log`, which must be applied (at most `appliedIndex`). Damage found (recorded:
 * the restart cuts there), a failed read or a log failed by a write is handed to `fail` (the
 * replica stops) and answered `NotReady` (a 503, not a 500); a range or invariant error is
 * thrown as it is.
 */
export function readApplied(
  log: SegmentLog,
  appliedIndex: number,
  index: number,
  copy: boolean,
  fail: (error: unknown) => void,
): AppliedEntry {
  if (!(index <= appliedIndex)) assert.fail(`entry ${index} is not applied yet`);
  try {
    return log.entry(index, copy);
  } catch (error) {
    if (error instanceof RangeError || error instanceof assert.AssertionError) throw error;
    fail(error);
    throw new ReplicationError("NotReady", `replica failed: ${(error as Error).message}`);
  }
}
