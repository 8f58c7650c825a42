/**
 * A TCP relay for transport tests: it sits between a dialer and a listener, records what the
 * dialer sent, can rewrite it on the way (tampering), and can cut the path without closing any
 * socket (a black hole: bytes are read and dropped, like a partition where nothing answers).
 * Test-only.
 *
 * @module
 */

import { closeQuietly } from "../peer_io.ts";

/** Rewrites one chunk the dialer sent (its index among all chunks of that connection). */
export type Rewrite = (chunk: Uint8Array, chunkIndex: number, sentBytes: number) => Uint8Array[];

/** One relayed connection. */
interface Relay {
  client: Deno.TcpConn;
  server: Deno.TcpConn | null;
  /** Set when this relay was cut: it stays a black hole even after `heal()`. */
  cut: boolean;
  /** Every byte the client sent, in order. */
  sent: Uint8Array[];
  /** Set once the target ended its side (closed it, or reading from it failed). */
  targetClosed: boolean;
}

/**
 * A relay from `listen` to `target`.
 *
 * @example
 * ```ts
 * const proxy = TcpProxy.start(`127.0.0.1:${b.transport.address.port}`);
 * a.transport.setPeer({ id: b.id, peerAddress: proxy.address });
 * proxy.cut(); // the path goes silent; sockets stay open
 * proxy.heal(); // new connections get through; cut ones stay silent
 * await proxy.close();
 * ```
 */
export class TcpProxy {
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #relays: Relay[] = [];
  readonly #loops = new Set<Promise<void>>();
  #cut = false;
  #closed = false;
  /** Applied to every chunk from the dialer when set. */
  rewrite: Rewrite | null = null;

  private constructor(target: string) {
    const [hostname, port] = target.split(":");
    this.#target = { hostname, port: Number(port) };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#track(this.#accept());
  }

  /** Starts relaying to `target` (`host:port`). */
  static start(target: string): TcpProxy {
    return new TcpProxy(target);
  }

  /** `host:port` dialers should use. */
  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#relays.length;
  }

  /** True once the target ended its side of connection `index` (even a cut one). */
  targetClosed(index: number): boolean {
    return this.#relays[index].targetClosed;
  }

  /** Everything the dialer of connection `index` sent, as one array. */
  sentBy(index: number): Uint8Array {
    const parts = this.#relays[index].sent;
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    parts.reduce((at, part) => (bytes.set(part, at), at + part.length), 0);
    return bytes;
  }

  /** Every current connection goes silent both ways (kept open), and new ones go nowhere. */
  cut(): void {
    this.#cut = true;
    for (const relay of this.#relays) relay.cut = true;
  }

  /** New connections are relayed again; connections that were cut stay silent. */
  heal(): void {
    this.#cut = false;
  }

  /** Closes the listener and every relayed socket. */
  async close(): Promise<void> {
    this.#closed = true;
    closeQuietly(this.#listener);
    for (const relay of this.#relays) {
      closeQuietly(relay.client);
      if (relay.server !== null) closeQuietly(relay.server);
    }
    while (this.#loops.size > 0) await Promise.all([...this.#loops]);
  }

  #track(loop: Promise<void>): void {
    const tracked = loop.catch(() => {}).finally(() => this.#loops.delete(tracked));
    this.#loops.add(tracked);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      const relay: Relay = { client, server: null, cut: this.#cut, sent: [], targetClosed: false };
      this.#relays.push(relay);
      if (relay.cut) {
        // Nothing answers: read and drop, like a SYN-ACKed connection to a partitioned host.
        this.#track(this.#pump(relay, client, null, false));
        continue;
      }
      try {
        relay.server = await Deno.connect(this.#target);
      } catch {
        closeQuietly(client);
        continue;
      }
      if (this.#closed) {
        closeQuietly(client);
        closeQuietly(relay.server);
        return;
      }
      this.#track(this.#pump(relay, client, relay.server, true));
      this.#track(this.#pump(relay, relay.server, client, false));
    }
  }

  async #pump(
    relay: Relay,
    from: Deno.TcpConn,
    to: Deno.TcpConn | null,
    fromClient: boolean,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let chunkIndex = 0;
    let sentBytes = 0;
    try {
      for (;;) {
        const bytesRead = await from.read(buffer);
        if (bytesRead === null) break;
        const chunk = buffer.slice(0, bytesRead);
        if (fromClient) relay.sent.push(chunk);
        if (relay.cut || to === null) continue;
        const parts = fromClient && this.rewrite !== null
          ? this.rewrite(chunk, chunkIndex, sentBytes)
          : [chunk];
        chunkIndex++;
        sentBytes += chunk.length;
        for (const part of parts) {
          let written = 0;
          while (written < part.length) written += await to.write(part.subarray(written));
        }
      }
    } finally {
      if (from === relay.server) relay.targetClosed = true;
      if (!relay.cut) {
        closeQuietly(from);
        if (to !== null) closeQuietly(to);
      }
    }
  }
}
