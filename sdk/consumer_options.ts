/**
 * The `Consumer`'s options, the context its handlers get and its counters: the shapes of its
 * interface, documented here, checked in its constructor (`option_checks.ts`). Re-exported by
 * `consumer.ts`.
 *
 * @module
 */
import type { BackoffBounds } from "./retry.ts";
import type { ReceivedMessage } from "./protocol.ts";

/** What a handler is given beside the message. */
export interface HandlerContext {
  /**
   * Aborted by `stop({ abort: true })`, and when the broker refuses a renewal (the lock ran out:
   * the message may be delivered to another consumer; or the queue was deleted, `QueueNotFound`;
   * or the key was removed, `Unauthenticated`, or lost the permission, `AccessDenied`; or any
   * other 4xx but 408 and 429, which would refuse it again; the reason is the broker's
   * `CmqdError`).
   */
  signal: AbortSignal;
}

/** Handles one message: resolve = delete it, throw = retry it after a delay. */
export type MessageHandler = (
  message: ReceivedMessage,
  context: HandlerContext,
) => Promise<void> | void;

/** Options of a `Consumer`. */
export interface ConsumerOptions {
  /** Required for `start()`; the iterator form supplies its own. */
  handleMessage?: MessageHandler;
  /** Handlers running at once (for the iterator: messages held at once), 1–65536. Default 1. */
  concurrency?: number;
  /** Messages per receive at most (also bounded by free slots), 1–256. Default concurrency. */
  batchSize?: number;
  /**
   * Receives in flight at once, 1–64, each for slots no other one claimed. Default: the batches
   * `concurrency` holds (`ceil(concurrency / batchSize)`), at most 4. On an empty queue each
   * of them long-polls.
   */
  receivesInFlight?: number;
  /** The lock each receive (and renewal) takes, 1–43200 s. Default 30 s. */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive, 0–30. Default 20 s. */
  waitSeconds?: number;
  /** Seconds a failed message stays hidden, from its receiveCount (1 = first delivery). */
  retryDelaySeconds?: (attempt: number) => number;
  /**
   * Every failure: handler errors (with the message), receive, delete and lock errors; of the
   * renewals, and of the releases, that get no answer in an outage, the first (see
   * `stats.renewalsUnanswered`, `stats.releasesUnanswered`).
   */
  onError?: (error: unknown, message?: ReceivedMessage) => void;
  /**
   * How long a delete waits for a receive to carry it before it is sent alone, 0–60000 ms.
   * Default 20 ms.
   */
  deleteLingerMs?: number;
  /**
   * Back-off after a failed receive: finite milliseconds, 0 < `backoffMsMin` ≤ `backoffMsMax`.
   * Default 100 ms doubling to 5 s.
   */
  receiveBackoff?: Partial<BackoffBounds>;
}

/** Counters and gauges of a consumer. */
export interface ConsumerStats {
  received: number;
  /** Handlers that resolved. */
  handled: number;
  /** Handlers that threw. */
  failed: number;
  /** Handlers aborted by `stop({ abort: true })` whose messages were released. */
  interrupted: number;
  /** Successful lock extensions. */
  renewed: number;
  /** Renewals the broker refused: the lock had already run out. */
  locksLost: number;
  /**
   * Renewals that got no answer (network, 503, given up): each is sent again. Only the first of
   * an outage is reported to `onError` (see the module doc); this counts them all.
   */
  renewalsUnanswered: number;
  /**
   * Releases (a message given back unhandled at stop, visibility 0) that failed without a refusal
   * (network, 503, given up): the message comes back when its lock runs out. Only the first of an
   * outage is reported to `onError`, until the broker answers a release again; this counts them
   * all.
   */
  releasesUnanswered: number;
  /**
   * Messages the broker confirmed deleted. A delete answering that the message is already gone
   * from the queue (`gone`: deleted before, expired, dead-lettered, purged) counts too, and so
   * does a repeat answering "stale" after a lost answer.
   */
  deleted: number;
  receiveErrors: number;
  /** Handlers running now. */
  inflight: number;
}
