/**
 * The options of `EngineService` (what it runs on and its bounds), apart from the service itself.
 *
 * @module
 */
import type { BrokerError, LogReader, StateMachine } from "../engine/mod.ts";
import type { Proposer, Timers } from "../replication/mod.ts";

/** What a `EngineService` runs on. */
export interface EngineServiceOptions {
  proposer: Proposer;
  machine: StateMachine;
  log: LogReader;
  /** Long-poll timers. */
  timers: Timers;
  /** Receipt-handle salt source for new queues (default: crypto random). */
  randomSalt?: () => number;
  /** Queues the group may hold; creating one more is 429 `QueueLimitExceeded`. 10 000. */
  queuesMax?: number;
  /**
   * Entries of this node's log it has not applied yet (on a new leader, what its predecessor
   * committed may be among them): while the queues held with these many more stay under
   * `queuesMax`, a create is checked against the local count alone; otherwise it is counted
   * after the read barrier. Default none (a replica that applies each entry as it commits it).
   */
  unappliedEntries?: () => number;
  /**
   * Long-poll receives parked at once on this node; past it a receive that would wait answers
   * 503 `NotReady` with `Retry-After` (the client backs off and retries; nothing was done). 10 000.
   */
  parkedReceivesMax?: number;
  /**
   * Share of `parkedReceivesMax` the receives of one access key (`ReceiveOptions.keyId`) may
   * hold, in (0, 1]; past it that key's receives are answered as past the bound. 0.8.
   */
  parkedReceivesKeyShare?: number;
  /**
   * Whether writes that add data (sends) may go ahead now: null, or the error to refuse them
   * with (507 `InsufficientStorage` below the free-disk threshold). Consuming writes (receive,
   * delete, queue delete) are never asked: they must drain a full disk.
   */
  admitData?: () => BrokerError | null;
}
