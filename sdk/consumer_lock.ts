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
 * @module
 */

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
