/**
 * Everything the SQS door takes from the rest of the broker, in one place: when the broker's
 * rooms move, only these paths change.
 *
 * @module
 */
export type { QueueService } from "../../service_types.ts";
export { ApiError, type ErrorCode } from "../../errors.ts";
export { deadLetterLimits, messageLimits, namePattern, queueLimits } from "../../limits.ts";
export type { AccessKey, Action, KeyRing } from "../../auth/types.ts";
export type {
  HandleFailure,
  Queue,
  QueueAttributesInput,
  ReceivedMessage,
  SendMessageEntry,
} from "../../../sdk/protocol.ts";
