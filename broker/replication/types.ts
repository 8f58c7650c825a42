/**
 * The seam between a Raft replica and the network. `broker/transport.ts` implements it over TCP
 * (persistent connections, binary length-prefixed frames); the simulation implements it over a
 * seeded, lossy, reordering in-memory network.
 *
 * @module
 */
import type { Message, NodeId } from "../../raft/mod.ts";

/** Where a peer listens for peer traffic, and (once it said hello) its client URL. */
export interface PeerAddress {
  id: NodeId;
  /** `host:port` of the peer listener. */
  peerAddress: string;
}

/**
 * Delivers Raft messages between the nodes of one group. Sending never blocks and never throws:
 * a message to an unreachable peer is dropped (Raft retries), and the transport reports it through
 * `onUnreachable` so the replica can tell the Raft core.
 */
export interface Transport {
  /** Queues messages for their `to` peers; messages to one peer keep their order. */
  send(messages: Message[]): void;
  /** Installs the handler for every message received from a peer. */
  onMessage(handler: (message: Message) => void): void;
  /** Installs the handler told when a peer could not be reached (connect failed, queue full). */
  onUnreachable(handler: (peer: NodeId) => void): void;
  /** Adds or replaces a peer's address (membership changes). */
  setPeer(peer: PeerAddress): void;
  /** Forgets a peer and closes its connection. */
  removePeer(id: NodeId): void;
  /** The client base URL a peer announced in its hello, if it did. */
  clientUrl(id: NodeId): string | null;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}
