/**
 * The binary wire format between cmqd nodes: Raft messages and the hello each connection starts
 * with. JSON per message is too slow between nodes (the README's promises), so this is a compact,
 * little-endian, length-prefixed layout written with a `DataView`.
 *
 * ## Layout (all integers little-endian)
 *
 * ```
 * frame     = u32 length          bytes that follow this field (kind + body), 1 ≤ length,
 *                                 4 + length ≤ frameBytesMax (64 MiB)
 *             u8  kind            1 = hello, 2 = messages
 *             body
 * hello     = u8  version         peerProtocolVersion (1)
 *             str nodeId          non-empty
 *             str clientUrl
 *             u8  flags           bit 0: clusterId follows, bit 1: peerAddress follows
 *             str clusterId       only with bit 0
 *             str peerAddress     only with bit 1 (host:port of the sender's peer listener)
 * messages  = u32 count           ≥ 1
 *             message × count
 * message   = u8  type            MessageType (1..NewTerm)
 *             str from            non-empty
 *             str to              non-empty
 *             u53 term  u53 logTerm  u53 index  u53 commit  u53 rejectHint
 *             u8  flags           bit 0 = reject, bit 1 = snapshot present, others 0
 *             str context
 *             u32 entryCount
 *             entry × entryCount
 *             chunk               only when flags bit 1 is set
 * entry     = u53 term  u53 index
 *             u8  type
 *             u8  flags           bit 0 = timestamp present, others 0
 *             f64 timestamp       only when flags bit 0 is set
 *             u32 dataBytes  u8 × dataBytes
 * chunk     = u53 index  u53 term
 *             u16 voterCount  str × voterCount
 *             u16 learnerCount  str × learnerCount
 *             u53 offset  u53 totalBytes   offset + dataBytes ≤ totalBytes
 *             u32 dataBytes  u8 × dataBytes
 * str       = u16 byteLength  UTF-8 × byteLength
 * u53       = u32 low  u32 high   a non-negative safe integer (high ≤ 0x1fffff)
 * ```
 *
 * Decoding checks every length against the bytes that remain and every value against its
 * domain, and throws `PeerCodecError` for anything else: bytes from the network are untrusted,
 * and a bad frame must close one connection, never crash the node.
 *
 * @module
 */

import assert, { AssertionError } from "node:assert/strict";
import { BodyReader, PeerCodecError } from "./peer_body_reader.ts";

export { PeerCodecError };
import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  type SnapshotChunk,
  type Term,
} from "../../raft/mod.ts";

/** Largest frame, length prefix included (64 MiB). */
export const frameBytesMax = 64 * 1024 * 1024;
/** Bumped on any incompatible change of the layout; a hello with another version is refused. */
export const peerProtocolVersion = 1;
/** Bytes of the frame header: `u32 length` + `u8 kind`. */
export const frameHeaderBytes = 5;

/** The kinds of frame. */
export const FrameKind = { Hello: 1, Messages: 2 } as const;

/** The first frame on every connection: who dials, and where its clients go. */
export interface Hello {
  nodeId: NodeId;
  /** Base URL of the node's client API (so followers can point clients at the leader). */
  clientUrl: string;
  /** When both ends know a cluster id, they must agree (protects against crossed configs). */
  clusterId?: string;
  /** `host:port` of the sender's peer listener, so a node it dials can dial back (joins). */
  peerAddress?: string;
}

/** One decoded frame. */
export type PeerFrame =
  | { kind: "hello"; hello: Hello }
  | { kind: "messages"; messages: Message[] };

const stringBytesMax = 0xffff;
const twoTo32 = 4_294_967_296;
const messageTypeMax = Math.max(...Object.values(MessageType));
/** type + two u16 lengths + 5 × u53 + flags + u16 length + u32 count, strings empty. */
const messageFixedBytes = 1 + 2 + 2 + 5 * 8 + 1 + 2 + 4;
/** from and to are never empty. */
const messageBytesMin = messageFixedBytes + 2;
/** term + index + type + flags + u32 length, no timestamp, no data. */
const entryBytesMin = 8 + 8 + 1 + 1 + 4;
/** index + term + two u16 counts + offset + totalBytes + u32 length. */
const chunkFixedBytes = 8 + 8 + 2 + 2 + 8 + 8 + 4;
const readBufferBytesMin = 64 * 1024;
/** A read buffer grown past this is given back once it is empty. */
const readBufferBytesKept = 1024 * 1024;
const encoder = new TextEncoder();

