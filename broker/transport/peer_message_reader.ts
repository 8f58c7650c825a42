/**
 * Decoding of the `messages` frame body (layout in `peer_codec.ts`), and the fixed sizes its
 * encoder's bounds share. Every count is checked against the bytes that remain before anything
 * is allocated for it.
 *
 * @module
 */

import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  type SnapshotChunk,
  type Term,
} from "../../raft/mod.ts";
import { type BodyReader, PeerCodecError } from "./peer_body_reader.ts";

const messageTypeMax = Math.max(...Object.values(MessageType));
/** type + two u16 lengths + 5 × u53 + flags + u16 length + u32 count, strings empty. */
export const messageFixedBytes = 1 + 2 + 2 + 5 * 8 + 1 + 2 + 4;
/** from and to are never empty. */
const messageBytesMin = messageFixedBytes + 2;
/** term + index + type + flags + u32 length, no timestamp, no data. */
export const entryBytesMin = 8 + 8 + 1 + 1 + 4;
/** index + term + two u16 counts + offset + totalBytes + u32 length. */
export const chunkFixedBytes = 8 + 8 + 2 + 2 + 8 + 8 + 4;

/**
 * Most items (messages, entries, snapshot member ids) one messages frame may carry; the decoder
 * refuses a frame with more before allocating them. Decoding costs per item (an object, a copy
 * of its data), so the frame size alone is no bound: 64 MiB of empty entries are 3 million, over
 * a gigabyte and seconds of a blocked event loop to decode. A correct sender stays well below:
 * the link coalesces at most 4 MiB of encoded messages after a frame's first one (at least 30
 * bytes an entry, 56 a message: under 140,000 items), and Raft's first message carries at most
 * 1 MiB of entries (each counted at 32 bytes or more: under 33,000) or one snapshot chunk with
 * its members.
 */
export const frameItemsMax = 2 ** 18;

/** The items `message` adds to a frame (see `frameItemsMax`). */
export function messageItems(message: Message): number {
  const chunk = message.snapshot;
  const members = chunk === undefined
    ? 0
    : chunk.config.voters.length + chunk.config.learners.length;
  return 1 + message.entries.length + members;
}

/** The messages of a `messages` body (the reader stands just after the frame kind). */
export function readMessages(reader: BodyReader): Message[] {
  const count = reader.u32();
  if (count < 1) throw new PeerCodecError("a messages frame with no message");
  reader.checkCount(count, messageBytesMin);
  const messages: Message[] = new Array(count);
  for (let i = 0; i < count; i++) messages[i] = readMessage(reader);
  return messages;
}

function readMessage(reader: BodyReader): Message {
  const type = reader.u8();
  if (type < 1 || type > messageTypeMax) throw new PeerCodecError(`unknown message type ${type}`);
  const from = reader.nodeId();
  const to = reader.nodeId();
  const term = reader.u53() as Term;
  const logTerm = reader.u53() as Term;
  const index = reader.u53() as LogIndex;
  const commit = reader.u53() as LogIndex;
  const rejectHint = reader.u53() as LogIndex;
  const flags = reader.u8();
  if (flags > 3) throw new PeerCodecError(`bad message flags ${flags}`);
  const context = reader.string();
  const entryCount = reader.u32();
  reader.checkCount(entryCount, entryBytesMin);
  const entries: Entry[] = new Array(entryCount);
  for (let i = 0; i < entryCount; i++) entries[i] = readEntry(reader);
  const message: Message = {
    type: type as MessageType,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & 1) !== 0,
    rejectHint,
    context,
  };
  if ((flags & 2) !== 0) message.snapshot = readChunk(reader);
  return message;
}

function readEntry(reader: BodyReader): Entry {
  const term = reader.u53() as Term;
  const index = reader.u53() as LogIndex;
  const type = reader.u8();
  const flags = reader.u8();
  if (flags > 1) throw new PeerCodecError(`bad entry flags ${flags}`);
  const timestamp = flags === 1 ? reader.f64() : undefined;
  const data = reader.data();
  return timestamp === undefined
    ? { term, index, type, data }
    : { term, index, type, data, timestamp };
}

function readChunk(reader: BodyReader): SnapshotChunk {
  const index = reader.u53() as LogIndex;
  const term = reader.u53() as Term;
  const voters = readIds(reader);
  const learners = readIds(reader);
  const offset = reader.u53();
  const totalBytes = reader.u53();
  const data = reader.data();
  if (offset + data.length > totalBytes) {
    throw new PeerCodecError(
      `snapshot chunk [${offset}, ${offset + data.length}) exceeds its total ${totalBytes}`,
    );
  }
  return { index, term, config: { voters, learners }, offset, totalBytes, data };
}

function readIds(reader: BodyReader): NodeId[] {
  const count = reader.u16();
  reader.checkCount(count, 3);
  const ids: NodeId[] = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = reader.nodeId();
  return ids;
}
