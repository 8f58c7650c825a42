/**
 * How a leader handles messages of its own term: append and heartbeat answers, snapshot chunk
 * acknowledgements, and ReadIndex requests forwarded by followers.
 *
 * @module
 */

import {
  answerIncarnation,
  heartbeatContext,
  heartbeatParts,
  isLostEntries,
} from "./incarnation.ts";
import { isMember, isVoter } from "./membership.ts";
import type { Progress } from "./progress.ts";
import { hasQuorum } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import {
  broadcastAppend,
  maybeCommit,
  sendAppend,
  sendAppends,
  sendSnapshotChunks,
} from "./replication.ts";
import { type LogIndex, type Message, MessageType, minIndex, type NodeId } from "./types.ts";

/** Handles `message` on a leader (terms already reconciled). */
export function stepLeader(raft: Raft, message: Message): void {
  if (message.type === MessageType.ReadIndex) {
    // A forwarded read counts toward the bound as a local one does: else a follower's clients
    // could make this leader hold any number of reads (and send a heartbeat round for each)
    // until a round reaches a quorum. The excess is refused, as a local read would be. So is a
    // read from a node outside the configuration (a removed member still addressing this
    // leader): it would take the bound's room and a heartbeat round for a node not served here.
    if (
      !isMember(raft.configs.current(), message.from) ||
      readsPending(raft) >= raft.settings.readIndexPendingMax
    ) {
      raft.send({
        type: MessageType.ReadIndexResp,
        to: message.from,
        reject: true,
        context: message.context,
      });
      return;
    }
    requestRead(raft, { requester: message.from, requestId: message.context });
    return;
  }
  const progress = raft.progress.get(message.from);
  // Members removed from the configuration have no progress; their chatter is ignored.
  if (progress === undefined || ofEarlierIncarnation(progress, message)) return;
  progress.recentActive = true;
  progress.heardAtTick = raft.ticks;
  switch (message.type) {
    case MessageType.AppResp:
      handleAppendResponse(raft, message);
      return;
    case MessageType.HeartbeatResp:
      handleHeartbeatResponse(raft, message);
      return;
    case MessageType.SnapResp:
      handleSnapshotResponse(raft, message);
      return;
    case MessageType.NewTerm:
      handleNewTerm(raft, message);
      return;
  }
}

/**
 * Whether `message` answers an append, snapshot chunk or heartbeat sent to an earlier
 * incarnation of the member: its id was removed and added back within this leader's term, and
 * the answer of the old one was late. Believed, it would move the new one's match to entries it
 * doesn't hold (counted toward commit once promoted), lower it (a lost-entries rejection), or
 * mark the new one heard from (check-quorum, hand-over targets) and acknowledge a read round
 * for it. The answer echoes the incarnation tag of what it answers (`Progress.incarnation`; see
 * `incarnation.ts`); an untagged one comes from a node that does not echo it (an older version)
 * and is believed, as before tags existed.
 */
function ofEarlierIncarnation(progress: Progress, message: Message): boolean {
  const tag = answerIncarnation(message);
  return tag !== null && tag !== progress.incarnation;
}

/**
 * Starts handing leadership to the voter `to`: once it has the whole log it gets `TimeoutNow`.
 * Proposals are refused meanwhile; the attempt is abandoned after an election timeout.
 */
export function startTransfer(raft: Raft, to: NodeId): void {
  raft.leadTransferee = to;
  raft.transferElapsed = 0;
  raft.transferTag = `transfer-${++raft.transfersStarted}`;
  const progress = raft.progress.get(to)!;
  if (progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft);
  } else {
    sendAppend(raft, to, { sendIfEmpty: true });
  }
}

/** Sends the running transfer's `TimeoutNow`, tagged so that a `NewTerm` answer names it. */
function sendTimeoutNow(raft: Raft): void {
  raft.send({ type: MessageType.TimeoutNow, to: raft.leadTransferee!, context: raft.transferTag });
}

/**
 * The sender may not campaign (it distrusts its log, is below its vote floor, is installing a
 * snapshot, is no voter in its own configuration, or was removed): it asks for a leader elected
 * without its vote (`RaftNode.requestNewTerm`), or it answers the `TimeoutNow` of a transfer to
 * it (see `step_follower.ts`). A transfer to it is given up at once — it would
 * only hold proposals until its timeout — and leadership goes to another voter if one may take
 * it (`handOverFor`).
 *
 * An answer echoes the tag of the `TimeoutNow` it answers. One with a tag other than the running
 * transfer's answers a transfer that is over (abandoned at its timeout, given up, or replaced by
 * a later one; a copy of `TimeoutNow` re-sent with a heartbeat may be answered after that): it
 * says nothing of now, and this leader asked nothing of the sender now, so it is ignored — taken
 * for a request, it would make the leader hand over unasked. An untagged one is a request, or
 * the answer of a node that does not echo tags (an older version): believed, as before tags.
 */
