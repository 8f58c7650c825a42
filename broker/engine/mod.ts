/**
 * The queue engine: the deterministic state machine every replica applies committed commands
 * to, the command codecs (the on-disk format of the log), the snapshot codec, receipt handles,
 * the compact per-queue columns, the limits and the typed domain errors.
 *
 * Pure by rule: nothing in this room reads a clock, sets a timer, does I/O, draws randomness
 * (time and salts arrive inside commands) or imports another room, `raft/`, `storage/` or hono.
 * Wire types of the v1 API may come from `sdk/protocol.ts` for results, but commands and
 * snapshots are encoded from the engine's own types only.
 *
 * @example
 * ```ts
 * const machine = new StateMachine();
 * machine.apply({ index: 1, timestamp: Date.now(), type: CommandType.CreateQueue,
 *   payload: encodeCreateQueue({ queue: "jobs", attributes: resolveCreate({}), salt: 1 }) });
 * ```
 *
 * @module
 */
export { DecodeError, fromUtf8, utf8 } from "./binary.ts";
export {
  encodeChangeVisibility,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeJson,
  encodeQueueCommand,
  encodeReceiveBatch,
  encodeRedrive,
  encodeRewind,
  encodeSendBatch,
  encodeTick,
  encodeUpdateQueue,
  type SendCommandMessage,
  SentMessageReader,
} from "./commands.ts";
export {
  BrokerError,
  type BrokerErrorOptions,
  type ErrorCode,
  errorCodes,
  invalidParameter,
} from "./errors.ts";
export {
  deadLetterLimits,
  listLimits,
  messageLimits,
  namePattern,
  queueLimits,
  type Range,
  tagLimits,
} from "./limits.ts";
export type { Delivery, HandleFailure } from "./queue.ts";
export {
  checkAttributesInput,
  checkInteger,
  resolveCreate,
  resolveUpdate,
} from "./queue_attributes.ts";
export { checkTagChanges, checkTags } from "./queue_tags.ts";
export { receiptHandleToBytes } from "./receipt.ts";
export {
  type CommandResults,
  type CreateResult,
  type DeleteResult,
  type ReceiveResult,
  redriveMessagesMax,
  type SendResult,
  StateMachine,
  type VisibilityResult,
} from "./state_machine.ts";
export {
  type AppliedEntry,
  CommandType,
  type CommandTypeCode,
  type DeadLetterPolicy,
  engineCommandTypeMin,
  type ListQueuesOptions,
  type LogReader,
  type QueueAttributes,
  type QueueAttributesInput,
  type QueueTags,
  type TagChanges,
} from "./types.ts";
