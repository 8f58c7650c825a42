/**
 * When a failed HTTP push is tried again: the two retry policies of the README's "Topics" section, as pure functions of
 * replicated values, so every replica schedules the same next attempt.
 *
 * - `backoff` (CMQ's BACKOFF_RETRY): 3 retries, each 10–20 s after the failure before it. The
 *   spread within 10–20 s is a hash of (subscription, message, attempt), not randomness, so a
 *   burst of messages that failed together does not come back together, yet replicas agree.
 *   After the 4th failed attempt the message is dropped and counted.
 * - `exponentialDecay` (CMQ's EXPONENTIAL_DECAY_RETRY, the default): 1, 2, 4 … 512 s after
 *   successive failures, then every 512 s, for up to one day after publishing; a message whose
 *   next attempt would fall later is dropped and counted.
 *
 * Both stop earlier when the topic's `retentionSeconds` ends first: a message older than that
 * is dropped (counted as expired) whatever its policy.
 *
 * A try that would fall at or past the end of that window (or within `finalTryMarginMs` of it)
 * is brought forward once to `finalTryMarginMs` before the end, so the last try comes near the
 * end; its failure gives the message up (expired). That is the rule of PushResults layout 2;
 * layout 1 gives the message up at the failure whose next try would fall at or past the end
 * (`push_state.ts`).
 *
 * @module
 */
import type { RetryPolicy } from "./types.ts";

/** The numbers of both policies, with their units. */
export const pushRetryLimits = {
  /** `backoff`: retries after the first attempt. */
  backoffRetriesMax: 3,
  backoffDelayMsMin: 10_000,
  backoffDelayMsMax: 20_000,
  /** `exponentialDecay`: the first delay, doubled per failure up to the max. */
  decayDelayMsMin: 1_000,
  decayDelayMsMax: 512_000,
  /** `exponentialDecay`: how long after publishing a message is retried at most. */
  decayWindowMs: 86_400_000,
  /**
   * The final try comes this long before its window ends: the push request timeout's default,
   * so even a slow answer is recorded before the retention's Tick expires the message.
   */
  finalTryMarginMs: 15_000,
} as const;

/**
 * Milliseconds from a failed attempt to the next one, or null when the policy gives up.
 * `failedAttempts` counts the failures so far, this one included (≥ 1).
 *
 * @example
 * ```ts
 * retryDelayMs("exponentialDecay", 3, 0); // 4000
 * retryDelayMs("backoff", 4, 0); // null: three retries are spent
 * ```
 */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempts: number,
  spread: number,
): number | null {
  if (policy === "backoff") {
    if (failedAttempts > pushRetryLimits.backoffRetriesMax) return null;
    const range = pushRetryLimits.backoffDelayMsMax - pushRetryLimits.backoffDelayMsMin;
    return pushRetryLimits.backoffDelayMsMin + (spread >>> 0) % (range + 1);
  }
  // 2^(n-1) s, computed without overflow for any count (the cap is reached at n = 10).
  const doublings = Math.min(failedAttempts - 1, 30);
  return Math.min(
    pushRetryLimits.decayDelayMsMin * 2 ** doublings,
    pushRetryLimits.decayDelayMsMax,
  );
}

/**
 * The deterministic spread of a backoff delay: a 32-bit hash of the three numbers.
 *
 * @example
 * ```ts
 * retrySpread(12, 7, 1) === retrySpread(12, 7, 1); // true on every replica
 * ```
 */
export function retrySpread(subscriptionIncarnation: number, sequence: number, attempt: number) {
  let hash = 0x811c9dc5;
  for (const value of [subscriptionIncarnation, sequence, attempt]) {
    hash = Math.imul(hash ^ (value >>> 0), 0x01000193);
    hash = Math.imul(hash ^ Math.floor(value / 0x1_0000_0000), 0x01000193);
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}
