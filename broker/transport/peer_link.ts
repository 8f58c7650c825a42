/**
 * The outbound side of a peer connection for `TcpTransport` (see `transport.ts` for the whole
 * design): one queue per peer, a loop that dials with back-off and writes whatever is queued as
 * one frame per write.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Message, NodeId } from "../../raft/mod.ts";
import {
  frameBytesMax,
  FrameEncoder,
  frameHeaderBytes,
  messageBytesBound,
  PeerCodecError,
} from "./peer_codec.ts";

/** Bytes coalesced into one frame when more is queued (a single bigger message goes alone). */
const coalesceBytesMax = 4 * 1024 * 1024;

/**
 * Where a peer listens for peer traffic. (The replication room's `Transport` contract has the
 * same shape; this room implements that contract without importing it.)
 */
export interface PeerAddress {
  id: NodeId;
  /** `host:port` of the peer listener. */
  peerAddress: string;
}

/** Counters since start (for metrics and measurements). */
export interface TransportStats {
  framesSent: number;
  bytesSent: number;
  messagesSent: number;
  /** Messages not sent: peer unknown or not connected, queue full, connection lost. */
  messagesDropped: number;
  framesReceived: number;
  bytesReceived: number;
  messagesReceived: number;
}

/** What every outbound link shares with its transport. */
export interface LinkContext {
  hello: Uint8Array;
  reconnectMsMin: number;
  reconnectMsMax: number;
  connectMsMax: number;
  queueBytesMax: number;
  log: (line: string) => void;
  random: () => number;
  unreachable: (peer: NodeId) => void;
  stats: TransportStats;
}

/** The outbound side of one peer: its queue, its connection and the loop that feeds it. */
export class PeerLink {
  readonly id: NodeId;
  readonly address: string;
  /** Resolves when the loop has ended and the connection is closed. */
  readonly done: Promise<void>;
  readonly #context: LinkContext;
  readonly #stop = new AbortController();
  readonly #encoder = new FrameEncoder();
  #conn: Deno.TcpConn | null = null;
  #queue: Message[] = [];
  #queueBounds: number[] = [];
  #queuedBytes = 0;
  #wake: (() => void) | null = null;
  #broken = false;
  #closed = false;

  constructor(peer: PeerAddress, context: LinkContext) {
    this.id = peer.id;
    this.address = peer.peerAddress;
    this.#context = context;
    this.done = this.#run(parseAddress(peer.peerAddress));
  }

  get connected(): boolean {
    return this.#conn !== null && !this.#broken;
  }

  /** Queues one message; false when it was dropped (not connected, queue full, too big). */
  enqueue(message: Message): boolean {
    if (!this.connected) return false;
    const bound = messageBytesBound(message);
    if (bound + frameHeaderBytes + 4 > frameBytesMax) {
      this.#context.log(`transport: dropped a ${bound}-byte message to ${this.id} (frame limit)`);
      return false;
    }
    if (this.#queuedBytes + bound > this.#context.queueBytesMax) return false;
    this.#queue.push(message);
    this.#queueBounds.push(bound);
    this.#queuedBytes += bound;
    this.#wakeUp();
    return true;
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
      const conn = await this.#connect(target, failures === 0);
      if (conn !== null) {
        failures = 0;
        await this.#serve(conn);
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

  async #connect(
    target: { hostname: string; port: number },
    logFailure: boolean,
  ): Promise<Deno.TcpConn | null> {
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    this.#stop.signal.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(abort, this.#context.connectMsMax);
    let conn: Deno.TcpConn | null = null;
    try {
      conn = await Deno.connect({ ...target, signal: attempt.signal });
      conn.setNoDelay(true);
      await writeAll(conn, this.#context.hello);
      if (this.#closed) throw new Deno.errors.Interrupted("closed");
      return conn;
    } catch (error) {
      if (conn !== null) closeQuietly(conn);
      if (logFailure && !this.#closed) {
        this.#context.log(
          `transport: cannot reach ${this.id} at ${this.address}: ${describe(error)}`,
        );
      }
      return null;
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", abort);
    }
  }

  /** Writes queued messages until the connection breaks or the link closes. */
  async #serve(conn: Deno.TcpConn): Promise<void> {
    this.#conn = conn;
    this.#broken = false;
    // The peer never writes on this connection: a read ends only when the connection does, which
    // notices a dead peer while idle instead of at the next write.
    const watch = conn.read(new Uint8Array(16)).then(
      () => this.#markBroken(),
      () => this.#markBroken(),
    );
    try {
      while (!this.#closed && !this.#broken) {
        if (this.#queue.length === 0) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        const bytes = this.#encodeBatch();
        if (bytes === null) continue;
        await writeAll(conn, bytes);
        this.#context.stats.framesSent++;
        this.#context.stats.bytesSent += bytes.length;
      }
    } catch (error) {
      if (!this.#closed) {
        this.#context.log(`transport: connection to ${this.id} lost: ${describe(error)}`);
      }
    } finally {
      this.#broken = true;
      this.#conn = null;
      closeQuietly(conn);
      await watch;
      this.#dropQueue();
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
      this.#context.log(
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

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Resolves after `ms`, or at once when `signal` aborts (no timer is left behind). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // Already closed: closing twice is the normal race between a loop and close().
  }
}

export function remoteText(conn: Deno.TcpConn): string {
  return `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
}

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** `host:port` or `[v6]:port` → Deno.connect's options. */
export function parseAddress(address: string): { hostname: string; port: number } {
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  let hostname = address.slice(0, colon);
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  assert.ok(colon > 0 && hostname.length > 0, `peer address ${address} is not host:port`);
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `bad port in ${address}`);
  return { hostname, port };
}
