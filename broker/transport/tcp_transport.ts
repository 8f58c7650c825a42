/**
 * The TCP peer transport: Raft messages between cmqd nodes over persistent connections carrying
 * the binary frames of `peer_codec.ts`.
 *
 * Each node dials one outbound connection per peer and only writes to it; it only reads from the
 * connections its listener accepts. Two sockets per pair instead of one shared socket keeps each
 * loop one-directional, and a restart on either side heals on its own.
 *
 * - **Sending** never blocks and never throws. Messages to one peer go into that peer's queue in
 *   order; one write loop per peer coalesces everything queued into one frame per `conn.write`
 *   (about 3× the throughput of a write per frame, DENO.md §5). While a peer is not connected,
 *   or its queue is full, messages are dropped and `onUnreachable` tells the replica (Raft
 *   resends). A connection that breaks drops what was queued for it.
 * - **Reconnecting** uses exponential back-off with jitter between `reconnectMsMin` and
 *   `reconnectMsMax`, reset by every successful connect.
 * - **Receiving** parses frames in place in a reusable buffer and hands messages to the handler
 *   synchronously, in order. A frame that does not decode, or that breaks the protocol (no hello
 *   first, a message not from the hello's node or not to this node, another cluster id), closes
 *   that connection with a one-line warning; the process and the other connections carry on.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Message, NodeId } from "../../raft/mod.ts";
import {
  encodeHelloFrame,
  FrameStream,
  type Hello,
  PeerCodecError,
  type PeerFrame,
} from "./peer_codec.ts";
import {
  closeQuietly,
  describe,
  type LinkContext,
  type PeerAddress,
  PeerLink,
  remoteText,
  sleep,
  type TransportStats,
} from "./peer_link.ts";

/** Options of `TcpTransport.start`. */
export interface TcpTransportOptions {
  nodeId: NodeId;
  /** Where to accept peer connections; port 0 picks a free port (see `address`). */
  listen: { hostname: string; port: number };
  /** This node's client API base URL, announced to peers in the hello. */
  clientUrl: string;
  /** `host:port` peers should dial to reach this node, announced in the hello (joins). */
  advertisedAddress?: string;
  /** The other members (an entry for this node itself is ignored). */
  peers: PeerAddress[];
  /** When set, connections from a node announcing another cluster id are refused. */
  clusterId?: string;
  /** First reconnect delay (default 50 ms); doubles per failed attempt. */
  reconnectMsMin?: number;
  /** Longest reconnect delay (default 2,000 ms). */
  reconnectMsMax?: number;
  /** Longest wait for one connect attempt (default 2,000 ms). */
  connectMsMax?: number;
  /** Bytes queued per peer before new messages are dropped (default 64 MiB). */
  queueBytesMax?: number;
  /** One-line warnings (default `console.warn`). */
  log?: (line: string) => void;
  /** Uniform numbers in [0, 1) for back-off jitter (default `Math.random`: this is the shell). */
  random?: () => number;
}

const acceptRetryMs = 100;

/**
 * `Transport` over TCP.
 *
 * @example
 * ```ts
 * const transport = await TcpTransport.start({
 *   nodeId: nodeId("n1"),
 *   listen: { hostname: "0.0.0.0", port: 7001 },
 *   clientUrl: "http://10.0.0.1:8080",
 *   peers: [{ id: nodeId("n2"), peerAddress: "10.0.0.2:7001" }],
 * });
 * transport.onMessage((message) => raftNode.step(message));
 * transport.onUnreachable((peer) => raftNode.reportUnreachable(peer));
 * transport.send(ready.messages);
 * await transport.close();
 * ```
 */
export class TcpTransport {
  readonly #nodeId: NodeId;
  readonly #clusterId: string | undefined;
  readonly #listener: Deno.TcpListener;
  readonly #context: LinkContext;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #inbound = new Map<Deno.TcpConn, { peer: NodeId | null }>();
  readonly #clientUrls = new Map<NodeId, string>();
  /** Every running loop, so `close()` can wait for all of them. */
  readonly #loops = new Set<Promise<void>>();
  readonly #unreachable = new Set<NodeId>();
  #messageHandler: (message: Message) => void = () => {};
  #unreachableHandler: (peer: NodeId) => void = () => {};
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #stop = new AbortController();

