/**
 * ReceiveMessage, DeleteMessage(Batch) and ChangeMessageVisibility(Batch).
 *
 * Receive maps MaxNumberOfMessages (1–10) → `maxMessages`, VisibilityTimeout →
 * `visibilityTimeoutSeconds` (1–43200), WaitTimeSeconds → `waitSeconds` (absent: the queue's ReceiveMessageWaitTimeSeconds). The
 * system attributes a receive can return are SenderId (the account: cmqd does not record the
 * sending key), SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp,
 * MessageGroupId, (FIFO) MessageDeduplicationId and SequenceNumber, and DeadLetterQueueSourceArn
 * (a message moved in from another queue); AWSTraceHeader is not kept by cmqd and never
 * returned.
 *
 * ReceiveRequestAttemptId (1–128 alphanumerics and punctuation, checked on any queue) is heeded
 * on FIFO queues only, as in SQS: a retry with the id of a receive answered in the last five
 * minutes gets that answer again, locks reset, and no new message (`receive_attempts.ts`,
 * `receive_again.ts`).
 *
 * VisibilityTimeout 0 (SQS: the messages are received and visible again at once) is two steps,
 * as cmqd's receive always locks what it delivers (its receive command reads 0 as the queue's
 * default): a receive with the queue's lock, then a visibility change of 0 for every handle it
 * delivered. The answer waits for both; if the second fails (a leader change), the request
 * fails and the messages come back when the queue's lock ends, as after any receive whose
 * answer was lost. Their handles stay good until they are received again, as in SQS.
 *
 * @module
 */
import {
  type HandleFailure,
  messageLimits,
  provenanceOf,
  type ReceivedMessage,
} from "./broker_deps.ts";
import { batchEntries, entryError, type FailedEntry, failedEntry } from "./batch.ts";
import { authorize, messageQueue, type OperationContext } from "./context.ts";
import {
  handleFailureError,
  inBatchTerms,
  invalidValue,
  missingParameter,
  SqsError,
} from "./errors.ts";
import {
  type JsonObject,
  optionalIdText,
  optionalInteger,
  optionalString,
  optionalStringList,
  requiredString,
} from "./input.ts";
import { md5OfBodies, md5OfMessageAttributes } from "./md5.ts";
import { decodeMessageAttributes } from "./message_attributes.ts";
import { sqsMessageId } from "./message_ids.ts";
import type { QueueAddresses, QueueRef } from "./queue_names.ts";
import { queueAttributeNames, unknownAttribute } from "./queue_attributes.ts";
import { answerBytes, ReceiveAttempts } from "./receive_attempts.ts";
import { doorHandle, lockCapRefusal, readHandle } from "./receipt_times.ts";
import { receiveAgain } from "./receive_again.ts";
import { sequenceNumberOf } from "./send_operations.ts";

const receiveMessagesMax = 10;
const visibilityRange = messageLimits.visibilityTimeoutSeconds;

/** The system attributes of one received message that `requested` names. */
function systemAttributes(
  message: ReceivedMessage,
  requested: ReadonlySet<string>,
  queue: QueueRef,
  addresses: QueueAddresses,
): Record<string, string> | undefined {
  // The common receive asks for none: no values to format per message.
  if (requested.size === 0) return undefined;
  const all = requested.has("All");
  const provenance = provenanceOf(message);
  const origin = provenance?.origin;
  const values: Record<string, string | undefined> = {
    // cmqd does not record which key sent a message: the account, as SQS names a root sender.
    SenderId: addresses.accountId,
    SentTimestamp: String(message.enqueuedAt),
    ApproximateReceiveCount: String(message.receiveCount),
    ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
    MessageGroupId: message.groupId,
    // As SQS, FIFO queues only (a native send may give a standard queue's message one).
    MessageDeduplicationId: queue.fifo ? provenance?.dedupId : undefined,
    SequenceNumber: queue.fifo ? sequenceNumberOf(message.sequence) : undefined,
    // Moved queues are of one kind (a dead-letter target or redrive destination is refused
    // otherwise): the origin's ARN has this queue's suffix.
    DeadLetterQueueSourceArn: origin === undefined
      ? undefined
      : addresses.arn({ name: origin, fifo: queue.fifo }),
  };
  const answer: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && (all || requested.has(name))) answer[name] = value;
  }
  return Object.keys(answer).length === 0 ? undefined : answer;
}

