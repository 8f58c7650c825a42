/**
 * Wire types of the native v1 API (README, "The API contract"), under the names the broker, the
 * SDK, the tests and the load generator use. Every type here is an alias over
 * `openapi_types.gen.ts`, which `deno task sdk:generate` writes from the broker's
 * `/openapi.json`: the routes' zod schemas are the one source of truth, and a test fails when
 * the committed types fall behind them. Where a schema can't say something precisely (exactly
 * one of two fields), the alias narrows the generated type; it never widens it.
 *
 * Times are Unix epoch milliseconds (`...At`), durations carry their unit in the name.
 *
 * @module
 */
import type { components, operations, paths } from "./openapi_types.gen.ts";

type Schemas = components["schemas"];

/** The generated OpenAPI `paths` (for tools such as `openapi-fetch`). */
export type ApiPaths = paths;
/** The generated OpenAPI `components`. */
export type ApiComponents = components;
/** The generated OpenAPI `operations`, by `operationId`. */
export type ApiOperations = operations;

/** Every error code the broker answers with (the enum of the v1 error schema). */
export type ApiErrorCode = Schemas["Error"]["error"]["code"];

/** Why one receipt handle of a delete or visibility change failed. */
export type HandleFailureCode = Schemas["HandleFailure"]["code"];

/** A queue as the API returns it: attributes plus live counts. */
export type Queue = Schemas["Queue"];

/** Where messages go after too many receives or too long a life. */
export type DeadLetterPolicy = NonNullable<Schemas["DeadLetterPolicy"]>;

/** The attributes of a queue (`deadLetter: null` on update removes the policy). */
export type QueueAttributes = Pick<
  Queue,
  | "visibilityTimeoutSeconds"
  | "pollingWaitSeconds"
  | "maxMessageBytes"
  | "retentionSeconds"
  | "rewindSeconds"
  | "maxBacklog"
  | "fifo"
  | "deadLetter"
>;

/** Body of `PUT /v1/queues/{queue}` and `PATCH /v1/queues/{queue}`: all optional. */
export type QueueAttributesInput = Schemas["QueueAttributesInput"];

/** `GET /v1/queues` response. */
export type QueueList = Schemas["QueueList"];

/** One message of a send batch. */
export type SendMessageEntry = Schemas["SendMessageEntry"];

/** `POST /v1/queues/{queue}/messages` body. */
export type SendMessagesRequest = Schemas["SendMessagesRequest"];

/** `POST /v1/queues/{queue}/messages` response. */
export type SendMessagesResponse = Schemas["SendMessagesResponse"];

/** What a send returns per message, in request order. */
export type SentMessage = SendMessagesResponse["messages"][number];

/** `POST /v1/queues/{queue}/messages/receive` body. */
export type ReceiveMessagesRequest = Schemas["ReceiveMessagesRequest"];

/** A message handed to a receiver, locked until `visibleAt`. */
export type ReceivedMessage = Schemas["ReceivedMessage"];

/** A per-handle failure of delete or visibility change. */
export type HandleFailure = Schemas["HandleFailure"];

/** `POST /v1/queues/{queue}/messages/receive` response. */
export type ReceiveMessagesResponse = Schemas["ReceiveMessagesResponse"];

/** `POST /v1/queues/{queue}/messages/delete` body. */
export type DeleteMessagesRequest = Schemas["DeleteMessagesRequest"];

/** `POST /v1/queues/{queue}/messages/delete` response. */
export type DeleteMessagesResponse = Schemas["DeleteMessagesResponse"];

/** `POST /v1/queues/{queue}/messages/visibility` body. */
export type ChangeVisibilityRequest = Schemas["ChangeVisibilityRequest"];

/** One entry of a visibility change. */
export type VisibilityEntry = ChangeVisibilityRequest["entries"][number];

/** `POST /v1/queues/{queue}/messages/visibility` response. */
export type ChangeVisibilityResponse = Schemas["ChangeVisibilityResponse"];

type RewindFields = Schemas["RewindRequest"];

/**
 * `POST /v1/queues/{queue}/rewind` body: exactly one of the two (the schema checks this at run
 * time; the type says it at compile time).
 */
