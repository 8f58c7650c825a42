/**
 * The one service every door calls: it validates a request, proposes it through the replica,
 * parks long polls until a send wakes them, and answers typed results or a `BrokerError`. The
 * topic calls (`EngineTopicService`) also feed the leader's push worker (`PushSource`). The
 * doors (`http/v1`, later CMQ and SQS) translate to and from these calls and nothing else.
 *
 * It uses the engine directly and replication only through the `Proposer` contract (and the
 * `ReplicationError` that contract rejects with, translated here into `BrokerError`).
 *
 * @module
 */
export {
  BodyBudget,
  type BodyBudgetOptions,
  type BodyBytes,
  BodyReadError,
  type BodyTimers,
  contentCodingProblem,
  defaultBodyBudgetBytes,
  defaultBodyStallMs,
  wholeReadBytesMax,
} from "./body_budget.ts";
export { jsonBounds, jsonBoundsProblem } from "./json_bounds.ts";
export {
  heldRefusal,
  heldRequestMsMaxDefault,
  HeldRequests,
  type HeldRequestsOptions,
} from "./held_requests.ts";
export { EngineService } from "./service.ts";
export type { EngineServiceOptions } from "./service_options.ts";
export { asBrokerError, isReplicaAnswer, isReplicaRefusal } from "./replica_errors.ts";
export { type MessageProvenance, provenanceOf } from "./deliveries.ts";
export { refuseReservedKey, reservedKey, reservedKeyRule } from "./reserved_keys.ts";
export { EngineTopicService, type EngineTopicServiceOptions } from "./topic_service.ts";
export type {
  CreateTopicResult,
  PushDelivery,
  PushSource,
  SubscribeResult,
  TopicService,
} from "./topic_types.ts";
export type {
  CreateQueueOptions,
  CreateQueueResult,
  DeleteOptions,
  ListQueuesOptions,
  NodeStatus,
  QueueService,
  ReceiveOptions,
  RedriveOptions,
  RewindOptions,
  TagChanges,
} from "./types.ts";
export {
  BrokerError,
  deadLetterLimits,
  type ErrorCode,
  errorCodes,
  invalidParameter,
  listLimits,
  messageLimits,
  namePattern,
  type PushOutcome,
  type PushTarget,
  queueLimits,
  type Range,
  redriveMessagesMax,
  subscriptionLimits,
  tagLimits,
  topicFilterLimits,
  topicLimits,
} from "../engine/mod.ts";
