/**
 * The outbound side of a peer connection for `TcpTransport` (see `tcp_transport.ts` for the whole
 * design): one queue per peer, a loop that dials with back-off, runs the handshake and writes
 * whatever is queued as one authenticated frame per write, and the liveness check that redials a
 * link the peer has stopped answering on.
 *
 * @module
 */

import type { Message, NodeId } from "../../raft/mod.ts";
import { tagBytes } from "./peer_auth.ts";
import {
  decodeFrame,
  frameBytesMax,
  FrameEncoder,
  frameHeaderBytes,
  handshakeFrameBytesMax,
  type Hello,
  messageBytesBound,
  PeerCodecError,
} from "./peer_codec.ts";
import {
  dialHandshake,
  type HandshakeIdentity,
  PeerRefusedError,
  type Session,
} from "./peer_handshake.ts";
import {
  closeQuietly,
  describe,
  FrameChannel,
  type LogLimiter,
  parseAddress,
  type PeerConn,
  sleep,
  writeAll,
} from "./peer_io.ts";
import { dialTls, PeerTlsError } from "./peer_tls.ts";

/** Bytes coalesced into one frame when more is queued (a single bigger message goes alone). */
const coalesceBytesMax = 4 * 1024 * 1024;

/**
 * Where a peer listens for peer traffic. (The replication room's `Transport` contract has the
 * same shape; this room implements that contract without importing it.)
 */
export interface PeerAddress {
  /** The peer's node id. */
  id: NodeId;
  /** `host:port` of the peer listener. */
  peerAddress: string;
}

/** Counters since start (for metrics, measurements and tests). */
export interface TransportStats {
  /** Frames written (messages and keepalives). */
  framesSent: number;
  /** Bytes written, frame headers and tags included. */
  bytesSent: number;
  /** Messages written. */
  messagesSent: number;
  /** Messages not sent: peer unknown or not connected, queue full, connection lost. */
  messagesDropped: number;
  /** Message frames received and authenticated. */
  framesReceived: number;
  /** Bytes read on accepted connections after their handshake. */
  bytesReceived: number;
  /** Messages handed to the replica. */
  messagesReceived: number;
  /** Messages received from an authenticated peer and dropped as impossible (logged). */
  messagesRefused: number;
  /** Handshakes completed, both directions. */
  handshakes: number;
  /** Handshakes that failed (no key, wrong key, replay, garbage, timeout), both directions. */
  handshakesFailed: number;
  /** Connections refused at accept because a connection cap was reached. */
  connectionsRefused: number;
  /**
   * Connections still in their handshake closed to make room for a new one at a cap (so
   * strangers holding slots can't keep a member out).
   */
  connectionsEvicted: number;
  /** Connections closed because the other side sent nothing for too long. */
  linksSilenced: number;
  /** Hellos refused for announcing another cluster id (a node of another cluster). */
  refusedOtherCluster: number;
  /** Hellos refused for claiming this node's own id (two processes with one `--node-id`). */
  refusedOwnNodeId: number;
  /**
   * Dials the other side refused with a refusal proven with the cluster key, for this node's
   * cluster id (`peer_refusal.ts`).
   */
  refusedByPeerOtherCluster: number;
  /** Dials refused with a refusal that did not prove the key: "refused", nothing more. */
  refusedByPeerUnproven: number;
  /**
   * Connections of a member id that another open connection, announcing another peer address,
   * still spoke for (two processes with one `--node-id`, or a member that moved).
   */
  nodeIdConflicts: number;
}

/** What every outbound link shares with its transport. */
export interface LinkContext {
  identity: HandshakeIdentity;
  /** With `--peer-tls`: dials upgrade to TLS, trusting these CAs besides the default roots. */
  tls: { caCerts?: string[] } | null;
  /** The hello every dial sends (a fresh nonce is added per dial). */
  hello: Omit<Hello, "nonce">;
  reconnectMsMin: number;
  reconnectMsMax: number;
  /** Longest wait for one connect attempt and its handshake. */
  connectMsMax: number;
  queueBytesMax: number;
  /** Liveness ticks without a byte from the peer before the link is redialled. */
  silenceTicksMax: number;
  warnings: LogLimiter;
  random: () => number;
  unreachable: (peer: NodeId) => void;
  stats: TransportStats;
}

interface Connected {
  channel: FrameChannel;
  session: Session;
}

