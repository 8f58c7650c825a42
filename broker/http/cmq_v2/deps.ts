/**
 * Everything the CMQ v2 door takes from the rest of the broker, in one place.
 *
 * @module
 */
export type { QueueService, TopicService } from "../../service/mod.ts";
export {
  BrokerError,
  type ErrorCode,
  messageLimits,
  namePattern,
  queueLimits,
  type Range,
  topicLimits,
} from "../../service/mod.ts";
export type {
  HandleFailure,
  Queue,
  QueueAttributesInput,
  ReceivedMessage,
  Subscription,
  SubscriptionAttributesInput,
  Topic,
} from "../../../sdk/protocol.ts";
export type {
  AccessKey,
  Action as PermissionAction,
  KeyRing,
  ResourceKind,
} from "../../auth/mod.ts";
export { keyStillAllows, untilKeysChange } from "../../auth/mod.ts";