function handleNewTerm(raft: Raft, message: Message): void {
  const requester = message.from;
  const tag = message.context;
  if (tag !== "" && !(raft.leadTransferee === requester && tag === raft.transferTag)) return;
  raft.progress.get(requester)!.refusedLeadAtTick = raft.ticks;
  if (raft.leadTransferee === requester) {
    raft.leadTransferee = null;
    raft.transferElapsed = 0;
  }
  handOverFor(raft, requester);
}

/**
 * A voter that said it may not campaign (`NewTerm`) within this many election timeouts is no
 * transfer target: one still distrusting repeats its request once per election timeout, so two
 * of them cover the gaps (and a skew between its ticks and ours).
 */
const REFUSAL_ELECTION_TIMEOUTS = 2;

/** Whether the member said within `REFUSAL_ELECTION_TIMEOUTS` that it may not campaign. */
export function refusedLeadLately(raft: Raft, progress: Progress): boolean {
  const refusedAt = progress.refusedLeadAtTick;
  return refusedAt !== null &&
    raft.ticks - refusedAt < REFUSAL_ELECTION_TIMEOUTS * raft.settings.electionTicks;
}

/**
 * Whether the leader heard from the member within `answerTicksMax` ticks (never: not since it
 * leads). The application's own choice of a hand-over target goes by the same mark
 * (`ProgressStatus.answering`), so both pass over the same silent voters.
 */
export function answersLately(raft: Raft, progress: Progress): boolean {
  const heardAt = progress.heardAtTick;
  return heardAt !== null && raft.ticks - heardAt <= raft.settings.answerTicksMax;
}

/**
 * `requester` needs a leader elected without its vote: hand leadership to the most caught-up
 * other voter that answers lately (`answersLately`) and did not say lately that it may not
 * campaign either. Nothing happens when there is none (the requester asks again later) or while
 * a transfer runs.
 */
function handOverFor(raft: Raft, requester: NodeId): void {
  if (raft.leadTransferee !== null) return;
  let best: NodeId | null = null;
  for (const id of raft.configs.current().voters) {
    if (id === raft.id || id === requester) continue;
    const progress = raft.progress.get(id);
    if (progress === undefined || !answersLately(raft, progress)) continue;
    if (refusedLeadLately(raft, progress)) continue;
    if (best === null || progress.match > raft.progress.get(best)!.match) best = id;
  }
  if (best !== null) startTransfer(raft, best);
}

function handleAppendResponse(raft: Raft, message: Message): void {
  const progress = raft.progress.get(message.from)!;
  // A leader never drops its own entries within its term, so a response about an index past
  // its log comes from no correct follower: believing it would count a copy that doesn't exist
  // toward commit, and the next append would look for entries the log never had.
  if (message.index > raft.log.lastIndex()) return;
  if (message.reject && isLostEntries(message.context)) {
    // The follower lost entries it acknowledged: believe it (a lower match only delays commits)
    // and probe from where its log really ends.
    if (progress.lostEntries(message.rejectHint)) {
      sendAppend(raft, message.from, { sendIfEmpty: true });
    }
    return;
  }
  if (message.reject) {
    // Fast back-off: skip every index whose term cannot match the follower's hint.
    let hint = message.rejectHint;
    if (message.logTerm > 0) {
      hint = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
    }
    if (progress.maybeDecrTo(message.index, hint)) {
      if (progress.state === "replicate") progress.becomeProbe();
      sendAppend(raft, message.from, { sendIfEmpty: true });
    }
    return;
  }
  const wasPaused = progress.isPaused();
  const updated = progress.maybeUpdate(message.index);
  const snapshotIndex = progress.transfer?.snapshot.index;
  if (snapshotIndex !== undefined && message.index >= snapshotIndex) {
    // The follower holds everything the snapshot covers (maybe from an older, smaller one):
    // probe from there; if the log was compacted further meanwhile, a newer snapshot follows.
    progress.becomeProbe();
    if (!updated) {
      sendAppend(raft, message.from, { sendIfEmpty: true });
      return;
    }
  }
  if (!updated) {
    if (wasPaused && !progress.isPaused()) sendAppends(raft, message.from);
    return;
  }
  if (progress.state === "probe") {
    progress.becomeReplicate();
  } else if (progress.state === "replicate") {
    progress.inflights.freeTo(message.index);
  }
  if (maybeCommit(raft)) {
    releaseReadsAwaitingCommit(raft);
    broadcastAppend(raft, { sendIfEmpty: true });
  } else {
    sendAppends(raft, message.from);
  }
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft);
  }
}

