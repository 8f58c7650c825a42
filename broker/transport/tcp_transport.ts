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
 *   (about 3× the throughput of a write per frame, measured on Deno 2.9). While a peer is not connected,
 *   or its queue is full, messages are dropped and `onUnreachable` tells the replica (Raft
 *   resends). A connection that breaks drops what was queued for it.
 * - **Reconnecting** uses exponential back-off with jitter between `reconnectMsMin` and
 *   `reconnectMsMax`, reset by every successful connect.
 * - **TLS** (optional, `tls`): the listener serves the node's certificate and every dial
 *   verifies the peer's for the host it dialled (`peer_tls.ts`); the key handshake and tags
 *   below run unchanged inside it. A cluster uses it on every link or on none.
 * - **Authenticating**: every connection starts with a mutual challenge–response over the
 *   cluster key (`peer_handshake.ts`), under a deadline and with a 4 KiB frame limit; a hello
 *   of another cluster id, or claiming this node's own id, is refused first; after it,
 *   every frame carries a tag over a per-direction sequence (`peer_auth.ts`). A connection that
 *   fails either is closed with a one-line warning; nothing it sent reaches Raft.
 * - **Receiving** parses frames in a reusable buffer, checks each message (`message_validation.ts`:
 *   from the authenticated peer, to this node, values Raft could have sent) and hands the good
 *   ones to the handler synchronously, in order; a bad one is dropped and logged. A frame that
 *   does not decode closes that connection; the process and the other connections carry on.
 * - **Limits**: accepted connections are capped in total and per remote address; warnings are
 *   rate-limited, so a stranger can't flood the log.
 * - **Liveness**: every `livenessTickMs` an idle side sends a keepalive (the accepting side
 *   always does), and a connection that heard nothing for `silenceMsMax` is closed; the link
 *   redials at once. Without it a link cut by a partition stays "connected" after the heal
 *   while TCP waits out its retransmit back-off, seconds after the path is back.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Message, NodeId } from "../../raft/mod.ts";
import { InboundConnection, type InboundContext } from "./inbound_connection.ts";
import { type MessageLimits, messageLimitsDefault } from "./message_validation.ts";
import { nonceBytes, PeerKeys } from "./peer_auth.ts";
import { encodeHelloFrame, handshakeFrameBytesMax, type Hello } from "./peer_codec.ts";
import type { HandshakeIdentity } from "./peer_handshake.ts";
import { closeQuietly, describe, LogLimiter, parseAddress, sleep } from "./peer_io.ts";
import { type LinkContext, type PeerAddress, PeerLink, type TransportStats } from "./peer_link.ts";
import type { PeerConn } from "./peer_io.ts";
import type { PeerTlsOptions } from "./peer_tls.ts";

/** The refusal counters (`peerRefusals`). */
export interface PeerRefusals {
  otherCluster: number;
  ownNodeId: number;
  nodeIdConflicts: number;
  byPeer: { otherCluster: number; unproven: number };
}

