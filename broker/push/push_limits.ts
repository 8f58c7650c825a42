/**
 * The push worker's bounds and their defaults (the worker's module says what each guards).
 *
 * @module
 */

/** The worker's bounds, with their units. */
export interface PushLimits {
  /** Requests in flight at once, all subscriptions together. */
  inflightMax: number;
  /** Requests in flight at once per subscription. */
  inflightPerSubscriptionMax: number;
  /** How long a request may take before it counts as failed (CMQ: about 15 s). */
  requestTimeoutMs: number;
  /** Outcomes per PushResults command. */
  outcomesPerCommandMax: number;
  /** PushResults proposals in flight at once. */
  outcomeProposalsMax: number;
  /** Finished pushes whose outcome is not applied yet, all subscriptions together. */
  recordingMax: number;
  /** The longest the worker sleeps while leading (a safety net; wake-ups are event-driven). */
  idleCheckMs: number;
  /** After a PushResults proposal failed, its outcomes wait this long before another proposal. */
  retryAfterFailedProposalMs: number;
  /** A subscription's pause after its endpoint was unreachable (doubled per such failure in a row). */
  failurePauseMsMin: number;
  /** The longest such pause, reached after several in a row. */
  failurePauseMsMax: number;
  /** Bodies held, read ahead and in flight (UTF-16 code units); a lane, its slots' part. */
  heldBodyBytesMax: number;
  /** How long a push whose message could not be read waits before the next read (doubling). */
  unreadableRetryMsMin: number;
  /** The longest such wait. */
  unreadableRetryMsMax: number;
}

/**
 * The defaults. 64 per subscription (not 16): one busy subscription to a local sink drained
 * about 11.4k pushes/s at 16 and 13.3k/s at 64 on a 2-core machine, the broker spending less CPU
 * per push (more answers arrive per wake-up); the node-wide bound keeps the ratio (16 slow
 * subscriptions fill it, as 16 × 16 filled 256), and a failing endpoint still drops to one.
 */
export const pushLimitsDefault: PushLimits = {
  inflightMax: 1024,
  inflightPerSubscriptionMax: 64,
  requestTimeoutMs: 15_000,
  outcomesPerCommandMax: 256,
  outcomeProposalsMax: 4,
  recordingMax: 4096,
  idleCheckMs: 1_000,
  retryAfterFailedProposalMs: 1_000,
  failurePauseMsMin: 10,
  failurePauseMsMax: 1_000,
  heldBodyBytesMax: 64 * 1024 * 1024,
  unreadableRetryMsMin: 1_000,
  unreadableRetryMsMax: 60_000,
};
