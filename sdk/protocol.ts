/**
 * Wire types of the native v1 API (`../shared/API.md`). The broker, the SDK, the tests and the
 * load generator all use these; they are the one place the request and response shapes live.
 *
 * Times are Unix epoch milliseconds (`...At`), durations carry their unit in the name.
 *
 * @module
 */

/** Mutable queue attributes (all optional on create and update). */
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
}

/** Where messages go after too many receives or too long a life. */
export interface DeadLetterPolicy {
  queue: string;
  maxReceiveCount?: number;
  maxTimeToLiveSeconds?: number;
}

/** Body of `PUT /v1/queues/{queue}` and `PATCH /v1/queues/{queue}`. */
export type QueueAttributesInput = Partial<QueueAttributes>;

/** A queue as the API returns it: attributes plus live counts. */
export interface Queue extends QueueAttributes {
  name: string;
  createdAt: number;
  modifiedAt: number;
  /** Visible now. */
  activeMessages: number;
  /** Locked by a receive. */
  inflightMessages: number;
  /** Not yet visible because of `delaySeconds`. */
  delayedMessages: number;
  /** Deleted but still inside the rewind window. */
  rewindableMessages: number;
  /** Enqueue time of the oldest undeleted message, or null when there is none. */
  oldestMessageAt: number | null;
}

/** `GET /v1/queues` response. */
export interface QueueList {
  total: number;
  queues: Queue[];
}

/** One message of a send batch. */
export interface SendMessageEntry {
  body: string;
  delaySeconds?: number;
  groupId?: string;
  dedupId?: string;
  attributes?: Record<string, string>;
}

/** `POST /v1/queues/{queue}/messages` body. */
export interface SendMessagesRequest {
  messages: SendMessageEntry[];
}

/** What a send returns per message, in request order. */
export interface SentMessage {
  id: string;
  sequence: number;
}

/** `POST /v1/queues/{queue}/messages` response. */
export interface SendMessagesResponse {
  messages: SentMessage[];
}

/** `POST /v1/queues/{queue}/messages/receive` body. */
export interface ReceiveMessagesRequest {
  maxMessages?: number;
  visibilityTimeoutSeconds?: number;
  waitSeconds?: number;
  deleteReceiptHandles?: string[];
}

/** A message handed to a receiver, locked until `visibleAt`. */
export interface ReceivedMessage {
  id: string;
  sequence: number;
  body: string;
  receiptHandle: string;
  enqueuedAt: number;
  firstReceivedAt: number;
  receiveCount: number;
  visibleAt: number;
  groupId?: string;
  attributes?: Record<string, string>;
}

/** A per-handle failure of delete or visibility change. */
export interface HandleFailure {
  receiptHandle: string;
  /** `ReceiptHandleStale`, `ReceiptHandleInvalid`, `MessageNotInflight`. */
  code: string;
  message: string;
}

/** `POST /v1/queues/{queue}/messages/receive` response. */
export interface ReceiveMessagesResponse {
  messages: ReceivedMessage[];
  /** Present when the request carried `deleteReceiptHandles`. */
  deleted?: number;
  failures?: HandleFailure[];
}

/** `POST /v1/queues/{queue}/messages/delete` body. */
export interface DeleteMessagesRequest {
  receiptHandles: string[];
}

/** `POST /v1/queues/{queue}/messages/delete` response. */
export interface DeleteMessagesResponse {
  deleted: number;
  failures: HandleFailure[];
}

/** One entry of a visibility change. */
export interface VisibilityEntry {
  receiptHandle: string;
  visibilityTimeoutSeconds: number;
}

/** `POST /v1/queues/{queue}/messages/visibility` body. */
export interface ChangeVisibilityRequest {
  entries: VisibilityEntry[];
}

/** `POST /v1/queues/{queue}/messages/visibility` response. */
export interface ChangeVisibilityResponse {
  entries: { receiptHandle: string; visibleAt: number }[];
  failures: HandleFailure[];
}

/** `POST /v1/queues/{queue}/rewind` body: exactly one of the two. */
export type RewindRequest = { timestamp: number } | { sequence: number };

/** `POST /v1/queues/{queue}/rewind` response. */
export interface RewindResponse {
  /** The first message delivered again. */
  from: { timestamp: number; sequence: number };
  /** How many messages became receivable again. */
  messages: number;
}

/** `POST /v1/queues/{queue}/purge` response. */
export interface PurgeResponse {
  purged: number;
}

/** `POST /v1/queues/{queue}/redrive` body (on a dead-letter queue). */
export interface RedriveRequest {
  /** Defaults to each message's recorded origin queue. */
  destination?: string;
  maxMessages?: number;
}

/** `POST /v1/queues/{queue}/redrive` response. */
export interface RedriveResponse {
  moved: number;
}

/** Topic attributes (`filterType` is fixed at create). */
export interface TopicAttributes {
  /** `tag` (default): subscriptions filter by `filterTags`; `routingKey`: by `bindingKeys`. */
  filterType: "tag" | "routingKey";
  maxMessageBytes: number;
  /** How long an HTTP push is retried at most (60–86400, default 86400). */
  retentionSeconds: number;
}

