/**
 * The accepting side of one peer connection for `TcpTransport` (see `tcp_transport.ts` for the
 * whole design): the TLS handshake (with `--peer-tls`) and the key handshake under one deadline, then authenticated frames whose messages are
 * checked and handed to the replica, and a keepalive back to the dialer on every liveness tick
 * so it can tell a silent link from an idle one.
 *
 * @module
 */

import type { Message, NodeId } from "../../raft/mod.ts";
import { tagBytes } from "./peer_auth.ts";
import {
  decodeFrame,
  frameBytesMax,
  FrameEncoder,
  handshakeFrameBytesMax,
  type Hello,
  PeerCodecError,
} from "./peer_codec.ts";
import {
  acceptHandshake,
  type HandshakeIdentity,
  PeerRefusedError,
  type Session,
} from "./peer_handshake.ts";
import {
  closeQuietly,
  describe,
  FrameChannel,
  type LogLimiter,
  type PeerConn,
  remoteText,
  writeAll,
} from "./peer_io.ts";
import { acceptTls } from "./peer_tls.ts";
import { type MessageLimits, messageProblem } from "./message_validation.ts";
import type { TransportStats } from "./peer_link.ts";

/** What every inbound connection shares with its transport. */
export interface InboundContext {
  identity: HandshakeIdentity;
  /** Connections come from a TLS listener: their TLS handshake runs first (same deadline). */
  tls: boolean;
  handshakeMsMax: number;
  /** Liveness ticks without a byte from the dialer before the connection is closed. */
  silenceTicksMax: number;
  limits: MessageLimits;
  warnings: LogLimiter;
  stats: TransportStats;
  /** The handshake succeeded: the connection now speaks for `hello.nodeId`. */
  authenticated(connection: InboundConnection, hello: Hello): void;
  /** Hands checked messages to the replica, in order. */
  deliver(message: Message): void;
  isClosed(): boolean;
}

/** One accepted connection, from the first byte to its close. */
export class InboundConnection {
  /** The authenticated peer, or null during the handshake. */
  peer: NodeId | null = null;
  /** The peer address the authenticated peer announced in its hello, if it did. */
  announced: string | undefined;
  readonly conn: PeerConn;
  readonly remote: string;
  /** The remote host (the per-address cap counts by it). */
  readonly address: string;
  /** Resolves when the connection is closed and its loop has ended. */
  readonly done: Promise<void>;
  readonly #context: InboundContext;
  readonly #channel: FrameChannel;
  readonly #encoder = new FrameEncoder(64, tagBytes);
  #session: Session | null = null;
  #silentTicks = 0;
  #writing = false;
  #closed = false;
  /** The handshake was refused and the dialer is being told why (`peer_refusal.ts`). */
  #answeringRefusal = false;