function toSqsMessage(
  message: ReceivedMessage,
  bodyDigest: string,
  requested: { system: ReadonlySet<string>; attributes: readonly string[] },
  queue: QueueRef,
  addresses: QueueAddresses,
  receivedAt: number,
): JsonObject {
  const output: JsonObject = {
    MessageId: sqsMessageId(message.id),
    ReceiptHandle: doorHandle(message.receiptHandle, receivedAt),
    MD5OfBody: bodyDigest,
    Body: message.body,
  };
  const system = systemAttributes(message, requested.system, queue, addresses);
  if (system !== undefined) output.Attributes = system;
  if (requested.attributes.length === 0) return output; // none asked for: none answered
  const attributes = decodeMessageAttributes(message.attributes, requested.attributes);
  const digest = md5OfMessageAttributes(attributes);
  if (digest !== undefined) {
    output.MessageAttributes = attributes;
    output.MD5OfMessageAttributes = digest;
  }
  return output;
}

const noNames: ReadonlySet<string> = new Set();

/**
 * SQS's model's MessageSystemAttributeName (`All` included): what MessageSystemAttributeNames
 * takes.
 */
const messageSystemAttributeNames: ReadonlySet<string> = new Set([
  "All",
  "SenderId",
  "SentTimestamp",
  "ApproximateReceiveCount",
  "ApproximateFirstReceiveTimestamp",
  "SequenceNumber",
  "MessageDeduplicationId",
  "MessageGroupId",
  "AWSTraceHeader",
  "DeadLetterQueueSourceArn",
]);

/**
 * Refuses a name SQS does not know with `InvalidAttributeName` (before anything is received).
 * The older AttributeNames is typed QueueAttributeName in SQS's model and documented to take
 * the message system names: either kind is accepted there.
 */
function checkNames(names: readonly string[], olderMember: boolean): void {
  for (const name of names) {
    if (messageSystemAttributeNames.has(name)) continue;
    if (olderMember && queueAttributeNames.has(name)) continue;
    throw unknownAttribute(name);
  }
}

/** The system attribute names a receive asks for (most ask for none: no set per request). */
function requestedSystemAttributes(
  attributeNames: string[] | undefined,
  systemNames: string[] | undefined,
): ReadonlySet<string> {
  if (attributeNames === undefined && systemNames === undefined) return noNames;
  checkNames(attributeNames ?? [], true);
  checkNames(systemNames ?? [], false);
  return new Set([...attributeNames ?? [], ...systemNames ?? []]);
}

/** VisibilityTimeout 0: the messages just received visible again now (see the module's note). */
async function releaseAll(
  context: OperationContext,
  queue: QueueRef,
  messages: readonly ReceivedMessage[],
): Promise<void> {
  const entries = messages.map((message) => ({
    receiptHandle: message.receiptHandle,
    visibilityTimeoutSeconds: 0,
  }));
  // A handle failure means the message left the queue meanwhile (a purge, a native delete):
  // nothing is left to release.
  await context.service.changeVisibility(queue.name, entries);
}

/** What a ReceiveMessage asks for. */
interface ReceiveRequest {
  maxMessages: number;
  /** VisibilityTimeout (0: received and visible again at once); absent: the queue's. */
  visibility: number | undefined;
  waitSeconds: number | undefined;
  system: ReadonlySet<string>;
  attributes: readonly string[];
}

