/**
 * How a pre-candidate or candidate handles messages of its current term: it counts votes, yields
 * to whoever shows it already leads this term, and takes that leader's transfer.
 *
 * @module
 */

import type { Raft } from "./raft.ts";
import { answerTimeoutNow, stepFollower } from "./step_follower.ts";
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
    case MessageType.TimeoutNow:
      // Only a leader sends it, so this term has one and we lost its election or pre-campaign
      // in it (a pre-candidate keeps the term it followed in): the transfer must not wait for
      // the leader's next heartbeat answer to resend it once we follow again.
      answerTimeoutNow(raft, message);
      return;
    case MessageType.VoteResp:
      if (raft.role === "candidate") raft.recordVote(message);
      return;
    case MessageType.PreVoteResp:
      if (raft.role === "preCandidate") raft.recordVote(message);
      return;
  }
}
