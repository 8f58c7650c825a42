/**
 * The binary wire format between cmqd nodes: the handshake that opens every connection and the
 * authenticated frames carrying batches of Raft messages after it. JSON per message is too slow
 * between nodes (the README's promises), so this is a compact, little-endian, length-prefixed
 * layout written with a `DataView`. The cryptography is in `peer_auth.ts`.
 *
 * ## Frames (all integers little-endian)
 *
 * ```
 * frame     = u32 length          bytes that follow this field (kind + body + tag), 1 ≤ length;
 *                                 4 + length ≤ handshakeFrameBytesMax (4 KiB) until the
 *                                 handshake is done, ≤ frameBytesMax (64 MiB) after it
 *             u8  kind            1 hello, 2 messages, 3 challenge, 4 proof, 5 keepalive
 *             body
 *             u8 × 32 tag         only on frames after the handshake (messages, keepalive)
 * ```
 *
 * ## Handshake (peerProtocolVersion 2)
 *
 * The node that opens the TCP connection (the dialer D) writes Raft messages on it; the node
 * that accepted it (the acceptor A) only answers the handshake and sends keepalives. Before any
 * Raft message counts, each side proves it holds the cluster key:
 *
 * ```
 * D → A  hello     = u8 version  str nodeId  str clientUrl  u8 flags  [str clusterId]
 *                    [str peerAddress]  u8 × 32 nonceD
 *                    flags bit 0: clusterId follows, bit 1: peerAddress (host:port of D's
 *                    listener, so a node it joins can dial back); other bits 0
 * A → D  challenge = u8 version  str nodeId (A's)  u8 × 32 nonceA  u8 × 32 proofA
 * D → A  proof     = u8 × 32 proofD
 * ```
 *
 * A hello announcing another cluster id is answered by a refusal instead of a challenge (layout
 * and what it reveals to whom: `peer_refusal.ts`).
 *
 * A hello of another version is answered by a challenge of A's version and nothing else (see
 * `encodeVersionAnswerFrame`), then the connection is closed: both sides log the two versions.
 *
 * with (HMAC = HMAC-SHA256, ‖ = concatenation, lp = u16 byte length + UTF-8)
 *
 * ```
 * T        = SHA-256(D's hello frame as sent) ‖ lp(A's id) ‖ nonceA ‖ lp(cluster id, "" if none)
 * authKey  = HMAC(cluster key, "cmqd/peer/v2/auth\0")
 * proofA   = HMAC(authKey, "cmqd/peer/v2/acceptor\0" ‖ T)
 * proofD   = HMAC(authKey, "cmqd/peer/v2/dialer\0" ‖ T)
 * session  = HMAC(authKey, "cmqd/peer/v2/session\0" ‖ T)
 * keyDA    = HMAC(session, "cmqd/peer/v2/dialer to acceptor\0"), keyAD likewise
 * tag      = HMAC(key of the frame's direction, u64 n ‖ frame bytes before the tag)
 *            n = 0, 1, 2 … counted per direction, never sent
 * ```
 *
 * T covers both nonces, both ids (D's is in its hello), the cluster id and D's announced
 * addresses, so a proof is good for one handshake only: a recorded handshake replayed to A
 * meets a new nonceA and fails, and the acceptor's proof can't stand in for the dialer's. The
 * per-direction keys and the counted sequence refuse a frame that is tampered with, replayed,
 * dropped, reordered or sent back the way it came. A failure closes the connection; nothing
 * read before the proof reaches Raft.
 *
 * ## Bodies after the handshake
 *
 * ```
 * keepalive = (empty)             sent by a side that has sent nothing else for a while
 * messages  = u32 count           ≥ 1
 *             message × count
 * message   = u8  type            MessageType (1..Removed)
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
 * A messages frame carries at most `frameItemsMax` (2^18) messages, entries and snapshot member
 * ids in all.
 *
 * Decoding checks every length against the bytes that remain and every value against its
 * domain, and throws `PeerCodecError` for anything else: bytes from the network are untrusted,
 * and a bad frame must close one connection, never crash the node. Whether a well-formed message
 * is one Raft could have sent is `message_validation.ts`'s question.
 *
 * @module
 */

import assert, { AssertionError } from "node:assert/strict";
import { BodyReader, PeerCodecError } from "./peer_body_reader.ts";

export { PeerCodecError };
import type { Entry, Message, NodeId, SnapshotChunk } from "../../raft/mod.ts";
import { nonceBytes, proofBytes } from "./peer_auth.ts";
import {
  chunkFixedBytes,
  entryBytesMin,
  frameItemsMax,
  messageFixedBytes,
  messageItems,
  readMessages,
} from "./peer_message_reader.ts";

