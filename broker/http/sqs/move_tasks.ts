/**
 * SQS's message move tasks ("DLQ redrive"): StartMessageMoveTask, ListMessageMoveTasks and
 * CancelMessageMoveTask, over the service's `redrive` (which moves a dead-letter queue's visible
 * messages back to the queues they came from, or to a destination).
 *
 * How a task runs: SQS starts a task and moves the messages in the background. Here the
 * StartMessageMoveTask call itself does the move, in batches of at most `batchMessages` messages
 * (one replicated redrive each), until it has moved as many messages as the source had visible
 * when the task started (ApproximateNumberOfMessagesToMove), a batch moves fewer than it asked
 * for (nothing movable is left: the rest are in flight, delayed, or have no source queue left to
 * go back to), the task is cancelled, or a batch fails (the task is then FAILED, its
 * FailureReason the error's query code, as SQS reports `AWS.SimpleQueueService.NonExistentQueue`).
 * It answers the TaskHandle when the task has ended; ListMessageMoveTasks then reports it.
 * MaxNumberOfMessagesPerSecond (1–500) is accepted and reported back, not honoured: the batches
 * go as fast as the cluster commits them.
 *
 * The task list is this door's memory on the node that served the Start: not replicated, lost
 * on restart, at most `tasksPerSourceMax` tasks per source queue (the most recent; SQS lists at
 * most 10) and `sourcesMax` source queues (the least recently started forgotten first). So "one
 * running task per source queue" is enforced per node, and a task is listed and cancelled on the
 * node that runs it.
 *
 * Permissions: the move needs what the native redrive needs: `manage` on the source, and `send`
 * on DestinationArn, or without one `send` on every queue (`queue:*:send`: the messages go back
 * to whichever queues they came from). Listing needs `read` on the source, cancelling `manage`.
 *
 * @module
 */
import { BrokerError } from "./broker_deps.ts";
import { authorize, existingQueue, type OperationContext } from "./context.ts";
import { deadLetterSources } from "./dead_letter_sources.ts";
import { invalidValue, SqsError, toSqsError } from "./errors.ts";
import { type JsonObject, optionalInteger, optionalString, requiredString } from "./input.ts";
import { queueFromArn, type QueueRef } from "./queue_names.ts";

/** The statuses a task of this door can have (SQS also has CANCELLING, never seen here). */
type MoveTaskStatus = "RUNNING" | "COMPLETED" | "CANCELLED" | "FAILED";

/** One message move task, as this door remembers it. */
interface MoveTask {
  handle: string;
  source: QueueRef;
  sourceArn: string;
  destination?: QueueRef;
  destinationArn?: string;
  rate?: number;
  status: MoveTaskStatus;
  moved: number;
  toMove: number;
  startedAt: number;
  failureReason?: string;
  cancelled: boolean;
}

/** Limits of the door's task memory. */
export interface MoveTaskLimits {
  /** Messages one replicated redrive of a task moves at most (default 10,000). */
  batchMessages?: number;
  /** Tasks remembered per source queue (default 10, what ListMessageMoveTasks can show). */
  tasksPerSourceMax?: number;
  /** Source queues whose tasks are remembered (default 1,000). */
  sourcesMax?: number;
}

/** The message move tasks this door started, by source queue (its SQS name) and by handle. */
export class MoveTasks {
  readonly batchMessages: number;
  readonly #tasksPerSourceMax: number;
  readonly #sourcesMax: number;
  /** Newest last; a source's key is moved to the end when it gets a task. */
  readonly #bySource = new Map<string, MoveTask[]>();
  readonly #byHandle = new Map<string, MoveTask>();

  constructor(limits: MoveTaskLimits = {}) {
    this.batchMessages = limits.batchMessages ?? 10_000;
    this.#tasksPerSourceMax = limits.tasksPerSourceMax ?? 10;
    this.#sourcesMax = limits.sourcesMax ?? 1000;
  }

  /** The running task of `source`, if any. */
  running(source: QueueRef): MoveTask | undefined {
    return this.#bySource.get(source.sqsName)?.find((task) => task.status === "RUNNING");
  }