  constructor(conn: PeerConn, context: InboundContext) {
    this.conn = conn;
    this.remote = remoteText(conn);
    this.address = conn.remoteAddr.hostname;
    this.#context = context;
    this.#channel = new FrameChannel(conn, handshakeFrameBytesMax);
    this.done = this.#run();
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.conn);
  }

  /** True once closed (its loop may still be ending). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * One liveness tick: a connection whose dialer sent nothing for `silenceTicksMax` ticks is
   * closed (it redials); otherwise the dialer gets a keepalive.
   */
  tick(): void {
    if (this.#session === null || this.#closed) return;
    if (++this.#silentTicks > this.#context.silenceTicksMax) {
      this.#context.stats.linksSilenced++;
      this.#context.warnings.line(
        `transport ${this.#context.identity.nodeId}: closing the connection from ${this.peer}: ` +
          `silent for ${this.#context.silenceTicksMax} liveness ticks`,
      );
      this.close();
      return;
    }
    if (this.#writing) return;
    const frame = this.#encoder.encodeKeepalive();
    this.#session.sealer.seal(frame);
    this.#writing = true;
    writeAll(this.conn, frame).then(
      () => (this.#writing = false),
      () => this.close(),
    );
  }

  async #run(): Promise<void> {
    const { identity } = this.#context;
    const timer = setTimeout(() => {
      if (this.#session !== null) return;
      if (this.#answeringRefusal) return this.close(); // reported already
      this.#context.warnings.line(
        `transport ${identity.nodeId}: closing the connection from ${this.remote}: no ` +
          `handshake within ${this.#context.handshakeMsMax} ms`,
      );
      this.#context.stats.handshakesFailed++;
      this.close();
    }, this.#context.handshakeMsMax);
    try {
      if (this.#context.tls) await acceptTls(this.conn);
      const { hello, session } = await acceptHandshake(this.#channel, identity);
      clearTimeout(timer);
      if (this.#closed) return;
      this.#session = session;
      this.peer = hello.nodeId;
      this.announced = hello.peerAddress;
      this.#channel.stream.raiseLimit(frameBytesMax);
      this.#context.authenticated(this, hello);
      await this.#readLoop(session);
    } catch (error) {
      if (error instanceof HandlerError) throw error.cause;
      this.#report(error);
      if (error instanceof PeerRefusedError && error.answer !== undefined && !this.#closed) {
        // Tells the dialer why (under the handshake's deadline); its failures change nothing.
        this.#answeringRefusal = true;
        await error.answer().catch(() => {});
      }
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  async #readLoop(session: Session): Promise<void> {
    const { stream, conn } = this.#channel;
    const stats = this.#context.stats;
    for (;;) {
      let frame: Uint8Array | null;
      while ((frame = stream.next()) !== null) this.#receive(session, frame);
      const bytesRead = await conn.read(stream.readTarget());
      if (bytesRead === null || this.#closed) return;
      stream.wrote(bytesRead);
      stats.bytesReceived += bytesRead;
      // Any byte counts: a big frame may take longer than the silence limit to arrive.
      this.#silentTicks = 0;
    }
  }

  /** Checks one frame's tag, then its messages, and dispatches the good ones in order. */
  #receive(session: Session, bytes: Uint8Array): void {
    if (this.#context.isClosed()) return;
    session.opener.open(bytes);
    const frame = decodeFrame(bytes, tagBytes);
    if (frame.kind === "keepalive") return;
    if (frame.kind !== "messages") throw new PeerCodecError(`a ${frame.kind} after the handshake`);
    const stats = this.#context.stats;
    stats.framesReceived++;
    for (const message of frame.messages) {
      const problem = this.#problem(message);
      if (problem !== null) {
        stats.messagesRefused++;
        this.#context.warnings.line(
          `transport ${this.#context.identity.nodeId}: dropped a message from ${this.peer}: ` +
            problem,
        );
        continue;
      }
      stats.messagesReceived++;
      try {
        this.#context.deliver(message);
      } catch (error) {
        throw new HandlerError(error);
      }
    }
  }

  #problem(message: Message): string | null {
    if (message.from !== this.peer) return `it claims to be from ${message.from}`;
    if (message.to !== this.#context.identity.nodeId) return `it is addressed to ${message.to}`;
    return messageProblem(message, this.#context.limits);
  }

  #report(error: unknown): void {
    // Closed on purpose (a timeout, silence, a newer connection, shutdown): already said why.
    if (this.#closed || this.#context.isClosed()) return;
    if (this.#session === null) this.#context.stats.handshakesFailed++;
    if (error instanceof PeerRefusedError) {
      if (error.reason === "otherCluster") this.#context.stats.refusedOtherCluster++;
      else if (error.reason === "ownNodeId") this.#context.stats.refusedOwnNodeId++;
    }
    this.#context.warnings.line(
      `transport ${this.#context.identity.nodeId}: closing the connection from ${
        this.peer ?? this.remote
      }: ${describe(error)}`,
    );
  }
}

/** Carries an exception out of the message handler: a bug to surface, not a bad frame. */
class HandlerError extends Error {
  constructor(cause: unknown) {
    super("the message handler threw", { cause });
  }
}
