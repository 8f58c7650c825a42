/**
 * SQS's message move tasks ("DLQ redrive"): StartMessageMoveTask, ListMessageMoveTasks and
 * CancelMessageMoveTask, over the service's `redrive` (which moves a dead-letter queue's visible
 * messages back to the queues they came from, or to a destination).
 *
 * As SQS does, StartMessageMoveTask checks its input, the caller's permissions and that no task
 * of the source is active, takes the source's visible messages as
 * ApproximateNumberOfMessagesToMove, and answers the TaskHandle at once: the task moves the
 * messages in the background, in batches (one replicated redrive each) paced by
 * MaxNumberOfMessagesPerSecond when given, until it is done, cancelled or failed
 * (`move_task_runs.ts` runs the tasks and says how). ListMessageMoveTasks reports its progress;
 * CancelMessageMoveTask stops it before its next batch.
 *
 * The task list is this door's memory on the node that served the Start: not replicated, lost
 * on restart (a task under way then stops where it is: the messages moved stay moved, the rest
 * stay in the source), at most `tasksPerSourceMax` tasks per source queue and `sourcesMax`
 * source queues. So "one active task per source queue" is enforced per node, and a task is
 * listed and cancelled on the node that runs it (the leader, which the other nodes forward to).
 * A task whose node loses the leadership ends FAILED (its batches are that node's proposals, not
 * forwarded: `move_task_runs.ts`).
 *
 * Permissions: the move needs what the native redrive needs: `manage` on the source, and `send`
 * on DestinationArn, or without one `send` on every queue (`queue:*:send`: the messages go back
 * to whichever queues they came from). Listing needs `read` on the source, cancelling `manage`.
 * The move's permissions are checked when the task starts and again before each of its batches,
 * against the keys serving then: a reload that took one away fails the task (`move_task_runs.ts`).
 *
 * @module
 */
import { BrokerError } from "./broker_deps.ts";
import { authorize, existingQueue, type OperationContext } from "./context.ts";
import { deadLetterSources } from "./dead_letter_sources.ts";
import { invalidValue, SqsError } from "./errors.ts";
import {
  type JsonObject,
  optionalInteger,
  optionalString,
  parseCarriedJson,
  requiredString,
} from "./input.ts";
import type { MoveTask } from "./move_task_runs.ts";
import { queueFromArn, type QueueRef } from "./queue_names.ts";

/** SQS's limit of MaxNumberOfMessagesPerSecond. */
const rateRange = { min: 1, max: 500 };

const arnFormat =
  "You must use this format to specify the {member}: arn:<partition>:<service>:<region>:<account-id>:<resource-id>";

function notFound(member: string): SqsError {
  return new SqsError(
    "ResourceNotFoundException",
    `The resource that you specified for the ${member} parameter doesn't exist.`,
  );
}

/**
 * Longest ARN a move task takes: an SQS ARN is `arn:<partition>:sqs:<region>:<account>:<name>`
 * with a name of at most 80 characters, far below this; the task list keeps what it is given.
 */
const arnCharsMax = 256;

/** The queue an ARN member names; a name no cmqd queue can have names no queue. */
function queueOfArn(arn: string, member: string): QueueRef {
  if (arn.length > arnCharsMax) {
    throw new SqsError(
      "InvalidParameterValue",
      `${member} is longer than ${arnCharsMax} characters.`,
    );
  }
  const queue = queueFromArn(arn);
  if (queue !== null) return queue;
  if (arn.split(":").length !== 6 || !arn.startsWith("arn:")) {
    throw new SqsError("InvalidParameterValue", arnFormat.replace("{member}", member));
  }
  throw notFound(member);
}

