/**
 * The queue operations of the SQS door: CreateQueue, GetQueueUrl, ListQueues,
 * GetQueueAttributes, SetQueueAttributes, DeleteQueue, PurgeQueue (the tag operations are in
 * `tag_operations.ts`).
 *
 * @module
 */
import {
  BrokerError,
  namePattern,
  type Queue,
  type QueueAttributesInput,
  queueLimits,
} from "./broker_deps.ts";
import { authorize, existingQueue, type OperationContext } from "./context.ts";
import { inRedriveTerms, invalidValue, SqsError } from "./errors.ts";
import {
  type JsonObject,
  optionalInteger,
  optionalString,
  optionalStringList,
  optionalStringMap,
  parseCarriedJson,
  requiredString,
} from "./input.ts";
import { fromQueue, toServiceAttributes } from "./queue_attributes.ts";
import {
  parseQueueName,
  queueFromName,
  queueFromUrl,
  type QueueRef,
  sqsNameOf,
} from "./queue_names.ts";

/**
 * SQS's default MaximumMessageSize (1 MiB). cmqd's own default is 64 KiB; a queue created
 * through this door gets SQS's, so SQS applications keep sending what SQS takes.
 */
const sqsDefaultMaximumMessageSize = queueLimits.maxMessageBytes.max;

/** The QueueUrl member as a queue. */
export function queueOfInput(context: OperationContext): QueueRef {
  return queueFromUrl(requiredString(context.input, "QueueUrl"));
}

/**
 * A RedrivePolicy writes into its dead-letter queue, so naming one needs `send` on it, as on the
 * native door: a key that manages only its own queue can't make another queue its dead letter.
 */
function authorizeDeadLetter(
  context: OperationContext,
  attributes: QueueAttributesInput,
  queue: QueueRef,
): void {
  const target = attributes.deadLetter?.queue;
  if (target === undefined) return;
  const ref = { name: target, fifo: queue.fifo };
  authorize(context, { ...ref, sqsName: sqsNameOf(ref) }, "send");
}

/** The SQS attribute of each cmqd setting a CreateQueue may name (the others SQS can't name). */
const sqsNameOfSetting = {
  visibilityTimeoutSeconds: "VisibilityTimeout",
  maxMessageBytes: "MaximumMessageSize",
  retentionSeconds: "MessageRetentionPeriod",
  pollingWaitSeconds: "ReceiveMessageWaitTimeSeconds",
} as const;

/** The settings a create must state for the service to find it equal to an existing queue. */
const settingsOfQueue = [
  ...Object.keys(sqsNameOfSetting) as (keyof typeof sqsNameOfSetting)[],
  "rewindSeconds",
  "maxBacklog",
] as const;

/** The queue named `name`, or null when there is none. */
async function queueNamed(context: OperationContext, name: string): Promise<Queue | null> {
  try {
    return await context.service.getQueue(name);
  } catch (error) {
    if (error instanceof BrokerError && error.code === "QueueNotFound") return null;
    throw error;
  }
}

/** SQS's refusal of a create that names an attribute the existing queue has otherwise. */
function queueNameExists(attribute: string): SqsError {
  return new SqsError(
    "QueueNameExists",
    `A queue already exists with the same name and a different value for attribute ${attribute}.`,
  );
}

/**
 * Throws `QueueNameExists` when `requested` (the attributes a create names, `fifo` always) differs
 * from what `existing` has; tags are the service's to compare, after it has checked them.
 */
function checkSameAttributes(existing: Queue, requested: QueueAttributesInput): void {
  if (requested.fifo !== existing.fifo) throw queueNameExists("FifoQueue");
  for (const [setting, sqsName] of Object.entries(sqsNameOfSetting)) {
    const value = requested[setting as keyof typeof sqsNameOfSetting];
    if (value !== undefined && value !== existing[setting as keyof typeof sqsNameOfSetting]) {
      throw queueNameExists(sqsName);
    }
  }
  const policy = requested.deadLetter;
  if (
    policy !== undefined && (policy?.queue !== existing.deadLetter?.queue ||
      policy?.maxReceiveCount !== existing.deadLetter?.maxReceiveCount)
  ) {
    throw queueNameExists("RedrivePolicy");
  }
}

/**
 * The attributes a create sends: for a new queue, those named and SQS's MaximumMessageSize;
 * for an existing one, those named (equal to the queue's) and the queue's own for the rest, so
 * the service, which compares every setting, finds it the same queue.
 */
