/**
 * A subscription's due pushes whose message could not be read back from the log (an error other
 * than damage, which fails the replica instead): left out of the lane's reads until their retry
 * time, the wait doubling per failed read in a row. Reported once each (the first failure).
 *
 * @module
 */

interface Unreadable {
  attempt: number;
  retryAt: number;
  failures: number;
}

/** One lane's unreadable pushes, by sequence. */
export class UnreadablePushes {
  readonly #pushes = new Map<number, Unreadable>();

  /** Pushes left out now or waiting for their next read. */
  get size(): number {
    return this.#pushes.size;
  }

  /** Whether `sequence` is left out of a read at `now`. */
  waiting(sequence: number, now: number): boolean {
    const push = this.#pushes.get(sequence);
    return push !== undefined && push.retryAt > now;
  }

  /**
   * Notes a failed read of `push` at `now`; the next read waits `retryMsMin`, doubled per failure
   * in a row, up to `retryMsMax`. True the first time (the failure to report).
   */
  failed(
    push: { sequence: number; attempt: number },
    now: number,
    retry: { retryMsMin: number; retryMsMax: number },
  ): boolean {
    const known = this.#pushes.get(push.sequence);
    const failures = (known?.failures ?? 0) + 1;
    const waitMs = Math.min(retry.retryMsMax, retry.retryMsMin * 2 ** Math.min(failures - 1, 30));
    this.#pushes.set(push.sequence, { attempt: push.attempt, retryAt: now + waitMs, failures });
    return known === undefined;
  }

  /** `sequence` was read: it is no longer left out. */
  read(sequence: number): void {
    this.#pushes.delete(sequence);
  }

  /** Forgets those due for a read again that `pending` says no longer wait (pushed, expired). */
  prune(now: number, pending: (sequence: number, attempt: number) => boolean): void {
    for (const [sequence, push] of this.#pushes) {
      if (push.retryAt <= now && !pending(sequence, push.attempt)) this.#pushes.delete(sequence);
    }
  }
}