/** Body of `PUT` and `PATCH /v1/topics/{topic}`. */
export type TopicAttributesInput = Partial<TopicAttributes>;

/** A topic as the API returns it. */
export interface Topic extends TopicAttributes {
  name: string;
  createdAt: number;
  modifiedAt: number;
  /** How many subscriptions it has. */
  subscriptions: number;
  /** Messages published to it since it was created. */
  publishedMessages: number;
}

/** `GET /v1/topics` response. */
export interface TopicList {
  total: number;
  topics: Topic[];
}

/** One message of a publish batch. */
export interface PublishEntry {
  body: string;
  /** Tag topics: up to 5 tags, each up to 16 characters. */
  tags?: string[];
  /** Routing-key topics: dot-separated words, no wildcards. */
  routingKey?: string;
  attributes?: Record<string, string>;
}

/** `POST /v1/topics/{topic}/messages` body. */
export interface PublishRequest {
  messages: PublishEntry[];
}

/** A subscription that matched a message but could not take it. */
export interface SubscriptionFailure {
  subscription: string;
  /** `BacklogFull`, `MessageTooLarge` or `QueueNotFound`. */
  code: string;
  message: string;
}

/** What a publish returns per message, in request order. */
export interface PublishedMessage {
  id: string;
  /** Subscriptions that took it: queue copies enqueued plus URL pushes scheduled. */
  fannedOut: number;
  /** Matching subscriptions that could not take it (never dropped silently). */
  failures: SubscriptionFailure[];
}

/** `POST /v1/topics/{topic}/messages` response. */
export interface PublishResponse {
  messages: PublishedMessage[];
}

/** Where a subscription delivers: a queue of the cluster, or an HTTP(S) URL. */
export type SubscriptionEndpoint = { queue: string } | { url: string };

/** Body of `PUT` and `PATCH /v1/topics/{topic}/subscriptions/{subscription}`. */
export interface SubscriptionAttributesInput {
  /** Required on create; immutable. */
  endpoint?: SubscriptionEndpoint;
  filterTags?: string[];
  bindingKeys?: string[];
  /** URL endpoints only; default `exponentialDecay`. */
  retryPolicy?: "exponentialDecay" | "backoff";
  /** URL endpoints only; default `json`. */
  format?: "json" | "simplified";
}

/** Attempt counts of a URL subscription, since it was created. */
export interface PushCounters {
  pushed: number;
  failures: number;
  retries: number;
  dropped: number;
  expired: number;
}

/** A subscription as the API returns it. */
export interface Subscription {
  name: string;
  topic: string;
  endpoint: SubscriptionEndpoint;
  filterTags: string[];
  bindingKeys: string[];
  retryPolicy?: "exponentialDecay" | "backoff";
  format?: "json" | "simplified";
  createdAt: number;
  modifiedAt: number;
  /** Messages it took: queue copies enqueued, pushes scheduled. */
  fannedOutMessages: number;
  /** Messages the endpoint got (queue copies, successful pushes). */
  deliveredMessages: number;
  /** Messages it never got (copies refused, pushes given up on). */
  failedMessages: number;
  /** URL endpoints: messages waiting for a successful push. */
  pendingMessages?: number;
  /** URL endpoints: publish time of the oldest pending message. */
  oldestPendingAt?: number | null;
  /** URL endpoints: when the next attempt is due. */
  nextAttemptAt?: number | null;
  /** URL endpoints: the last failed attempt. */
  lastError?: { at: number; message: string } | null;
  push?: PushCounters;
}

/** `GET /v1/topics/{topic}/subscriptions` response. */
export interface SubscriptionList {
  total: number;
  subscriptions: Subscription[];
}

/** The JSON body of an HTTP push (`format: "json"`). */
export interface PushNotification {
  topicName: string;
  subscriptionName: string;
  msgId: string;
  msgBody: string;
  /** The message's tags (empty when it has none). */
  msgTag: string[];
  /** Routing-key topics: the message's routing key. */
  routingKey?: string;
  /** Unix epoch milliseconds. */
  publishTime: number;
}

/** Every error response body. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    requestId: string;
    /** For `InvalidParameter`: the offending field, as a dotted path. */
    field?: string;
  };
}

/** `GET /v1/cluster` response. */
export interface ClusterInfo {
  nodeId: string;
  role: "leader" | "follower" | "candidate" | "learner";
  term: number;
  leaderId: string | null;
  commitIndex: number;
  appliedIndex: number;
  nodes: {
    id: string;
    url: string | null;
    role: string;
    matchIndex: number | null;
    lag: number | null;
  }[];
  /** The group's initial voters (index-0 membership); a joining node replays from it. */
  bootstrapVoters?: string[];
}

/** `POST /v1/cluster/nodes` body: a node asking to join (sent by `main.ts --join`). */
export interface JoinRequest {
  id: string;
  /** `host:port` of the joining node's peer listener. */
  peerAddress: string;
  /** Base URL of its client API. */
  clientUrl: string;
}
