/**
 * The command sequences `state_machine_model_test.ts` draws: the queues and their attribute
 * variants, the PATCH bodies, and the fast-check arbitraries of each operation (the general mix,
 * and `ttlOps`, steered to the dead-letter TTL).
 *
 * @module
 */
import fc from "fast-check";
import { CommandType, type QueueAttributesInput } from "./types.ts";

export const names = ["a", "f", "da", "df"] as const;
export const variants: Record<string, QueueAttributesInput[]> = {
  a: [
    {
      visibilityTimeoutSeconds: 5,
      retentionSeconds: 400,
      rewindSeconds: 200,
      maxBacklog: 8,
      maxMessageBytes: 1024,
      deadLetter: { queue: "da", maxReceiveCount: 2, maxTimeToLiveSeconds: 300 },
    },
    { retentionSeconds: 60, rewindSeconds: 60, deadLetter: { queue: "da", maxReceiveCount: 1 } },
    {},
    // (Only the dead-letter TTL runs use it: a rewind window and retention beyond the TTL.)
    {
      retentionSeconds: 1_000,
      rewindSeconds: 400,
      deadLetter: { queue: "da", maxTimeToLiveSeconds: 300 },
    },
  ],
  f: [
    {
      fifo: true,
      visibilityTimeoutSeconds: 5,
      retentionSeconds: 400,
      rewindSeconds: 400,
      maxMessageBytes: 1024,
      deadLetter: { queue: "df", maxReceiveCount: 2 },
    },
    {
      fifo: true,
      retentionSeconds: 350,
      rewindSeconds: 100,
      deadLetter: { queue: "df", maxTimeToLiveSeconds: 300 },
    },
    { fifo: true, maxBacklog: 6 },
    // (Only the dead-letter TTL runs use it: a rewind window and retention beyond the TTL.)
    {
      fifo: true,
      retentionSeconds: 1_000,
      rewindSeconds: 400,
      deadLetter: { queue: "df", maxTimeToLiveSeconds: 300 },
    },
  ],
  da: [{ retentionSeconds: 1000, rewindSeconds: 100 }, { visibilityTimeoutSeconds: 2 }],
  df: [{ fifo: true, rewindSeconds: 100 }, { fifo: true, retentionSeconds: 120 }],
};

/** PATCH bodies: lock, retention, rewind window, backlog and dead-letter policy changes. */
export const updates: QueueAttributesInput[] = [
  { visibilityTimeoutSeconds: 1 },
  { visibilityTimeoutSeconds: 43_200 },
  { retentionSeconds: 60, rewindSeconds: 0 },
  { retentionSeconds: 1_000 },
  { rewindSeconds: 0 },
  { rewindSeconds: 60 },
  { maxBacklog: 3 },
  { maxMessageBytes: 1024 },
  { deadLetter: null },
  { deadLetter: { queue: "da", maxReceiveCount: 1 } },
  { deadLetter: { queue: "df", maxReceiveCount: 3, maxTimeToLiveSeconds: 300 } },
  { deadLetter: { queue: "a", maxTimeToLiveSeconds: 300 } },
  { deadLetter: { queue: "f", maxReceiveCount: 1 } },
  { retentionSeconds: 350, deadLetter: { queue: "da", maxTimeToLiveSeconds: 300 } },
  { tags: { team: "billing" } },
  { tags: null },
  { rewindSeconds: 300 },
];

const queueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("a", "f") },
  { weight: 1, arbitrary: fc.constantFrom("da", "df") },
);
const pickArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("real" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("forged" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("any" as const), index: fc.nat() }) },
);
export type Pick = { kind: "real" | "forged" | "garbage" | "any"; index: number };
const sendArb = fc.record({
  body: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom("", "x", "hello") },
    { weight: 1, arbitrary: fc.constantFrom("é".repeat(600), "y".repeat(1100)) },
  ),
  delaySeconds: fc.constantFrom(0, 0, 0, 1, 5, 60),
  groupId: fc.option(fc.constantFrom("g1", "g2", "g3"), { nil: undefined }),
  dedupId: fc.option(fc.constantFrom("d1", "d2", "d3", "d4"), { nil: undefined }),
});
/**
 * An entry in the earliest form of its command (UpdateQueue, Tick, Redrive, Rewind, ReceiveBatch
 * layout 1, SendReceive layout 2), which keeps its earlier meaning (`CommandType`): one in four.
 * The others are in the newest form (TickKeepingLocks, RedriveAfterHousekeeping,
 * RewindFromWindow, ReceiveBatch 3, SendReceive 4); the forms
 * between are pinned by `entry_forms_test.ts`.
 */
