/**
 * The leader's outgoing replication: appends (pipelined within the in-flight limits), heartbeats,
 * chunked snapshots, and the commit rule.
 *
 * @module
 */

import assert from "node:assert/strict";
import { heartbeatContext } from "./incarnation.ts";
import { entryBytes } from "./log_storage.ts";
import { committedIndex } from "./quorum.ts";
import type { Raft } from "./raft.ts";
import {
  type LogIndex,
  MessageType,
  minIndex,
  nextIndex,
  type NodeId,
  prevIndex,
} from "./types.ts";

/**
 * Sends the next append to `to` if its progress allows. With `sendIfEmpty` an append without
 * entries still goes out (to probe, or to carry a new commit index). Returns whether anything
 * was sent.
 */
export function sendAppend(raft: Raft, to: NodeId, options: { sendIfEmpty: boolean }): boolean {
  const progress = raft.progress.get(to);
  if (progress === undefined) assert.fail(`no progress for ${to}`);
  if (progress.isPaused()) return false;
  const log = raft.log;
  const previousIndex = prevIndex(progress.next);
  const previousTerm = log.term(previousIndex);
  if (previousTerm === undefined || progress.next < log.firstIndex()) {
    return startSnapshot(raft, to);
  }
  const entries = log.entries(
    progress.next,
    nextIndex(log.lastIndex()),
    raft.settings.entriesPerMessageBytesMax,
  );
  if (entries.length === 0 && !options.sendIfEmpty) return false;
  raft.send({
    type: MessageType.App,
    to,
    index: previousIndex,
    logTerm: previousTerm,
    entries,
    commit: log.committed,
    context: progress.incarnation,
  });
  if (entries.length > 0) {
    const bytes = entries.reduce((sum, entry) => sum + entryBytes(entry), 0);
    progress.sentEntries(entries.at(-1)!.index, bytes);
  } else if (progress.state === "probe") {
    progress.probeSent = true;
  }
  return true;
}

/** Sends appends to `to` until its window is full or it has everything. */
export function sendAppends(raft: Raft, to: NodeId): void {
  let budget = raft.settings.inflightMessagesMax + 1;
  while (budget-- > 0 && sendAppend(raft, to, { sendIfEmpty: false }));
}

/** Offers new entries (or the new commit index) to every member. */
export function broadcastAppend(raft: Raft, options: { sendIfEmpty: boolean }): void {
  raft.appendPending = false;
  for (const id of raft.progress.keys()) {
    if (id === raft.id) continue;
    if (options.sendIfEmpty) sendAppend(raft, id, options);
    sendAppends(raft, id);
  }
}

/** Sends heartbeats carrying the commit index each member can take, and a read round. */
export function broadcastHeartbeat(raft: Raft, round: string): void {
  for (const [id, progress] of raft.progress) {
    if (id === raft.id) continue;
    // Never tell a follower to commit past what it is known to hold.
    const commit = minIndex(progress.match, raft.log.committed);
    const context = heartbeatContext(progress.incarnation, round);
    raft.send({ type: MessageType.Heartbeat, to: id, commit, context });
  }
}

/** Advances the commit index to what a quorum of voters holds, if it is of this term. */
export function maybeCommit(raft: Raft): boolean {
  const index = committedIndex(
    raft.configs.current().voters,
    (id) => raft.progress.get(id)?.match ?? noIndex,
  );
  // Entries of earlier terms commit only indirectly (§5.4.2, Figure 8).
  if (index <= raft.log.committed || raft.log.term(index) !== raft.term) return false;
  raft.log.commitTo(index);
  raft.onCommitted();
  return true;
}

const noIndex = 0 as LogIndex;

function startSnapshot(raft: Raft, to: NodeId): boolean {
  const progress = raft.progress.get(to)!;
  const snapshot = raft.log.storage.snapshot();
  assert.ok(snapshot !== null, "a compacted log has a snapshot");
  assert.ok(snapshot.index >= raft.log.firstIndex() - 1, "the snapshot covers the compaction");
  progress.becomeSnapshot(snapshot);
  sendSnapshotChunks(raft, to);
  return true;
}

/**
 * Sends the next chunks of the snapshot in flight to `to`, within the chunk window. Each chunk is
 * read from the snapshot's source as it goes out, so the bytes held for one follower are at most
 * the window (`snapshotChunksInflightMax` chunks), whatever the snapshot's size.
 */
export function sendSnapshotChunks(raft: Raft, to: NodeId): void {
  const progress = raft.progress.get(to);
  const transfer = progress?.transfer;
  if (progress === undefined || transfer === undefined || transfer === null) return;
  const { snapshot } = transfer;
  const chunkBytes = raft.settings.snapshotChunkBytes;
  const windowBytes = chunkBytes * raft.settings.snapshotChunksInflightMax;
  const totalBytes = snapshot.source.byteLength;
  while (!transfer.sentAll && transfer.sentOffset - transfer.ackedOffset < windowBytes) {
    const end = Math.min(totalBytes, transfer.sentOffset + chunkBytes);
    const data = snapshot.source.read(transfer.sentOffset, end - transfer.sentOffset);
    assert.equal(data.byteLength, end - transfer.sentOffset, "a source reads what is asked");
    raft.send({
      type: MessageType.Snap,
      to,
      snapshot: {
        index: snapshot.index,
        term: snapshot.term,
        config: snapshot.config,
        offset: transfer.sentOffset,
        totalBytes,
        data,
      },
      context: progress.incarnation,
    });
    transfer.sentOffset = end;
    transfer.sentAll = end === totalBytes;
  }
}

/** Heartbeat-driven retransmission of snapshot chunks that were not acknowledged. */
export function tickSnapshots(raft: Raft): void {
  for (const [id, progress] of raft.progress) {
    const transfer = progress.transfer;
    if (transfer === null) continue;
    transfer.rewound = false;
    transfer.idleHeartbeats++;
    if (transfer.idleHeartbeats < 2) continue;
    transfer.idleHeartbeats = 0;
    transfer.sentOffset = transfer.ackedOffset;
    transfer.sentAll = false;
    sendSnapshotChunks(raft, id);
  }
}
