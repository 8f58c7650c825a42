/**
 * The seams between the queue engine (state machine + service) and whatever replicates its log:
 * `broker/replica.ts` (a Raft group over storage's segment log) or `MemoryReplica` (tests).
 *
 * @module
 */

/** A committed log entry as the state machine sees it (the same fields as storage's LogEntry). */
export interface AppliedEntry {
  index: number;
  /** Stamped by the proposer: max(previous entry's timestamp, its clock). "now" for apply. */
  timestamp: number;
  type: number;
  payload: Uint8Array;
}

/**
 * What the service proposes commands through. Implemented by `broker/replica.ts` and by
 * `MemoryReplica`.
 *
 * @example
 * ```ts
 * const result = await proposer.propose(CommandType.Purge, encodePurge({ queue: "orders" }));
 * ```
 */
export interface Proposer {
  /**
   * Appends the command and waits until it is durable, committed and applied; resolves with
   * `StateMachine.apply()`'s result for that entry. Rejects with `BrokerError("NoLeader")` or
   * `BrokerError("NotReady")` when it cannot. Stamps `timestamp = max(previous, clock now)`.
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

/**
 * Command type codes of the queue engine. 0–15 are reserved for Raft (no-op, configuration
 * change); `StateMachine.apply` ignores them.
 */
export const CommandType = {
  CreateQueue: 16,
  UpdateQueue: 17,
  DeleteQueue: 18,
  SendBatch: 19,
  ReceiveBatch: 20,
  DeleteBatch: 21,
  ChangeVisibility: 22,
  Rewind: 23,
  Purge: 24,
  Redrive: 25,
  Tick: 26,
  /** Records (or forgets) a cluster member's peer address and client URL. */
  SetMember: 27,
} as const;

/** A value of `CommandType`. */
export type CommandTypeCode = typeof CommandType[keyof typeof CommandType];

/** The lowest command type code the engine owns. */
export const engineCommandTypeMin = 16;

/** A clock reading milliseconds. */
export interface ClockLike {
  now(): number;
}

/** Timers the service's long polls use (real ones by default, `ManualClock` in tests). */
export interface Timers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** `setTimeout`-backed timers. */
export const realTimers: Timers = {
  setTimer: (delayMs, callback) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as number),
};