export { frameItemsMax };

/** Largest frame, length prefix included (64 MiB). */
export const frameBytesMax = 64 * 1024 * 1024;
/** Largest frame before the handshake is done (a hello is far smaller). */
export const handshakeFrameBytesMax = 4 * 1024;
/** Bumped on any incompatible change of the layout; a hello with another version is refused. */
export const peerProtocolVersion = 2;
/** Bytes of the frame header: `u32 length` + `u8 kind`. */
export const frameHeaderBytes = 5;

/** The kinds of frame. */
export const FrameKind = {
  Hello: 1,
  Messages: 2,
  Challenge: 3,
  Proof: 4,
  Keepalive: 5,
  /** The acceptor's refusal and its detail: `peer_refusal.ts`. */
  Refusal: 6,
  RefusalDetail: 7,
} as const;

/** The first frame on every connection: who dials, and where its clients go. */
export interface Hello {
  nodeId: NodeId;
  /** Base URL of the node's client API (so followers can point clients at the leader). */
  clientUrl: string;
  /** When both ends know a cluster id, they must agree (protects against crossed configs). */
  clusterId?: string;
  /** `host:port` of the sender's peer listener, so a node it dials can dial back (joins). */
  peerAddress?: string;
  /** The dialer's random handshake nonce (`nonceBytes`). */
  nonce: Uint8Array;
}

/** The acceptor's answer to a hello: who it is, its nonce, and its proof of the key. */
export interface Challenge {
  nodeId: NodeId;
  nonce: Uint8Array;
  proof: Uint8Array;
}

/** One decoded frame. */
export type PeerFrame =
  | { kind: "hello"; hello: Hello }
  | { kind: "challenge"; challenge: Challenge }
  | { kind: "proof"; proof: Uint8Array }
  | { kind: "keepalive" }
  | { kind: "messages"; messages: Message[] };

const stringBytesMax = 0xffff;
const twoTo32 = 4_294_967_296;
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
/** Small frames in a row after which an encoder gives its big buffer back. */
export const smallFramesBeforeShrinking = 64;

export class FrameEncoder {
  #bytes: Uint8Array;
  #view: DataView;
  #at = 0;
  readonly #capacityBytesMin: number;
  readonly #tagBytes: number;
  /** Frames in a row that a quarter of the buffer would have held. */
  #smallFrames = 0;

