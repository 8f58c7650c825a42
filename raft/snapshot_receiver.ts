/**
 * The follower's side of a chunked InstallSnapshot: chunks must arrive in order from one leader
 * term; a gap is answered with the offset wanted, so the leader rewinds. The assembled snapshot
 * is installed through the next Ready.
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

/** A snapshot being received. */
export interface SnapshotReceiver {
  from: string;
  leaderTerm: Term;
  index: LogIndex;
  term: Term;
  parts: Uint8Array[];
  receivedBytes: number;
}

/** Handles one `Snap` message on a follower. */
export function handleSnapshotChunk(raft: Raft, message: Message): void {
  const chunk = message.snapshot;
  assert.ok(chunk !== undefined, "a Snap message carries a chunk");
  const log = raft.log;
  if (chunk.index <= log.committed) {
    // Already have it (or newer): tell the leader where we are so it resumes appends.
    raft.snapshotReceiver = null;
    raft.send({ type: MessageType.AppResp, to: message.from, index: log.committed });
    return;
  }
  if (chunk.totalBytes > raft.settings.snapshotBytesMax) return;
  let receiver = raft.snapshotReceiver;
  if (receiver === null || !sameTransfer(receiver, message, chunk)) {
    receiver = null;
    raft.snapshotReceiver = null;
    if (chunk.offset !== 0) {
      respond(raft, message, { receivedBytes: 0, reject: true });
      return;
    }
    receiver = {
      from: message.from,
      leaderTerm: message.term,
      index: chunk.index,
      term: chunk.term,
      parts: [],
      receivedBytes: 0,
    };
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
  receiver.parts.push(chunk.data.slice());
  receiver.receivedBytes += chunk.data.byteLength;
  assert.ok(receiver.receivedBytes <= chunk.totalBytes, "chunks stay within the snapshot");
  if (receiver.receivedBytes < chunk.totalBytes) {
    respond(raft, message, { receivedBytes: receiver.receivedBytes, reject: false });
    return;
  }
  raft.snapshotReceiver = null;
  const snapshot: Snapshot = {
    index: chunk.index,
    term: chunk.term,
    config: { voters: [...chunk.config.voters], learners: [...chunk.config.learners] },
    data: concat(receiver.parts, chunk.totalBytes),
  };
  installSnapshot(raft, snapshot);
  // Only the snapshot's position is known to match; entries after it are probed as usual.
  raft.send({ type: MessageType.AppResp, to: message.from, index: snapshot.index });
}

function sameTransfer(receiver: SnapshotReceiver, message: Message, chunk: SnapshotChunk): boolean {
  return receiver.from === message.from && receiver.leaderTerm === message.term &&
    receiver.index === chunk.index && receiver.term === chunk.term;
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
  });
}

/**
 * Installs a complete snapshot unless the log already holds its last entry (then the snapshot
 * only fast-forwards the commit index, keeping the entries after it, per §7).
 */
function installSnapshot(raft: Raft, snapshot: Snapshot): void {
  const log = raft.log;
  if (log.matchTerm(snapshot.index, snapshot.term)) {
    if (log.commitTo(snapshot.index)) raft.onCommitted();
    return;
  }
  log.restore(snapshot);
  raft.configs.reset(snapshot.index, snapshot.config);
  raft.onCommitted();
}

function concat(parts: Uint8Array[], totalBytes: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.byteLength;
  }
  return whole;
}
