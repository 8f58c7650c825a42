/**
 * Telling a dialer why its hello was refused (the handshake is in `peer_codec.ts`). A hello that
 * announces another cluster id is refused before any proof; before this exchange the acceptor
 * only closed the connection, and the refused node could not tell a node of another cluster
 * from a crash or a network fault (only the acceptor's log said why).
 *
 * ```
 * D → A  hello           (D's cluster id X ≠ A's cluster id Y)
 * A → D  refusal        = u8 version  u8 reason (1: another cluster id)  u8 × 32 nonceA
 *                          u8 × 32 macA
 * D → A  proof          = u8 × 32 macD                  only when macA checks out
 * A → D  refusal detail = str nodeId (A's)  str clusterId (Y)  u8 × 32 macR
 *                                                         only when macD checks out
 * ```
 *
 * with (as in `peer_codec.ts`; the transcript has no acceptor id and carries X, the id both sides
 * know)
 *
 * ```
 * R    = SHA-256(D's hello frame as sent) ‖ lp("") ‖ nonceA ‖ lp(X)
 * macA = HMAC(authKey, "cmqd/peer/v2/refusal acceptor\0" ‖ R ‖ lp(reason name))
 * macD = HMAC(authKey, "cmqd/peer/v2/refusal dialer\0" ‖ R)
 * macR = HMAC(authKey, "cmqd/peer/v2/refusal detail\0" ‖ R ‖ lp(A's id) ‖ lp(Y))
 * ```
 *
 * Then A closes the connection. What each side learns, and from whom:
 * - The key proof comes first, the other cluster's id after it. A dialer without the key gets
 *   the reason and two random-looking values (nonceA, macA), neither A's node id nor its cluster
 *   id: it learns that its hello was refused for its cluster id, which the close right after its
 *   hello told it before, and can't answer macD, so no detail follows. macA is a MAC under the
 *   cluster key that any hello now draws (before, only a hello with the right cluster id drew one,
 *   the challenge's proof); with a key of at least 16 random bytes it does not help guess the key.
 * - A dialer holding the key (a node of another cluster with the same key, the case this is for)
 *   checks macA: the refusal is A's, for this hello (its nonce), for this reason. It logs and
 *   counts it (`cmqd_peer_refused_by_peer_total{reason="other_cluster"}`), proves the key with
 *   macD, and reads A's id and cluster id, which it logs beside its own.
 * - A refusal whose macA does not check out (another key, a forgery, a garbled frame) is trusted as
 *   nothing more than "refused" (`reason="unproven"`): its reason is not logged as a fact, and D
 *   sends nothing more.
 * - macD and macR are bound to the same R, and every MAC here has its own label, so none stands
 *   in for a handshake proof (or another of these) and none replays on another hello.
 *
 * Only another cluster id is answered: a hello claiming A's own node id is still closed without a
 * word (A's log names it). An older release's acceptor just closes (the dialer says so); an older
 * dialer reads the refusal as an unknown frame kind and closes.
 *
 * @module
 */

import {
  lengthPrefixed,
  newNonce,
  nonceBytes,
  type PeerKeys,
  proofBytes,
  type Transcript,
} from "./peer_auth.ts";
import { BodyReader, PeerCodecError } from "./peer_body_reader.ts";
import {
  decodeFrame,
  encodeProofFrame,
  frameHeaderBytes,
  FrameKind,
  peerProtocolVersion,
} from "./peer_codec.ts";
import { describe, type FrameChannel, writeAll } from "./peer_io.ts";

/**
 * Why a hello was refused: `otherCluster` and `ownNodeId` by the acceptor (counted apart: they
 * need an operator, not a retry); `unproven` by a dialer given a refusal that did not prove the
 * cluster key.
 */
export type RefusalReason = "otherCluster" | "ownNodeId" | "unproven";

/** A hello refused (by this node as acceptor, or by the node this one dialled). */
export class PeerRefusedError extends PeerCodecError {
  /**
   * @param answer The acceptor's side of the exchange above, run after the refusal was reported
   * (under the handshake's deadline); absent when the refusal is not answered.
   */
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly answer?: () => Promise<void>,
  ) {
    super(message);
    this.name = "PeerRefusedError";
  }
}

/** A cluster id as the log shows it. */
export function showClusterId(id: string): string {
  return id === "" ? "none (started before cluster ids)" : id;
}

/** What the operator is told about two cluster ids, on both sides. */
export const otherClusterHint = "a node of another cluster, or one started with another --peers " +
  'list or --cluster-id (README, "Cluster id")';

/** The reasons a refusal frame names, by their wire code (index + 1). */
const wireReasons = ["otherCluster"] as const;

/** What the acceptor needs to answer. */
interface AcceptorSide {
  nodeId: string;
  clusterId: string;
  keys: PeerKeys;
}

