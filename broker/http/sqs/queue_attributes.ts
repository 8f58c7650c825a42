/**
 * SQS queue attributes ↔ cmqd queue attributes.
 *
 * | SQS | cmqd |
 * |---|---|
 * | VisibilityTimeout | visibilityTimeoutSeconds (cmqd's 1–43200: 0 is refused) |
 * | MaximumMessageSize | maxMessageBytes |
 * | MessageRetentionPeriod | retentionSeconds |
 * | ReceiveMessageWaitTimeSeconds | pollingWaitSeconds (0–30, widened from SQS's 20) |
 * | RedrivePolicy `{deadLetterTargetArn, maxReceiveCount}` | deadLetter `{queue, maxReceiveCount}` |
 * | FifoQueue | fifo (CreateQueue's `"true"`, with a `.fifo` name: both or neither; immutable) |
 * | ApproximateNumberOfMessages / …NotVisible / …Delayed | activeMessages / inflightMessages / delayedMessages |
 * | CreatedTimestamp / LastModifiedTimestamp (epoch seconds) | createdAt / modifiedAt (epoch ms) |
 * | QueueArn | built from region, account id and SQS name |
 *
 * What cmqd has no place for is accepted only with the value cmqd behaves as (so an existing
 * setup that states the default keeps working) and refused with `InvalidAttributeValue`
 * otherwise: `DelaySeconds` (cmqd delays per message only: 0), `ContentBasedDeduplication` on
 * FIFO queues (always true: a send without MessageDeduplicationId is deduplicated by the body's
 * SHA-256), `SqsManagedSseEnabled` (false), `DeduplicationScope` (queue), `FifoThroughputLimit`
 * (perQueue), an empty `Policy`, `KmsMasterKeyId`, and `RedriveAllowPolicy` empty or `allowAll`.
 *
 * @module
 */
import {
  deadLetterLimits,
  type Queue,
  type QueueAttributesInput,
  queueLimits,
} from "./broker_deps.ts";
import { invalidValue, SqsError } from "./errors.ts";
import { parseCarriedJson } from "./input.ts";
import { type QueueAddresses, queueFromArn, type QueueRef } from "./queue_names.ts";

/** SQS's refusal of an attribute name it does not know (or of one it refuses here). */
export function unknownAttribute(
  name: string,
  reason = `Unknown Attribute ${name.slice(0, 100)}.`,
): SqsError {
  return new SqsError("InvalidAttributeName", reason);
}

/** The names of SQS's model's QueueAttributeName (`All` included), all of them answerable here. */
export const queueAttributeNames: ReadonlySet<string> = new Set([
  "All",
  "Policy",
  "VisibilityTimeout",
  "MaximumMessageSize",
  "MessageRetentionPeriod",
  "ApproximateNumberOfMessages",
  "ApproximateNumberOfMessagesNotVisible",
  "CreatedTimestamp",
  "LastModifiedTimestamp",
  "QueueArn",
  "ApproximateNumberOfMessagesDelayed",
  "DelaySeconds",
  "ReceiveMessageWaitTimeSeconds",
  "RedrivePolicy",
  "FifoQueue",
  "ContentBasedDeduplication",
  "KmsMasterKeyId",
  "KmsDataKeyReusePeriodSeconds",
  "DeduplicationScope",
  "FifoThroughputLimit",
  "RedriveAllowPolicy",
  "SqsManagedSseEnabled",
]);

function invalidAttribute(name: string, reason: string): SqsError {
  return new SqsError(
    "InvalidAttributeValue",
    `Invalid value for the parameter ${name}. Reason: ${reason}`,
  );
}

function integerAttribute(name: string, text: string, range: { min: number; max: number }) {
  const value = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw invalidAttribute(name, `Must be an integer from ${range.min} to ${range.max}.`);
  }
  return value;
}

