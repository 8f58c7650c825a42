/**
 * The data the Raft core exchanges with its caller: entries, messages, hard state, snapshots and
 * the `Ready` batch. Identifiers are branded so a term cannot be passed where an index is meant.
 *
 * @module
 */

import assert from "node:assert/strict";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A node's identity inside one Raft group (stable across restarts, never reused). */
export type NodeId = Brand<string, "NodeId">;
/** A Raft term: 0 before any election, then strictly increasing. */
export type Term = Brand<number, "Term">;
/** A position in the replicated log: the first entry has index 1, 0 means "before the log". */
export type LogIndex = Brand<number, "LogIndex">;

/**
 * Brands a string as a `NodeId`.
 *
 * @example
 * ```ts
 * const id = nodeId("n1");
 * ```
 */
export function nodeId(value: string): NodeId {
  if (value.length === 0) assert.fail("a node id is never empty");
  return value as NodeId;
}

/** Brands a non-negative integer as a `Term`. */
export function term(value: number): Term {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    assert.fail(`term ${value} is not a non-negative integer`);
  }
  return value as Term;
}

/** Brands a non-negative integer as a `LogIndex`. */
export function logIndex(value: number): LogIndex {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    assert.fail(`log index ${value} is not a non-negative integer`);
  }
  return value as LogIndex;
}

/*
 * Arithmetic on a branded number yields a plain `number`. Inside the core, where an index or
 * term is known valid, these re-brand the result without `logIndex()`/`term()`'s checks (they
 * sit on hot paths); values arriving from outside go through the checking constructors.
 */

/** The index right after `index`. */
export function nextIndex(index: LogIndex): LogIndex {
  return (index + 1) as LogIndex;
}

/** The index right before `index` (`firstIndex() - 1` is the snapshot's, or 0). */
export function prevIndex(index: LogIndex): LogIndex {
  return (index - 1) as LogIndex;
}

/** The lower of two indexes. */
export function minIndex(left: LogIndex, right: LogIndex): LogIndex {
  return Math.min(left, right) as LogIndex;
}

/** The higher of two indexes. */
export function maxIndex(left: LogIndex, right: LogIndex): LogIndex {
  return Math.max(left, right) as LogIndex;
}

/** The term right after `value` (a new campaign's). */
export function nextTerm(value: Term): Term {
  return (value + 1) as Term;
}

/**
 * The kinds of log entry. `Noop` is the empty entry a new leader appends to commit its term,
 * `ConfigChange` carries an encoded `ConfigChange`; application entries use 16..255 so the
 * application can keep its own command kinds in the entry type byte.
 */
export const EntryType = {
  Noop: 0,
  ConfigChange: 1,
  ApplicationMin: 16,
  ApplicationMax: 255,
} as const;

/** One replicated log entry. `data` is opaque to Raft except for config changes. */
export interface Entry {
  term: Term;
  index: LogIndex;
  /** 0 = leader no-op, 1 = config change, 16..255 = application-defined. */
  type: number;
  data: Uint8Array;
  /** Opaque time stamp supplied by the proposer (Raft never reads a clock). */
  timestamp?: number;
}

/** What must be durable before any message built from it leaves the node. */
export interface HardState {
  term: Term;
  vote: NodeId | null;
  commit: LogIndex;
}

/** A group's membership: voters decide elections and commits, learners only receive the log. */
export interface ConfigState {
  voters: NodeId[];
  learners: NodeId[];
}

/** A membership change proposed one server at a time (Raft dissertation §4.1). */
export interface ConfigChange {
  type: "addLearner" | "promote" | "remove";
  nodeId: NodeId;
}

/**
 * A point-in-time image of the application state covering the log up to `index`. Raft handles
 * only where it stands; its bytes stay with the application: a leader reads them through the
 * `SnapshotSource` its storage hands out, a follower receives them into its `SnapshotSink`.
 */
export interface Snapshot {
  index: LogIndex;
  term: Term;
  /** The membership as of `index`. */
  config: ConfigState;
}

/**
 * The bytes of a stored snapshot, read on demand one chunk at a time, so a leader never holds
 * more of a snapshot than the chunks in flight (`snapshotChunksInflightMax`).
 */