/** ReceiveMessage: up to 10 messages, long-polling up to WaitTimeSeconds. */
export async function receiveMessage(context: OperationContext): Promise<JsonObject> {
  const { input } = context;
  const found = messageQueue(context, "receive");
  const queue = found instanceof Promise ? await found : found;
  const request: ReceiveRequest = {
    maxMessages: optionalInteger(input, "MaxNumberOfMessages", {
      min: 1,
      max: receiveMessagesMax,
    }) ?? 1,
    visibility: optionalInteger(input, "VisibilityTimeout", visibilityRange),
    waitSeconds: optionalInteger(input, "WaitTimeSeconds", messageLimits.waitSeconds),
    system: requestedSystemAttributes(
      optionalStringList(input, "AttributeNames"),
      optionalStringList(input, "MessageSystemAttributeNames"),
    ),
    attributes: optionalStringList(input, "MessageAttributeNames") ?? [],
  };
  // Checked on either kind of queue; as in SQS, only a FIFO queue's receive heeds it.
  const attemptId = optionalIdText(input, "ReceiveRequestAttemptId");
  if (attemptId === undefined || !queue.fifo) return await receiveNew(context, queue, request);
  const attempts = context.receiveAttempts;
  const key = ReceiveAttempts.keyOf(queue.name, context.callerKeyId, attemptId);
  return await attempts.turn(key, async () => {
    const remembered = attempts.find(key);
    if (remembered !== undefined) {
      return await receiveAgain(context, queue, remembered, request.visibility);
    }
    return await receiveNew(context, queue, request, (answer, messages) => {
      const handles = messages.map((message) => message.receiptHandle);
      const lockEnds = messages.map((message) => message.visibleAt);
      const bytes = answerBytes(messages);
      attempts.remember(key, { answer, handles, lockEnds, bytes, caller: context.callerKeyId });
    });
  });
}

/**
 * A receive of new messages; `received` learns the answer before the messages are released
 * (VisibilityTimeout 0), so that a retry finds it even if the release fails.
 */
async function receiveNew(
  context: OperationContext,
  queue: QueueRef,
  request: ReceiveRequest,
  received?: (answer: JsonObject, messages: readonly ReceivedMessage[]) => void,
): Promise<JsonObject> {
  const { visibility } = request;
  const result = await context.service.receiveMessages(
    queue.name,
    {
      maxMessages: request.maxMessages,
      visibilityTimeoutSeconds: visibility === 0 ? undefined : visibility,
      waitSeconds: request.waitSeconds,
    },
    context,
    // One key's long polls hold at most a share of the receives a node parks.
    { keyId: context.callerKeyId ?? undefined },
  );
  // A key that a reload took away while the receive waited gets no message.
  authorize(context, queue, "receive");
  if (result.messages.length === 0) return {};
  // The receive was applied just before its answer came: the handles' time (receipt_times.ts).
  const receivedAt = context.now();
  const digests = md5OfBodies(result.messages.map((message) => message.body));
  const answer = {
    Messages: result.messages.map((message, index) =>
      toSqsMessage(message, digests[index], request, queue, context.addresses, receivedAt)
    ),
  };
  received?.(answer, result.messages);
  if (visibility === 0) await releaseAll(context, queue, result.messages);
  return answer;
}

function handleError(failure: HandleFailure): SqsError {
  return handleFailureError(failure, failure.receiptHandle);
}

/**
 * A visibility change's refusal of a handle: SQS's own for one whose message is gone or was
 * delivered again since (a genuine handle that no longer holds the message), which SQS refuses as
 * `InvalidParameterValue`, not as `ReceiptHandleIsInvalid` (its answer to a handle that is not
 * one, as here to a forged, garbled or other queue's handle).
 */
function visibilityError(failure: HandleFailure): SqsError {
  if (failure.code !== "ReceiptHandleStale") return handleError(failure);
  return invalidValue(
    "ReceiptHandle",
    failure.receiptHandle,
    "Message does not exist or is not available for visibility timeout change.",
  );
}

/**
 * How the door deletes: as in SQS, a delete of a message that is already gone (deleted — by this
 * very handle, when an SDK retries a delete whose answer was lost — expired, moved to the
 * dead-letter queue, purged) succeeds. A handle of an older delivery of a message still in the
 * queue stays `ReceiptHandleIsInvalid` (SQS would delete with it): a slow worker can't delete a
 * message someone else is now working on.
 */
