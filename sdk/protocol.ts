/**
 * Wire types of the native v1 API (README, "The API contract"). The broker, the SDK, the tests and the
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
