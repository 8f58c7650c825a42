/**
 * SendMessage and SendMessageBatch.
 *
 * FIFO queues (`.fifo` URLs) need MessageGroupId (→ cmqd `groupId`); MessageDeduplicationId
 * (→ `dedupId`) defaults to the hex SHA-256 of the body (content-based deduplication, always on).
 * A batch is one service call: entries the door refuses go to `Failed` first, and an entry the
 * service refuses (it names the entry in the error's field, `messages.3.body`, and proposes
 * nothing) goes to `Failed` and the rest are sent again, so a bad entry never sinks the others.
 *
 * @module
 */
import { BrokerError, messageLimits, type SendMessageEntry } from "./broker_deps.ts";
import { batchEntries, entryError, type FailedEntry, failedEntry } from "./batch.ts";
import { messageQueue, type OperationContext } from "./context.ts";
import { inBatchTerms, invalidValue, missingParameter, SqsError, toSqsError } from "./errors.ts";
import {
  hasRefusedBodyCharacter,
  isJsonObject,
  type JsonObject,
  optionalIdText,
  optionalInteger,
  requiredString,
} from "./input.ts";
import { md5OfBodies, md5OfBody, md5OfMessageAttributes, type SqsAttributeValue } from "./md5.ts";
import { encodeMessageAttributes } from "./message_attributes.ts";
import { sqsMessageId } from "./message_ids.ts";
import type { QueueRef } from "./queue_names.ts";

function notForStandardQueues(member: string, value: string): SqsError {
  return invalidValue(
    member,
    value,
    "The request include parameter that is not valid for this queue type.",
  );
}

/** A message ready for the service, with its attributes' digests (its body's comes later). */
interface PreparedSend {
  entry: SendMessageEntry;
  md5OfAttributes: string | undefined;
  md5OfSystemAttributes: string | undefined;
}

function invalidSystemAttribute(name: string): SqsError {
  return new SqsError(
    "InvalidParameterValue",
    `The message system attribute '${name.slice(0, 256)}' is invalid. Reason: the only one ` +
      "is AWSTraceHeader, a String with a non-empty StringValue.",
  );
}

/**
 * MD5OfMessageSystemAttributes of a send's MessageSystemAttributes (SQS's one, AWSTraceHeader,
 * a String), undefined when there are none. cmqd keeps no system attribute (they are dropped),
 * but answers their digest as SQS does: the AWS SDK for Kotlin fails a send whose answer lacks
 * it.
 */
function md5OfSystemAttributes(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) {
    throw new SqsError("SerializationException", "MessageSystemAttributes: expected a map");
  }
  const attributes: Record<string, SqsAttributeValue> = {};
  for (const [name, attribute] of Object.entries(value)) {
    if (
      name !== "AWSTraceHeader" || !isJsonObject(attribute) || attribute.DataType !== "String" ||
      typeof attribute.StringValue !== "string" || attribute.StringValue === "" ||
      attribute.BinaryValue != null
    ) {
      throw invalidSystemAttribute(name);
    }
    attributes[name] = { DataType: "String", StringValue: attribute.StringValue };
  }
  return md5OfMessageAttributes(attributes);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks one SendMessage input (or batch entry) and translates it; a FIFO message without
 * MessageDeduplicationId then `needsContentDedup`. Synchronous, so that a batch of standard
 * messages awaits nothing per entry.
 */
function prepareSend(input: JsonObject, queue: QueueRef): PreparedSend {
  const body = requiredString(input, "MessageBody");
  if (hasRefusedBodyCharacter(body)) {
    throw new SqsError(
      "InvalidMessageContents",
      "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to " +
        "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
    );
  }
  const entry: SendMessageEntry = { body };
  const delaySeconds = optionalInteger(input, "DelaySeconds", messageLimits.delaySeconds);
  if (delaySeconds !== undefined) entry.delaySeconds = delaySeconds;
  const attributes = encodeMessageAttributes(input.MessageAttributes);
  if (attributes !== undefined) entry.attributes = attributes.stored;
  const groupId = optionalIdText(input, "MessageGroupId");
  if (groupId !== undefined) entry.groupId = groupId;
  else if (queue.fifo) throw missingParameter("MessageGroupId");
  const dedupId = optionalIdText(input, "MessageDeduplicationId");
  if (dedupId !== undefined) {
    // As SQS: only FIFO queues deduplicate. (A native client may dedup a standard queue too.)
    if (!queue.fifo) throw notForStandardQueues("MessageDeduplicationId", dedupId);
    entry.dedupId = dedupId;
  }
  // MessageSystemAttributes (AWSTraceHeader) has no place in cmqd: checked, digested, dropped.
  return {
    entry,
    md5OfAttributes: attributes && md5OfMessageAttributes(attributes.attributes),
    md5OfSystemAttributes: md5OfSystemAttributes(input.MessageSystemAttributes),
  };
}