const sqsDelete = { goneAsDeleted: true } as const;

/** DeleteMessage. */
export async function deleteMessage(context: OperationContext): Promise<JsonObject> {
  const found = messageQueue(context, "receive");
  const queue = found instanceof Promise ? await found : found;
  const sent = requiredString(context.input, "ReceiptHandle");
  const { engineHandle } = readHandle(sent);
  const result = await context.service.deleteMessages(queue.name, [engineHandle], sqsDelete);
  context.receiveAttempts.touched([engineHandle]);
  if (result.failures.length > 0) throw handleError({ ...result.failures[0], receiptHandle: sent });
  return {};
}

/**
 * Splits the entries of a handle batch into Successful and Failed by the service's per-handle
 * failures (of the engine's handles). Entries repeating a handle share its outcome; an error
 * names the handle as the entry sent it.
 */
function batchOutcome(
  ids: string[],
  handles: { sent: string[]; engine: string[] },
  failures: HandleFailure[],
  errorOf: (failure: HandleFailure) => SqsError = handleError,
): JsonObject {
  if (failures.length === 0) return { Successful: ids.map((id) => ({ Id: id })), Failed: [] };
  const failureOf = new Map(failures.map((failure) => [failure.receiptHandle, failure]));
  const successful: JsonObject[] = [];
  const failed: FailedEntry[] = [];
  ids.forEach((id, index) => {
    const failure = failureOf.get(handles.engine[index]);
    if (failure === undefined) successful.push({ Id: id });
    else failed.push(failedEntry(id, errorOf({ ...failure, receiptHandle: handles.sent[index] })));
  });
  return { Successful: successful, Failed: failed };
}

/**
 * DeleteMessageBatch. As SQS, an entry whose handle can't delete fails alone, in `Failed`, and
 * the others are deleted: one without a handle (`MissingParameter`, as ChangeMessageVisibilityBatch
 * answers it) as one whose handle is garbled, forged or another queue's (`ReceiptHandleIsInvalid`,
 * the engine's answer). What is wrong with the request as a whole (no entries, more than ten, an
 * id repeated or not an id, a handle that is not a string) refuses it all.
 */
export async function deleteMessageBatch(context: OperationContext): Promise<JsonObject> {
  const found = messageQueue(context, "receive");
  const queue = found instanceof Promise ? await found : found;
  const entries = batchEntries(context.input, "DeleteMessageBatchRequestEntry", {
    ReceiptHandle: "string",
  });
  const failed: FailedEntry[] = [];
  const ids: string[] = [];
  const sent: string[] = [];
  const entryIndexes: number[] = [];
  for (const [entryIndex, { id, entry }] of entries.entries()) {
    const handle = optionalString(entry, "ReceiptHandle");
    if (handle === undefined || handle === "") {
      failed.push(failedEntry(id, missingParameter("ReceiptHandle")));
      continue;
    }
    ids.push(id);
    sent.push(handle);
    entryIndexes.push(entryIndex);
  }
  if (sent.length === 0) return { Successful: [], Failed: failed };
  const handles = sent.map((handle) => readHandle(handle).engineHandle);
  // A handle named twice is deleted once. At most ten entries: `indexOf` is the cheap way here
  // (a Set of ten handles cost 3-8 µs a batch, about a tenth of the door's work per message).
  const unique = handles.filter((handle, index) => handles.indexOf(handle) === index);
  let result;
  try {
    result = await context.service.deleteMessages(queue.name, unique, sqsDelete);
  } catch (error) {
    throw inBatchTerms(error, {
      entryIndex: (index) => entryIndexes[handles.indexOf(unique[index])],
      queue,
    });
  }
  context.receiveAttempts.touched(unique);
  const outcome = batchOutcome(ids, { sent, engine: handles }, result.failures);
  if (failed.length === 0) return outcome;
  return {
    Successful: outcome.Successful,
    Failed: [...failed, ...outcome.Failed as FailedEntry[]],
  };
}

