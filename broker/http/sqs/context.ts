/**
 * What every SQS operation gets: the service, the parsed input, the addresses of this request,
 * and the caller's permission checks.
 *
 * @module
 */
import {
  type AccessKey,
  type Action,
  allowsEveryNameWithPrefix,
  BrokerError,
  type KeyRing,
  type Queue,
  type QueueService,
} from "./broker_deps.ts";
import { SqsError } from "./errors.ts";
import { type JsonObject, requiredString } from "./input.ts";
import type { MoveTasks } from "./move_task_runs.ts";
import { type QueueAddresses, queueFromUrl, type QueueRef } from "./queue_names.ts";
import type { ReceiveAttempts } from "./receive_attempts.ts";

/** The world of one operation call. */
export interface OperationContext {
  service: QueueService;
  input: JsonObject;
  addresses: QueueAddresses;
  /** Aborts when the client goes away (ends long polls early). */
  signal: AbortSignal;
  /** True when the caller may do `action` on the cmqd queue `name` (always, without keys). */
  allows(name: string, action: Action): boolean;
  /** True when the caller may do `action` on every queue, whatever its name (`queue:*:send`). */
  allowsEveryQueue(action: Action): boolean;
  /** The message move tasks this door started (its memory, not replicated). */
  moveTasks: MoveTasks;
  /** The receives this door remembers by ReceiveRequestAttemptId (its memory, not replicated). */
  receiveAttempts: ReceiveAttempts;
  /** The access key id the request is signed with; null when signatures are not checked. */
  callerKeyId: string | null;
  /**
   * The door's clock, epoch ms (signatures' window; the receive times receipt handles carry,
   * `receipt_times.ts`).
   */
  now: () => number;
  /** The node's log of failures a client is told of in SQS's words only. */
  logError: (message: string, error: unknown) => void;
}

/**
 * `allowsEveryQueue` of a request signed with `key` (null: not checked), against the keys
 * serving now: a key removed or changed by a reload allows nothing, as `keyStillAllows` judges.
 */
export function keyAllowsEveryQueue(
  keys: KeyRing | null,
  key: AccessKey | null,
  action: Action,
): boolean {
  if (keys === null || key === null) return true;
  const current = keys.find(key.secretId);
  if (current === undefined || (current !== key && current.secretKey !== key.secretKey)) {
    return false;
  }
  return allowsEveryNameWithPrefix(keys, current, "queue", "", action);
}

/** An SQS operation: the JSON input of the context to the JSON output. */
export type Operation = (context: OperationContext) => Promise<JsonObject>;

/** Throws SQS's `AccessDenied` unless the caller may do `action` on `queue`. */
export function authorize(
  context: Pick<OperationContext, "allows" | "addresses">,
  queue: QueueRef,
  action: Action,
): void {
  if (context.allows(queue.name, action)) return;
  throw new SqsError(
    "AccessDenied",
    `Access to the resource ${context.addresses.url(queue)} is denied ` +
      `(the key needs queue:${queue.name}:${action}).`,
  );
}

/**
 * The cmqd queue behind `queue`, which must be FIFO exactly when the SQS name ends in `.fifo`
 * (else the SQS name names no queue). Operations that change or describe a queue use it; the
 * message operations use {@link messageQueue}, which saves the read barrier.
 */
export async function existingQueue(context: OperationContext, queue: QueueRef): Promise<Queue> {
  const found = await context.service.getQueue(queue.name);
  if (found.fifo !== queue.fifo) {
    throw new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
  }
  return found;
}

/**
 * The queue the QueueUrl of a message operation names, once the caller may do `action` on it and
 * it exists with the kind its SQS name says: `orders.fifo` never reaches a standard `orders`, nor
 * `orders` a FIFO one. Checked against this node's state, without `existingQueue`'s read barrier
 * (a queue's kind never changes, and the operation itself fails if the queue is gone by then),
 * unless this node has no such queue: a new leader may not have applied yet a queue its
 * predecessor created, so that is confirmed after the barrier (a promise then, so a queue found
 * at once costs no wait: callers await only a promise).
 */
export function messageQueue(
  context: OperationContext,
  action: Action,
): QueueRef | Promise<QueueRef> {
  const queue = queueFromUrl(requiredString(context.input, "QueueUrl"));
  authorize(context, queue, action);
  let fifo: boolean;
  try {
    fifo = context.service.queueIsFifo(queue.name);
  } catch (error) {
    if (!(error instanceof BrokerError && error.code === "QueueNotFound")) throw error;
    return existingQueue(context, queue).then(() => queue);
  }
  if (fifo !== queue.fifo) {
    throw new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
  }
  return queue;
}