function createAttributes(
  existing: Queue | null,
  requested: QueueAttributesInput,
): QueueAttributesInput {
  if (existing === null) return { maxMessageBytes: sqsDefaultMaximumMessageSize, ...requested };
  const attributes: QueueAttributesInput = { ...requested };
  for (const setting of settingsOfQueue) attributes[setting] ??= existing[setting];
  // SQS's policy has no age limit: the queue's stays, as SetQueueAttributes keeps it.
  attributes.deadLetter = existing.deadLetter ?? null;
  return attributes;
}

/** Attempts of a create whose queue changed between its read and its write. */
const createAttemptsMax = 3;

/**
 * CreateQueue: creates the queue, or answers the URL of an existing one. As SQS, only the
 * attributes the request names are compared with the existing queue's (`QueueNameExists` when
 * one differs): a create naming none finds the queue whatever its settings. Its `tags` are the
 * new queue's; on an existing queue they must be the tags it has (else `QueueNameExists`, as
 * SQS answers), and a create without tags matches whatever tags the queue has.
 */
export async function createQueue(context: OperationContext): Promise<JsonObject> {
  const queue = queueFromName(requiredString(context.input, "QueueName"));
  authorize(context, queue, "manage");
  const requested = toServiceAttributes(
    optionalStringMap(context.input, "Attributes") ?? {},
    queue,
    true,
  );
  authorizeDeadLetter(context, requested, queue);
  const tags = optionalStringMap(context.input, "tags");
  if (tags !== undefined) requested.tags = tags;
  for (let attempt = 1;; attempt++) {
    const existing = await queueNamed(context, queue.name);
    if (existing !== null) checkSameAttributes(existing, requested);
    try {
      // Read after the read barrier (getQueue): an identical create needs no second one.
      await context.service.createQueue(queue.name, createAttributes(existing, requested), {
        afterReadBarrier: true,
      });
      return { QueueUrl: context.addresses.url(queue) };
    } catch (error) {
      // Created or changed since the read (tags differing stay refused): read it again.
      const raced = error instanceof BrokerError && error.code === "QueueAlreadyExists" &&
        attempt < createAttemptsMax && (existing === null || tags === undefined);
      if (!raced) {
        throw inRedriveTerms(error, redrivePolicyOf(context), redriveNames(queue, requested));
      }
    }
  }
}

/** GetQueueUrl: the URL of an existing queue. */
export async function getQueueUrl(context: OperationContext): Promise<JsonObject> {
  const queue = parseQueueName(requiredString(context.input, "QueueName"));
  // A name no cmqd queue can have names no queue, as SQS answers for unknown names.
  if (queue === null) {
    throw new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
  }
  optionalString(context.input, "QueueOwnerAWSAccountId");
  authorize(context, queue, "read");
  await existingQueue(context, queue);
  return { QueueUrl: context.addresses.url(queue) };
}

/**
 * Where a listing goes on: after the last cmqd name it answered (so queues deleted or created
 * behind it meanwhile shift nothing ahead of it, as a count of positions would: a loop that
 * deletes each page's queues would skip as many as it deleted), within the scope it pages.
 */
interface ListPosition {
  after: string;
  prefix: string;
}

/** A NextToken: where the next page starts, and the scope (a prefix, a queue) it pages. */
export function encodeNextToken(position: ListPosition): string {
  return btoa(JSON.stringify(position));
}

/**
 * Where the next page of a NextToken made for `prefix` starts (else `InvalidParameterValue`):
 * after a name, or at an offset for a token of a release that counted positions (a client that
 * was paging across an upgrade).
 */
export function decodeNextToken(
  token: string,
  prefix: string,
): { after: string; offset?: undefined } | { after?: undefined; offset: number } {
  let position: Record<string, unknown> | null = null;
  try {
    position = parseCarriedJson<Record<string, unknown> | null>(atob(token));
  } catch {
    // Falls through to the refusal below.
  }
  // Any JSON decodes (`null`, a number): only an object with a scope and a place is a position.
  if (typeof position === "object" && position !== null && position.prefix === prefix) {
    const { after, offset } = position;
    if (typeof after === "string" && after.length <= 64) return { after };
    if (Number.isSafeInteger(offset) && (offset as number) >= 0) {
      return { offset: offset as number };
    }
  }
  throw invalidValue("NextToken", token, "Invalid or expired NextToken.");
}

/**
 * The single FIFO queue a prefix with a dot can match: cmqd names have no dots, so only
 * `<name>.fifo` can start with `<name>.f…`.
 */