/**
 * ChangeMessageVisibility: 0 releases the message now. A lock that would end more than 12 hours
 * after the receive that made the handle is refused before anything is asked of the service
 * (`receipt_times.ts`).
 */
export async function changeMessageVisibility(context: OperationContext): Promise<JsonObject> {
  const found = messageQueue(context, "receive");
  const queue = found instanceof Promise ? await found : found;
  const sent = requiredString(context.input, "ReceiptHandle");
  const visibilityTimeoutSeconds = requiredVisibility(context.input);
  const { engineHandle: receiptHandle, receivedAt } = readHandle(sent);
  const refusal = lockCapRefusal(visibilityTimeoutSeconds, receivedAt, context.now());
  if (refusal !== null) throw refusal;
  const result = await context.service.changeVisibility(queue.name, [
    { receiptHandle, visibilityTimeoutSeconds },
  ]);
  context.receiveAttempts.touched([receiptHandle]);
  if (result.failures.length > 0) {
    throw visibilityError({ ...result.failures[0], receiptHandle: sent });
  }
  return {};
}

function requiredVisibility(input: JsonObject): number {
  const seconds = optionalInteger(input, "VisibilityTimeout", visibilityRange);
  if (seconds === undefined) {
    throw new SqsError(
      "MissingParameter",
      "The request must contain the parameter VisibilityTimeout.",
    );
  }
  return seconds;
}

/**
 * ChangeMessageVisibilityBatch: each entry is checked on its own (the 12-hour cap too, as
 * `changeMessageVisibility`); one service call. As DeleteMessageBatch, an entry without a handle
 * or with one that is not a handle fails alone, and a member of the wrong JSON type (a
 * ReceiptHandle that is not a string) refuses the whole request.
 */
export async function changeMessageVisibilityBatch(
  context: OperationContext,
): Promise<JsonObject> {
  const found = messageQueue(context, "receive");
  const queue = found instanceof Promise ? await found : found;
  const failed: FailedEntry[] = [];
  const accepted: {
    id: string;
    entryIndex: number;
    sent: string;
    receiptHandle: string;
    visibilityTimeoutSeconds: number;
  }[] = [];
  const entries = batchEntries(context.input, "ChangeMessageVisibilityBatchRequestEntry", {
    ReceiptHandle: "string",
    VisibilityTimeout: "integer",
  });
  const now = context.now();
  for (const [entryIndex, { id, entry }] of entries.entries()) {
    try {
      const sent = requiredString(entry, "ReceiptHandle");
      const visibilityTimeoutSeconds = requiredVisibility(entry);
      const { engineHandle: receiptHandle, receivedAt } = readHandle(sent);
      const refusal = lockCapRefusal(visibilityTimeoutSeconds, receivedAt, now);
      if (refusal !== null) throw refusal;
      accepted.push({ id, entryIndex, sent, receiptHandle, visibilityTimeoutSeconds });
    } catch (error) {
      failed.push(failedEntry(id, entryError(error)));
    }
  }
  if (accepted.length === 0) return { Successful: [], Failed: failed };
  let result;
  try {
    result = await context.service.changeVisibility(
      queue.name,
      accepted.map(({ receiptHandle, visibilityTimeoutSeconds }) => ({
        receiptHandle,
        visibilityTimeoutSeconds,
      })),
    );
  } catch (error) {
    throw inBatchTerms(error, { entryIndex: (index) => accepted[index].entryIndex, queue });
  }
  context.receiveAttempts.touched(accepted.map((entry) => entry.receiptHandle));
  const outcome = batchOutcome(
    accepted.map((entry) => entry.id),
    {
      sent: accepted.map((entry) => entry.sent),
      engine: accepted.map((entry) => entry.receiptHandle),
    },
    result.failures,
    visibilityError,
  );
  return {
    Successful: outcome.Successful,
    Failed: [...failed, ...outcome.Failed as FailedEntry[]],
  };
}