export interface SnapshotSource {
  /** The snapshot's size in bytes (what followers receive). */
  readonly byteLength: number;
  /** Bytes [offset, offset + length), which lie inside [0, byteLength). */
  read(offset: number, length: number): Uint8Array;
}

/** What `LogStorage.snapshot()` offers lagging followers: the snapshot and its bytes. */
export interface StoredSnapshot extends Snapshot {
  source: SnapshotSource;
}

/**
 * Where a follower puts the chunks of a snapshot as they arrive (in order, from one leader
 * term). Raft calls `begin`, then `write` for each chunk in order; once all `byteLength` bytes
 * came, either `finish` (the snapshot is to be installed) or `abort` (the log already holds it).
 * `abort` also drops a transfer abandoned midway (a newer term, a new transfer, a snapshot no
 * longer needed). After `finish` returns true the snapshot arrives in `Ready.snapshot` and the
 * caller installs it from the sink; a later `finish` replaces a finished snapshot not yet
 * installed. Methods are synchronous: Raft calls them from `step()`.
 */
export interface SnapshotSink {
  /** A new transfer starts; one still in progress is dropped. */
  begin(snapshot: Snapshot & { byteLength: number }): void;
  /** The next chunk: `offset` is the number of bytes written so far. */
  write(offset: number, data: Uint8Array): void;
  /**
   * Every byte arrived and the snapshot is to be installed: true when they check out, false
   * when they do not (garbage: the sink drops them and Raft asks the leader to start over).
   */
  finish(): boolean;
  /** Drops the transfer in progress, if any (never a finished one awaiting install). */
  abort(): void;
}

/** One slice of a snapshot in flight; the last chunk ends at `totalBytes`. */
export interface SnapshotChunk {
  index: LogIndex;
  term: Term;
  config: ConfigState;
  /** Byte offset of `data` inside the whole snapshot. */
  offset: number;
  totalBytes: number;
  data: Uint8Array;
}

/** The message kinds; numbers so a binary transport can encode them in one byte. */
export const MessageType = {
  Vote: 1,
  VoteResp: 2,
  PreVote: 3,
  PreVoteResp: 4,
  App: 5,
  AppResp: 6,
  Heartbeat: 7,
  HeartbeatResp: 8,
  Snap: 9,
  SnapResp: 10,
  TimeoutNow: 11,
  ReadIndex: 12,
  ReadIndexResp: 13,
  NewTerm: 14,
  Removed: 15,
} as const;

/**
 * `context` of a rejected `AppResp` that a follower sends when the leader's heartbeat names a
 * commit index beyond the follower's log: it lost entries it had acknowledged (a damaged disk).
 * Followed by the heartbeat's incarnation tag when it had one (`incarnation.ts`).
 */
export const LOST_ENTRIES = "lost-entries";