export type RewindRequest =
  | Required<Pick<RewindFields, "timestamp">>
  | Required<Pick<RewindFields, "sequence">>;

/** `POST /v1/queues/{queue}/rewind` response: the first message delivered again and the count. */
export type RewindResponse = Schemas["RewindResponse"];

/** `POST /v1/queues/{queue}/purge` response. */
export type PurgeResponse = Schemas["PurgeResponse"];

/** `POST /v1/queues/{queue}/redrive` body (on a dead-letter queue). */
export type RedriveRequest = Schemas["RedriveRequest"];

/** `POST /v1/queues/{queue}/redrive` response. */
export type RedriveResponse = Schemas["RedriveResponse"];

/** A topic as the API returns it: attributes plus counts. */
export type Topic = Schemas["Topic"];

/** Topic attributes (`filterType` is fixed at create). */
export type TopicAttributes = Pick<Topic, "filterType" | "maxMessageBytes" | "retentionSeconds">;

/** Body of `PUT` and `PATCH /v1/topics/{topic}`: all optional. */
export type TopicAttributesInput = Schemas["TopicAttributesInput"];

/** `GET /v1/topics` response. */
export type TopicList = Schemas["TopicList"];

/** One message of a publish batch. */
export type PublishEntry = Schemas["PublishEntry"];

/** `POST /v1/topics/{topic}/messages` body. */
export type PublishRequest = Schemas["PublishRequest"];

/** A subscription that matched a message but could not take it. */
export type SubscriptionFailure = Schemas["SubscriptionFailure"];

/** `POST /v1/topics/{topic}/messages` response. */
export type PublishResponse = Schemas["PublishResponse"];

/** What a publish returns per message, in request order. */
export type PublishedMessage = PublishResponse["messages"][number];

/**
 * Where a subscription delivers: a queue of the cluster, or an HTTP(S) URL. The schema has both
 * fields optional; exactly one is present.
 */
export type SubscriptionEndpoint =
  | Required<Pick<Schemas["SubscriptionEndpoint"], "queue">>
  | Required<Pick<Schemas["SubscriptionEndpoint"], "url">>;

/** Body of `PUT` and `PATCH /v1/topics/{topic}/subscriptions/{subscription}`. */
export type SubscriptionAttributesInput =
  & Omit<Schemas["SubscriptionAttributesInput"], "endpoint">
  & {
    /** Required on create; immutable. */
    endpoint?: SubscriptionEndpoint;
  };

/** A subscription as the API returns it (URL ones with their pending pushes and counters). */
export type Subscription = Omit<Schemas["Subscription"], "endpoint"> & {
  endpoint: SubscriptionEndpoint;
};

/** Attempt counts of a URL subscription, since it was created. */
export type PushCounters = NonNullable<Schemas["Subscription"]["push"]>;

/** `GET /v1/topics/{topic}/subscriptions` response. */
export type SubscriptionList = Omit<Schemas["SubscriptionList"], "subscriptions"> & {
  subscriptions: Subscription[];
};

/**
 * The JSON body of an HTTP push (`format: "json"`): what the broker sends to a callback, not a
 * route of the API, so it has no schema to alias.
 */
export interface PushNotification {
  /** The topic owner's app id, as CMQ sends it: always 0 (cmqd has no accounts). */
  TopicOwner: number;
  topicName: string;
  subscriptionName: string;
  msgId: string;
  msgBody: string;
  /** Whole Unix seconds, as CMQ sends it. */
  publishTime: number;
  /** The same instant in Unix epoch milliseconds. */
  publishTimeMs: number;
  /** The message's tags (empty when it has none). */
  msgTag: string[];
  /** Routing-key topics: the message's routing key. */
  routingKey?: string;
}

/** Every error response body. */
export type ErrorBody = Schemas["Error"];

/** `GET /v1/cluster` response. */
export type ClusterInfo = Schemas["ClusterInfo"];

/** `POST /v1/cluster/nodes` body: a node asking to join (sent by `main.ts --join`). */
export type JoinRequest = Schemas["JoinRequest"];
