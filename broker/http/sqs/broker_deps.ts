/**
 * Everything the SQS door takes from the rest of the broker, in one place.
 *
 * @module
 */
export type { QueueService } from "../../service/mod.ts";
export {
  BrokerError,
  deadLetterLimits,
  type ErrorCode,
  isReplicaAnswer,
  isReplicaRefusal,
  listLimits,
  messageLimits,
  namePattern,
  provenanceOf,
  queueLimits,
  reservedKey,
  reservedKeyRule,
} from "../../service/mod.ts";
export type { AccessKey, Action, KeyRing } from "../../auth/mod.ts";
export { allowsEveryNameWithPrefix, keyStillAllows, untilKeysChange } from "../../auth/mod.ts";
export type {
  HandleFailure,
  Queue,
  QueueAttributesInput,
  ReceivedMessage,
  SendMessageEntry,
} from "../../../sdk/protocol.ts";