/** One of `MessageType`'s values. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

/**
 * A message between two nodes of a group. One flat shape for every kind (as etcd does) keeps the
 * transport codec trivial; the meaning of each field per kind:
 *
 * - `Vote`/`PreVote`: `index`/`logTerm` = the candidate's last entry; `context` = "transfer" when
 *   the campaign was asked for by `TimeoutNow` (it then ignores leader leases).
 * - `VoteResp`/`PreVoteResp`: `reject`.
 * - `App`: `index`/`logTerm` = the entry preceding `entries`; `commit` = leader commit;
 *   `context` = the leader's tag of the follower's incarnation (`Progress.incarnation`).
 * - `AppResp`: accepted → `index` = last index now matching; rejected → `index` = the rejected
 *   `App.index`, `rejectHint`/`logTerm` = the follower's guess of the last matching position;
 *   `context` = the answered `App`'s (or `Snap`'s) echoed, or `LOST_ENTRIES` (with the
 *   heartbeat's incarnation tag, see `incarnation.ts`) when the follower's log ends (at
 *   `rejectHint`) below what the leader's heartbeat (`index` = its commit) said it holds.
 * - `Heartbeat`: `commit`; `context` = the incarnation tag and a ReadIndex round to
 *   acknowledge ("" if none), see `incarnation.ts`.
 * - `HeartbeatResp`: `context` echoed.
 * - `Snap`: `snapshot` = one chunk; `context` as for `App`. `SnapResp`: `index` = snapshot
 *   index, `rejectHint` = bytes received so far (the next offset wanted), `reject` = the chunk
 *   did not fit; `context` echoed.
 * - `ReadIndex`: `context` = the follower's request id. `ReadIndexResp`: `index`, `context`;
 *   `reject` = refused (the leader holds `readIndexPendingMax` reads, or the requester is not in
 *   its configuration), no index.
 * - `NewTerm`: a follower that distrusts its log asks the leader to hand leadership to another
 *   voter, so that a leader it did not vote for takes over (see `RaftNode.requestNewTerm`). Also
 *   the answer to `TimeoutNow` of a follower that may not campaign (distrusting, below its vote
 *   floor, installing a snapshot, no voter in its own configuration, or removed): the leader
 *   gives up the transfer to it. `context`: "" for a request; an answer echoes the `TimeoutNow`'s.
 * - `TimeoutNow`: `context` = the leader's tag of the transfer (`Raft.transferTag`); a leader
 *   ignores a `NewTerm` echoing another tag (the answer to a transfer that is over).
 * - `Removed`: the answer of a voter to a node that is in neither its latest nor its committed
 *   configuration: `index` = the sender's commit index, at which that node is not a member. The
 *   addressee believes it only under the conditions of `RaftNode.removal`.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: Term;
  logTerm: Term;
  index: LogIndex;
  entries: Entry[];
  commit: LogIndex;
  reject: boolean;
  rejectHint: LogIndex;
  context: string;
  snapshot?: SnapshotChunk;
}

/**
 * How this node knows it is no longer a member: from an entry in its own log (`by` null; `index`
 * is that entry's) or from a `Removed` answer of the voter `by` (`index`: that voter's commit).
 */
export interface Removal {
  index: LogIndex;
  by: NodeId | null;
}

/** The role a node plays in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** Volatile state worth telling the application about (leader hints, role changes). */
export interface SoftState {
  leaderId: NodeId | null;
  role: Role;
}

/** A linearizable read that may be served once the Ready carrying it has been applied. */
export interface ReadState {
  requestId: string;
  index: LogIndex;
}

/**
 * One batch of work for the caller. See `doc.ts` for the exact order it must be handled in.
 */
export interface Ready {
  /** Persist (fsync) if present, before sending `messages`. */
  hardState?: HardState;
  /**
   * Install before `entries`: replace the whole log and restore the state machine from it. The
   * bytes are the ones the node's `SnapshotSink` received and verified.
   */
  snapshot?: Snapshot;
  /**
   * Set when `entries[0].index` lies inside what storage already holds: discard every stored
   * entry with index ≥ `truncateFrom` before appending `entries`.
   */
  truncateFrom?: LogIndex;
  /** Append to stable storage (fsync) before sending `messages`. */
  entries: Entry[];
  /** Send after the above is durable; order between different peers does not matter. */
  messages: Message[];
  /** Apply in order after persisting (they may include entries from `entries`). */
  committedEntries: Entry[];
  /** Reads that may be served once `committedEntries` are applied. */
  readStates: ReadState[];
  /**
   * Request ids of reads this node forwarded that the leader refused: it held
   * `readIndexPendingMax` reads already (or this node is not in its configuration). Answer them as `readIndex` refuses a leader's own read
   * over that bound (`ProposalDroppedError` "read-index-limit"); they will get no read state.
   */
  refusedReads?: string[];
  /** Present when the role or leader changed since the previous Ready. */
  softState?: SoftState;
  /**
   * Set when `messages` may be sent before the rest is persisted (a leader's parallel write,
   * see `doc.ts`): the node led, in this term and with this vote, when the previous Ready was
   * taken and still does, and nothing here is a snapshot or a truncation. Unset: persist first.
   */
  sendFirst?: true;
}

/** A source of uniform numbers in [0, 1); inject a seeded one for determinism. */
export interface Prng {
  next(): number;
}
