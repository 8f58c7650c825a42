/**
 * Expected failures of the Raft core: the caller asked something this node cannot do now.
 * Broken invariants are `AssertionError`s instead and mean a bug.
 *
 * @module
 */

import type { NodeId } from "./types.ts";

/** Base class of every typed Raft failure. */
export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RaftError";
  }
}

/**
 * The node is not the leader; `leaderId` is a hint where to go (null when unknown).
 *
 * @example
 * ```ts
 * try {
 *   node.propose(data);
 * } catch (error) {
 *   if (error instanceof NotLeaderError) redirect(error.leaderId);
 * }
 * ```
 */
export class NotLeaderError extends RaftError {
  readonly leaderId: NodeId | null;
  constructor(leaderId: NodeId | null) {
    super(
      leaderId === null ? "not the leader; no leader known" : `not the leader; try ${leaderId}`,
    );
    this.name = "NotLeaderError";
    this.leaderId = leaderId;
  }
}

/** Why a proposal or request was refused although this node is the leader. */
export type DropReason =
  | "leader-transfer"
  | "config-change-pending"
  | "uncommitted-bytes-limit"
  | "read-index-limit";

/** The leader refused a proposal for now; retrying later may succeed. */
export class ProposalDroppedError extends RaftError {
  readonly reason: DropReason;
  constructor(reason: DropReason, detail: string) {
    super(`proposal dropped (${reason}): ${detail}`);
    this.name = "ProposalDroppedError";
    this.reason = reason;
  }
}

/** The request can never succeed as asked (bad config change, bad transfer target). */
export class InvalidRequestError extends RaftError {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRequestError";
  }
}