function handleHeartbeatResponse(raft: Raft, message: Message): void {
  const progress = raft.progress.get(message.from)!;
  progress.probeSent = false;
  // A full window whose appends were lost would stall forever: let one more out; if the follower
  // lacks its predecessors it rejects it and the leader falls back to probing.
  if (progress.state === "replicate" && progress.inflights.full()) {
    progress.inflights.freeFirstOne();
  }
  if (progress.match < raft.log.lastIndex()) {
    // Even an empty append helps: a follower missing the window's entries rejects it.
    sendAppend(raft, message.from, { sendIfEmpty: true });
  } else if (message.from === raft.leadTransferee) {
    // The transferee holds the whole log, so it was sent `TimeoutNow`, and still answers in this
    // term: that may have been lost, and the transfer would then hold proposals until its
    // timeout. Send it again; a copy that arrives after the transferee campaigned is of an older
    // term than its own and dropped.
    sendTimeoutNow(raft);
  }
  const { round } = heartbeatParts(message.context);
  if (round === "") return;
  const acks = raft.readOnly.recordAck(message.from, round);
  if (acks === null || !confirmsLeadership(raft, acks)) return;
  releaseReadsUpTo(raft, round);
}

/** Whether `acks` (and this leader) form a quorum of the current configuration's voters. */
function confirmsLeadership(raft: Raft, acks: ReadonlySet<NodeId>): boolean {
  return hasQuorum(raft.configs.current().voters, (id) => id === raft.id || acks.has(id));
}

/** Answers every pending read up to and including round `context`. */
function releaseReadsUpTo(raft: Raft, context: string): void {
  for (const read of raft.readOnly.release(context)) {
    deliverRead(raft, read.requester, { requestId: read.requestId, index: read.index });
  }
}

/**
 * Leader: the configuration changed. Rounds pending under the old voters may be confirmed under
 * the new ones by the acks they hold — and a leader left without peers (the sole voter, no
 * learners) gets no more heartbeat answers at all, so its pending reads would never be answered
 * (and would fill `readIndexPendingMax` for good).
 */
export function releaseReadsConfirmedByConfig(raft: Raft): void {
  const context = raft.readOnly.newestConfirmed((acks) => confirmsLeadership(raft, acks));
  if (context !== null) releaseReadsUpTo(raft, context);
}

function handleSnapshotResponse(raft: Raft, message: Message): void {
  const transfer = raft.progress.get(message.from)!.transfer;
  if (transfer === null || transfer.snapshot.index !== message.index) return;
  // A `SnapResp` carries the byte offset the follower wants in the index-typed hint.
  const receivedBytes: number = message.rejectHint;
  // No correct follower names an offset past the snapshot's end; the chunks sent from there
  // would be read beyond the source's bytes, which stops the leader.
  if (receivedBytes > transfer.snapshot.source.byteLength) return;
  if (message.reject) {
    // Rewind at most once per heartbeat: every chunk of a reordered window is rejected, and
    // answering each rejection with a new window would multiply the traffic.
    if (transfer.rewound) return;
    transfer.rewound = true;
    // The follower may have lost a partial transfer (restart): its word beats our acks.
    transfer.ackedOffset = receivedBytes;
    transfer.sentOffset = receivedBytes;
    transfer.sentAll = false;
  } else if (receivedBytes > transfer.ackedOffset) {
    transfer.ackedOffset = receivedBytes;
    transfer.idleHeartbeats = 0;
  }
  transfer.sentOffset = Math.max(transfer.sentOffset, transfer.ackedOffset);
  sendSnapshotChunks(raft, message.from);
}

/** Reads this leader holds unconfirmed, its own and forwarded ones (`readIndexPendingMax`). */
export function readsPending(raft: Raft): number {
  return raft.readOnly.size + raft.readsAwaitingCommit.length;
}

/**
 * Registers a read on the leader: answered at once in a one-voter group, otherwise after a
 * heartbeat round reaches a quorum; before this leader commits in its term it must wait, since
 * its commit index may still be behind the previous leader's.
 */
export function requestRead(
  raft: Raft,
  read: { requester: NodeId; requestId: string },
): void {
  if (raft.log.term(raft.log.committed) !== raft.term) {
    raft.readsAwaitingCommit.push(read);
    return;
  }
  const index = raft.log.committed;
  const voters = raft.configs.current().voters;
  if (voters.length === 1 && isVoter(raft.configs.current(), raft.id)) {
    deliverRead(raft, read.requester, { requestId: read.requestId, index });
    return;
  }
  const round = raft.readOnly.add({ ...read, index });
  for (const [id, progress] of raft.progress) {
    if (id === raft.id) continue;
    const commit = minIndex(progress.match, raft.log.committed);
    const context = heartbeatContext(progress.incarnation, round);
    raft.send({ type: MessageType.Heartbeat, to: id, commit, context });
  }
}

/** Re-issues reads that waited for this leader's first commit in its term. */
export function releaseReadsAwaitingCommit(raft: Raft): void {
  if (raft.readsAwaitingCommit.length === 0) return;
  const reads = raft.readsAwaitingCommit;
  raft.readsAwaitingCommit = [];
  for (const read of reads) requestRead(raft, read);
}

function deliverRead(
  raft: Raft,
  requester: NodeId,
  read: { requestId: string; index: LogIndex },
): void {
  if (requester === raft.id) {
    raft.readStates.push({ requestId: read.requestId, index: read.index });
    return;
  }
  raft.send({
    type: MessageType.ReadIndexResp,
    to: requester,
    index: read.index,
    context: read.requestId,
  });
}