const earlierArb = fc.constantFrom(false, false, false, true);
/** The form of an update: the newest (the service's) in two of five, each earlier one in one. */
export const updateFormArb = fc.constantFrom(
  CommandType.UpdateQueueBarringDeleted,
  CommandType.UpdateQueueBarringDeleted,
  CommandType.UpdateQueueWithRewindFloor,
  CommandType.UpdateQueueKeepingPolicy,
  CommandType.UpdateQueue,
);
export const opArb = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("create" as const),
      queue: queueArb,
      variant: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("deleteQueue" as const), queue: queueArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("update" as const),
      queue: queueArb,
      change: fc.nat(updates.length - 1),
      form: updateFormArb,
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("send" as const),
      queue: queueArb,
      messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("sendReceive" as const),
      queue: queueArb,
      messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
      receives: fc.array(
        fc.record({
          max: fc.integer({ min: 1, max: 4 }),
          visibilitySeconds: fc.constantFrom(0, 1, 5, 30, 400, 43_200),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      earlier: earlierArb,
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record({
      op: fc.constant("receive" as const),
      queue: queueArb,
      max: fc.integer({ min: 1, max: 4 }),
      visibilitySeconds: fc.constantFrom(0, 1, 5, 30, 400, 43_200),
      deletes: fc.array(pickArb, { maxLength: 2 }),
      earlier: earlierArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      queue: queueArb,
      handles: fc.array(pickArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("visibility" as const),
      queue: queueArb,
      entries: fc.array(
        fc.record({ pick: pickArb, seconds: fc.constantFrom(0, 0, 1, 10, 43_200) }),
        {
          minLength: 1,
          maxLength: 2,
        },
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("rewind" as const),
      queue: queueArb,
      earlier: earlierArb,
      bySequence: fc.boolean(),
      back: fc.constantFrom(0, 1_000, 10_000, 50_000, 150_000, 500_000),
      sequence: fc.integer({ min: 0, max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const), queue: queueArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("redrive" as const),
      queue: queueArb,
      destination: fc.option(queueArb, { nil: undefined }),
      max: fc.integer({ min: 1, max: 5 }),
      earlier: earlierArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("tick" as const), earlier: earlierArb }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("advance" as const),
      ms: fc.constantFrom(0, 100, 1_000, 1_000, 5_000, 5_000, 30_000, 61_000, 301_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("snapshot" as const) }) },
);
export type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Steered to the dead-letter TTL (of `queue`, its dead-letter queue `dlq`): a TTL of 300 s, locks
 * that outlast it, time jumps past it, and snapshots while messages are kept (held FIFO groups,
 * a standard queue's messages in flight: the restored machine must go on exactly like the
 * original), both entry forms mixed.
 */
export const ttlOps = (queue: "f" | "a", dlq: "df" | "da") => {
  const policy = queue === "f" ? 10 : 13; // (a TTL with `dlq` as the dead-letter queue)
  const ttlQueueArb = fc.oneof(
    { weight: 8, arbitrary: fc.constant(queue) },
    { weight: 1, arbitrary: fc.constant(dlq) },
  );
  return fc.oneof(
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("create" as const),
        queue: ttlQueueArb,
        variant: fc.constantFrom(1, 3, 3, 0),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("deleteQueue" as const), queue: ttlQueueArb }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("update" as const),
        queue: ttlQueueArb,
        // Lock times, retention, rewind window, the policy removed and set again, tags.
        change: fc.constantFrom(0, 1, 3, 4, 5, 8, policy, policy, 14, 16),
        form: updateFormArb,
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant("send" as const),
        queue: ttlQueueArb,
        messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("sendReceive" as const),
        queue: ttlQueueArb,
        messages: fc.array(sendArb, { minLength: 1, maxLength: 4 }),
        receives: fc.array(
          fc.record({ max: fc.integer({ min: 1, max: 4 }), visibilitySeconds: lockArb }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        earlier: earlierArb,
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({
        op: fc.constant("receive" as const),
        queue: ttlQueueArb,
        max: fc.integer({ min: 1, max: 4 }),
        visibilitySeconds: lockArb,
        deletes: fc.array(pickArb, { maxLength: 2 }),
        earlier: earlierArb,
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        op: fc.constant("delete" as const),
        queue: ttlQueueArb,
        handles: fc.array(pickArb, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("visibility" as const),
        queue: ttlQueueArb,
        entries: fc.array(
          fc.record({ pick: pickArb, seconds: fc.constantFrom(0, 1, 10, 43_200) }),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("rewind" as const),
        queue: ttlQueueArb,
        earlier: earlierArb,
        bySequence: fc.boolean(),
        back: fc.constantFrom(0, 1_000, 10_000, 50_000, 150_000),
        sequence: fc.integer({ min: 0, max: 30 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const), queue: ttlQueueArb }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("redrive" as const),
        queue: fc.constant(dlq),
        destination: fc.option(fc.constant(queue), { nil: undefined }),
        max: fc.integer({ min: 1, max: 5 }),
        earlier: earlierArb,
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("tick" as const), earlier: earlierArb }) },
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant("advance" as const),
        ms: fc.constantFrom(1_000, 5_000, 30_000, 61_000, 301_000, 301_000),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant("snapshot" as const) }) },
  );
};
const lockArb = fc.constantFrom(0, 5, 30, 400, 400, 43_200);