/** Attributes accepted only with one value (what cmqd does without a setting). */
const fixedAttributes: Record<string, { value: string; fifoOnly: boolean; why: string }> = {
  DelaySeconds: {
    value: "0",
    fifoOnly: false,
    why: "cmqd has no queue-wide delay; give DelaySeconds on each message instead.",
  },
  ContentBasedDeduplication: {
    value: "true",
    fifoOnly: true,
    why: "cmqd FIFO queues always deduplicate a message without MessageDeduplicationId by " +
      "the SHA-256 of its body.",
  },
  SqsManagedSseEnabled: { value: "false", fifoOnly: false, why: "cmqd does not encrypt at rest." },
  DeduplicationScope: { value: "queue", fifoOnly: true, why: "cmqd deduplicates per queue." },
  FifoThroughputLimit: { value: "perQueue", fifoOnly: true, why: "cmqd has no throughput modes." },
  Policy: { value: "", fifoOnly: false, why: "cmqd has no queue policies; use key permissions." },
  KmsMasterKeyId: { value: "", fifoOnly: false, why: "cmqd does not encrypt with KMS." },
  KmsDataKeyReusePeriodSeconds: { value: "", fifoOnly: false, why: "cmqd does not use KMS." },
};

function parseRedrivePolicy(text: string, queue: QueueRef): QueueAttributesInput["deadLetter"] {
  if (text === "") return null;
  let policy: unknown;
  try {
    policy = parseCarriedJson(text);
  } catch {
    throw invalidAttribute("RedrivePolicy", "Redrive policy is not a valid JSON map.");
  }
  const { deadLetterTargetArn, maxReceiveCount } = (policy ?? {}) as Record<string, unknown>;
  const target = typeof deadLetterTargetArn === "string" ? queueFromArn(deadLetterTargetArn) : null;
  if (target === null) {
    throw invalidAttribute("RedrivePolicy", "deadLetterTargetArn must be an SQS queue ARN.");
  }
  if (target.fifo !== queue.fifo) {
    throw invalidAttribute(
      "RedrivePolicy",
      "Dead-letter queue must be the same type of queue as the source queue.",
    );
  }
  const count = integerAttribute(
    "RedrivePolicy",
    String(maxReceiveCount),
    deadLetterLimits.maxReceiveCount,
  );
  return { queue: target.name, maxReceiveCount: count };
}

const mutableAttributes = {
  VisibilityTimeout: "visibilityTimeoutSeconds",
  MaximumMessageSize: "maxMessageBytes",
  MessageRetentionPeriod: "retentionSeconds",
  ReceiveMessageWaitTimeSeconds: "pollingWaitSeconds",
} as const;

/**
 * RedriveAllowPolicy: cmqd lets any queue name any other as its dead-letter queue (key
 * permissions decide), which is SQS's `allowAll`: that policy (the default a template or an SDK
 * may state outright) and an empty one are taken and change nothing; `denyAll` and `byQueue`
 * are refused.
 */
function checkRedriveAllowPolicy(value: string): void {
  if (value === "") return;
  let policy: unknown;
  try {
    policy = parseCarriedJson(value);
  } catch {
    throw invalidAttribute("RedriveAllowPolicy", "Redrive allow policy is not a valid JSON map.");
  }
  const entries = policy !== null && typeof policy === "object" && !Array.isArray(policy)
    ? Object.entries(policy)
    : [];
  if (
    entries.length !== 1 || entries[0][0] !== "redrivePermission" || entries[0][1] !== "allowAll"
  ) {
    throw invalidAttribute(
      "RedriveAllowPolicy",
      'Only {"redrivePermission":"allowAll"} is supported: cmqd has no redrive allow ' +
        "policies (any queue may be a dead-letter queue; key permissions decide who sends to it).",
    );
  }
}

function checkFixed(name: string, value: string, queue: QueueRef): void {
  const fixed = fixedAttributes[name];
  if (fixed.fifoOnly && !queue.fifo) {
    throw unknownAttribute(name, `${name} is only valid for FIFO queues.`);
  }
  if (value !== fixed.value) {
    throw invalidAttribute(name, `Only '${fixed.value}' is supported: ${fixed.why}`);
  }
}

/**
 * The cmqd attributes of CreateQueue's or SetQueueAttributes' `Attributes`. `creating` allows
 * `FifoQueue`, which must agree with the name's `.fifo` suffix.
 */
