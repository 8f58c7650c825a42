/**
 * Why a replica could not take or finish a proposal. These are availability answers, not domain
 * errors: the service translates them into the broker's `BrokerError` codes of the same names.
 *
 * @module
 */
import {
  type DropReason,
  InvalidRequestError,
  NotLeaderError,
  ProposalDroppedError,
} from "../../raft/mod.ts";

/** The reasons a replica refuses or abandons a proposal. */
export type ReplicationErrorCode = "NoLeader" | "NotReady" | "InvalidProposal" | "NodeRemoved";

/**
 * A refused or abandoned proposal. `NoLeader`: this node does not lead (the message names the
 * leader when known); `NotReady`: shutting down, failed, overloaded or the outcome is unknown;
 * `InvalidProposal`: the Raft core refused the request itself (a bad membership change);
 * `NodeRemoved`: this node is no longer a member of its group (`removal_watch.ts`).
 *
 * @example
 * ```ts
 * throw new ReplicationError("NoLeader", "not the leader; leader is n2", { retryAfterSeconds: 1 });
 * ```
 */
export class ReplicationError extends Error {
  readonly code: ReplicationErrorCode;
  /** Seconds a client should wait before retrying, when retrying can help. */
  readonly retryAfterSeconds?: number;
  /**
   * True when the proposal was in the log when it was abandoned (a wait that ran out, a stop, a
   * failure, an installed snapshot): it may still commit, or have, on the other voters.
   */
  readonly outcomeUnknown?: true;
  /**
   * Set when the Raft core's leader refused the proposal for now (`ProposalDroppedError`): why.
   * Callers that act on the reason read it here, never from the message's text.
   */
  readonly dropReason?: DropReason;

  constructor(
    code: ReplicationErrorCode,
    message: string,
    options: { retryAfterSeconds?: number; outcomeUnknown?: true; dropReason?: DropReason } = {},
  ) {
    super(message);
    this.name = "ReplicationError";
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.outcomeUnknown) this.outcomeUnknown = true;
    if (options.dropReason !== undefined) this.dropReason = options.dropReason;
  }
}

/** The answer for a proposal made on a node that does not lead. */
export function noLeader(leaderId: string | null): ReplicationError {
  const where = leaderId === null ? "no leader is known" : `the leader is ${leaderId}`;
  return new ReplicationError("NoLeader", `not the leader; ${where}`, { retryAfterSeconds: 1 });
}

/**
 * A write already in the log that this node stops waiting for (timed out, cut by an installed
 * snapshot, the node stopped or failed): it may have committed, or may still.
 */
export function outcomeUnknown(
  message = "outcome unknown",
  options: { retryAfterSeconds?: number } = { retryAfterSeconds: 1 },
): ReplicationError {
  return new ReplicationError("NotReady", message, { ...options, outcomeUnknown: true });
}

/** The Raft core's refusals as replication errors; anything else passes through. */
export function fromRaftError(error: unknown): unknown {
  if (error instanceof NotLeaderError) return noLeader(error.leaderId);
  if (error instanceof ProposalDroppedError) {
    return new ReplicationError("NotReady", error.message, {
      retryAfterSeconds: 1,
      dropReason: error.reason,
    });
  }
  if (error instanceof InvalidRequestError) {
    return new ReplicationError("InvalidProposal", error.message);
  }
  return error;
}

/**
 * The warning of a replica stopped by `failure`: an expected stop (`reason`: its owner's one line,
 * such as an entry a newer release wrote) is no bug and has no stack trace; any other has it.
 */
export function stopLine(failure: Error, reason: string | null): string {
  return `replica stopped: ${reason ?? failure.stack ?? failure.message}`;
}
