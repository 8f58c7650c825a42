/**
 * When this node last heard from each peer, for `/metrics`: a `Transport` that passes everything
 * through to the real one and notes, for each Raft message it hands to the replica, the time it
 * arrived. That is one clock read and one map write per Raft message (an append carrying a batch
 * of entries is one message), nothing per queue message; the age is computed at scrape time.
 *
 * @module
 */
import type { Message, NodeId } from "../../raft/mod.ts";
import type { ClockLike, PeerAddress, PeerRefusals, Transport } from "../replication/mod.ts";

/**
 * The transport wrapper.
 *
 * @example
 * ```ts
 * const peers = new PeerContact(transport, { now: () => performance.now() });
 * // give `peers` to RaftReplica.open as its transport, then at scrape time:
 * peers.silentMs("n2"); // ms since n2's last message (or since `peers` was made)
 * peers.heardMsAgo("n2"); // the same, or null when n2 was never heard from
 * ```
 */
export class PeerContact implements Transport {
  readonly #inner: Transport;
  readonly #monotonic: ClockLike;
  readonly #startedAt: number;
  readonly #heardAt = new Map<string, number>();

  constructor(inner: Transport, monotonic: ClockLike) {
    this.#inner = inner;
    this.#monotonic = monotonic;
    this.#startedAt = monotonic.now();
  }

  send(messages: Message[]): void {
    this.#inner.send(messages);
  }

  onMessage(handler: (message: Message) => void): void {
    this.#inner.onMessage((message) => {
      this.#heardAt.set(message.from, this.#monotonic.now());
      handler(message);
    });
  }

  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#inner.onUnreachable(handler);
  }

  setPeer(peer: PeerAddress): void {
    this.#inner.setPeer(peer);
  }

  removePeer(id: NodeId): void {
    this.#inner.removePeer(id);
  }

  clientUrl(id: NodeId): string | null {
    return this.#inner.clientUrl(id);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** The transport's refusal counters; null when it has no connections. */
  refusals(): PeerRefusals | null {
    return this.#inner.peerRefusals?.() ?? null;
  }

  /** Whether the connection to `id` is up; null when the transport has no connections. */
  connected(id: string): boolean | null {
    return this.#inner.isConnected?.(id as NodeId) ?? null;
  }

  /** Milliseconds since the last message from `id` arrived (since this wrapper was made if none). */
  silentMs(id: string): number {
    return Math.max(0, this.#monotonic.now() - (this.#heardAt.get(id) ?? this.#startedAt));
  }

  /** Milliseconds since the last message from `id` arrived; null when none has. */
  heardMsAgo(id: string): number | null {
    const at = this.#heardAt.get(id);
    return at === undefined ? null : Math.max(0, this.#monotonic.now() - at);
  }
}