  /**
   * `tagBytes` are reserved at the end of every messages and keepalive frame (and counted in its
   * length) for the sender to fill with the frame's tag (`FrameSealer.seal`).
   */
  constructor(capacityBytes = 64 * 1024, tagBytes = 0) {
    this.#capacityBytesMin = capacityBytes;
    this.#tagBytes = tagBytes;
    this.#bytes = new Uint8Array(capacityBytes);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Current buffer size (it grows for large frames, and shrinks back after a run of small ones). */
  get capacityBytes(): number {
    return this.#bytes.length;
  }

  /** The hello frame (never tagged: the proofs cover it). */
  encodeHello(hello: Hello): Uint8Array {
    assert.equal(hello.nonce.length, nonceBytes, "a hello nonce has nonceBytes bytes");
    const bound = frameHeaderBytes + 1 + 4 * 2 + 1 + nonceBytes +
      3 * (hello.nodeId.length + hello.clientUrl.length + (hello.clusterId?.length ?? 0) +
          (hello.peerAddress?.length ?? 0));
    this.#begin(bound, FrameKind.Hello);
    this.#u8(peerProtocolVersion);
    this.#string(hello.nodeId);
    this.#string(hello.clientUrl);
    this.#u8((hello.clusterId === undefined ? 0 : 1) | (hello.peerAddress === undefined ? 0 : 2));
    if (hello.clusterId !== undefined) this.#string(hello.clusterId);
    if (hello.peerAddress !== undefined) this.#string(hello.peerAddress);
    this.#raw(hello.nonce);
    return this.#finish(false);
  }

  /** The acceptor's challenge frame (never tagged). */
  encodeChallenge(challenge: Challenge): Uint8Array {
    assert.equal(challenge.nonce.length, nonceBytes, "a challenge nonce has nonceBytes bytes");
    assert.equal(challenge.proof.length, proofBytes, "a proof has proofBytes bytes");
    this.#begin(frameHeaderBytes + 1 + 2 + 3 * challenge.nodeId.length + 64, FrameKind.Challenge);
    this.#u8(peerProtocolVersion);
    this.#string(challenge.nodeId);
    this.#raw(challenge.nonce);
    this.#raw(challenge.proof);
    return this.#finish(false);
  }

  /** The dialer's proof frame (never tagged). */
  encodeProof(proof: Uint8Array): Uint8Array {
    assert.equal(proof.length, proofBytes, "a proof has proofBytes bytes");
    this.#begin(frameHeaderBytes + proofBytes, FrameKind.Proof);
    this.#raw(proof);
    return this.#finish(false);
  }

  /** A keepalive frame (tagged when the encoder reserves a tag). */
  encodeKeepalive(): Uint8Array {
    this.#begin(frameHeaderBytes, FrameKind.Keepalive);
    return this.#finish(true);
  }

  /**
   * One frame carrying `messages[start..end)` (default: all), tagged when the encoder reserves a
   * tag. Throws `PeerCodecError` when the frame would exceed `frameBytesMax` or `frameItemsMax`,
   * or a string is longer than 65,535 bytes.
   */
  encodeMessages(messages: Message[], range?: { start: number; end: number }): Uint8Array {
    const start = range?.start ?? 0;
    const end = range?.end ?? messages.length;
    if (!(0 <= start && start < end && end <= messages.length)) assert.fail("a non-empty range");
    let bound = frameHeaderBytes + 4;
    let items = 0;
    for (let i = start; i < end; i++) {
      bound += messageBytesBound(messages[i]);
      items += messageItems(messages[i]);
    }
    if (items > frameItemsMax) {
      throw new PeerCodecError(`a frame of ${items} items exceeds ${frameItemsMax}`);
    }
    this.#begin(bound, FrameKind.Messages);
    this.#u32(end - start);
    for (let i = start; i < end; i++) this.#message(messages[i]);
    return this.#finish(true);
  }

  #begin(bodyBoundBytes: number, kind: number): void {
    const boundBytes = bodyBoundBytes + this.#tagBytes;
    const small = this.#bytes.length > this.#capacityBytesMin &&
      this.#bytes.length > 4 * boundBytes;
    this.#smallFrames = small ? this.#smallFrames + 1 : 0;
    // Shrinking after a run of small frames keeps an idle encoder from pinning 64 MiB per peer.
    // Not after each one: under load a leader's appends alternate with small frames (the commit
    // index, heartbeats), and a fresh buffer of a few hundred KB for every append cost about
    // 60 µs of page faults a frame.
    if (boundBytes > this.#bytes.length || this.#smallFrames >= smallFramesBeforeShrinking) {
      const capacity = Math.max(this.#capacityBytesMin, boundBytes);
      this.#bytes = new Uint8Array(capacity);
      this.#view = new DataView(this.#bytes.buffer);
      this.#smallFrames = 0;
    }
    this.#at = 4;
    this.#u8(kind);
  }

  #finish(tagged: boolean): Uint8Array {
    const frameBytes = this.#at + (tagged ? this.#tagBytes : 0);
    if (frameBytes > frameBytesMax) {
      throw new PeerCodecError(`frame of ${frameBytes} bytes exceeds ${frameBytesMax}`);
    }
    this.#view.setUint32(0, frameBytes - 4, true);
    return this.#bytes.subarray(0, frameBytes);
  }

