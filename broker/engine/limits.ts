/**
 * Attribute ranges and defaults of the API contract (README, "The API contract"). The validation of
 * every door and the OpenAPI document read them from here.
 *
 * @module
 */

/** An inclusive integer range with a default. */
export interface Range {
  min: number;
  max: number;
  default: number;
}

/** Queue attribute ranges. */
export const queueLimits = {
  visibilityTimeoutSeconds: { min: 1, max: 43_200, default: 30 },
  pollingWaitSeconds: { min: 0, max: 30, default: 0 },
  maxMessageBytes: { min: 1024, max: 1_048_576, default: 65_536 },
  retentionSeconds: { min: 60, max: 1_296_000, default: 345_600 },
  /** max is further bounded by the queue's retentionSeconds. */
  rewindSeconds: { min: 0, max: 1_296_000, default: 0 },
  maxBacklog: { min: 1, max: 1_000_000_000, default: 100_000_000 },
} as const satisfies Record<string, Range>;

/** Per-message and per-request limits. */
export const messageLimits = {
  delaySeconds: { min: 0, max: 43_200, default: 0 },
  /** Entries in one send, receive, delete or visibility batch. */
  batchEntriesMax: 256,
  /** Bytes of one request body (4 MiB). */
  requestBytesMax: 4 * 1024 * 1024,
  /**
   * Bodies one receive may answer, counted at the queue's maxMessageBytes (64 MiB): a receive
   * takes at most this / maxMessageBytes messages (256 up to 256 KiB, 64 at 1 MiB), so its JSON
   * answer stays below the longest string the runtime can build (2^29 - 24 characters) even when
   * every byte is escaped as six (`\u0001`).
   */
  receiveBodyBytesMax: 64 * 1024 * 1024,
  /** The dedup window of `dedupId`, in milliseconds. */
  dedupWindowMs: 300_000,
  attributesMax: 10,
  attributeKeyCharsMax: 128,
  attributeValueCharsMax: 1024,
  groupIdCharsMax: 128,
  dedupIdCharsMax: 128,
  /** A visibility change of 0 releases the lock now. */
  visibilityTimeoutSeconds: { min: 0, max: 43_200, default: 30 },
  waitSeconds: { min: 0, max: 30, default: 0 },
} as const;

/**
 * Queue tag limits, SQS's: tags on one queue, and Unicode characters (code points, not UTF-16
 * units) of a key and of a value. A key is never empty; a value may be.
 */
export const tagLimits = {
  tagsMax: 50,
  keyCharsMax: 128,
  valueCharsMax: 256,
} as const;

/** Dead-letter policy ranges. */
export const deadLetterLimits = {
  maxReceiveCount: { min: 1, max: 1000 },
  maxTimeToLiveSeconds: { min: 300, max: 43_200 },
} as const;

/** Topic attribute ranges (the contract: a topic keeps a message at most a day). */
export const topicLimits = {
  maxMessageBytes: { min: 1024, max: 1_048_576, default: 65_536 },
  retentionSeconds: { min: 60, max: 86_400, default: 86_400 },
} as const satisfies Record<string, Range>;

/** Limits of subscriptions and of the HTTP push state they keep. */
export const subscriptionLimits = {
  /** Subscriptions of one topic (CMQ's limit). */
  subscriptionsPerTopicMax: 100,
  /** UTF-8 bytes of a push URL. */
  urlBytesMax: 1024,
  /**
   * Messages waiting for a successful push, per URL subscription. Each costs about 140 bytes
   * of heap (measured: 100,000 pending on one subscription came to 140.7 bytes each after a GC,
   * with its map entry, its small object and its entry in the next-attempt heap; the body stays in
   * the log), so a dead endpoint can hold at most ~14 MB; past it, a publish reports
   * `BacklogFull` for that subscription.
   */
  pendingPushesMax: 100_000,
  /** Characters of the last push error kept per subscription. */
  pushErrorCharsMax: 256,
  /** Push outcomes in one PushResults command. */
  pushResultsPerCommandMax: 1024,
} as const;

/** Names of queues, topics and subscriptions. */
export const namePattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Limits of list endpoints. */
export const listLimits = { limit: { min: 1, max: 1000, default: 100 } } as const;
