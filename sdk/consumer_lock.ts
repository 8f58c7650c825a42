/**
 * What a consumer knows of one running handler's lock, for its renewals. Internal to
 * `consumer.ts`.
 *
 * A renewal the broker confirmed sets the lock's deadline: the local time by which it has surely
 * not run out (measured from when the renewal was sent, never later than the broker's start of
 * it). A renewal that got no answer — given up, a network error, a timeout — may or may not have
 * been applied: had it been, the lock holds until its own deadline at least. So until the broker
 * answers again the lock may end at any of these deadlines, and renewals go on, paced by the
 * soonest of them still ahead: past the confirmed one, the lock is lost unless one of the
 * unanswered renewals was applied, and then it holds until that one's deadline. Only the broker
 * can say the lock has run out (it refuses the renewal): no local clock can, as any unanswered
 * renewal may have extended it.
 *
 * The broker refuses a renewal for its handle (the lock ran out), or refuses the request itself
 * before touching any lock, which it would do again however often it were sent (`refusedForGood`):
 * the queue was deleted; the key was removed, its secret changed or its permission taken away
 * (401, 403: every attempt is signed afresh, with the same key); or the request is one it does
 * not take (400, 404, 413, 415). Then the lock will run out, and the handler is told. A 400 that
 * names one entry of the call (`badEntryIndex`, `bad_entry.ts`) is that entry's alone: the
 * others are sent again.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";

/** 4xx statuses that say "not now": the broker gave up reading a stalled body, or is too busy. */
const notNowStatuses = new Set([408, 429]);

/**
 * True when `error`, a lock change's failure, is the broker's refusal of the request itself, so
 * that the change sent again would be refused again: `QueueNotFound`, and any other error the
 * broker answered with a 4xx status (a cmqd error body: a proxy's bare 4xx is
 * `UnexpectedResponse`, not the broker's word on the request) but 408 and 429 and the codes
 * worth retrying. Everything else — no answer, a 503, a 5xx, a proxy's answer — leaves the change
 * unconfirmed: it may have been applied, or may be later.
 */
export function refusedForGood(error: unknown): boolean {
  if (!(error instanceof CmqdError)) return false;
  if (error.code === "QueueNotFound") return true;
  return error.status >= 400 && error.status <= 499 && !notNowStatuses.has(error.status) &&
    !error.retryable && error.code !== "UnexpectedResponse";
}

/**
 * Deadlines of unanswered renewals kept, at most. Renewals of one message go one at a time, each
 * given up at 250 ms at the soonest: a long outage could otherwise pile up a lock's worth of them.
 * The oldest are dropped first (the lock is renewed all the same, only less in a hurry).
 */
const unconfirmedMax = 32;

/** The deadlines one lock may have (see the module doc). */
export class LockTimes {
  /** Local time by which the lock has surely not run out, as far as the broker confirmed. */
  #confirmedMs: number;
  /** Deadlines of the renewals sent after the confirmed one and not answered, oldest first. */
  #unconfirmed: number[] = [];

  constructor(deadlineMs: number) {
    this.#confirmedMs = deadlineMs;
  }

  /** The broker confirmed a renewal: the lock holds until `deadlineMs` at least. */
  confirmed(deadlineMs: number): void {
    this.#confirmedMs = deadlineMs;
    this.#unconfirmed.length = 0;
  }

  /** A renewal got no answer: had it been applied, the lock holds until `deadlineMs`. */
  unconfirmed(deadlineMs: number): void {
    this.#unconfirmed.push(deadlineMs);
    if (this.#unconfirmed.length > unconfirmedMax) this.#unconfirmed.shift();
  }

  /**
   * The soonest deadline the lock may have that is still ahead of `nowMs`; when none is, the
   * latest (already past: a change then gets its least time).
   */
  soonestMs(nowMs = Date.now()): number {
    if (this.#confirmedMs > nowMs) return this.#confirmedMs;
    const unconfirmed = this.#unconfirmed;
    while (unconfirmed.length > 1 && unconfirmed[0] <= nowMs) unconfirmed.shift();
    return Math.max(this.#confirmedMs, unconfirmed[0] ?? -Infinity);
  }
}