  #raw(bytes: Uint8Array): void {
    this.#bytes.set(bytes, this.#at);
    this.#at += bytes.length;
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
    if (!(value <= 0xffff)) assert.fail(`count ${value} does not fit a u16`);
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
 * The hello frame as a fresh array.
 *
 * @example
 * ```ts
 * const bytes = encodeHelloFrame({
 *   nodeId: nodeId("n1"),
 *   clientUrl: "http://10.0.0.1:8080",
 *   nonce: newNonce(),
 * });
 * ```
 */
export function encodeHelloFrame(hello: Hello): Uint8Array {
  return new FrameEncoder(256).encodeHello(hello).slice();
}

/**
 * The challenge frame as a fresh array.
 *
 * @example
 * ```ts
 * const bytes = encodeChallengeFrame({ nodeId: nodeId("n2"), nonce: newNonce(), proof });
 * ```
 */
export function encodeChallengeFrame(challenge: Challenge): Uint8Array {
  return new FrameEncoder(256).encodeChallenge(challenge).slice();
}

/**
 * The answer to a hello of another protocol version: a challenge frame cut after its version
 * byte, so the dialer (of any release that reads a challenge's version first) learns which
 * version this node speaks and says so, rather than seeing a connection closed for no reason.
 * It proves nothing: the connection is closed after it.
 */
export function encodeVersionAnswerFrame(): Uint8Array {
  return new Uint8Array([2, 0, 0, 0, FrameKind.Challenge, peerProtocolVersion]);
}

/** The protocol version of a hello frame that is not this release's, else null. */
export function otherHelloVersion(frame: Uint8Array): number | null {
  if (frame.length < frameHeaderBytes + 1 || frame[4] !== FrameKind.Hello) return null;
  return frame[5] === peerProtocolVersion ? null : frame[5];
}

/**
 * The proof frame as a fresh array.
 *
 * @example
 * ```ts
 * const bytes = encodeProofFrame(keys.proof("dialer", transcript));
 * ```
 */
export function encodeProofFrame(proof: Uint8Array): Uint8Array {
  return new FrameEncoder(64).encodeProof(proof).slice();
}

/**
 * One frame carrying all `messages`, as a fresh array, with `tagBytes` reserved for a tag.
 *
 * @example
 * ```ts
 * const frame = encodeMessagesFrame(ready.messages);
 * const decoded = decodeFrame(frame); // { kind: "messages", messages: [...] }
 * ```
 */
export function encodeMessagesFrame(messages: Message[], tagBytes = 0): Uint8Array {
  return new FrameEncoder(1024, tagBytes).encodeMessages(messages).slice();
}

/**
 * The total size (length prefix included) of the frame starting at `offset`, or `null` while
 * fewer than 4 bytes are there to tell. Throws `PeerCodecError` for an empty frame or one over
 * `limitBytes`, so a reader can refuse it before buffering it.
 */
export function frameLength(
  bytes: Uint8Array,
  offset = 0,
  limitBytes = frameBytesMax,
): number | null {
  if (bytes.length - offset < 4) return null;
  const length = (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
  if (length < 1) throw new PeerCodecError("empty frame");
  if (length > limitBytes - 4) {
    throw new PeerCodecError(`frame of ${length + 4} bytes exceeds ${limitBytes}`);
  }
  return length + 4;
}

/**
 * Decodes exactly one whole frame (length prefix included); its last `tagBytes` bytes are a tag
 * the caller has already checked, and are skipped. Entry and chunk `data` are views into `bytes`:
 * pass an array that will not be overwritten (a reader copies the frame out of its reusable
 * buffer first). Throws `PeerCodecError` for anything that does not follow the layout.
 *
 * @example
 * ```ts
 * const frame = decodeFrame(bytes);
 * if (frame.kind === "messages") for (const message of frame.messages) handle(message);
 * ```
 */
export function decodeFrame(bytes: Uint8Array, tagBytes = 0): PeerFrame {
  const total = frameLength(bytes);
  if (total === null || total !== bytes.length) {
    throw new PeerCodecError(`frame length does not match the ${bytes.length} bytes given`);
  }
  if (total < frameHeaderBytes + tagBytes) throw new PeerCodecError("a frame shorter than its tag");
  const reader = new BodyReader(bytes.subarray(0, total - tagBytes), frameItemsMax);
  reader.skip(4);
  const kind = reader.u8();
  const frame = readBody(kind, reader);
  if (reader.remaining !== 0) {
    throw new PeerCodecError(`${reader.remaining} bytes left after the frame body`);
  }
  return frame;
}

function readBody(kind: number, reader: BodyReader): PeerFrame {
  switch (kind) {
    case FrameKind.Hello:
      return { kind: "hello", hello: readHello(reader) };
    case FrameKind.Messages:
      return { kind: "messages", messages: readMessages(reader) };
    case FrameKind.Challenge:
      checkVersion(reader.u8());
      return {
        kind: "challenge",
        challenge: {
          nodeId: reader.nodeId(),
          nonce: reader.bytes(nonceBytes),
          proof: reader.bytes(proofBytes),
        },
      };
    case FrameKind.Proof:
      return { kind: "proof", proof: reader.bytes(proofBytes) };
    case FrameKind.Keepalive:
      return { kind: "keepalive" };
    default:
      throw new PeerCodecError(`unknown frame kind ${kind}`);
  }
}

function checkVersion(version: number): void {
  if (version !== peerProtocolVersion) {
    throw new PeerCodecError(
      `peer protocol version ${version}, expected ${peerProtocolVersion} (every node of a ` +
        "cluster must run a release with the same peer protocol)",
    );
  }
}

function readHello(reader: BodyReader): Hello {
  checkVersion(reader.u8());
  const nodeId = reader.nodeId();
  const clientUrl = reader.string();
  const flags = reader.u8();
  if (flags > 3) throw new PeerCodecError(`bad hello flags ${flags}`);
  const clusterId = flags & 1 ? reader.string() : undefined;
  const peerAddress = flags & 2 ? reader.string() : undefined;
  const hello: Hello = { nodeId, clientUrl, nonce: reader.bytes(nonceBytes) };
  if (clusterId !== undefined) hello.clusterId = clusterId;
  if (peerAddress !== undefined) hello.peerAddress = peerAddress;
  return hello;
}
