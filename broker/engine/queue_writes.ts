/**
 * The application of the queue writes CreateQueue and the UpdateQueue forms (attributes, tags):
 * checked against the state of the moment they apply, so a command that reached the log can
 * never make an invalid queue. The state machine dispatches them here. Each answers the queue's
 * view as of its entry (`CreateResult`): an admin write's cost, on every replica, not a send's.
 *
 * @module
 */
import { alreadyExists, invalidParameter } from "./errors.ts";
import { namePattern } from "./limits.ts";
import { type AppliedEntry, CommandType } from "./types.ts";
import { DecodeError } from "./binary.ts";
import { decodeJsonCommand } from "./commands.ts";
import { QueueState } from "./queue.ts";
import {
  checkAttributesInput,
  resolveCreate,
  resolveUpdate,
  sameAttributes,
} from "./queue_attributes.ts";
import { checkTagChanges } from "./queue_tags.ts";
import { checkDeadLetter } from "./admin_commands.ts";
import type { CreateResult, UpdateResult } from "./command_results.ts";

/** Applies a CreateQueue to `queues` (an equal queue of the name: `created: false`). */
export function applyCreateQueue(
  queues: Map<string, QueueState>,
  entry: AppliedEntry,
  now: number,
): CreateResult {
  const command = decodeJsonCommand(entry.payload);
  if (!namePattern.test(command.queue)) throw invalidParameter("queue", "invalid queue name");
  const attributes = resolveCreate(checkAttributesInput(command.attributes));
  const salt = command.salt;
  if (typeof salt !== "number" || !Number.isInteger(salt) || salt < 0 || salt > 0xffff_ffff) {
    throw new DecodeError("salt is not a u32");
  }
  const existing = queues.get(command.queue);
  if (existing !== undefined) {
    if (sameAttributes(existing.meta.attributes, attributes)) {
      return { created: false, queue: existing.view(now) };
    }
    throw alreadyExists("queue", command.queue);
  }
  checkDeadLetter(queues, command.queue, attributes);
  const queue = new QueueState({
    name: command.queue,
    incarnation: entry.index,
    salt,
    attributes,
    createdAt: now,
    modifiedAt: now,
  });
  queues.set(command.queue, queue);
  return { created: true, queue: queue.view(now) };
}

/**
 * Applies one of the UpdateQueue forms; `queueOf` answers the queue of a name, released to
 * `now` (throws QueueNotFound).
 */
export function applyUpdateQueue(
  queues: ReadonlyMap<string, QueueState>,
  entry: AppliedEntry,
  now: number,
  queueOf: (name: string) => QueueState,
): UpdateResult {
  const command = decodeJsonCommand(entry.payload);
  const queue = queueOf(command.queue);
  const input = checkAttributesInput(command.attributes);
  const tagChanges = checkTagChanges(command.tagChanges);
  const attributes = resolveUpdate(queue.meta.attributes, input, tagChanges);
  // A policy kept from before may name a queue deleted since: it stays, and does nothing.
  // (The earlier form, UpdateQueue, checks it too, and so refuses the update: types.ts.)
  const checked = input.deadLetter || entry.type === CommandType.UpdateQueue;
  if (checked) checkDeadLetter(queues, command.queue, attributes);
  const before = JSON.stringify(queue.meta.attributes.deadLetter ?? null);
  const rewindSeconds = [queue.meta.attributes.rewindSeconds, attributes.rewindSeconds] as const;
  if (entry.type === CommandType.UpdateQueueWithRewindFloor) {
    queue.closeRewindWindow(now, ...rewindSeconds, "floor");
  } else if (entry.type === CommandType.UpdateQueueBarringDeleted) {
    queue.closeRewindWindow(now, ...rewindSeconds, "barred");
  }
  queue.meta.attributes = attributes;
  queue.meta.modifiedAt = now;
  if (JSON.stringify(attributes.deadLetter ?? null) !== before) queue.resetDeadLetterScan();
  return { updated: true, queue: queue.view(now) };
}
