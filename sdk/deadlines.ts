/**
 * The timeouts of a client's requests on one timer. A timer per request (armed when it is sent,
 * cleared when it is answered) cost about 7% of a busy client's CPU in Deno; here a request only
 * joins a set, and one timer is armed for the earliest deadline. It is re-armed when a request
 * with an earlier deadline joins, when it fires (for the earliest left), and cleared once no
 * request is in flight, so an idle client holds no timer and its process can end.
 *
 * @module
 */

/** One registered deadline; `cancel` it when the request is answered. */
export interface Deadline {
  cancel(): void;
}

/** The timer functions `Deadlines` uses. */
export interface DeadlineTimers {
  set(callback: () => void, delayMs: number): unknown;
  clear(timer: unknown): void;
}

const globalTimers: DeadlineTimers = {
  set: (callback, delayMs) => setTimeout(callback, delayMs),
  clear: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

/**
 * The longest delay a timer takes: a longer one overflows to 1 ms (Node, Deno, browsers). A
 * later deadline is reached by re-arming when the timer fires early for it (see `#fire`).
 */
const timerMsMax = 2 ** 31 - 1;

interface Entry {
  at: number;
  expire: () => void;
}

/**
 * Deadlines on one timer.
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines();
 * const controller = new AbortController();
 * const deadline = deadlines.add(30_000, () => controller.abort());
 * try { await fetch(url, { signal: controller.signal }); } finally { deadline.cancel(); }
 * ```
 */
export class Deadlines {
  readonly #now: () => number;
  readonly #timers: DeadlineTimers;
  readonly #entries = new Set<Entry>();
  #timer: unknown;
  /** The deadline the timer is armed for (Infinity when none is). */
  #armedAt = Infinity;

  /**
   * `now`: a monotonic clock in ms (default `performance.now`); `timers`: the timer functions
   * (default the global `setTimeout` and `clearTimeout`).
   */
  constructor(now: () => number = () => performance.now(), timers: DeadlineTimers = globalTimers) {
    this.#now = now;
    this.#timers = timers;
  }

  /** Deadlines registered and neither expired nor cancelled. */
  get size(): number {
    return this.#entries.size;
  }

  /** Calls `expire` once `ms` have passed, unless the deadline is cancelled first. */
  add(ms: number, expire: () => void): Deadline {
    const entry: Entry = { at: this.#now() + ms, expire };
    this.#entries.add(entry);
    if (entry.at < this.#armedAt) this.#arm(entry.at);
    return {
      cancel: () => {
        if (!this.#entries.delete(entry) || this.#entries.size > 0) return;
        this.#disarm();
      },
    };
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#armedAt = at;
    const delayMs = Math.min(timerMsMax, Math.max(0, Math.ceil(at - this.#now())));
    this.#timer = this.#timers.set(() => this.#fire(), delayMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = this.#now();
    let next = Infinity;
    const expired: Entry[] = [];
    for (const entry of this.#entries) {
      if (entry.at <= now) expired.push(entry);
      else if (entry.at < next) next = entry.at;
    }
    for (const entry of expired) this.#entries.delete(entry);
    if (next !== Infinity) this.#arm(next);
    for (const entry of expired) entry.expire();
  }
}
