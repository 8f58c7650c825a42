/**
 * The service's errors in SQS's words. The shared `QueueService` names the fields of its native
 * requests in its messages (`messages.3.body: 2000 bytes exceed maxMessageBytes 1024`); an SQS
 * client sent `MessageBody` (or `Entries.5.MessageBody`) and `MaximumMessageSize`. A message of
 * the shape `<field>: <reason>` gets the SQS parameter for its field and SQS's names for the
 * native attributes its reason mentions; cmqd's own attributes (set through the native door)
 * keep their names, marked as cmqd's, and fields of the same name on both doors (`tags.<key>`)
 * stay as they are.
 *
 * @module
 */
import type { BrokerError } from "./broker_deps.ts";

/** How the operation at hand numbered what it handed the service. */
export interface FieldScope {
  /**
   * The request's `Entries` index of the service's entry `index` (a batch: the door sends only
   * the entries it did not refuse). Absent for one-message operations.
   */
  entryIndex?: (index: number) => number;
  /**
   * The queue the request names: the service quotes it by its cmqd name (`queue 'orders'`), the
   * client knows it by its SQS name (`orders.fifo`).
   */
  queue?: { name: string; sqsName: string };
}

/** SQS's parameter for each native member. */
const parameterNames: Record<string, string> = {
  body: "MessageBody",
  groupId: "MessageGroupId",
  dedupId: "MessageDeduplicationId",
  attributes: "MessageAttributes",
  delaySeconds: "DelaySeconds",
  receiptHandle: "ReceiptHandle",
  visibilityTimeoutSeconds: "VisibilityTimeout",
  maxMessages: "MaxNumberOfMessages",
  waitSeconds: "WaitTimeSeconds",
  maxMessageBytes: "MaximumMessageSize",
  retentionSeconds: "MessageRetentionPeriod",
  pollingWaitSeconds: "ReceiveMessageWaitTimeSeconds",
  deadLetter: "RedrivePolicy",
  fifo: "FifoQueue",
};

/** The native lists of entries, and what one entry is called outside a batch. */
const entryLists: Record<string, string> = {
  messages: "MessageBody",
  entries: "ReceiptHandle",
  receiptHandles: "ReceiptHandle",
};

/** The SQS parameter of a native field path, or undefined when SQS has none. */
export function sqsParameterOf(field: string, scope: FieldScope = {}): string | undefined {
  const parts = field.split(".");
  let prefix = "";
  let rest = parts;
  if (Object.hasOwn(entryLists, parts[0])) {
    const index = Number(parts[1]);
    if (parts.length === 1 || !Number.isInteger(index)) {
      return scope.entryIndex === undefined ? entryLists[parts[0]] : "Entries";
    }
    if (scope.entryIndex !== undefined) prefix = `Entries.${scope.entryIndex(index)}.`;
    rest = parts.slice(2);
    if (rest.length === 0) return prefix === "" ? entryLists[parts[0]] : prefix.slice(0, -1);
  }
  const [member, key] = rest;
  if (!Object.hasOwn(parameterNames, member)) return undefined;
  const name = parameterNames[member];
  // A stored attribute key carries its data type (`size:Number`); SQS names have no `:`.
  if (member === "attributes" && key !== undefined) {
    return `${prefix}${name}.${key.split(":", 1)[0]}`;
  }
  // The policy's parts (deadLetter.queue, .maxReceiveCount) are all in the one RedrivePolicy.
  return prefix + name;
}

/** Queue attributes only the native door sets: SQS has no parameter for them. */
const cmqdOwnAttributes = new Set(["rewindSeconds", "maxBacklog"]);

/** Native attribute names as words of a reason (not inside quotes, which hold queue names). */
const nativeWords =
  /(?<!['\w])(maxMessageBytes|retentionSeconds|visibilityTimeoutSeconds|pollingWaitSeconds)(?!['\w])/g;

/**
 * `error`'s message in SQS's parameter names (unchanged when it names no native field), and with
 * the scope's queue quoted by its SQS name.
 */
export function sqsMessageOf(error: BrokerError, scope: FieldScope = {}): string {
  return inSqsNames(fieldsInSqsTerms(error, scope), scope.queue);
}

function fieldsInSqsTerms(error: BrokerError, scope: FieldScope): string {
  const { field, message } = error;
  const reword = (text: string) => text.replace(nativeWords, (word) => parameterNames[word]);
  if (field === undefined || !message.startsWith(`${field}: `)) return message;
  const parameter = sqsParameterOf(field, scope) ??
    (cmqdOwnAttributes.has(field) ? `${field} (cmqd's own attribute)` : undefined);
  // Other fields (`tags.<key>`, which SQS's CreateQueue also calls `tags`) stay as they are.
  if (parameter === undefined) return message;
  return `${parameter}: ${reword(message.slice(field.length + 2))}`;
}

/** `message` with `queue` (when given) quoted by its SQS name where the service quotes it. */
function inSqsNames(message: string, queue: FieldScope["queue"]): string {
  if (queue === undefined || queue.name === queue.sqsName) return message;
  return message.replaceAll(`queue '${queue.name}'`, `queue '${queue.sqsName}'`);
}