async function listFifoByPrefix(context: OperationContext, prefix: string): Promise<JsonObject> {
  const dot = prefix.indexOf(".");
  const name = prefix.slice(0, dot);
  if (!".fifo".startsWith(prefix.slice(dot)) || !namePattern.test(name)) return { QueueUrls: [] };
  const queue = { sqsName: `${name}.fifo`, name, fifo: true };
  if (!context.allows(name, "read")) return { QueueUrls: [] };
  try {
    const found = await context.service.getQueue(name);
    return { QueueUrls: found.fifo ? [context.addresses.url(queue)] : [] };
  } catch (error) {
    if (error instanceof BrokerError && error.code === "QueueNotFound") return { QueueUrls: [] };
    throw error;
  }
}

/**
 * ListQueues: the URLs of queues whose SQS name starts with QueueNamePrefix, in pages of
 * MaxResults (NextToken only when MaxResults was given, as in SQS). A key sees only the queues
 * it may read, so a page may hold fewer than MaxResults.
 */
export async function listQueues(context: OperationContext): Promise<JsonObject> {
  const prefix = optionalString(context.input, "QueueNamePrefix") ?? "";
  const maxResults = optionalInteger(context.input, "MaxResults", { min: 1, max: 1000 });
  const token = optionalString(context.input, "NextToken");
  const { after, offset = 0 } = token === undefined ? {} : decodeNextToken(token, prefix);
  if (prefix.includes(".")) return await listFifoByPrefix(context, prefix);
  if (prefix.length > 64) return { QueueUrls: [] };
  const page = await context.service.listQueues({
    prefix: prefix === "" ? undefined : prefix,
    after,
    offset,
    limit: maxResults ?? 1000,
  });
  const output: JsonObject = {
    QueueUrls: page.queues
      .filter((queue) => context.allows(queue.name, "read"))
      .map((queue) => context.addresses.url(queue)),
  };
  // `total` counts the names after `after` (all of the prefix's without it).
  if (maxResults !== undefined && offset + page.queues.length < page.total) {
    output.NextToken = encodeNextToken({ after: page.queues.at(-1)!.name, prefix });
  }
  return output;
}

/** GetQueueAttributes: the attributes named by AttributeNames (`All` for every one). */
export async function getQueueAttributes(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "read");
  const names = optionalStringList(context.input, "AttributeNames") ?? [];
  const found = await existingQueue(context, queue);
  const attributes = fromQueue(found, names, context.addresses);
  return Object.keys(attributes).length === 0 ? {} : { Attributes: attributes };
}

/** The RedrivePolicy text the request sent, if any. */
function redrivePolicyOf(context: OperationContext): string | undefined {
  return optionalStringMap(context.input, "Attributes")?.RedrivePolicy;
}

/** The queue a request sets a dead-letter policy on and the policy's target, if it sets one. */
function redriveNames(queue: QueueRef, attributes: QueueAttributesInput) {
  const target = attributes.deadLetter?.queue;
  return target === undefined ? undefined : { queue: queue.name, target };
}

/** SetQueueAttributes: changes the mutable attributes. */
export async function setQueueAttributes(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "manage");
  const given = optionalStringMap(context.input, "Attributes");
  if (given === undefined) {
    throw new SqsError("MissingParameter", "The request must contain the parameter Attributes.");
  }
  const attributes = toServiceAttributes(given, queue, false);
  authorizeDeadLetter(context, attributes, queue);
  const current = await existingQueue(context, queue);
  // SQS's policy has no age limit: a new policy keeps the one a native client may have set.
  const ageLimit = current.deadLetter?.maxTimeToLiveSeconds;
  if (attributes.deadLetter && ageLimit !== undefined) {
    attributes.deadLetter.maxTimeToLiveSeconds = ageLimit;
  }
  if (Object.keys(attributes).length > 0) {
    try {
      await context.service.updateQueue(queue.name, attributes);
    } catch (error) {
      throw inRedriveTerms(error, redrivePolicyOf(context), redriveNames(queue, attributes));
    }
  }
  return {};
}

/** DeleteQueue. */
export async function deleteQueue(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "manage");
  await existingQueue(context, queue);
  await context.service.deleteQueue(queue.name);
  return {};
}

/** PurgeQueue: deletes every message (at once; SQS's 60-second purge limit does not apply). */
export async function purgeQueue(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "manage");
  await existingQueue(context, queue);
  await context.service.purge(queue.name);
  return {};
}
