/**
 * Members removed while they were cut off or down. Such a node never receives the entry that
 * removed it (the leader stops sending to it as soon as the entry is appended), so on its own it
 * keeps its old configuration and campaigns forever. Pre-vote and the followers' leases keep
 * those campaigns from moving anyone's term (its pre-votes can't win: a majority of its old
 * configuration holds the committed removal). This file adds, as etcd does: the members ignore
 * the term of a stranger's vote request whose log lacks what they know committed (so even
 * without pre-vote it can't depose a leader), they answer a stranger `Removed`, it stops
 * campaigning, and the application can say why.
 *
 * Who may say so, and when it counts. The teller is a voter of both its configurations (latest
 * and committed) and the sender is a member of neither; the answer names the teller's commit
 * index `C`: at `C` the sender is not a member, and that is committed. The addressee believes it
 * only if the teller is a voter of its own committed configuration, it still lists itself in its
 * latest configuration, and that configuration and its commit are both older than `C`. A member
 * that lags can't talk a newer node out: a node added at `M` has a configuration from `M` on,
 * and a member that does not list it has `C < M` (it has not committed the addition).
 *
 * A node that may not campaign (a learner, a joining voter below its vote floor, a distrusted
 * log) would send nothing once its leader went silent, so nobody would tell it: it probes
 * instead, once per election timeout while it hears no leader, with an empty `HeartbeatResp` to
 * the voters of its latest configuration. A member ignores it (a leader takes it as the
 * answer of a member it already sends to); one that does not list the sender answers `Removed`.
 *
 * The verdict is revocable: it holds only while the node's own configuration is older than `C`.
 * A node re-added and caught up (its log shows a configuration from `C` on) is a member again,
 * and so is a fresh node whose catch-up replays an earlier member of the same id's history.
 *
 * @module
 */

import { isMember, isVoter } from "./membership.ts";
import type { Raft } from "./raft.ts";
import { type Message, MessageType, type Removal } from "./types.ts";

/**
 * How `raft` knows it was removed (its own log first), or null while it counts as a member. Null
 * too while a leader is talking to it (it heard from one within an election timeout): a leader
 * sends only to members of its configuration, so the node is one again — a node added back with
 * a fresh data directory replays its id's earlier removal while it catches up, and a member that
 * lags may answer the campaign it starts meanwhile.
 */
export function removalOf(raft: Raft): Removal | null {
  if (
    raft.role === "follower" && raft.leaderId !== null &&
    raft.electionElapsed < raft.settings.electionTicks
  ) return null;
  const own = raft.configs.selfRemovedAt();
  if (own !== null) return { index: own, by: null };
  const told = raft.toldRemoved;
  if (told === null || raft.configs.currentIndex() >= told.index) return null;
  return told;
}

/**
 * A message from a node in neither configuration: answers it `Removed` when this node may, and
 * says whether to drop the message. Dropped: a vote request whose log lacks an entry this node
 * knows committed, since such a candidate can never win; its term must not move ours.
 */
export function answerStranger(raft: Raft, message: Message): boolean {
  const { configs } = raft;
  const from = message.from;
  if (isMember(configs.current(), from) || isMember(configs.committed(), from)) return false;
  const { type } = message;
  // A leader we don't list may be a newer member's (our view lags): it is neither told nor
  // refused (Raft dissertation §4.2.2).
  const fromLeader = type === MessageType.App || type === MessageType.Heartbeat ||
    type === MessageType.Snap;
  if (
    !fromLeader && isVoter(configs.current(), raft.id) && isVoter(configs.committed(), raft.id) &&
    removalOf(raft) === null
  ) {
    raft.send({ type: MessageType.Removed, to: from, index: raft.log.committed });
  }
  const isVoteRequest = type === MessageType.Vote || type === MessageType.PreVote;
  return isVoteRequest && message.index < raft.log.committed;
}

/** A `Removed` answer: believed under the conditions in the module doc, else ignored. */
export function takeRemovalNotice(raft: Raft, message: Message): void {
  const { configs } = raft;
  if (!isVoter(configs.committed(), message.from)) return;
  if (!isMember(configs.current(), raft.id)) return;
  if (message.index <= configs.currentIndex() || message.index <= raft.log.committed) return;
  if (raft.toldRemoved !== null && raft.toldRemoved.index >= message.index) return;
  raft.toldRemoved = { index: message.index, by: message.from };
  if (raft.role !== "follower") raft.becomeFollower(raft.term, null);
}

/**
 * Called on each election tick of a node that will not campaign: once per election timeout
 * without a leader's word, an empty `HeartbeatResp` to the other voters of its latest
 * configuration, so that those that removed it answer `Removed` (see the module doc).
 */
export function probeWhileSilent(raft: Raft): void {
  const ticks = raft.settings.electionTicks;
  if (raft.electionElapsed < ticks || raft.electionElapsed % ticks !== 0) return;
  if (removalOf(raft) !== null) return;
  for (const voter of raft.configs.current().voters) {
    if (voter !== raft.id) raft.send({ type: MessageType.HeartbeatResp, to: voter, context: "" });
  }
}
