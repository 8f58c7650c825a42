/**
 * The queue engine: the deterministic state machine every replica applies committed commands
 * to, the command codecs (the on-disk format of the log), the snapshot codec, receipt handles,
 * the compact per-queue columns, the limits and the typed domain errors; and the topics:
 * attributes, filters and router, publish with atomic fan-out, and the replicated HTTP push
 * state with its retry schedules.
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
export { DecodeError, fromStoredUtf8, fromUtf8, utf8 } from "./binary.ts";
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
  encodeSendReceive,
  encodeTick,
  encodeUpdateQueue,
  type SendCommandMessage,
  SentMessageReader,
} from "./commands.ts";
export {
  alreadyExists,
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
  subscriptionLimits,
  tagLimits,
  topicLimits,
} from "./limits.ts";
export { messageReaderFor, type StoredMessageReader } from "./message_readers.ts";
export { pushRetryLimits, retryDelayMs } from "./push_schedule.ts";
export type { PendingPush, PushCounters } from "./push_state.ts";
export {
  canonicalSubscription,
  checkPushUrl,
  checkSubscriptionInput,
  checkTopicAttributesInput,
  filterProblem,
  resolveSubscription,
  resolveTopicCreate,
  resolveTopicUpdate,
  sameTopicAttributes,
} from "./topic_attributes.ts";
export {
  encodePublishBatch,
  encodePushResults,
  encodeTopicCommand,
  type PublishCommandMessage,
  PublishedMessageReader,
  type PushOutcome,
} from "./topic_commands.ts";
export {
  topicFilterLimits,
  utf8ByteLength,
  validateMessageTags,
  validateRoutingKey,
} from "./topic_filter.ts";
export type { PublishResult, PushResultsResult } from "./topic_publish.ts";
export type { PushTarget, TopicListOptions, TopicQueries } from "./topics.ts";
export type { Delivery, HandleFailure } from "./queue.ts";
export {
  checkAttributesInput,
  checkInteger,
  resolveCreate,
  resolveUpdate,
  sameAttributes,
} from "./queue_attributes.ts";
export { checkTagChanges, checkTags } from "./queue_tags.ts";
export { receiptHandlesToBytes, receiptHandleToBytes } from "./receipt.ts";
export { malformedHandleFailures } from "./handle_precheck.ts";
export { cmqdRelease, NewerReleaseError } from "./release.ts";
export { type MemberAddress, refuseNewerSnapshot, stateSnapshotVersion } from "./state_codec.ts";
export { applySetMember } from "./admin_commands.ts";
export {
  type CommandResults,
  type CreateResult,
  type DeleteResult,
  type ReceiveResult,
  redriveMessagesMax,
  type SendReceiveResult,
  type SendResult,
  StateMachine,
  type UpdateResult,
  type VisibilityResult,
} from "./state_machine.ts";
export type { DepthTotals } from "./track_counts.ts";
export {
  type AppliedEntry,
  CommandType,
  type CommandTypeCode,
  type DeadLetterPolicy,
  engineCommandTypeMin,
  type ListQueuesOptions,
  type LogReader,
  type PushFormat,
  type QueueAttributes,
  type QueueAttributesInput,
  type QueueTags,
  type RetryPolicy,
  type SubscriptionAttributes,
  type SubscriptionAttributesInput,
  type SubscriptionEndpoint,
  type TagChanges,
  type TopicAttributes,
  type TopicAttributesInput,
  type TopicFilterType,
} from "./types.ts";

import { sendReceiveVersion } from "./commands.ts";
import { receiveVersion } from "./handle_commands.ts";
import { pushResultsVersion } from "./topic_commands.ts";

/**
 * The newest layout version this release writes in a binary command's first byte (every binary
 * command has layout 1; these are the ones written in a later layout): `--version` prints the
 * range of layouts up to it.
 */
export const commandLayoutNewest = Math.max(
  1,
  sendReceiveVersion,
  receiveVersion,
  pushResultsVersion,
);