/**
 * An upper bound of a message's encoded size (a string is counted at 3 bytes per UTF-16 unit, the
 * most UTF-8 can need). The transport accounts its queues and sizes its frames with it.
 */
export function messageBytesBound(message: Message): number {
  let bytes = messageFixedBytes +
    3 * (message.from.length + message.to.length + message.context.length);
  for (const entry of message.entries) {
    bytes += entryBytesMin + 8 + entry.data.length;
  }
  const chunk = message.snapshot;
  if (chunk !== undefined) {
    bytes += chunkFixedBytes + chunk.data.length;
    for (const id of chunk.config.voters) bytes += 2 + 3 * id.length;
    for (const id of chunk.config.learners) bytes += 2 + 3 * id.length;
  }
  return bytes;
}

/**
 * Encodes frames into one reusable buffer. Each returned view is valid only until the next call,
 * which suits a write loop that awaits each write before encoding the next frame.
 *
 * @example
 * ```ts
 * const frames = new FrameEncoder();
 * const bytes = frames.encodeMessages(messages, { start: 0, end: messages.length });
 * await writeAll(conn, bytes);
 * ```
 */
export class FrameEncoder {
  #bytes: Uint8Array;
  #view: DataView;
  #at = 0;
  readonly #capacityBytesMin: number;

  constructor(capacityBytes = 64 * 1024) {
    this.#capacityBytesMin = capacityBytes;
    this.#bytes = new Uint8Array(capacityBytes);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Current buffer size (it grows for large frames and shrinks back after them). */
  get capacityBytes(): number {
    return this.#bytes.length;
  }

  /** The hello frame. */
  encodeHello(hello: Hello): Uint8Array {
    const bound = frameHeaderBytes + 1 + 3 * 2 + 1 +
      3 * (hello.nodeId.length + hello.clientUrl.length + (hello.clusterId?.length ?? 0) +
          (hello.peerAddress?.length ?? 0));
    this.#begin(bound, FrameKind.Hello);
    this.#u8(peerProtocolVersion);
    this.#string(hello.nodeId);
    this.#string(hello.clientUrl);
    this.#u8((hello.clusterId === undefined ? 0 : 1) | (hello.peerAddress === undefined ? 0 : 2));
    if (hello.clusterId !== undefined) this.#string(hello.clusterId);
    if (hello.peerAddress !== undefined) this.#string(hello.peerAddress);
    return this.#finish();
  }

  /**
   * One frame carrying `messages[start..end)` (default: all). Throws `PeerCodecError` when the
   * frame would exceed `frameBytesMax`, or a string is longer than 65,535 bytes.
   */
  encodeMessages(messages: Message[], range?: { start: number; end: number }): Uint8Array {
    const start = range?.start ?? 0;
    const end = range?.end ?? messages.length;
    assert.ok(0 <= start && start < end && end <= messages.length, "a non-empty range");
    let bound = frameHeaderBytes + 4;
    for (let i = start; i < end; i++) bound += messageBytesBound(messages[i]);
    this.#begin(bound, FrameKind.Messages);
    this.#u32(end - start);
    for (let i = start; i < end; i++) this.#message(messages[i]);
    return this.#finish();
  }

  #begin(boundBytes: number, kind: number): void {
    const oversized = this.#bytes.length > this.#capacityBytesMin &&
      this.#bytes.length > 4 * boundBytes;
    if (boundBytes > this.#bytes.length || oversized) {
      // Shrinking after a big frame keeps a long-lived encoder from pinning 64 MiB per peer.
      const capacity = Math.max(this.#capacityBytesMin, boundBytes);
      this.#bytes = new Uint8Array(capacity);
      this.#view = new DataView(this.#bytes.buffer);
    }
    this.#at = 4;
    this.#u8(kind);
  }

  #finish(): Uint8Array {
    const frameBytes = this.#at;
    if (frameBytes > frameBytesMax) {
      throw new PeerCodecError(`frame of ${frameBytes} bytes exceeds ${frameBytesMax}`);
    }
    this.#view.setUint32(0, frameBytes - 4, true);
    return this.#bytes.subarray(0, frameBytes);
  }