/**
 * The acceptor's side, once it refused a hello (whose SHA-256 is `helloHash`, announcing
 * `dialerClusterId`) for its cluster id: the refusal, then the detail to a dialer that proved
 * the key. Returns when the exchange ended (the caller closes the connection).
 */
export async function answerRefusal(
  channel: FrameChannel,
  identity: AcceptorSide,
  helloHash: Uint8Array,
  dialerClusterId: string,
): Promise<void> {
  const transcript = refusalTranscript(helloHash, newNonce(), dialerClusterId);
  const macA = identity.keys.refusalMac("acceptor", transcript, ["otherCluster"]);
  const code = wireReasons.indexOf("otherCluster") + 1;
  await writeAll(
    channel.conn,
    frame(FrameKind.Refusal, [
      new Uint8Array([peerProtocolVersion, code]),
      transcript.acceptorNonce,
      macA,
    ]),
  );
  const answer = await channel.readFrame();
  if (answer === null) return; // the dialer could not check the refusal (another key), or left
  const decoded = decodeFrame(answer);
  if (decoded.kind !== "proof") return;
  if (!identity.keys.verifyRefusalMac("dialer", transcript, [], decoded.proof)) return;
  const shown = [identity.nodeId, identity.clusterId];
  const macR = identity.keys.refusalMac("detail", transcript, shown);
  await writeAll(
    channel.conn,
    frame(FrameKind.RefusalDetail, [...shown.map(lengthPrefixed), macR]),
  );
}

/**
 * The dialer's side: `bytes` (a refusal frame, read in answer to its hello) is checked, answered
 * when it proves the key, and the detail read. Returns the error the handshake ends with.
 */
export async function readRefusal(
  channel: FrameChannel,
  keys: PeerKeys,
  sent: { helloHash: Uint8Array; clusterId: string },
  bytes: Uint8Array,
): Promise<PeerRefusedError> {
  const refusal = new BodyReader(bytes);
  refusal.skip(frameHeaderBytes);
  const version = refusal.u8();
  const code = refusal.u8();
  const nonce = refusal.bytes(nonceBytes);
  const macA = refusal.bytes(proofBytes);
  if (refusal.remaining !== 0) throw new PeerCodecError("a refusal frame longer than its layout");
  const reason = wireReasons[code - 1];
  const transcript = refusalTranscript(sent.helloHash, nonce, sent.clusterId);
  const proven = version === peerProtocolVersion && reason !== undefined &&
    keys.verifyRefusalMac("acceptor", transcript, [reason], macA);
  if (!proven) {
    return new PeerRefusedError(
      "unproven",
      "the other side refused the handshake, with an answer that does not prove this node's " +
        "cluster key (another key, or not a cmqd node): why is not known here",
    );
  }
  await writeAll(channel.conn, encodeProofFrame(keys.refusalMac("dialer", transcript)));
  const ours = showClusterId(sent.clusterId);
  let detail: { nodeId: string; clusterId: string };
  try {
    detail = await readDetail(channel, keys, transcript);
  } catch (error) {
    return new PeerRefusedError(
      "otherCluster",
      `the other side refused this node for its cluster id ${ours} (proven with the cluster ` +
        `key; its own id did not follow: ${describe(error)}): ${otherClusterHint}`,
    );
  }
  return new PeerRefusedError(
    "otherCluster",
    `${detail.nodeId} refused this node: it is in cluster ${showClusterId(detail.clusterId)}, ` +
      `this node is in ${ours}: ${otherClusterHint}`,
  );
}

async function readDetail(
  channel: FrameChannel,
  keys: PeerKeys,
  transcript: Transcript,
): Promise<{ nodeId: string; clusterId: string }> {
  const bytes = await channel.readFrame();
  if (bytes === null) throw new PeerCodecError("closed before the refusal's detail");
  const reader = new BodyReader(bytes);
  reader.skip(4);
  const kind = reader.u8();
  if (kind !== FrameKind.RefusalDetail) throw new PeerCodecError(`frame kind ${kind}`);
  const nodeId = reader.string();
  const clusterId = reader.string();
  const macR = reader.bytes(proofBytes);
  if (reader.remaining !== 0) throw new PeerCodecError("a detail frame longer than its layout");
  if (!keys.verifyRefusalMac("detail", transcript, [nodeId, clusterId], macR)) {
    throw new PeerCodecError("the detail failed authentication");
  }
  return { nodeId, clusterId };
}

function refusalTranscript(
  helloHash: Uint8Array,
  acceptorNonce: Uint8Array,
  dialerClusterId: string,
): Transcript {
  return { helloHash, acceptorId: "", acceptorNonce, clusterId: dialerClusterId };
}

/** A frame of `kind` whose body is `parts` (never tagged: the MACs inside cover it). */
function frame(kind: number, parts: Uint8Array[]): Uint8Array {
  const bodyBytes = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(frameHeaderBytes + bodyBytes);
  new DataView(bytes.buffer).setUint32(0, 1 + bodyBytes, true);
  bytes[4] = kind;
  let at = frameHeaderBytes;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}
