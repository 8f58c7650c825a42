/**
 * The contracts of the replication room: what a replica needs from the state machine it drives
 * (`Applier`), from the network (`Transport`) and from time (`ClockLike`, `Timers`), and what it
 * offers the service (`Proposer`, `LogReader`). Each is an interface, so the room depends on no
 * concrete engine, transport or service: the cluster room wires the real ones, tests the
 * in-memory ones.
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

/** A transport's refusal counters (`Transport.peerRefusals`). */
export interface PeerRefusals {
  otherCluster: number;
  ownNodeId: number;
  nodeIdConflicts: number;
  /** Dials refused by the other side: for this node's cluster id (proven), or unproven. */
  byPeer: { otherCluster: number; unproven: number };
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
  /**
   * The `host:port` this transport dials `id` at (set, or announced in its hello when it was
   * only dialled back), or null; left out by transports without connections.
   */
  peerAddress?(id: NodeId): string | null;
  /**
   * Whether the connection this node sends to `id` on is up now (read by `/metrics`); left out
   * by transports without connections (a one-voter group, in-process tests).
   */
  isConnected?(id: NodeId): boolean;
  /**
   * Peer hellos refused for another cluster id or for this node's own id, connections of one
   * member id announcing two peer addresses, and this node's dials the other side refused, since
   * start (read by `/metrics`); left out by transports without connections.
   */
  peerRefusals?(): PeerRefusals;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** A committed log entry as it is handed to the applier. */
export interface AppliedEntry {
  index: number;
  /** Stamped by the proposer: max(previous entry's timestamp, its clock). "now" for apply. */
  timestamp: number;
  type: number;
  payload: Uint8Array;
}

/**
 * The deterministic state machine a replica applies committed entries to (the queue engine's
 * `StateMachine` in production). It must be deterministic: the same entries in the same order
 * give the same state and the same snapshot on every node.
 */
export interface Applier {
  /** Index of the last applied entry (0 for a fresh applier). */
  readonly appliedIndex: number;
  /**
   * Optional: the time stamp of the state (of the last applied entry; 0 before any), also after
   * `loadSnapshot`. A replica takes it as the time of a snapshot point its log holds no entry
   * of (a snapshot installed without entries, and a restart after one), so that it stamps no
   * entry before it. Left out, that time is unknown there.
   */
  readonly lastTimestamp?: number;
  /** Applies one committed entry; the result is handed to the proposal's waiter. */
  apply(entry: AppliedEntry): unknown;
  /** The whole state at `appliedIndex`, encoded. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot, in place (holders of the applier keep working). */
  loadSnapshot(bytes: Uint8Array): void;
  /**
   * The applied index of the state `bytes` hold, changing nothing; throws where `loadSnapshot`
   * would. A follower checks a received snapshot's image with it before Raft takes the
   * snapshot (without it, an image that can't be loaded stops the replica at install).
   */
  checkSnapshot?(bytes: Uint8Array): number;
  /** Entries below this index hold nothing the state still needs (a snapshot may drop them). */
  lowestReferencedIndex(): number;
}

/**
 * What the service proposes commands through. Implemented by `RaftReplica` and by
 * `MemoryReplica`.
 *
 * @example
 * ```ts
 * const result = await proposer.propose(commandType, payload);
 * ```
 */
export interface Proposer {
  /**
   * Appends the command and waits until it is durable, committed and applied; resolves with the
   * applier's result for that entry. Rejects with a `ReplicationError` (`NoLeader`, `NotReady`,
   * `InvalidProposal`) when it cannot. Stamps `timestamp = max(previous, clock now)`.
   */
  propose(type: number, payload: Uint8Array): Promise<unknown>;
  /**
   * Optional linearizable-read fence: resolves once this node has confirmed it leads and has
   * applied everything committed before the call (Raft ReadIndex). Replicas without it serve
   * reads from local state as they are.
   */
  readBarrier?(): Promise<void>;
  /** Wall clock reading in milliseconds, for timers only; never used inside apply. */
  now(): number;
}

/** Reads a committed entry back (storage's `SegmentLog.entry` does this; payload is a copy). */
export interface LogReader {
  entry(index: number): AppliedEntry;
}

/** A clock reading milliseconds. */
export interface ClockLike {
  now(): number;
}

/** Timers (real ones in production, a manual clock in tests and the simulation). */
export interface Timers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}