  #message(message: Message): void {
    this.#u8(message.type);
    this.#string(message.from);
    this.#string(message.to);
    this.#u53(message.term);
    this.#u53(message.logTerm);
    this.#u53(message.index);
    this.#u53(message.commit);
    this.#u53(message.rejectHint);
    const chunk = message.snapshot;
    this.#u8((message.reject ? 1 : 0) | (chunk === undefined ? 0 : 2));
    this.#string(message.context);
    this.#u32(message.entries.length);
    for (const entry of message.entries) this.#entry(entry);
    if (chunk !== undefined) this.#chunk(chunk);
  }

  #entry(entry: Entry): void {
    this.#u53(entry.term);
    this.#u53(entry.index);
    this.#u8(entry.type);
    if (entry.timestamp === undefined) {
      this.#u8(0);
    } else {
      this.#u8(1);
      this.#view.setFloat64(this.#at, entry.timestamp, true);
      this.#at += 8;
    }
    this.#data(entry.data);
  }

  #chunk(chunk: SnapshotChunk): void {
    this.#u53(chunk.index);
    this.#u53(chunk.term);
    this.#u16(chunk.config.voters.length);
    for (const id of chunk.config.voters) this.#string(id);
    this.#u16(chunk.config.learners.length);
    for (const id of chunk.config.learners) this.#string(id);
    this.#u53(chunk.offset);
    this.#u53(chunk.totalBytes);
    this.#data(chunk.data);
  }

  #u8(value: number): void {
    this.#view.setUint8(this.#at, value);
    this.#at += 1;
  }

  #u16(value: number): void {
    assert.ok(value <= 0xffff, `count ${value} does not fit a u16`);
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
  }

  #u32(value: number): void {
    this.#view.setUint32(this.#at, value, true);
    this.#at += 4;
  }

  #u53(value: number): void {
    // A plain check: assert.ok costs ~0.5 µs in Deno, too much twice per entry.
    if (!(value >= 0 && Number.isSafeInteger(value))) {
      throw new AssertionError({ message: `${value} is not a u53` });
    }
    this.#view.setUint32(this.#at, value >>> 0, true);
    this.#view.setUint32(this.#at + 4, Math.floor(value / twoTo32), true);
    this.#at += 8;
  }

  #data(data: Uint8Array): void {
    this.#u32(data.length);
    this.#bytes.set(data, this.#at);
    this.#at += data.length;
  }

  #string(text: string): void {
    const lengthAt = this.#at;
    this.#at += 2;
    let byteLength = 0;
    if (text.length <= 64 && isAscii(text)) {
      // Node ids and contexts are short ASCII: a loop beats encodeInto's call overhead.
      for (let i = 0; i < text.length; i++) this.#bytes[this.#at + i] = text.charCodeAt(i);
      byteLength = text.length;
    } else {
      byteLength = encoder.encodeInto(text, this.#bytes.subarray(this.#at)).written;
    }
    if (byteLength > stringBytesMax) {
      throw new PeerCodecError(`string of ${byteLength} bytes exceeds ${stringBytesMax}`);
    }
    this.#view.setUint16(lengthAt, byteLength, true);
    this.#at += byteLength;
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return false;
  }
  return true;
}

/**
 * Splits a byte stream into frames with one reusable buffer: bytes are read in at the end, whole
 * frames are decoded from the front, and a partial frame is moved to the front (or the buffer
 * grown, up to `frameBytesMax`) only when it must be.
 *
 * @example
 * ```ts
 * const stream = new FrameStream();
 * for (;;) {
 *   let frame;
 *   while ((frame = stream.next()) !== null) handle(frame);
 *   const bytesRead = await conn.read(stream.readTarget());
 *   if (bytesRead === null) break;
 *   stream.wrote(bytesRead);
 * }
 * ```
 */
export class FrameStream {
  #bytes = new Uint8Array(readBufferBytesMin);
  #start = 0;
  #end = 0;

