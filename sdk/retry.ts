/**
 * Back-off with jitter, shared by the client's request retries, the producer and the consumer
 * (its receive loop and its default retry delay of failed messages).
 *
 * Every back-off here is exponential, capped, and jittered into the upper half of its ceiling:
 * clients that failed together spread out, yet none waits less than half the intended delay.
 *
 * @module
 */

/** Bounds of an exponential back-off. */
export interface BackoffBounds {
  /** Back-off before the first retry. */
  backoffMsMin: number;
  /** Back-off never grows past this. */
  backoffMsMax: number;
}

/**
 * Bounds of the client's automatic retries. By default they are bounded in time: a call retries
 * what is safe to retry for up to `budgetMs` (10 s) after its first failed attempt. That rides
 * out an ordinary leader election (a new leader about 1–2 s after the old one died, a split
 * vote or two more: several election timeouts fit in 10 s), where a count of attempts would
 * not: a refused connection to the dead leader moves on at once, each `503 NoLeader` asks for a
 * second, and how many of them an election takes is not known ahead. A cluster that is down for
 * good fails the call once the budget is spent (plus the last attempt's own time), not later.
 *
 * `attemptsMax` set alone bounds the retries by count only (no time budget), as it always has;
 * set with `budgetMs`, whichever bound is reached first ends them.
 */
export interface RetryOptions extends BackoffBounds {
  /**
   * Attempts in total, the first one included (1 = never retry). Default `Infinity`: the
   * budget bounds the retries.
   */
  attemptsMax: number;
  /**
   * Milliseconds after the call's first failed attempt within which another attempt may start
   * (an attempt whose wait would end later is not made; the call fails with the last error).
   * Default 10 000; `Infinity` when `attemptsMax` is given without it.
   */
  budgetMs: number;
}

/** The default retry bounds of `CmqdClient`: retries for up to 10 s after the first failure. */
export const retryDefaults: RetryOptions = {
  attemptsMax: Infinity,
  budgetMs: 10_000,
  backoffMsMin: 50,
  backoffMsMax: 2_000,
};

/**
 * Milliseconds to wait before retry number `attempt` (1 = the first retry): the ceiling doubles
 * from `backoffMsMin` up to `backoffMsMax`; the result is jittered into `[ceiling/2, ceiling]`.
 *
 * @example
 * ```ts
 * const delayMs = backoffMs(3, { backoffMsMin: 100, backoffMsMax: 5_000 }); // 200..400
 * ```
 */
export function backoffMs(
  attempt: number,
  bounds: BackoffBounds,
  random: () => number = Math.random,
): number {
  // Past 40 doublings every ceiling is the cap (and 2 ** 1024 would be Infinity: 0 × it, NaN).
  const doublings = Math.min(attempt - 1, 40);
  const ceiling = Math.min(bounds.backoffMsMax, bounds.backoffMsMin * 2 ** doublings);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A back-off for a loop: each `next()` after another failure is longer, `reset()` after a
 * success starts over.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ backoffMsMin: 100, backoffMsMax: 5_000 });
 * try {
 *   await work();
 *   backoff.reset();
 * } catch {
 *   await sleep(backoff.next());
 * }
 * ```
 */
export class Backoff {
  readonly #bounds: BackoffBounds;
  readonly #random: () => number;
  #failures = 0;

  constructor(bounds: BackoffBounds, random: () => number = Math.random) {
    if (!(bounds.backoffMsMin > 0 && bounds.backoffMsMax >= bounds.backoffMsMin)) {
      throw new RangeError("back-off needs 0 < backoffMsMin ≤ backoffMsMax");
    }
    this.#bounds = bounds;
    this.#random = random;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure and returns how long to wait before trying again. */
  next(): number {
    this.#failures++;
    // Past ~40 doublings the ceiling is long capped; stop the exponent growing.
    return backoffMs(Math.min(this.#failures, 40), this.#bounds, this.#random);
  }

  reset(): void {
    this.#failures = 0;
  }
}

/** Bounds of `exponentialRetryDelaySeconds`. */
export interface RetryDelayBounds {
  /** Delay before the second delivery. Default 1 s. */
  delaySecondsMin: number;
  /** The delay never grows past this. Default 300 s. */
  delaySecondsMax: number;
}

/** The consumer's default retry-delay bounds. */
export const retryDelayDefaults: RetryDelayBounds = { delaySecondsMin: 1, delaySecondsMax: 300 };

/**
 * The consumer's default `retryDelaySeconds`: how long a message whose handler failed stays
 * hidden before it is delivered again, from its `receiveCount` (1 after the first delivery).
 * Exponential with jitter, whole seconds (the API's unit), capped.
 *
 * @example
 * ```ts
 * exponentialRetryDelaySeconds(1); // 1
 * exponentialRetryDelaySeconds(4); // 4..8
 * ```
 */
export function exponentialRetryDelaySeconds(
  attempt: number,
  bounds: RetryDelayBounds = retryDelayDefaults,
  random: () => number = Math.random,
): number {
  const delayMs = backoffMs(Math.max(1, Math.min(attempt, 40)), {
    backoffMsMin: bounds.delaySecondsMin * 1000,
    backoffMsMax: bounds.delaySecondsMax * 1000,
  }, random);
  return Math.min(
    bounds.delaySecondsMax,
    Math.max(bounds.delaySecondsMin, Math.round(delayMs / 1000)),
  );
}

/**
 * Resolves after `ms`, or early when `signal` aborts (it never rejects: the caller checks the
 * signal). The timer is cleared on abort so nothing keeps the process alive.
 *
 * @example
 * ```ts
 * await sleep(100, controller.signal);
 * if (controller.signal.aborted) return;
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