/** The outbound side of one peer: its queue, its connection and the loop that feeds it. */
export class PeerLink {
  readonly id: NodeId;
  readonly address: string;
  /** Resolves when the loop has ended and the connection is closed. */
  readonly done: Promise<void>;
  readonly #context: LinkContext;
  readonly #stop = new AbortController();
  readonly #encoder = new FrameEncoder(64 * 1024, tagBytes);
  #conn: PeerConn | null = null;
  #queue: Message[] = [];
  #queueBounds: number[] = [];
  #queuedBytes = 0;
  #wake: (() => void) | null = null;
  #broken = false;
  #closed = false;
  #silentTicks = 0;
  #wroteSinceTick = false;
  #keepaliveDue = false;
  #dialFailed = false;

  constructor(peer: PeerAddress, context: LinkContext) {
    this.id = peer.id;
    this.address = peer.peerAddress;
    this.#context = context;
    this.done = this.#run(parseAddress(peer.peerAddress));
  }

  get connected(): boolean {
    return this.#conn !== null && !this.#broken;
  }

  /**
   * Whether the latest dial failed (no connection, or no handshake): the peer is unreachable,
   * not merely between a connection that closed and the redial that follows.
   */
  get dialFailed(): boolean {
    return this.#dialFailed;
  }

  /** Queues one message; false when it was dropped (not connected, queue full, too big). */
  enqueue(message: Message): boolean {
    if (!this.connected) return false;
    const bound = messageBytesBound(message);
    if (bound + frameHeaderBytes + 4 + tagBytes > frameBytesMax) {
      this.#context.warnings.line(
        `transport: dropped a ${bound}-byte message to ${this.id} (frame limit)`,
      );
      return false;
    }
    if (this.#queuedBytes + bound > this.#context.queueBytesMax) return false;
    this.#queue.push(message);
    this.#queueBounds.push(bound);
    this.#queuedBytes += bound;
    this.#wakeUp();
    return true;
  }

  /**
   * One liveness tick: a link that heard nothing from its peer (not even a keepalive) for
   * `silenceTicksMax` ticks is closed and redialled — TCP would keep writing into a dead path
   * and wait out its retransmit back-off, long after the path is back. An idle link sends a
   * keepalive so the peer can tell the same.
   */
  tick(): void {
    if (!this.connected) return;
    if (++this.#silentTicks > this.#context.silenceTicksMax) {
      this.#context.stats.linksSilenced++;
      this.#context.warnings.line(
        `transport: no word from ${this.id} for ${this.#context.silenceTicksMax} liveness ` +
          "ticks; reconnecting",
      );
      this.#markBroken();
      return;
    }
    if (!this.#wroteSinceTick) {
      this.#keepaliveDue = true;
      this.#wakeUp();
    }
    this.#wroteSinceTick = false;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    if (this.#conn !== null) closeQuietly(this.#conn);
    this.#wakeUp();
    return this.done;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #run(target: { hostname: string; port: number }): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const connected = await this.#connect(target, failures === 0);
      this.#dialFailed = connected === null;
      if (connected !== null) {
        failures = 0;
        await this.#serve(connected);
      } else {
        failures++;
      }
      if (this.#closed) return;
      this.#context.unreachable(this.id);
      await sleep(this.#backoffMs(failures), this.#stop.signal);
    }
  }