/** The queue behind an ARN member, which must exist with the kind its name says. */
async function existingArnQueue(context: OperationContext, queue: QueueRef, member: string) {
  try {
    return await existingQueue(context, queue);
  } catch (error) {
    const missing = (error instanceof SqsError && error.code === "QueueDoesNotExist") ||
      (error instanceof BrokerError && error.code === "QueueNotFound");
    throw missing ? notFound(member) : error;
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A task's handle: base64 of the UTF-8 JSON of its id and source ARN (an ARN's region and
 * account may hold any character: `btoa` of the text itself threw past Latin-1).
 */
function newHandle(sourceArn: string): string {
  const json = JSON.stringify({ taskId: crypto.randomUUID(), sourceArn });
  return new TextEncoder().encode(json).toBase64();
}

/** The source ARN a handle carries, or null when it is no handle of this door. */
function sourceArnOfHandle(handle: string): string | null {
  try {
    const decoded = parseCarriedJson<{ taskId?: unknown; sourceArn?: unknown } | null>(
      utf8Decoder.decode(Uint8Array.fromBase64(handle)),
    );
    if (typeof decoded?.taskId === "string" && typeof decoded.sourceArn === "string") {
      return decoded.sourceArn;
    }
  } catch {
    // Falls through: not a handle.
  }
  return null;
}

/** What `authorizeMove` looks at: the caller's checks, against the keys serving when called. */
type MoveChecks = Pick<OperationContext, "allows" | "allowsEveryQueue" | "addresses">;

/**
 * Throws SQS's `AccessDenied` unless the caller may move the messages of `source`: `manage` on
 * it, and `send` on `destination`, or without one on every queue.
 */
function authorizeMove(checks: MoveChecks, source: QueueRef, destination?: QueueRef): void {
  authorize(checks, source, "manage");
  if (destination !== undefined) authorize(checks, destination, "send");
  else if (!checks.allowsEveryQueue("send")) {
    throw new SqsError(
      "AccessDenied",
      "Access to the resource is denied (a move back to the source queues needs " +
        "queue:*:send; name a DestinationArn to need send on it only).",
    );
  }
}

/**
 * StartMessageMoveTask: starts moving the visible messages of SourceArn (a dead-letter queue of
 * some queue) back to their source queues, or to DestinationArn; answers the TaskHandle while the
 * task runs on in the background (see the module's note).
 */
export async function startMessageMoveTask(context: OperationContext): Promise<JsonObject> {
  const { input } = context;
  const sourceArn = requiredString(input, "SourceArn");
  const source = queueOfArn(sourceArn, "SourceArn");
  const destinationArn = optionalString(input, "DestinationArn") || undefined;
  const destination = destinationArn === undefined
    ? undefined
    : queueOfArn(destinationArn, "DestinationArn");
  const rate = optionalInteger(input, "MaxNumberOfMessagesPerSecond", rateRange);
  authorizeMove(context, source, destination);
  const found = await existingArnQueue(context, source, "SourceArn");
  if (destination !== undefined) {
    const target = await existingArnQueue(context, destination, "DestinationArn");
    if (destination.name === source.name) {
      throw invalidValue("DestinationArn", destinationArn, "It is the source queue itself.");
    }
    // The redrive refuses it: the task's first batch would fail, after the Start said yes.
    if (target.fifo !== found.fifo) {
      throw invalidValue(
        "DestinationArn",
        destinationArn,
        "The destination queue must be a FIFO queue exactly when the source queue is.",
      );
    }
  }
  if ((await deadLetterSources(context, source.name)).length === 0) {
    throw new SqsError(
      "InvalidParameterValue",
      "Source queue must be configured as a Dead Letter Queue.",
    );
  }
  // No await between this check and `start`: two Starts of one source can't both pass it.
  if (context.moveTasks.active(source) !== undefined) {
    throw new SqsError(
      "InvalidParameterValue",
      "There is already a task running. Only one active task is allowed for a source queue " +
        "arn at a given time.",
    );
  }
  const task: MoveTask = {
    handle: newHandle(sourceArn),
    source,
    sourceArn,
    destination,
    destinationArn,
    rate,
    status: "RUNNING",
    moved: 0,
    toMove: found.activeMessages,
    startedAt: Date.now(),
  };
  // The same checks before each batch: the caller's key, against the keys serving then.
  const { allows, allowsEveryQueue, addresses } = context;
  const checks = { allows, allowsEveryQueue, addresses };
  // Each batch is of the queue the task started on: one deleted and created again since (a new
  // queue, whose messages are not the task's) fails the task, as the source's deletion does.
  const permitted = () => authorizeMove(checks, source, destination);
  context.moveTasks.start(task, permitted, found.createdAt);
  return { TaskHandle: task.handle };
}

function taskEntry(task: MoveTask): JsonObject {
  const entry: JsonObject = {};
  if (task.status === "RUNNING") entry.TaskHandle = task.handle;
  entry.Status = task.status;
  entry.SourceArn = task.sourceArn;
  if (task.destinationArn !== undefined) entry.DestinationArn = task.destinationArn;
  if (task.rate !== undefined) entry.MaxNumberOfMessagesPerSecond = task.rate;
  entry.ApproximateNumberOfMessagesMoved = task.moved;
  entry.ApproximateNumberOfMessagesToMove = task.toMove;
  if (task.failureReason !== undefined) entry.FailureReason = task.failureReason;
  entry.StartedTimestamp = task.startedAt;
  return entry;
}

/**
 * ListMessageMoveTasks: the most recent tasks of SourceArn that this node remembers, newest
 * first, MaxResults of them (1–10, default 1, as SQS). A TaskHandle is shown only while its task
 * runs.
 */
export async function listMessageMoveTasks(context: OperationContext): Promise<JsonObject> {
  const source = queueOfArn(requiredString(context.input, "SourceArn"), "SourceArn");
  const maxResults = optionalInteger(context.input, "MaxResults", { min: 1, max: 10 }) ?? 1;
  authorize(context, source, "read");
  await existingArnQueue(context, source, "SourceArn");
  return { Results: context.moveTasks.recent(source, maxResults).map(taskEntry) };
}

/**
 * CancelMessageMoveTask: stops a running task before its next batch (the messages moved stay
 * moved; a batch in flight finishes, the task CANCELLING until then) and answers the messages
 * moved so far. Only a RUNNING task can be cancelled; one that is cancelling or has ended is
 * `ResourceNotFoundException`, as for a handle this node does not know.
 */
export async function cancelMessageMoveTask(context: OperationContext): Promise<JsonObject> {
  const handle = requiredString(context.input, "TaskHandle");
  const sourceArn = sourceArnOfHandle(handle);
  const source = sourceArn === null ? null : queueFromArn(sourceArn);
  if (source === null) {
    throw new SqsError("InvalidParameterValue", "Value for parameter TaskHandle is invalid.");
  }
  authorize(context, source, "manage");
  await existingArnQueue(context, source, "SourceArn");
  const task = context.moveTasks.find(handle);
  if (task === undefined) throw new SqsError("ResourceNotFoundException", "Task does not exist.");
  if (task.status !== "RUNNING") {
    throw new SqsError(
      "ResourceNotFoundException",
      `Task does not exist: it is ${task.status}, and only a RUNNING task can be cancelled.`,
    );
  }
  return { ApproximateNumberOfMessagesMoved: context.moveTasks.cancel(task) };
}