/** Content-based deduplication: a FIFO message without its own id gets its body's SHA-256. */
async function addContentDedup(entry: SendMessageEntry): Promise<void> {
  entry.dedupId = await sha256Hex(entry.body);
}

function needsContentDedup(entry: SendMessageEntry, queue: QueueRef): boolean {
  return queue.fifo && entry.dedupId === undefined;
}

/**
 * A FIFO message's SequenceNumber: its cmqd sequence in SQS's 20 digits (zero-padded; cmqd's
 * sequences stay below 2^53, 16 digits), so that sequences compare as text as they do as
 * numbers, as SQS's do: code keeping the last one as a string compares them as text.
 */
export function sequenceNumberOf(sequence: number): string {
  return String(sequence).padStart(20, "0");
}

/** The answer fields of one sent message, in SQS's order. */
function sentOutput(
  prepared: PreparedSend,
  bodyDigest: string,
  sent: { id: string; sequence: number },
  queue: QueueRef,
  batchId?: string,
): JsonObject {
  const output: JsonObject = batchId === undefined ? {} : { Id: batchId };
  output.MessageId = sqsMessageId(sent.id);
  output.MD5OfMessageBody = bodyDigest;
  if (prepared.md5OfAttributes !== undefined) {
    output.MD5OfMessageAttributes = prepared.md5OfAttributes;
  }
  if (prepared.md5OfSystemAttributes !== undefined) {
    output.MD5OfMessageSystemAttributes = prepared.md5OfSystemAttributes;
  }
  if (queue.fifo) output.SequenceNumber = sequenceNumberOf(sent.sequence);
  return output;
}

/** SendMessage. */
export async function sendMessage(context: OperationContext): Promise<JsonObject> {
  const found = messageQueue(context, "send");
  const queue = found instanceof Promise ? await found : found;
  const prepared = prepareSend(context.input, queue);
  if (needsContentDedup(prepared.entry, queue)) await addContentDedup(prepared.entry);
  const result = await context.service.sendMessages(queue.name, [prepared.entry]);
  return sentOutput(prepared, md5OfBody(prepared.entry.body), result.messages[0], queue);
}

/** The batch entry an `BrokerError` of the service names (`messages.<index>...`), if any. */
function refusedIndex(error: unknown): number | undefined {
  if (!(error instanceof BrokerError) || error.field === undefined) return undefined;
  const match = /^messages\.(\d+)(\.|$)/.exec(error.field);
  return match === null ? undefined : Number(match[1]);
}

interface PendingSend {
  id: string;
  /** The entry's index in the request's `Entries` (errors name it). */
  entryIndex: number;
  prepared: PreparedSend;
  bodyDigest: string;
}

/**
 * SendMessageBatch: up to 10 messages, each succeeding or failing on its own; a member of the
 * wrong JSON type refuses the whole request (`entryError`).
 */
export async function sendMessageBatch(context: OperationContext): Promise<JsonObject> {
  const found = messageQueue(context, "send");
  const queue = found instanceof Promise ? await found : found;
  const failed: FailedEntry[] = [];
  const accepted: { id: string; entryIndex: number; prepared: PreparedSend }[] = [];
  const entries = batchEntries(context.input, "SendMessageBatchRequestEntry", {
    MessageBody: "string",
    DelaySeconds: "integer",
    MessageAttributes: "map of maps",
    MessageSystemAttributes: "map",
    MessageGroupId: "string",
    MessageDeduplicationId: "string",
  });
  for (const [entryIndex, { id, entry }] of entries.entries()) {
    try {
      const prepared = prepareSend(entry, queue);
      if (needsContentDedup(prepared.entry, queue)) await addContentDedup(prepared.entry);
      accepted.push({ id, entryIndex, prepared });
    } catch (error) {
      failed.push(failedEntry(id, entryError(error)));
    }
  }
  // One call for the batch's digests (up to twelve at a time: md5_lanes.ts).
  const digests = md5OfBodies(accepted.map((send) => send.prepared.entry.body));
  let pending: PendingSend[] = accepted.map((send, index) => ({
    ...send,
    bodyDigest: digests[index],
  }));
  const successful: JsonObject[] = [];
  // Each round either sends everything left or removes one refused entry: bounded by the batch.
  while (pending.length > 0) {
    try {
      const result = await context.service.sendMessages(
        queue.name,
        pending.map((send) => send.prepared.entry),
      );
      pending.forEach((send, index) => {
        successful.push(
          sentOutput(send.prepared, send.bodyDigest, result.messages[index], queue, send.id),
        );
      });
      break;
    } catch (error) {
      // The service numbers the entries it was sent; the client, those of its request.
      const scope = { entryIndex: (index: number) => pending[index].entryIndex, queue };
      const index = refusedIndex(error);
      if (index === undefined || index >= pending.length) throw inBatchTerms(error, scope);
      failed.push(failedEntry(pending[index].id, toSqsError(error, () => {}, scope)));
      pending = pending.filter((_, position) => position !== index);
    }
  }
  return { Successful: successful, Failed: failed };
}
