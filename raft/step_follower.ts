/**
 * How a follower handles messages of its current term: appends, heartbeats, snapshot chunks,
 * leadership transfer and ReadIndex answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { heartbeatParts, lostEntriesContext } from "./incarnation.ts";
import type { Raft } from "./raft.ts";
import { handleSnapshotChunk } from "./snapshot_receiver.ts";
import { type Entry, type LogIndex, type Message, MessageType, minIndex } from "./types.ts";

/** Handles `message` on a follower (terms already reconciled). */
export function stepFollower(raft: Raft, message: Message): void {
  switch (message.type) {
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      raft.electionElapsed = 0;
      raft.leaderId = message.from;
      if (message.type === MessageType.App) handleAppend(raft, message);
      else if (message.type === MessageType.Heartbeat) handleHeartbeat(raft, message);
      else handleSnapshotChunk(raft, message);
      return;
    case MessageType.TimeoutNow:
      answerTimeoutNow(raft, message);
      return;
    case MessageType.ReadIndexResp:
      if (message.reject) raft.refusedReads.push(message.context); // over the leader's bound
      else raft.readStates.push({ requestId: message.context, index: message.index });
      return;
  }
}

/**
 * The leader of our term picked us for a transfer (on a follower, or on a pre-candidate whose
 * election timer ran out just before): campaign at once, skipping pre-vote and the others'
 * leases. A node that may not campaign, whatever the reason (it distrusts its log, is below its
 * vote floor, is still installing a snapshot, is no voter in its own configuration, or knows it
 * was removed), says so with `NewTerm`, as one asking for a leader elected without its vote: the
 * leader gives the transfer up at once (or hands over to another voter) rather than at its
 * timeout. The answer echoes the `TimeoutNow`'s tag, so the leader can tell it from a request
 * and from the answer to a transfer that is over.
 */
export function answerTimeoutNow(raft: Raft, message: Message): void {
  if (raft.mayVote() && raft.isPromotable()) raft.campaign("transfer");
  else raft.send({ type: MessageType.NewTerm, to: message.from, context: message.context });
}

function handleAppend(raft: Raft, message: Message): void {
  const log = raft.log;
  if (message.index < log.committed) {
    raft.send({
      type: MessageType.AppResp,
      to: message.from,
      index: log.committed,
      context: message.context,
    });
    return;
  }
  const lastNew = maybeAppend(raft, message);
  if (lastNew === null) return; // entries no correct leader sends: dropped, unanswered
  if (lastNew !== undefined) {
    raft.send({
      type: MessageType.AppResp,
      to: message.from,
      index: lastNew,
      context: message.context,
    });
    return;
  }
  // Tell the leader the last position that might match, so it skips whole terms at once.
  const hint = log.findConflictByTerm(message.index, message.logTerm);
  raft.send({
    type: MessageType.AppResp,
    to: message.from,
    index: message.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
    context: message.context,
  });
}

/**
 * Appends the message's entries if the log matches at its prev position; the new last index.
 * Null, and nothing changed, when its entries don't follow its position (`entriesFollow`), its
 * config changes don't decode or apply (see `acceptsFrom`), or its time stamps go back or
 * follow a snapshot still awaiting its install (`timestampsFollow`).
 */
function maybeAppend(raft: Raft, message: Message): LogIndex | undefined | null {
  const log = raft.log;
  if (!entriesFollow(message)) return null;
  if (!log.matchTerm(message.index, message.logTerm)) return undefined;
  const lastNew = (message.index + message.entries.length) as LogIndex;
  const conflict = log.findConflict(message.entries);
  if (conflict !== 0) {
    if (!(conflict > log.committed)) {
      assert.fail(`entry ${conflict} conflicts with a committed entry`);
    }
    const fresh = message.entries.slice(conflict - message.index - 1);
    if (!raft.configs.acceptsFrom(conflict, fresh)) return null;
    if (!timestampsFollow(raft, conflict, fresh)) return null;
    if (conflict <= log.lastIndex()) raft.configs.truncateFrom(conflict);
    log.append(fresh);
    raft.configs.append(fresh);
  }
  if (log.commitTo(minIndex(message.commit, lastNew))) raft.onCommitted();
  return lastNew;
}

/**
 * Whether an append's entries are ones a correct leader sends: they follow its `index` one by
 * one, their terms from `logTerm` (the preceding entry's) up to the message's term, never going
 * down. Stored, terms going down would break the log's order every election and conflict check
 * relies on, and a gap in the indexes fails the log's contiguity assertion (the node stops).
 * The TCP transport drops such frames already (`message_validation.ts` in the broker); this
 * holds for every path into `step`. Plain comparisons: every replicated entry passes here.
 */
function entriesFollow(message: Message): boolean {
  const { entries } = message;
  let previousTerm = Math.max(1, message.logTerm);
  for (let i = 0; i < entries.length; i++) {
    const { term, index } = entries[i];
    if (!(term >= previousTerm && term <= message.term && index === message.index + 1 + i)) {
      return false;
    }
    previousTerm = term;
  }
  return true;
}

/**
 * Whether the time stamps of `entries`, appended at `from`, never go back along the log: a
 * correct leader stamps its entries in order, and the log's storage refuses one that goes back.
 * False too for stamped entries right after a snapshot awaiting its install: the time they
 * follow is not known until then, and a leader sends them again after it.
 */
function timestampsFollow(raft: Raft, from: LogIndex, entries: readonly Entry[]): boolean {
  let previous = raft.log.timestampBefore(from);
  if (previous === null) {
    // Right after a snapshot awaiting its install, whose time is not known until then: stamped
    // entries wait (dropped; the leader sends them again), unstamped ones take its time.
    return entries.every((entry) => entry.timestamp === undefined);
  }
  for (const { timestamp } of entries) {
    if (timestamp === undefined) continue;
    if (previous !== undefined && !(timestamp >= previous)) return false;
    previous = timestamp;
  }
  return true;
}

function handleHeartbeat(raft: Raft, message: Message): void {
  const last = raft.log.lastIndex();
  // A leader never names a commit beyond what we acknowledged to it in its term. If our log ends
  // below it, we lost acknowledged entries (etcd panics here). Say so, so the leader lowers our
  // match and re-sends the range; meanwhile commit only what we hold: within the leader's term
  // our log changed only by its appends and the loss, which keeps a prefix it had matched.
  if (message.commit > last) {
    raft.send({
      type: MessageType.AppResp,
      to: message.from,
      index: message.commit,
      reject: true,
      rejectHint: last,
      context: lostEntriesContext(heartbeatParts(message.context).incarnation),
    });
  }
  if (raft.log.commitTo(minIndex(message.commit, last))) raft.onCommitted();
  raft.send({ type: MessageType.HeartbeatResp, to: message.from, context: message.context });
}
