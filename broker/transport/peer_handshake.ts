/**
 * The two sides of the peer handshake (byte layout and formulas in `peer_codec.ts`): the dialer
 * sends its hello, checks the acceptor's proof and proves itself; the acceptor answers the hello
 * with its nonce and proof and checks the dialer's. Either side ends with the sealer for what it
 * sends and the opener for what it receives. A hello of another cluster id is refused, and the
 * dialer told why (`peer_refusal.ts`). Every failure throws `PeerCodecError`; the caller
 * closes the connection. Deadlines are the caller's (it closes the connection, which ends a
 * pending read).
 *
 * @module
 */

import type { NodeId } from "../../raft/mod.ts";
import {
  FrameOpener,
  FrameSealer,
  newNonce,
  type PeerKeys,
  sha256,
  type Transcript,
} from "./peer_auth.ts";
import {
  decodeFrame,
  encodeChallengeFrame,
  encodeHelloFrame,
  encodeProofFrame,
  encodeVersionAnswerFrame,
  FrameKind,
  type Hello,
  otherHelloVersion,
  PeerCodecError,
  type PeerFrame,
} from "./peer_codec.ts";
import { type FrameChannel, writeAll } from "./peer_io.ts";
import {
  answerRefusal,
  otherClusterHint,
  PeerRefusedError,
  readRefusal,
  showClusterId,
} from "./peer_refusal.ts";

/** What a side needs to take part in a handshake. */
export interface HandshakeIdentity {
  nodeId: NodeId;
  /** "" when the node has none; both sides must have the same. */
  clusterId: string;
  keys: PeerKeys;
}

export { PeerRefusedError, type RefusalReason, showClusterId } from "./peer_refusal.ts";

/** The authenticated state of a connection after its handshake. */
export interface Session {
  /** Tags what this side sends. */
  sealer: FrameSealer;
  /** Checks what this side receives. */
  opener: FrameOpener;
}

/**
 * The dialer's side: hello → check the challenge from `expectedPeer` → proof.
 *
 * @example
 * ```ts
 * const session = await dialHandshake(channel, identity, { hello, expectedPeer: nodeId("n2") });
 * ```
 */
export async function dialHandshake(
  channel: FrameChannel,
  identity: HandshakeIdentity,
  options: { hello: Omit<Hello, "nonce">; expectedPeer: NodeId },
): Promise<Session> {
  const helloFrame = encodeHelloFrame({ ...options.hello, nonce: newNonce() });
  await writeAll(channel.conn, helloFrame);
  const bytes = await readHandshakeBytes(channel, "challenge");
  if (bytes.length > 4 && bytes[4] === FrameKind.Refusal) {
    const sent = { helloHash: sha256(helloFrame), clusterId: options.hello.clusterId ?? "" };
    throw await readRefusal(channel, identity.keys, sent, bytes);
  }
  const frame = decodeFrame(bytes);
  if (frame.kind !== "challenge") {
    throw new PeerCodecError(`a ${frame.kind} instead of a challenge`);
  }
  const { challenge } = frame;
  if (challenge.nodeId !== options.expectedPeer) {
    throw new PeerCodecError(`answered as ${challenge.nodeId}, expected ${options.expectedPeer}`);
  }
  const transcript: Transcript = {
    helloHash: sha256(helloFrame),
    acceptorId: challenge.nodeId,
    acceptorNonce: challenge.nonce,
    clusterId: identity.clusterId,
  };
  if (!identity.keys.verifyProof("acceptor", transcript, challenge.proof)) {
    throw new PeerCodecError(
      `${challenge.nodeId} did not prove the cluster key (another key or cluster id?)`,
    );
  }
  await writeAll(channel.conn, encodeProofFrame(identity.keys.proof("dialer", transcript)));
  const keys = identity.keys.sessionKeys(transcript);
  return {
    sealer: new FrameSealer(keys.dialerToAcceptor),
    opener: new FrameOpener(keys.acceptorToDialer),
  };
}

/**
 * The acceptor's side: hello → challenge → check the proof. Returns the dialer's hello, which
 * is trustworthy only now.
 *
 * @example
 * ```ts
 * const { hello, session } = await acceptHandshake(channel, identity);
 * ```
 */
export async function acceptHandshake(
  channel: FrameChannel,
  identity: HandshakeIdentity,
): Promise<{ hello: Hello; session: Session }> {
  const helloFrame = await channel.readFrame();
  if (helloFrame === null) throw new PeerCodecError("closed before its hello");
  if (otherHelloVersion(helloFrame) !== null) {
    // The dialer learns this node's version (and logs it) before the connection closes.
    await writeAll(channel.conn, encodeVersionAnswerFrame()).catch(() => {});
  }
  const first = decodeFrame(helloFrame);
  if (first.kind !== "hello") throw new PeerCodecError("the first frame is not a hello");
  const { hello } = first;
  const theirs = hello.clusterId ?? "";
  if (theirs !== identity.clusterId) {
    // Before the proof: the ids say what is wrong (the proof would fail on them anyway). The
    // dialer is told after this is reported, its cluster id only once it proved the key.
    const helloHash = sha256(helloFrame);
    throw new PeerRefusedError(
      "otherCluster",
      `${hello.nodeId} says it is in cluster ${showClusterId(theirs)}, this node is in ` +
        `${showClusterId(identity.clusterId)}: ${otherClusterHint}`,
      () => answerRefusal(channel, identity, helloHash, theirs),
    );
  }
  if (hello.nodeId === identity.nodeId) {
    throw new PeerRefusedError(
      "ownNodeId",
      `it says it is ${hello.nodeId}, this node's own id: two processes started with ` +
        `--node-id ${hello.nodeId}?`,
    );
  }
  const transcript: Transcript = {
    helloHash: sha256(helloFrame),
    acceptorId: identity.nodeId,
    acceptorNonce: newNonce(),
    clusterId: identity.clusterId,
  };
  const proof = identity.keys.proof("acceptor", transcript);
  await writeAll(
    channel.conn,
    encodeChallengeFrame({ nodeId: identity.nodeId, nonce: transcript.acceptorNonce, proof }),
  );
  const answer = await readHandshakeFrame(channel, "proof");
  if (answer.kind !== "proof") throw new PeerCodecError(`a ${answer.kind} instead of a proof`);
  if (!identity.keys.verifyProof("dialer", transcript, answer.proof)) {
    throw new PeerCodecError(`${hello.nodeId} did not prove the cluster key (wrong key?)`);
  }
  const keys = identity.keys.sessionKeys(transcript);
  return {
    hello,
    session: {
      sealer: new FrameSealer(keys.acceptorToDialer),
      opener: new FrameOpener(keys.dialerToAcceptor),
    },
  };
}

async function readHandshakeFrame(channel: FrameChannel, wanted: string): Promise<PeerFrame> {
  return decodeFrame(await readHandshakeBytes(channel, wanted));
}

async function readHandshakeBytes(channel: FrameChannel, wanted: string): Promise<Uint8Array> {
  const bytes = await channel.readFrame();
  if (bytes === null) {
    throw new PeerCodecError(
      `closed before its ${wanted} (the other side refused the handshake; its log says why)`,
    );
  }
  return bytes;
}