/** Options of `TcpTransport.start`. */
export interface TcpTransportOptions {
  /** This node's id (announced in the hello, checked against every message's `to`). */
  nodeId: NodeId;
  /** Where to accept peer connections; port 0 picks a free port (see `address`). */
  listen: { hostname: string; port: number };
  /** This node's client API base URL, announced to peers in the hello. */
  clientUrl: string;
  /** `host:port` peers should dial to reach this node, announced in the hello (joins). */
  advertisedAddress?: string;
  /** The other members (an entry for this node itself is ignored). */
  peers: PeerAddress[];
  /**
   * The secret every node of the cluster holds (at least 16 bytes). Peers prove it to each
   * other before any message counts, and every frame after that carries a tag made with it.
   */
  clusterKey: Uint8Array;
  /**
   * TLS on every peer link (`--peer-tls`): the listener serves `cert`/`key`; dials verify the
   * peer's certificate for the host of its peer address against `caCerts` and the default
   * roots. The key handshake still runs inside. Every node of the cluster must have it, or none.
   */
  tls?: PeerTlsOptions;
  /**
   * Nodes must have the same cluster id ("" when unset) to connect: an accepted hello with
   * another one is refused and logged with both ids (guards crossed configs).
   */
  clusterId?: string;
  /** First reconnect delay (default 50 ms); doubles per failed attempt. */
  reconnectMsMin?: number;
  /** Longest reconnect delay (default 500 ms: a healed link is redialled well within an election). */
  reconnectMsMax?: number;
  /** Longest wait for one connect attempt and its handshake (default 1,000 ms). */
  connectMsMax?: number;
  /** Longest an accepted connection may take to complete its handshake (default 5,000 ms). */
  handshakeMsMax?: number;
  /** Period of the liveness tick: keepalives on idle links, silence counting (default 200 ms). */
  livenessTickMs?: number;
  /** A link with nothing heard from the other side for this long is closed (default 1,000 ms). */
  silenceMsMax?: number;
  /** Accepted connections open at once, authenticated or not (default 64). */
  inboundConnectionsMax?: number;
  /** Accepted connections open at once from one remote address (default 8). */
  inboundConnectionsPerAddressMax?: number;
  /** Bounds on received messages (defaults: `messageLimitsDefault`). */
  messageLimits?: Partial<MessageLimits>;
  /** Bytes queued per peer before new messages are dropped (default 64 MiB). */
  queueBytesMax?: number;
  /** One-line warnings (default `console.warn`; at most 50 per 10 s, then a count). */
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
  readonly #listener: Deno.Listener<PeerConn, Deno.NetAddr>;
  readonly #context: LinkContext;
  readonly #inboundContext: InboundContext;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #inbound = new Set<InboundConnection>();
  /** Open accepted connections per remote address (for the per-address cap). */
  readonly #inboundConnectionsMax: number;
  readonly #inboundConnectionsPerAddressMax: number;
  readonly #clientUrls = new Map<NodeId, string>();
  /** Every running loop, so `close()` can wait for all of them. */
  readonly #loops = new Set<Promise<void>>();
  readonly #unreachable = new Set<NodeId>();
  /**
   * Ids removed (`removePeer`), or only dialled back (`#greet`), and not set since: see
   * `#dropGoneRemoved`.
   */
  readonly #removed = new Set<NodeId>();
  readonly #livenessTimer: ReturnType<typeof setInterval>;
  #messageHandler: (message: Message) => void = () => {};
  #unreachableHandler: (peer: NodeId) => void = () => {};
  #closed = false;
  #closing: Promise<void> | null = null;
  readonly #stop = new AbortController();

