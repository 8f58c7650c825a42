/**
 * The refusals a replica answers a request with before it reaches Raft: shutting down, failed,
 * or too many writes in flight (see `RaftReplica.refusal` and `propose`).
 *
 * @module
 */
import { ReplicationError } from "./errors.ts";

/** The refusal of a replica that is shutting down (`stopping`) or failed, or null. */
export function stopRefusal(stopping: boolean, failure: Error | null): ReplicationError | null {
  if (stopping) {
    return new ReplicationError("NotReady", "node is shutting down", { retryAfterSeconds: 1 });
  }
  if (failure !== null) {
    return new ReplicationError("NotReady", `replica failed: ${failure.message}`);
  }
  return null;
}

/** The refusal of a proposal while `pendingProposalsMax` proposals wait. */
export function tooManyWrites(): ReplicationError {
  return new ReplicationError("NotReady", "too many writes in flight", { retryAfterSeconds: 1 });
}