  /** Remembers a new task, forgetting the oldest ended ones past the limits. */
  add(task: MoveTask): void {
    const key = task.source.sqsName;
    const tasks = this.#bySource.get(key) ?? [];
    this.#bySource.delete(key);
    this.#bySource.set(key, tasks);
    tasks.push(task);
    this.#byHandle.set(task.handle, task);
    while (tasks.length > this.#tasksPerSourceMax) {
      const ended = tasks.findIndex((each) => each.status !== "RUNNING");
      if (ended < 0) break;
      this.#byHandle.delete(tasks.splice(ended, 1)[0].handle);
    }
    for (const [oldest, forgotten] of this.#bySource) {
      if (this.#bySource.size <= this.#sourcesMax) break;
      if (forgotten.some((each) => each.status === "RUNNING")) continue;
      this.#bySource.delete(oldest);
      for (const each of forgotten) this.#byHandle.delete(each.handle);
    }
  }

  /** The `count` most recent tasks of `source`, newest first. */
  recent(source: QueueRef, count: number): MoveTask[] {
    return (this.#bySource.get(source.sqsName) ?? []).slice(-count).reverse();
  }

  /** The task of `handle`, if remembered. */
  find(handle: string): MoveTask | undefined {
    return this.#byHandle.get(handle);
  }
}

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
    const decoded = JSON.parse(utf8Decoder.decode(Uint8Array.fromBase64(handle)));
    if (typeof decoded?.taskId === "string" && typeof decoded.sourceArn === "string") {
      return decoded.sourceArn;
    }
  } catch {
    // Falls through: not a handle.
  }
  return null;
}

/** Runs `task` to its end: batches of the service's redrive (see the module's note). */
async function runTask(context: OperationContext, task: MoveTask): Promise<void> {
  const batch = context.moveTasks.batchMessages;
  try {
    while (!task.cancelled && task.moved < task.toMove) {
      const asked = Math.min(batch, task.toMove - task.moved);
      const { moved } = await context.service.redrive(task.source.name, {
        destination: task.destination?.name,
        maxMessages: asked,
      });
      task.moved += moved;
      if (moved < asked) break;
    }
    task.status = task.cancelled ? "CANCELLED" : "COMPLETED";
  } catch (error) {
    task.status = "FAILED";
    if (!(error instanceof BrokerError)) {
      task.failureReason = "InternalFailure";
      throw error;
    }
    task.failureReason = toSqsError(error, () => {}).queryCode;
  }
}

/**
 * StartMessageMoveTask: moves the visible messages of SourceArn (a dead-letter queue of some
 * queue) back to their source queues, or to DestinationArn; answers the TaskHandle once the
 * move has ended (see the module's note).
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
  authorize(context, source, "manage");
  if (destination !== undefined) authorize(context, destination, "send");
  else if (!context.allowsEveryQueue("send")) {
    throw new SqsError(
      "AccessDenied",
      "Access to the resource is denied (a move back to the source queues needs " +
        "queue:*:send; name a DestinationArn to need send on it only).",
    );
  }
  const found = await existingArnQueue(context, source, "SourceArn");
  if (destination !== undefined) {
    await existingArnQueue(context, destination, "DestinationArn");
    if (destination.name === source.name) {
      throw invalidValue("DestinationArn", destinationArn, "It is the source queue itself.");
    }
  }
  if ((await deadLetterSources(context, source.name)).length === 0) {
    throw new SqsError(
      "InvalidParameterValue",
      "Source queue must be configured as a Dead Letter Queue.",
    );
  }
  // No await between this check and `add`: two Starts of one source can't both pass it.
  if (context.moveTasks.running(source) !== undefined) {
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
    cancelled: false,
  };
  context.moveTasks.add(task);
  await runTask(context, task);
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
 * CancelMessageMoveTask: stops a running task after its current batch (the messages moved stay
 * moved). Only a RUNNING task can be cancelled; one that has ended is
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
  task.cancelled = true;
  return { ApproximateNumberOfMessagesMoved: task.moved };
}