  #backoffMs(failures: number): number {
    const { reconnectMsMin, reconnectMsMax, random } = this.#context;
    const ceiling = Math.min(reconnectMsMax, reconnectMsMin * 2 ** Math.min(failures, 30));
    // "Equal jitter": at least half the ceiling, so a dead peer is not hammered.
    return ceiling / 2 + random() * ceiling / 2;
  }

  /**
   * Dials, upgrades to TLS with `--peer-tls` (verifying the certificate for the host of the
   * peer address) and runs the key handshake, all within `connectMsMax`; null when any fails.
   */
  async #connect(
    target: { hostname: string; port: number },
    logFailure: boolean,
  ): Promise<Connected | null> {
    const attempt = new AbortController();
    let conn: PeerConn | null = null;
    const abort = () => {
      attempt.abort();
      if (conn !== null) closeQuietly(conn);
    };
    this.#stop.signal.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(abort, this.#context.connectMsMax);
    try {
      const tcp = await Deno.connect({ ...target, signal: attempt.signal });
      tcp.setNoDelay(true);
      conn = tcp;
      const tls = this.#context.tls;
      if (tls !== null) {
        conn = await dialTls(tcp, target.hostname, {
          caCerts: tls.caCerts,
          started: (upgraded) => {
            conn = upgraded;
            if (attempt.signal.aborted) closeQuietly(upgraded);
          },
        });
      }
      const channel = new FrameChannel(conn, handshakeFrameBytesMax);
      const session = await dialHandshake(channel, this.#context.identity, {
        hello: this.#context.hello,
        expectedPeer: this.id,
      });
      if (this.#closed || attempt.signal.aborted) throw new Deno.errors.Interrupted("closed");
      this.#context.stats.handshakes++;
      return { channel, session };
    } catch (error) {
      if (conn !== null) this.#context.stats.handshakesFailed++;
      if (error instanceof PeerRefusedError) {
        if (error.reason === "otherCluster") this.#context.stats.refusedByPeerOtherCluster++;
        else if (error.reason === "unproven") this.#context.stats.refusedByPeerUnproven++;
      }
      if (conn !== null) closeQuietly(conn);
      // Protocol and TLS failures are logged every time (rate-limited): they need a fix.
      const needsFix = error instanceof PeerCodecError || error instanceof PeerTlsError;
      if ((logFailure || needsFix) && !this.#closed) {
        const reason = attempt.signal.aborted
          ? `no answer within ${this.#context.connectMsMax} ms`
          : describe(error);
        this.#context.warnings.line(
          `transport: cannot reach ${this.id} at ${this.address}: ${reason}`,
        );
      }
      return null;
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", abort);
    }
  }

  /** Writes queued messages until the connection breaks or the link closes. */
  async #serve({ channel, session }: Connected): Promise<void> {
    const conn = channel.conn;
    this.#conn = conn;
    this.#broken = false;
    this.#silentTicks = 0;
    this.#wroteSinceTick = true;
    this.#keepaliveDue = false;
    // The peer writes only keepalives here; reading them tells a live link from a dead one, and
    // a read that ends notices a closed connection while idle instead of at the next write.
    const reader = this.#readLoop(channel, session).then(
      () => this.#markBroken(),
      (error) => {
        if (!this.#closed && !this.#broken) {
          this.#context.warnings.line(`transport: connection to ${this.id}: ${describe(error)}`);
        }
        this.#markBroken();
      },
    );
    try {
      while (!this.#closed && !this.#broken) {
        const bytes = this.#nextFrame();
        if (bytes === null) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        session.sealer.seal(bytes);
        await writeAll(conn, bytes);
        this.#wroteSinceTick = true;
        this.#context.stats.framesSent++;
        this.#context.stats.bytesSent += bytes.length;
      }
    } catch (error) {
      if (!this.#closed && !this.#broken) {
        this.#context.warnings.line(`transport: connection to ${this.id} lost: ${describe(error)}`);
      }
    } finally {
      this.#broken = true;
      this.#conn = null;
      closeQuietly(conn);
      await reader;
      this.#dropQueue();
    }
  }

  /** The next frame to write: queued messages, else a due keepalive, else null (wait). */
  #nextFrame(): Uint8Array | null {
    while (this.#queue.length > 0) {
      const bytes = this.#encodeBatch();
      if (bytes !== null) return bytes;
    }
    if (this.#keepaliveDue) {
      this.#keepaliveDue = false;
      return this.#encoder.encodeKeepalive();
    }
    return null;
  }

  async #readLoop(channel: FrameChannel, session: Session): Promise<void> {
    for (;;) {
      const frame = await channel.readFrame(() => (this.#silentTicks = 0));
      if (frame === null) return;
      session.opener.open(frame);
      const decoded = decodeFrame(frame, tagBytes);
      if (decoded.kind !== "keepalive") {
        throw new PeerCodecError(`a ${decoded.kind} from the accepting side`);
      }
    }
  }

  #markBroken(): void {
    this.#broken = true;
    if (this.#conn !== null) closeQuietly(this.#conn);
    this.#wakeUp();
  }

  /** Takes the queue's head (up to `coalesceBytesMax`) and encodes it as one frame. */
  #encodeBatch(): Uint8Array | null {
    let end = 0;
    let bytes = 0;
    while (
      end < this.#queue.length && (end === 0 || bytes + this.#queueBounds[end] <= coalesceBytesMax)
    ) {
      bytes += this.#queueBounds[end];
      end++;
    }
    let batch: Message[];
    if (end === this.#queue.length) {
      batch = this.#queue;
      this.#queue = [];
      this.#queueBounds = [];
    } else {
      batch = this.#queue.splice(0, end);
      this.#queueBounds.splice(0, end);
    }
    this.#queuedBytes -= bytes;
    try {
      const bytes = this.#encoder.encodeMessages(batch);
      this.#context.stats.messagesSent += batch.length;
      return bytes;
    } catch (error) {
      if (!(error instanceof PeerCodecError)) throw error;
      this.#context.stats.messagesDropped += batch.length;
      this.#context.warnings.line(
        `transport: dropped ${batch.length} messages to ${this.id}: ${error.message}`,
      );
      this.#context.unreachable(this.id);
      return null;
    }
  }

  #dropQueue(): void {
    this.#context.stats.messagesDropped += this.#queue.length;
    this.#queue = [];
    this.#queueBounds = [];
    this.#queuedBytes = 0;
  }
}
