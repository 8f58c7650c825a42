/**
 * The engine's own types: what a committed entry looks like to the state machine, how it reads
 * message bodies back from the log, the command type codes, and the stored queue attributes.
 *
 * The stored attribute types are the engine's, not the SDK's: admin commands and snapshots are
 * JSON of these objects, so they are the on-disk format. They have the same fields as the v1
 * wire types today; the service maps one to the other, and a field renamed in the SDK breaks that
 * mapping at compile time instead of changing what is in the log.
 *
 * @module
 */
import type { TopicFilterType } from "./topic_filter.ts";

/** A committed log entry as the state machine sees it (the same fields as storage's LogEntry). */
export interface AppliedEntry {
  index: number;
  /** Stamped by the proposer: max(previous entry's timestamp, its clock). "now" for apply. */
  timestamp: number;
  type: number;
  payload: Uint8Array;
}

/**
 * Reads a committed entry back (storage's `SegmentLog.entry` does this): its payload is a copy,
 * or with `copy` false a view valid only until the log is next read or written.
 */
export interface LogReader {
  entry(index: number, copy?: boolean): AppliedEntry;
}

/**
 * Command type codes of the queue engine. 0–15 are reserved for Raft (no-op, configuration
 * change); `StateMachine.apply` ignores them.
 */
export const CommandType = {
  CreateQueue: 16,
  UpdateQueue: 17,
  DeleteQueue: 18,
  SendBatch: 19,
  ReceiveBatch: 20,
  DeleteBatch: 21,
  ChangeVisibility: 22,
  Rewind: 23,
  Purge: 24,
  Redrive: 25,
  Tick: 26,
  /** Records (or forgets) a cluster member's peer address and client URL. */
  SetMember: 27,
  CreateTopic: 28,
  UpdateTopic: 29,
  DeleteTopic: 30,
  /** One or more messages published to a topic, fanned out in the same entry. */
  PublishBatch: 31,
  Subscribe: 32,
  UpdateSubscription: 33,
  Unsubscribe: 34,
  /** Outcomes of HTTP push attempts, proposed by the leader's push worker. */
  PushResults: 35,
  /**
   * A Redrive whose `ifCreatedAt` names the queue's creation: a type of its own, so a release
   * that doesn't know the check refuses the entry instead of moving what this one would not.
   */
  RedriveOfCreated: 36,
  /**
   * An UpdateQueue that checks the dead-letter policy only when it sets one, so a queue whose
   * dead-letter queue was deleted still takes updates. UpdateQueue (17) keeps its earlier
   * meaning, which checks a policy kept from before too: a type of its own, so a release that
   * doesn't know the change refuses the entry instead of refusing the update.
   */
  UpdateQueueKeepingPolicy: 37,
  /**
   * A Redrive (its `ifCreatedAt` optional) that moves each FIFO group's prefix only: after a
   * message that stays, the rest of its group stays. Redrive (25) and RedriveOfCreated (36)
   * keep their earlier meaning (every visible message with a target moves).
   */
  RedriveInGroupOrder: 38,
  /**
   * A Tick whose dead-letter TTL moves a FIFO group's messages in send order (none while one
   * of the group is in flight). Tick (26) keeps its earlier meaning (only the messages in
   * flight wait). The leader proposes this one.
   */
  TickInGroupOrder: 39,
  /**
   * An UpdateQueueKeepingPolicy that also raises the queue's rewind floor when it changes
   * `rewindSeconds` (`QueueState.raiseRewindFloor`): a deleted message that is out of the
   * smaller of the two windows (every one, when either is 0) can't be rewound any more, so a
   * later raise does not bring back what had stopped being replayable. UpdateQueue (17) and
   * UpdateQueueKeepingPolicy (37) keep their earlier meaning (the floor stays).
   */
  UpdateQueueWithRewindFloor: 40,
  /**
   * A TickInGroupOrder whose retention keeps a FIFO queue's message in flight until its lock
   * ends (the other expired messages go at once), so its group's next message is not delivered
   * while it is still locked. Tick (26) and TickInGroupOrder (39) keep their earlier meaning
   * (retention drops a message in flight too). The leader proposes this one.
   */
  TickKeepingLocks: 41,
  /**
   * A RedriveInGroupOrder that runs the queue's housekeeping first, in the newest form (as a
   * TickKeepingLocks would, after its checks pass): what retention expired is dropped, not
   * moved out (where its retention would start again with its move). The earlier Redrive forms
   * (25, 36, 38) keep their meaning: they move what no housekeeping has expired yet.
   */
  RedriveAfterHousekeeping: 42,
  /**
   * An UpdateQueueKeepingPolicy that, when it changes `rewindSeconds`, bars exactly the messages
   * deleted by then and sent before the smaller of the two windows (every deleted one, when
   * either is 0) from ever being rewound (`QueueState.barRewind`); a message still in the queue
   * then stays rewindable once it is deleted. UpdateQueueWithRewindFloor (40) keeps its meaning
   * (the floor, a sequence, also bars what is deleted only after the update).
   */
  UpdateQueueBarringDeleted: 43,
  /**
   * A Rewind whose timestamp before the queue's window (at apply: the entry's time minus
   * `rewindSeconds`) rewinds from the window's start (`QueueState.rewind`'s `fromWindow`); a
   * sequence means what it means in Rewind. Rewind (23) keeps its earlier meaning: such a
   * timestamp is refused, however little the window moved since the service checked it.
   */
  RewindFromWindow: 44,
  /**
   * A send batch that also runs receives for the long polls parked on its queue, in the same
   * entry (one replicated write for send and lock). Numbered apart from the codes above so that
   * codes added in sequence elsewhere don't take it; the codes are checked to be distinct.
   */
  SendReceive: 48,
} as const;