export function toServiceAttributes(
  attributes: Record<string, string>,
  queue: QueueRef,
  creating: boolean,
): QueueAttributesInput {
  const input: QueueAttributesInput = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (Object.hasOwn(mutableAttributes, name)) {
      const field = mutableAttributes[name as keyof typeof mutableAttributes];
      input[field] = integerAttribute(name, value, queueLimits[field]);
    } else if (name === "RedrivePolicy") {
      input.deadLetter = parseRedrivePolicy(value, queue);
    } else if (name === "RedriveAllowPolicy") {
      checkRedriveAllowPolicy(value);
    } else if (name === "FifoQueue") {
      if (!creating) throw unknownAttribute(name, "FifoQueue can only be set on CreateQueue.");
      if (value !== "true" && value !== "false") {
        throw invalidAttribute(name, "Must be true or false.");
      }
    } else if (Object.hasOwn(fixedAttributes, name)) {
      checkFixed(name, value, queue);
    } else {
      throw unknownAttribute(name);
    }
  }
  if (creating) {
    checkQueueKind(queue, attributes.FifoQueue === "true");
    input.fifo = queue.fifo;
  }
  return input;
}

/**
 * As SQS: a queue is FIFO only when CreateQueue says `FifoQueue: "true"`, and its name must then
 * end with `.fifo`; without it the queue is standard, whose name can't hold a `.`. A name and an
 * attribute that disagree are refused, never settled by the name alone.
 */
function checkQueueKind(queue: QueueRef, fifoRequested: boolean): void {
  if (queue.fifo === fifoRequested) return;
  const reason = fifoRequested
    ? "A FIFO queue's name must end with the .fifo suffix."
    : "A standard queue's name can hold only alphanumeric characters, hyphens and underscores; " +
      "a name ending with .fifo needs the attribute FifoQueue set to true.";
  throw invalidValue("QueueName", queue.sqsName, reason);
}

const seconds = (epochMs: number) => String(Math.floor(epochMs / 1000));

/** Every attribute GetQueueAttributes can answer, with its value (undefined: not set). */
function attributeValues(
  queue: Queue,
  addresses: QueueAddresses,
): Record<string, () => string | undefined> {
  const fifoOnly = (value: string) => () => queue.fifo ? value : undefined;
  return {
    VisibilityTimeout: () => String(queue.visibilityTimeoutSeconds),
    MaximumMessageSize: () => String(queue.maxMessageBytes),
    MessageRetentionPeriod: () => String(queue.retentionSeconds),
    DelaySeconds: () => "0",
    ReceiveMessageWaitTimeSeconds: () => String(queue.pollingWaitSeconds),
    ApproximateNumberOfMessages: () => String(queue.activeMessages),
    ApproximateNumberOfMessagesNotVisible: () => String(queue.inflightMessages),
    ApproximateNumberOfMessagesDelayed: () => String(queue.delayedMessages),
    CreatedTimestamp: () => seconds(queue.createdAt),
    LastModifiedTimestamp: () => seconds(queue.modifiedAt),
    QueueArn: () => addresses.arn(queue),
    RedrivePolicy: () => redrivePolicyText(queue, addresses),
    SqsManagedSseEnabled: () => "false",
    FifoQueue: fifoOnly("true"),
    ContentBasedDeduplication: fifoOnly("true"),
    DeduplicationScope: fifoOnly("queue"),
    FifoThroughputLimit: fifoOnly("perQueue"),
    Policy: () => undefined,
    RedriveAllowPolicy: () => undefined,
    KmsMasterKeyId: () => undefined,
    KmsDataKeyReusePeriodSeconds: () => undefined,
  };
}

function redrivePolicyText(queue: Queue, addresses: QueueAddresses): string | undefined {
  const policy = queue.deadLetter;
  if (!policy) return undefined;
  // The service keeps a dead-letter queue of the same kind as its source.
  const target = addresses.arn({ name: policy.queue, fifo: queue.fifo });
  return JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount: policy.maxReceiveCount });
}

/** GetQueueAttributes' answer for `requested` names (`All` for every one that is set). */
export function fromQueue(
  queue: Queue,
  requested: readonly string[],
  addresses: QueueAddresses,
): Record<string, string> {
  const values = attributeValues(queue, addresses);
  for (const name of requested) {
    if (name !== "All" && !Object.hasOwn(values, name)) throw unknownAttribute(name);
  }
  const names = requested.includes("All") ? Object.keys(values) : requested;
  const answer: Record<string, string> = {};
  for (const name of names) {
    const value = values[name]();
    if (value !== undefined) answer[name] = value;
  }
  return answer;
}
