/**
 * Everything the CMQ v2 door takes from the rest of the broker, in one place: when the broker
 * is reorganized into rooms, only these re-exports need re-pointing.
 *
 * @module
 */
export type { QueueService } from "../../service_types.ts";
export { ApiError, type ErrorCode } from "../../errors.ts";
export { messageLimits, namePattern, queueLimits, type Range } from "../../limits.ts";
export type {
  HandleFailure,
  Queue,
  QueueAttributesInput,
  ReceivedMessage,
} from "../../../sdk/protocol.ts";
export type {
  AccessKey,
  Action as PermissionAction,
  KeyRing,
  ResourceKind,
} from "../../auth/types.ts";