  /** The next whole frame, or null when more bytes are needed. Throws `PeerCodecError`. */
  next(): PeerFrame | null {
    const total = frameLength(this.#bytes.subarray(0, this.#end), this.#start);
    if (total === null || this.#end - this.#start < total) return null;
    // A copy, so the messages handed out never alias bytes the next read overwrites.
    const frame = decodeFrame(this.#bytes.slice(this.#start, this.#start + total));
    this.#start += total;
    return frame;
  }

  /** Where the next read should land, after making room for the frame in progress. */
  readTarget(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#bytes.length > readBufferBytesKept) {
        this.#bytes = new Uint8Array(readBufferBytesMin);
      }
    }
    const buffered = this.#end - this.#start;
    const needed = buffered < 4
      ? frameHeaderBytes
      : frameLength(this.#bytes.subarray(0, this.#end), this.#start)!;
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(
        Math.min(frameBytesMax, Math.max(needed, 2 * this.#bytes.length)),
      );
      grown.set(this.#bytes.subarray(this.#start, this.#end));
      this.#bytes = grown;
      this.#start = 0;
      this.#end = buffered;
    } else if (this.#start + needed > this.#bytes.length || this.#bytes.length - this.#end < 4096) {
      this.#bytes.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = buffered;
    }
    return this.#bytes.subarray(this.#end);
  }

  /** Records that `bytes` bytes were read into the last `readTarget()`. */
  wrote(bytes: number): void {
    this.#end += bytes;
    assert.ok(this.#end <= this.#bytes.length);
  }
}

/**
 * The hello frame as a fresh array.
 *
 * @example
 * ```ts
 * const bytes = encodeHelloFrame({ nodeId: nodeId("n1"), clientUrl: "http://10.0.0.1:8080" });
 * ```
 */
export function encodeHelloFrame(hello: Hello): Uint8Array {
  return new FrameEncoder(256).encodeHello(hello).slice();
}

/**
 * One frame carrying all `messages`, as a fresh array.
 *
 * @example
 * ```ts
 * const frame = encodeMessagesFrame(ready.messages);
 * const decoded = decodeFrame(frame); // { kind: "messages", messages: [...] }
 * ```
 */
export function encodeMessagesFrame(messages: Message[]): Uint8Array {
  return new FrameEncoder(1024).encodeMessages(messages).slice();
}

/**
 * The total size (length prefix included) of the frame starting at `offset`, or `null` while
 * fewer than 4 bytes are there to tell. Throws `PeerCodecError` for an empty or oversized frame,
 * so a reader can refuse it before buffering it.
 */
export function frameLength(bytes: Uint8Array, offset = 0): number | null {
  if (bytes.length - offset < 4) return null;
  const length = (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
  if (length < 1) throw new PeerCodecError("empty frame");
  if (length > frameBytesMax - 4) {
    throw new PeerCodecError(`frame of ${length + 4} bytes exceeds ${frameBytesMax}`);
  }
  return length + 4;
}

/**
 * Decodes exactly one whole frame (length prefix included). Entry and chunk `data` are views into
 * `bytes`: pass an array that will not be overwritten (a reader copies the frame out of its
 * reusable buffer first). Throws `PeerCodecError` for anything that does not follow the layout.
 *
 * @example
 * ```ts
 * const frame = decodeFrame(bytes);
 * if (frame.kind === "messages") for (const message of frame.messages) handle(message);
 * ```
 */
export function decodeFrame(bytes: Uint8Array): PeerFrame {
  const total = frameLength(bytes);
  if (total === null || total !== bytes.length) {
    throw new PeerCodecError(`frame length does not match the ${bytes.length} bytes given`);
  }
  const reader = new BodyReader(bytes);
  reader.skip(4);
  const kind = reader.u8();
  let frame: PeerFrame;
  if (kind === FrameKind.Hello) {
    frame = { kind: "hello", hello: readHello(reader) };
  } else if (kind === FrameKind.Messages) {
    frame = { kind: "messages", messages: readMessages(reader) };
  } else {
    throw new PeerCodecError(`unknown frame kind ${kind}`);
  }
  if (reader.remaining !== 0) {
    throw new PeerCodecError(`${reader.remaining} bytes left after the frame body`);
  }
  return frame;
}

function readHello(reader: BodyReader): Hello {
  const version = reader.u8();
  if (version !== peerProtocolVersion) {
    throw new PeerCodecError(`peer protocol version ${version}, expected ${peerProtocolVersion}`);
  }
  const nodeId = reader.nodeId();
  const clientUrl = reader.string();
  const flags = reader.u8();
  if (flags > 3) throw new PeerCodecError(`bad hello flags ${flags}`);
  const hello: Hello = { nodeId, clientUrl };
  if (flags & 1) hello.clusterId = reader.string();
  if (flags & 2) hello.peerAddress = reader.string();
  return hello;
}

function readMessages(reader: BodyReader): Message[] {
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
