/**
 * Retention on a FIFO queue as the newer entry forms apply it (TickKeepingLocks, ReceiveBatch
 * layout 3, SendReceive layout 4): a message in flight past retention stays until its lock
 * ends (or it is deleted), so its group's next message is not delivered while it is still
 * locked; the other messages past retention go at once, as before. Dropping it at once (the
 * earlier forms) ended its group's lock: the group's next message went to another receiver
 * while the first was still being worked on, and its worker's delete answered `gone`.
 *
 * Drops are by prefix (`QueueStore.dropPrefix`): the messages below the first one kept are
 * dropped; the expired ones behind it that are not in flight are removed (deleted: out of the
 * rewind window, which is never longer than retention), and dropped with it later.
 *
 * @module
 */
import type { RunSet } from "./run_set.ts";
import { type Tracked, TrackState } from "./track_counts.ts";

/** How retention sees a FIFO queue's messages. */
export interface RetainedMessages {
  /** The first undeleted sequence at or after `sequence` (maybe past the queue's end). */
  nextUndeleted(sequence: number): number;
  /** When the lock of `sequence` ends, if it is in flight; else undefined. */
  lockEnd(sequence: number): number | undefined;
  /** When `sequence` was enqueued. */
  timeOf(sequence: number): number;
}

/** The messages of a queue as retention sees them (the queue's fields, read at each call). */
export function retainedMessages(queue: {
  deleted(): RunSet;
  tracked(sequence: number): Tracked | undefined;
  timeOf(sequence: number): number;
}): RetainedMessages {
  return {
    nextUndeleted: (sequence) => {
      const deleted = queue.deleted();
      return deleted.has(sequence) ? deleted.nextAbsent(sequence) : sequence;
    },
    lockEnd: (sequence) => {
      const tracked = queue.tracked(sequence);
      return tracked?.state === TrackState.Inflight ? tracked.visibleAt : undefined;
    },
    timeOf: queue.timeOf,
  };
}

/**
 * What retention removes of `[low, cut)` (the messages enqueued before its cut): the prefix
 * below `dropBelow` (the first message in flight, or `cut`), and `remove`, the undeleted
 * messages from there on below `cut` that are not in flight, ascending.
 */
export function expiredKeepingLocks(
  messages: RetainedMessages,
  low: number,
  cut: number,
): { dropBelow: number; remove: number[] } {
  let dropBelow = messages.nextUndeleted(low);
  while (dropBelow < cut && messages.lockEnd(dropBelow) === undefined) {
    dropBelow = messages.nextUndeleted(dropBelow + 1);
  }
  dropBelow = Math.min(dropBelow, cut);
  const remove: number[] = [];
  for (let sequence = dropBelow; sequence < cut; sequence++) {
    sequence = messages.nextUndeleted(sequence);
    if (sequence >= cut) break;
    if (messages.lockEnd(sequence) === undefined) remove.push(sequence);
  }
  return { dropBelow, remove };
}

/**
 * Retention of the messages below `cut` (enqueued before its time): `queue.drop`s the prefix
 * below it, or with `messages` (a FIFO queue, the newer forms) below the first one in flight,
 * and `queue.remove`s the others that are not in flight.
 */
export function expire(
  messages: RetainedMessages | null,
  low: number,
  cut: number,
  queue: { drop(below: number): void; remove(sequence: number): void },
): void {
  if (messages === null) return queue.drop(cut);
  const expired = expiredKeepingLocks(messages, low, cut);
  queue.drop(expired.dropBelow);
  for (const sequence of expired.remove) queue.remove(sequence);
}

/**
 * When retention next has work on a queue whose lowest message `low` was enqueued at
 * `lowTime - 1` (Infinity: none): at `low`'s expiry, or with `messages` (a FIFO queue whose
 * `low` is undeleted) as `dueKeepingLocks` finds it, as the Tick the leader proposes
 * (TickKeepingLocks) keeps messages in flight.
 */
export function due(
  messages: RetainedMessages | null,
  low: number,
  end: number,
  lowTime: number,
  attributes: { retentionSeconds: number },
): number {
  const retentionMs = attributes.retentionSeconds * 1000;
  return messages === null
    ? lowTime + retentionMs
    : dueKeepingLocks(messages, low, end, retentionMs);
}

/**
 * When retention next has work from the undeleted message `first` on (Infinity: none): a
 * message not in flight when it expires (strictly older than the cut, hence + 1 ms), one in
 * flight when it expires or its lock ends, whichever is later. Walks only the messages in
 * flight at the front that could be due before the next one (enqueue times never decrease).
 */
export function dueKeepingLocks(
  messages: RetainedMessages,
  first: number,
  end: number,
  retentionMs: number,
): number {
  let due = Infinity;
  for (let sequence = first; sequence < end; sequence = messages.nextUndeleted(sequence + 1)) {
    const expiry = messages.timeOf(sequence) + 1 + retentionMs;
    if (expiry >= due) break;
    const lockEnd = messages.lockEnd(sequence);
    if (lockEnd === undefined) return expiry;
    due = Math.min(due, Math.max(expiry, lockEnd));
  }
  return due;
}