  private constructor(
    options: TcpTransportOptions,
    listener: Deno.Listener<PeerConn, Deno.NetAddr>,
  ) {
    this.#nodeId = options.nodeId;
    this.#listener = listener;
    const identity: HandshakeIdentity = {
      nodeId: options.nodeId,
      clusterId: options.clusterId ?? "",
      keys: new PeerKeys(options.clusterKey),
    };
    const hello: Omit<Hello, "nonce"> = { nodeId: options.nodeId, clientUrl: options.clientUrl };
    // "" is announced as no id at all, as every release before cluster ids did.
    if ((options.clusterId ?? "") !== "") hello.clusterId = options.clusterId;
    if (options.advertisedAddress !== undefined) hello.peerAddress = options.advertisedAddress;
    const helloBytes = encodeHelloFrame({ ...hello, nonce: new Uint8Array(nonceBytes) }).length;
    if (helloBytes > handshakeFrameBytesMax) {
      // Peers would refuse it as oversized; say so here, where the long URL or id was given.
      throw new RangeError(
        `the hello (${helloBytes} bytes) exceeds ${handshakeFrameBytesMax}: shorten the node ` +
          "id, client URL, cluster id or advertised address",
      );
    }
    const livenessTickMs = options.livenessTickMs ?? 200;
    const silenceTicksMax = Math.max(2, Math.ceil((options.silenceMsMax ?? 1000) / livenessTickMs));
    const warnings = new LogLimiter(options.log ?? ((line) => console.warn(line)));
    const stats = newStats();
    this.#context = {
      identity,
      tls: options.tls === undefined ? null : { caCerts: options.tls.caCerts },
      hello,
      reconnectMsMin: options.reconnectMsMin ?? 50,
      reconnectMsMax: options.reconnectMsMax ?? 500,
      connectMsMax: options.connectMsMax ?? 1000,
      queueBytesMax: options.queueBytesMax ?? 64 * 1024 * 1024,
      silenceTicksMax,
      warnings,
      random: options.random ?? Math.random,
      unreachable: (peer) => this.#reportUnreachable(peer),
      stats,
    };
    this.#inboundContext = {
      identity,
      tls: options.tls !== undefined,
      handshakeMsMax: options.handshakeMsMax ?? 5000,
      silenceTicksMax,
      limits: { ...messageLimitsDefault, ...options.messageLimits },
      warnings,
      stats,
      authenticated: (connection, hello) => this.#greet(connection, hello),
      deliver: (message) => this.#messageHandler(message),
      isClosed: () => this.#closed,
    };
    this.#inboundConnectionsMax = options.inboundConnectionsMax ?? 64;
    this.#inboundConnectionsPerAddressMax = options.inboundConnectionsPerAddressMax ?? 8;
    assert.ok(this.#context.reconnectMsMin > 0, "reconnectMsMin is positive");
    assert.ok(this.#context.reconnectMsMax >= this.#context.reconnectMsMin, "max ≥ min");
    assert.ok(livenessTickMs > 0, "livenessTickMs is positive");
    this.#livenessTimer = setInterval(() => this.#tick(), livenessTickMs);
    this.#track(this.#acceptLoop());
    for (const peer of options.peers) this.setPeer(peer);
  }

  /**
   * Listens, starts dialing every peer, and returns at once (connections come up on their own).
   * Throws when the port is taken, a peer address is not `host:port`, or with `tls` when Deno
   * refuses the certificate or key.
   */
  static start(options: TcpTransportOptions): Promise<TcpTransport> {
    // Before anything starts: the constructor's timer and loops would outlive a throw.
    for (const peer of options.peers) parseAddress(peer.peerAddress);
    const { hostname, port } = options.listen;
    const listener = options.tls === undefined
      ? Deno.listen({ hostname, port })
      : Deno.listenTls({ hostname, port, cert: options.tls.cert, key: options.tls.key });
    try {
      return Promise.resolve(new TcpTransport(options, listener));
    } catch (error) {
      closeQuietly(listener);
      throw error;
    }
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

  /** Queues each message on its peer's link; never blocks or throws (see the module doc). */
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

  /** Where checked messages from peers go, in order per peer. */
  onMessage(handler: (message: Message) => void): void {
    this.#messageHandler = handler;
  }

  /** Told (after the current call returns) when a message to `peer` could not be sent. */
  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#unreachableHandler = handler;
  }

  /**
   * Dials `peer` at its address (redialling when the address changed). Throws, changing nothing,
   * when the address is not `host:port`.
   */
  setPeer(peer: PeerAddress): void {
    if (this.#closed || peer.id === this.#nodeId) return;
    this.#dial(peer);
    this.#removed.delete(peer.id);
  }

  #dial(peer: PeerAddress): void {
    if (this.#closed || peer.id === this.#nodeId) return;
    const existing = this.#links.get(peer.id);
    if (existing?.address === peer.peerAddress) return;
    parseAddress(peer.peerAddress); // throws before the current link is closed
    if (existing !== undefined) this.#track(existing.close());
    const link = new PeerLink(peer, this.#context);
    this.#links.set(peer.id, link);
    this.#track(link.done);
  }

  /** Stops dialling `id` and closes its connections both ways. */
  removePeer(id: NodeId): void {
    const link = this.#links.get(id);
    if (link !== undefined) this.#track(link.close());
    this.#links.delete(id);
    this.#clientUrls.delete(id);
    this.#removed.add(id);
    for (const connection of this.#inbound) {
      if (connection.peer === id) connection.close();
    }
  }

  /** The ids this transport dials: those set, and those it dialled back (see `#greet`). */
  peerIds(): NodeId[] {
    return [...this.#links.keys()];
  }

  /**
   * Hellos refused or in conflict so far, by reason (`cmqd_peer_refusals_total`), and this node's
   * dials refused by the other side (`byPeer`, `cmqd_peer_refused_by_peer_total`).
   */
  peerRefusals(): PeerRefusals {
    const stats = this.#context.stats;
    return {
      otherCluster: stats.refusedOtherCluster,
      ownNodeId: stats.refusedOwnNodeId,
      nodeIdConflicts: stats.nodeIdConflicts,
      byPeer: {
        otherCluster: stats.refusedByPeerOtherCluster,
        unproven: stats.refusedByPeerUnproven,
      },
    };
  }

  /** The `host:port` this transport dials `id` at (set, or dialled back: `#greet`), or null. */
  peerAddress(id: NodeId): string | null {
    return this.#links.get(id)?.address ?? null;
  }

  /** The client URL `id` announced in its last authenticated hello, or null. */
  clientUrl(id: NodeId): string | null {
    return this.#clientUrls.get(id) ?? null;
  }

  /** Closes the listener, every link and connection; resolves when every loop has ended. */
  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    clearInterval(this.#livenessTimer);
    closeQuietly(this.#listener);
    for (const link of this.#links.values()) this.#track(link.close());
    this.#links.clear();
    for (const connection of this.#inbound) connection.close();
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
      let conn: PeerConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        this.#context.warnings.line(`transport ${this.#nodeId}: accept failed: ${describe(error)}`);
        // A connection reset before it was accepted is the remote's doing and says nothing of
        // the next one: pausing for it would let anyone stall accepting with a trickle of resets.
        if (!isRemoteConnectionError(error)) await sleep(acceptRetryMs, this.#stop.signal);
        continue;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      if (this.#admit(conn)) this.#serveInbound(conn);
    }
  }

  /**
   * Applies the connection caps. At a cap, the oldest connection still in its handshake (from
   * this address, for the per-address cap) is closed to make room: strangers without the key
   * can hold slots only for as long as new connections don't need them, so a member (or a node
   * restarting) always gets in. A connection over a cap that only proven peers fill is closed.
   */
  #admit(conn: PeerConn): boolean {
    const address = conn.remoteAddr.hostname;
    const open = [...this.#inbound].filter((connection) => !connection.closed);
    const fromAddress = open.filter((connection) => connection.address === address);
    let refusal: string | null = null;
    let pending: InboundConnection[] = [];
    if (open.length >= this.#inboundConnectionsMax) {
      refusal = `${open.length} connections are open (inboundConnectionsMax)`;
      pending = open;
    } else if (fromAddress.length >= this.#inboundConnectionsPerAddressMax) {
      refusal = `${fromAddress.length} connections from ${address} are open ` +
        "(inboundConnectionsPerAddressMax)";
      pending = fromAddress;
    }
    if (refusal === null) return true;
    const oldest = pending.find((connection) => connection.peer === null);
    if (oldest !== undefined) {
      this.#context.stats.connectionsEvicted++;
      this.#context.warnings.line(
        `transport ${this.#nodeId}: closed the oldest connection still in its handshake ` +
          `(from ${oldest.remote}) to admit a new one: ${refusal}`,
      );
      oldest.close();
      return true;
    }
    this.#context.stats.connectionsRefused++;
    this.#context.warnings.line(`transport ${this.#nodeId}: refused a connection: ${refusal}`);
    closeQuietly(conn);
    return false;
  }

  #serveInbound(conn: PeerConn): void {
    // Accepted TLS connections offer no setNoDelay; the accepting side writes only keepalives.
    // It throws for a socket reset before it was configured (some platforms): served anyway,
    // its first read fails and ends it, and the accept loop goes on (a throw would end it).
    try {
      if ("setNoDelay" in conn) conn.setNoDelay(true);
    } catch {
      // Nagle's algorithm costs latency only.
    }
    const connection = new InboundConnection(conn, this.#inboundContext);
    this.#inbound.add(connection);
    this.#track(connection.done.finally(() => this.#inbound.delete(connection)));
  }

  /** A connection proved the key: it now speaks for `hello.nodeId`. */
  #greet(connection: InboundConnection, hello: Hello): void {
    this.#context.stats.handshakes++;
    // A peer that reconnected left its previous connection behind; only the newest is current.
    for (const other of this.#inbound) {
      if (other === connection || other.peer !== hello.nodeId) continue;
      if (!other.closed && other.announced !== hello.peerAddress) {
        // Two processes with one id take the id from each other on every redial.
        this.#context.stats.nodeIdConflicts++;
        this.#context.warnings.line(
          `transport ${this.#nodeId}: ${hello.nodeId} connected from ${connection.remote} ` +
            `announcing peer address ${hello.peerAddress ?? "none"} while its connection from ` +
            `${other.remote} announcing ${other.announced ?? "none"} was open: if this ` +
            `repeats, two processes run with --node-id ${hello.nodeId}`,
        );
      }
      other.close();
    }
    this.#clientUrls.set(hello.nodeId, hello.clientUrl);
    // A node we don't know yet (one that is joining) told us where to answer: dial it back.
    // Addresses we were given (flags, replicated membership) are never overridden from here.
    if (hello.peerAddress !== undefined && !this.#links.has(hello.nodeId)) {
      try {
        this.#dial({ id: hello.nodeId, peerAddress: hello.peerAddress });
        // Until its address is set, it ends once the node is gone, as a removed one's does: a
        // node restarted after a removal no longer knows that id was removed.
        this.#removed.add(hello.nodeId);
      } catch (error) {
        this.#context.warnings.line(
          `transport ${this.#nodeId}: can't dial ${hello.nodeId} back: ${describe(error)}`,
        );
      }
    }
  }

  #tick(): void {
    if (this.#closed) return;
    for (const link of this.#links.values()) link.tick();
    for (const connection of this.#inbound) connection.tick();
    this.#dropGoneRemoved();
  }

  /**
   * A removed node that still runs keeps dialling this one, which dials it back: that link
   * carries the answer that it was removed (`raft/removal.ts`). Once it is gone (none of its
   * connections open, and the last dial to it failed) the link ends: nothing else would, and it
   * would redial a node that is no member for as long as this one runs. So does every link only
   * dialled back (its address never set): after a restart this node can't tell a removed id
   * from a joining one, and a joining node that stays dials again, and is dialled back again.
   *
   * A connection that only closed is not gone: the link redials first. A member that removes
   * this node closes both directions at once and waits for it to dial again; a node that joined
   * before the initial voters' addresses were recorded (a join records them: `member_changes.ts`)
   * knows them only by dialling them back, and had it dropped those links before its redial,
   * neither side would have dialled again and it could never be told.
   */
  #dropGoneRemoved(): void {
    for (const id of this.#removed) {
      const link = this.#links.get(id);
      if (link === undefined || link.connected || !link.dialFailed) continue;
      const open = [...this.#inbound].some((each) => each.peer === id && !each.closed);
      if (open) continue;
      this.#links.delete(id);
      this.#track(link.close());
    }
  }
}

/** An accept failure caused by the connection being accepted, not by the listener. */
function isRemoteConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

function newStats(): TransportStats {
  return {
    framesSent: 0,
    bytesSent: 0,
    messagesSent: 0,
    messagesDropped: 0,
    framesReceived: 0,
    bytesReceived: 0,
    messagesReceived: 0,
    messagesRefused: 0,
    handshakes: 0,
    handshakesFailed: 0,
    connectionsRefused: 0,
    connectionsEvicted: 0,
    linksSilenced: 0,
    refusedOtherCluster: 0,
    refusedOwnNodeId: 0,
    refusedByPeerOtherCluster: 0,
    refusedByPeerUnproven: 0,
    nodeIdConflicts: 0,
  };
}
