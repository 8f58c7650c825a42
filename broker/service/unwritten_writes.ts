/**
 * Queue writes that provably change nothing are answered without a log entry: a create of an
 * existing queue (an identical one answers the queue, one with other attributes the refusal its
 * entry would get), an update or tag change that leaves the queue's attributes as they are
 * (CMQ's SDKs write back every attribute they read; an SQS UntagQueue of keys the queue does not
 * have), a purge of a queue that holds no message, and a redrive of a queue with nothing to
 * move. Each would otherwise cost a replicated entry (an fdatasync on a majority) for nothing.
 *
 * The decision is never taken on the local state alone (a follower's, or a deposed leader's, may
 * be behind): only once the replica's read barrier, the one `getQueue` answers after, has shown
 * every write acknowledged before the request. The answer is then the one the write would have
 * given had it applied at that point, which is a point within the request. A request that might
 * change something is proposed as before, and its entry checked and answered by the state
 * machine. An update answered so leaves `modifiedAt` as it was: nothing was modified.
 *
 * @module
 */
import {
  alreadyExists,
  BrokerError,
  type QueueAttributesInput,
  resolveUpdate,
  sameAttributes,
  type StateMachine,
  type TagChanges,
} from "../engine/mod.ts";
import type { Proposer } from "../replication/mod.ts";
import { readBarrier } from "./replica_errors.ts";
import type { Queue, QueueAttributes } from "../../sdk/protocol.ts";
import type { CreateQueueResult } from "./types.ts";

/** What the checks read: the state machine, after the replica's read barrier. */
export interface QueueReads {
  proposer: Proposer;
  machine: StateMachine;
}

/** The queue's attributes and view now, or undefined when there is no such queue. */
function stateOf(reads: QueueReads, name: string) {
  const attributes = reads.machine.queueMeta(name)?.attributes;
  if (attributes === undefined) return undefined;
  return { attributes, queue: reads.machine.getQueue(name, reads.proposer.now())! };
}

/**
 * `answer(queue)` when `unchanged` holds of the queue's state, a refusal when `refused` answers
 * one for it, else `write()`. It is checked first on the local state: when the queue is missing
 * there, or the request changes something, the write is proposed at once, before this returns,
 * so a write keeps its place among the requests made after it. Then again after the read
 * barrier, unless the request already waited for one (`barrierPassed`): the local state then
 * holds every write acknowledged before the request, and what it shows is a state within the
 * request. A refusal is never answered from the local state alone (the queue may have been
 * deleted since), only from the state after the barrier.
 */
function unlessUnchanged<T>(
  reads: QueueReads,
  name: string,
  unchanged: (attributes: QueueAttributes, queue: Queue) => boolean,
  answer: (queue: Queue) => T,
  write: () => Promise<T>,
  barrierPassed = false,
  refused: (attributes: QueueAttributes) => BrokerError | null = () => null,
): Promise<T> {
  const outcome = () => {
    const state = stateOf(reads, name);
    if (state === undefined) return null;
    const refusal = refused(state.attributes);
    if (refusal !== null) return refusal;
    return unchanged(state.attributes, state.queue) ? state.queue : null;
  };
  const settle = (seen: Queue | BrokerError | null) => {
    if (seen === null) return write();
    if (seen instanceof BrokerError) return Promise.reject(seen);
    return Promise.resolve(answer(seen));
  };
  const local = outcome();
  if (local === null || barrierPassed) return settle(local);
  return readBarrier(reads.proposer).then(() => settle(outcome()));
}

/** True when `resolve()` gives `current` again (a refusal: false, the write answers it). */
function sameAfter(current: QueueAttributes, resolve: () => QueueAttributes): boolean {
  return succeeds(() => {
    if (JSON.stringify(resolve()) !== JSON.stringify(current)) throw new Error("changed");
  });
}

/**
 * A create of `requested`: the existing queue when it is the same (`created: false`), the
 * refusal the state machine would answer (`QueueAlreadyExists`) when it differs: a client
 * retrying a conflicting create costs no entry. `barrierPassed`: the request already waited for
 * the read barrier (`CreateQueueOptions`).
 */
export function createUnlessSame(
  reads: QueueReads,
  name: string,
  requested: QueueAttributes,
  write: () => Promise<CreateQueueResult>,
  barrierPassed = false,
): Promise<CreateQueueResult> {
  const same = (current: QueueAttributes) => sameAttributes(current, requested);
  const answer = (queue: Queue) => ({ queue, created: false });
  const refused = (current: QueueAttributes) => same(current) ? null : alreadyExists("queue", name);
  return unlessUnchanged(reads, name, same, answer, write, barrierPassed, refused);
}

/**
 * An update of `input`: the queue when the update leaves it as it is. One that names a
 * dead-letter policy is always written: its entry checks at apply that the target still exists.
 */
export function updateUnlessSame(
  reads: QueueReads,
  name: string,
  input: QueueAttributesInput,
  write: () => Promise<Queue>,
): Promise<Queue> {
  if (input.deadLetter) return write();
  const same = (now: QueueAttributes) => sameAfter(now, () => resolveUpdate(now, input));
  return unlessUnchanged(reads, name, same, (queue) => queue, write);
}

/** A tag change: the queue when `changes` leave its tags as they are. */
export function tagUnlessSame(
  reads: QueueReads,
  name: string,
  changes: TagChanges,
  write: () => Promise<Queue>,
): Promise<Queue> {
  const same = (now: QueueAttributes) => sameAfter(now, () => resolveUpdate(now, {}, changes));
  return unlessUnchanged(reads, name, same, (queue) => queue, write);
}

/**
 * A purge or redrive: `none` when the queue holds no message (none ready, locked or delayed:
 * nothing to purge or move) and `also` holds of its attributes and view.
 */
export function unlessEmpty<T>(
  reads: QueueReads,
  name: string,
  none: T,
  write: () => Promise<T>,
  also: (attributes: QueueAttributes, queue: Queue) => boolean = () => true,
): Promise<T> {
  const empty = (attributes: QueueAttributes, queue: Queue) =>
    queue.activeMessages + queue.inflightMessages + queue.delayedMessages === 0 &&
    also(attributes, queue);
  return unlessUnchanged(reads, name, empty, () => none, write);
}

/** True when `check` returns (does not throw). */
export function succeeds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