  private constructor(options: TcpTransportOptions, listener: Deno.TcpListener) {
    this.#nodeId = options.nodeId;
    this.#clusterId = options.clusterId;
    this.#listener = listener;
    const hello: Hello = { nodeId: options.nodeId, clientUrl: options.clientUrl };
    if (options.clusterId !== undefined) hello.clusterId = options.clusterId;
    if (options.advertisedAddress !== undefined) hello.peerAddress = options.advertisedAddress;
    this.#context = {
      hello: encodeHelloFrame(hello),
      reconnectMsMin: options.reconnectMsMin ?? 50,
      reconnectMsMax: options.reconnectMsMax ?? 2000,
      connectMsMax: options.connectMsMax ?? 2000,
      queueBytesMax: options.queueBytesMax ?? 64 * 1024 * 1024,
      log: options.log ?? ((line) => console.warn(line)),
      random: options.random ?? Math.random,
      unreachable: (peer) => this.#reportUnreachable(peer),
      stats: {
        framesSent: 0,
        bytesSent: 0,
        messagesSent: 0,
        messagesDropped: 0,
        framesReceived: 0,
        bytesReceived: 0,
        messagesReceived: 0,
      },
    };
    assert.ok(this.#context.reconnectMsMin > 0, "reconnectMsMin is positive");
    assert.ok(this.#context.reconnectMsMax >= this.#context.reconnectMsMin, "max ≥ min");
    this.#track(this.#acceptLoop());
    for (const peer of options.peers) this.setPeer(peer);
  }

  /** Listens, starts dialing every peer, and returns at once (connections come up on their own). */
  static start(options: TcpTransportOptions): Promise<TcpTransport> {
    const listener = Deno.listen({ hostname: options.listen.hostname, port: options.listen.port });
    return Promise.resolve(new TcpTransport(options, listener));
  }

  /** The address the listener is bound to (the real port when 0 was asked for). */
  get address(): { hostname: string; port: number } {
    const address = this.#listener.addr;
    return { hostname: address.hostname, port: address.port };
  }

  /** Whether the outbound connection to `id` is up (messages sent now are queued, not dropped). */
  isConnected(id: NodeId): boolean {
    return this.#links.get(id)?.connected ?? false;
  }

  /** A copy of the counters. */
  stats(): TransportStats {
    return { ...this.#context.stats };
  }

  send(messages: Message[]): void {
    if (this.#closed) return;
    for (const message of messages) {
      const link = this.#links.get(message.to);
      if (link === undefined || !link.enqueue(message)) {
        this.#context.stats.messagesDropped++;
        this.#reportUnreachable(message.to);
      }
    }
  }

  onMessage(handler: (message: Message) => void): void {
    this.#messageHandler = handler;
  }

  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#unreachableHandler = handler;
  }

  setPeer(peer: PeerAddress): void {
    if (this.#closed || peer.id === this.#nodeId) return;
    const existing = this.#links.get(peer.id);
    if (existing?.address === peer.peerAddress) return;
    if (existing !== undefined) this.#track(existing.close());
    const link = new PeerLink(peer, this.#context);
    this.#links.set(peer.id, link);
    this.#track(link.done);
  }

  removePeer(id: NodeId): void {
    const link = this.#links.get(id);
    if (link !== undefined) this.#track(link.close());
    this.#links.delete(id);
    this.#clientUrls.delete(id);
    for (const [conn, state] of this.#inbound) {
      if (state.peer === id) closeQuietly(conn);
    }
  }

  clientUrl(id: NodeId): string | null {
    return this.#clientUrls.get(id) ?? null;
  }

  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    closeQuietly(this.#listener);
    for (const link of this.#links.values()) this.#track(link.close());
    this.#links.clear();
    for (const conn of this.#inbound.keys()) closeQuietly(conn);
    while (this.#loops.size > 0) await Promise.all([...this.#loops]);
  }

  #track(loop: Promise<void>): void {
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }

  /**
   * Tells the handler once per peer per microtask, after the current `send` returns, so the
   * replica is never re-entered in the middle of handling a Ready.
   */
  #reportUnreachable(peer: NodeId): void {
    if (this.#closed) return;
    if (this.#unreachable.size === 0) {
      queueMicrotask(() => {
        const peers = [...this.#unreachable];
        this.#unreachable.clear();
        if (this.#closed) return;
        for (const each of peers) this.#unreachableHandler(each);
      });
    }
    this.#unreachable.add(peer);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        this.#context.log(`transport ${this.#nodeId}: accept failed: ${describe(error)}`);
        await sleep(acceptRetryMs, this.#stop.signal);
        continue;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      conn.setNoDelay(true);
      this.#inbound.set(conn, { peer: null });
      this.#track(this.#readLoop(conn));
    }
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    const reader = new FrameStream();
    const state = this.#inbound.get(conn)!;
    try {
      for (;;) {
        let frame: PeerFrame | null;
        while ((frame = reader.next()) !== null) this.#receive(conn, state, frame);
        const target = reader.readTarget();
        const bytesRead = await conn.read(target);
        if (bytesRead === null) return;
        reader.wrote(bytesRead);
        this.#context.stats.bytesReceived += bytesRead;
      }
    } catch (error) {
      if (error instanceof HandlerError) throw error.cause;
      if (!this.#closed && !(error instanceof Deno.errors.BadResource)) {
        const from = state.peer ?? remoteText(conn);
        this.#context.log(
          `transport ${this.#nodeId}: closing the connection from ${from}: ${describe(error)}`,
        );
      }
    } finally {
      this.#inbound.delete(conn);
      closeQuietly(conn);
    }
  }

  /** Checks a frame against the protocol, then dispatches its messages in order. */
  #receive(conn: Deno.TcpConn, state: { peer: NodeId | null }, frame: PeerFrame): void {
    if (this.#closed) return;
    if (state.peer === null) {
      if (frame.kind !== "hello") throw new PeerCodecError("the first frame is not a hello");
      this.#greet(conn, state, frame.hello);
      return;
    }
    if (frame.kind !== "messages") throw new PeerCodecError("a second hello");
    for (const message of frame.messages) {
      if (message.from !== state.peer) {
        throw new PeerCodecError(`a message from ${message.from} on ${state.peer}'s connection`);
      }
      if (message.to !== this.#nodeId) {
        throw new PeerCodecError(`a message to ${message.to}, this is ${this.#nodeId}`);
      }
    }
    const stats = this.#context.stats;
    stats.framesReceived++;
    stats.messagesReceived += frame.messages.length;
    const handler = this.#messageHandler;
    for (const message of frame.messages) {
      try {
        handler(message);
      } catch (error) {
        throw new HandlerError(error);
      }
    }
  }

  #greet(conn: Deno.TcpConn, state: { peer: NodeId | null }, hello: Hello): void {
    const theirs = hello.clusterId;
    if (theirs !== undefined && this.#clusterId !== undefined && theirs !== this.#clusterId) {
      throw new PeerCodecError(`cluster id ${theirs}, this node is in ${this.#clusterId}`);
    }
    if (hello.nodeId === this.#nodeId) throw new PeerCodecError("a hello with this node's id");
    // A peer that reconnected left its previous connection behind; only the newest is current.
    for (const [other, otherState] of this.#inbound) {
      if (other !== conn && otherState.peer === hello.nodeId) closeQuietly(other);
    }
    state.peer = hello.nodeId;
    this.#clientUrls.set(hello.nodeId, hello.clientUrl);
    // A node we don't know yet (one that is joining) told us where to answer: dial it back.
    // Addresses we were given (flags, replicated membership) are never overridden from here.
    if (hello.peerAddress !== undefined && !this.#links.has(hello.nodeId)) {
      this.setPeer({ id: hello.nodeId, peerAddress: hello.peerAddress });
    }
  }
}

/** Carries an exception out of the message handler: a bug to surface, not a bad frame. */
class HandlerError extends Error {
  constructor(cause: unknown) {
    super("the message handler threw", { cause });
  }
}
