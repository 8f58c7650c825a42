/**
 * The follower's side of a chunked InstallSnapshot: chunks must arrive in order from one leader
 * term; a gap is answered with the offset wanted, so the leader rewinds. Each chunk goes to the
 * node's `SnapshotSink` as it arrives (Raft keeps only offsets); once all bytes came and the sink
 * found them sound, the snapshot is installed through the next Ready. Bytes the sink refuses
 * are never installed: the leader is told to start over from offset 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Raft } from "./raft.ts";
import {
  type LogIndex,
  type Message,
  MessageType,
  type Snapshot,
  type SnapshotChunk,
  type Term,
} from "./types.ts";

/** A snapshot being received (its bytes are in the sink). */
export interface SnapshotReceiver {
  from: string;
  leaderTerm: Term;
  index: LogIndex;
  term: Term;
  /** The size every chunk of this transfer announces (the sink's file is made for it). */
  totalBytes: number;
  receivedBytes: number;
}

/** Handles one `Snap` message on a follower. */
export function handleSnapshotChunk(raft: Raft, message: Message): void {
  const chunk = message.snapshot;
  assert.ok(chunk !== undefined, "a Snap message carries a chunk");
  const log = raft.log;
  if (chunk.index <= log.committed) {
    // Already have it (or newer): tell the leader where we are so it resumes appends.
    dropSnapshotReceiver(raft);
    raft.send({
      type: MessageType.AppResp,
      to: message.from,
      index: log.committed,
      context: message.context,
    });
    return;
  }
  if (chunk.totalBytes > raft.settings.snapshotBytesMax) return;
  let receiver = raft.snapshotReceiver;
  if (receiver === null || !sameTransfer(receiver, message, chunk)) {
    dropSnapshotReceiver(raft);
    if (chunk.offset !== 0) {
      respond(raft, message, { receivedBytes: 0, reject: true });
      return;
    }
    receiver = {
      from: message.from,
      leaderTerm: message.term,
      index: chunk.index,
      term: chunk.term,
      totalBytes: chunk.totalBytes,
      receivedBytes: 0,
    };
    raft.snapshotSink.begin({
      index: chunk.index,
      term: chunk.term,
      config: cloneChunkConfig(chunk),
      byteLength: chunk.totalBytes,
    });
    raft.snapshotReceiver = receiver;
  }
  if (chunk.offset !== receiver.receivedBytes) {
    // A duplicate (behind) is simply re-acknowledged; a gap (ahead) asks for a rewind.
    respond(raft, message, {
      receivedBytes: receiver.receivedBytes,
      reject: chunk.offset > receiver.receivedBytes,
    });
    return;
  }
  if (receiver.receivedBytes + chunk.data.byteLength > chunk.totalBytes) {
    // Cannot come from a sound leader (the transport checks it too): never let it in.
    dropSnapshotReceiver(raft);
    respond(raft, message, { receivedBytes: 0, reject: true });
    return;
  }
  raft.snapshotSink.write(receiver.receivedBytes, chunk.data);
  receiver.receivedBytes += chunk.data.byteLength;
  if (receiver.receivedBytes < chunk.totalBytes) {
    respond(raft, message, { receivedBytes: receiver.receivedBytes, reject: false });
    return;
  }
  raft.snapshotReceiver = null;
  const snapshot: Snapshot = {
    index: chunk.index,
    term: chunk.term,
    config: cloneChunkConfig(chunk),
  };
  if (log.matchTerm(snapshot.index, snapshot.term)) {
    // The log already holds its last entry: the snapshot only fast-forwards the commit index,
    // keeping the entries after it (§7), and its bytes are not needed.
    raft.snapshotSink.abort();
    if (log.commitTo(snapshot.index)) raft.onCommitted();
  } else if (raft.snapshotSink.finish()) {
    log.restore(snapshot);
    raft.configs.reset(snapshot.index, snapshot.config);
    raft.onCommitted();
  } else {
    // The bytes do not check out (damaged on the way or at the source): never installed; the
    // leader starts over.
    respond(raft, message, { receivedBytes: 0, reject: true });
    return;
  }
  // Only the snapshot's position is known to match; entries after it are probed as usual.
  raft.send({
    type: MessageType.AppResp,
    to: message.from,
    index: snapshot.index,
    context: message.context,
  });
}

/** Abandons the transfer being received, if any (its bytes are dropped from the sink). */
export function dropSnapshotReceiver(raft: Raft): void {
  if (raft.snapshotReceiver === null) return;
  raft.snapshotReceiver = null;
  raft.snapshotSink.abort();
}

function cloneChunkConfig(chunk: SnapshotChunk): Snapshot["config"] {
  return { voters: [...chunk.config.voters], learners: [...chunk.config.learners] };
}

function sameTransfer(receiver: SnapshotReceiver, message: Message, chunk: SnapshotChunk): boolean {
  // A chunk announcing another size belongs to other bytes (no sound leader changes the size of
  // a snapshot mid-transfer): continuing would write it past the size the sink was given.
  return receiver.from === message.from && receiver.leaderTerm === message.term &&
    receiver.index === chunk.index && receiver.term === chunk.term &&
    receiver.totalBytes === chunk.totalBytes;
}

function respond(
  raft: Raft,
  message: Message,
  answer: { receivedBytes: number; reject: boolean },
): void {
  raft.send({
    type: MessageType.SnapResp,
    to: message.from,
    index: message.snapshot!.index,
    // The flat message reuses its index-typed hint for the byte offset wanted (see `Message`).
    rejectHint: answer.receivedBytes as LogIndex,
    reject: answer.reject,
    context: message.context,
  });
}
