/**
 * Checks that find something missing on a node that has just become leader. Such a node may not
 * yet have applied every entry its predecessor committed and acknowledged (Raft: it learns the
 * commit index only once an entry of its own term commits), so a write checked against the local
 * state before it is proposed must not answer "not found" from that state alone: a check that
 * finds its queue, topic or subscription, or a queue it names (a dead-letter target, a redrive's
 * destination, a subscription's endpoint), missing runs once more after the replica's read
 * barrier, and only a miss then is answered. Before, a send to a queue or a publish to a topic
 * created and acknowledged before a failover answered 404 in that window, which a client reads
 * as permanent. A check that passes at once costs nothing more: the write is proposed in the
 * caller's turn, so calls made one after the other are proposed in that order.
 *
 * @module
 */
import { BrokerError } from "../engine/mod.ts";
import type { Proposer } from "../replication/mod.ts";
import { readBarrier } from "./replica_errors.ts";

/** Errors of other codes a check throws for something missing (a dead-letter target's). */
const missingErrors = new WeakSet<object>();

/** Marks `error` as one a check throws for something missing (see the module's text). */
export function missing(error: BrokerError): BrokerError {
  missingErrors.add(error);
  return error;
}

/**
 * Marks `error` as a refusal the local state shows but the read barrier may still undo, as a
 * create naming an existing topic with other attributes (deleted since?): like a miss, it is
 * answered only when the check, run again after the barrier, throws it again. Such a refusal
 * is so answered without an entry, where the state machine would have refused the entry.
 */
export function unlessUndone(error: BrokerError): BrokerError {
  return missing(error);
}

/** Whether `error` says something is missing: one the read barrier may still bring. */
export function isMissing(error: unknown): boolean {
  if (!(error instanceof BrokerError)) return false;
  return error.code === "QueueNotFound" || error.code === "TopicNotFound" ||
    error.code === "SubscriptionNotFound" || missingErrors.has(error);
}

/** Runs `check` once more after the read barrier (its miss is then the answer). */
export async function recheck<C>(proposer: Proposer, check: () => C): Promise<C> {
  await readBarrier(proposer);
  return check();
}

/**
 * `write(check())`; when the check finds something missing, it is run once more after the read
 * barrier first. Throws what the check throws otherwise, before anything is proposed.
 */
export function checkThen<C, R>(
  proposer: Proposer,
  check: () => C,
  write: (checked: C) => Promise<R>,
): Promise<R> {
  let checked: C;
  try {
    checked = check();
  } catch (error) {
    if (!isMissing(error)) throw error;
    return recheck(proposer, check).then(write);
  }
  return write(checked);
}