/** A value of `CommandType`. */
export type CommandTypeCode = typeof CommandType[keyof typeof CommandType];

/** Every command type this release applies. */
export const commandTypes: ReadonlySet<number> = new Set(Object.values(CommandType));

/** The lowest command type code the engine owns. */
export const engineCommandTypeMin = 16;

/**
 * How an entry runs a queue's housekeeping, by its form (`CommandType`, `commands.ts`): the
 * dead-letter TTL of a FIFO queue in group order, retention keeping a FIFO queue's messages in
 * flight until their lock ends.
 */
export interface HousekeepingForm {
  inGroupOrder: boolean;
  keepsLocks: boolean;
}

/** Mutable queue attributes as stored in commands and snapshots. */
export interface QueueAttributes {
  visibilityTimeoutSeconds: number;
  pollingWaitSeconds: number;
  maxMessageBytes: number;
  retentionSeconds: number;
  rewindSeconds: number;
  maxBacklog: number;
  /** Immutable after create. */
  fifo: boolean;
  /** Dead-letter policy; `null` on update removes it. */
  deadLetter?: DeadLetterPolicy | null;
  /**
   * Labels the engine stores and never interprets (rules in `queue_tags.ts`). Absent when the
   * queue has none, so a queue without tags is stored exactly as before tags existed. On
   * update the map replaces the whole set; `null` or `{}` removes every tag.
   */
  tags?: QueueTags | null;
}

/** A queue's tags: key → value. */
export type QueueTags = Record<string, string>;

/**
 * A change to some tags of a queue, applied to the tags the queue has when the command applies
 * (so two concurrent changes of different keys both land): `set` adds or overwrites keys, then
 * `remove` deletes keys (absent keys are ignored).
 */
export interface TagChanges {
  set?: QueueTags;
  remove?: string[];
}

/** Where messages go after too many receives or too long a life (stored form). */
export interface DeadLetterPolicy {
  queue: string;
  maxReceiveCount?: number;
  maxTimeToLiveSeconds?: number;
}

/** Attributes of a create or update command: any subset. */
export type QueueAttributesInput = Partial<QueueAttributes>;

/** Options of a queue listing. */
export interface ListQueuesOptions {
  prefix?: string;
  /** Only names that sort after this one (UTF-16 code units): where the last page ended. */
  after?: string;
  offset?: number;
  limit?: number;
}

export type { TopicFilterType };

/** Topic attributes as stored in commands and snapshots. */
export interface TopicAttributes {
  /** Immutable after create. */
  filterType: TopicFilterType;
  maxMessageBytes: number;
  /** How long a pending HTTP push is retried before it is dropped (and counted). */
  retentionSeconds: number;
}

/** Attributes of a topic create or update command: any subset. */
export type TopicAttributesInput = Partial<TopicAttributes>;

/** When a failed HTTP push is tried again (CMQ's BACKOFF_RETRY / EXPONENTIAL_DECAY_RETRY). */
export type RetryPolicy = "backoff" | "exponentialDecay";

/** What an HTTP push carries: a JSON envelope or the raw body. */
export type PushFormat = "json" | "simplified";

/** Where a subscription delivers: a queue of this group, or an HTTP(S) URL. */
export type SubscriptionEndpoint = { queue: string } | { url: string };

/**
 * Subscription attributes as stored in commands and snapshots. `retryPolicy` and `format` are
 * set exactly when the endpoint is a URL; `filterTags` is used by tag topics only and
 * `bindingKeys` by routing-key topics only (the other one is always empty).
 */
export interface SubscriptionAttributes {
  /** Immutable after create. */
  endpoint: SubscriptionEndpoint;
  filterTags: string[];
  bindingKeys: string[];
  retryPolicy?: RetryPolicy;
  format?: PushFormat;
}

/** Attributes of a subscribe or subscription update command: any subset. */
export type SubscriptionAttributesInput = Partial<SubscriptionAttributes>;
