/**
 * How a pre-candidate or candidate handles messages of its current term: it counts votes, and
 * yields to whoever shows it already leads this term.
 *
 * @module
 */

import type { Raft } from "./raft.ts";
import { stepFollower } from "./step_follower.ts";
import { type Message, MessageType } from "./types.ts";

/** Handles `message` on a (pre-)candidate. */
export function stepCandidate(raft: Raft, message: Message): void {
  switch (message.type) {
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // Someone won this term.
      raft.becomeFollower(message.term, message.from);
      stepFollower(raft, message);
      return;
    case MessageType.VoteResp:
      if (raft.role === "candidate") raft.recordVote(message);
      return;
    case MessageType.PreVoteResp:
      if (raft.role === "preCandidate") raft.recordVote(message);
      return;
  }
}
