/**
 * What a receive on a queue could take at `now`, between applies (`QueueState.hasReceivable`,
 * `QueueState.receivableCount`), which the long polls' wake-ups go by. Read only: nothing here
 * changes the queue, so it may look past the last apply.
 *
 * The locks and delays that ended by `now` but that no apply has released yet are found among the
 * release heap's entries due by `now`, each checked as `release` checks it: its message still
 * tracked, with that `visibleAt`, and not Ready. An entry left behind (its message deleted,
 * purged or moved, its lock changed or ended early) counts nothing: counted, it woke a parked
 * receive that then found nothing, one log write each (FIFO queues: `fifo_receivable.ts`).
 *
 * @module
 */
import type { FifoGroups } from "./queue_fifo.ts";
import type { ReleaseHeap } from "./release_heap.ts";
import type { RunSet } from "./run_set.ts";
import type { SortedNumbers } from "./sorted_numbers.ts";
import { groupsOpenedAt } from "./fifo_receivable.ts";
import { type Tracked, TrackState } from "./track_counts.ts";

/** Steps a count scans the backlog (or visits the heap) before it settles for "at least one". */
const receivableScanStepsMax = 1024;
/** Steps `hasReceivable` scans the backlog before it settles for "maybe". */
const hasReceivableStepsMax = 64;

/** The parts of a queue the answers read. */
export interface ReceivableView {
  fifo: FifoGroups | null;
  heap: ReleaseHeap;
  tracked: ReadonlyMap<number, Tracked>;
  /** Standard queues: the Ready messages. */
  ready: SortedNumbers;
  deleted: RunSet;
  /** The queue's lowest retained and next sequence, and its cursor (no plain message below). */
  low: number;
  end: number;
  cursor: number;
}

/** True when a receive at `now` may find a message (false positives possible, rare). */
export function hasReceivable(view: ReceivableView, now: number): boolean {
  if (view.fifo) {
    if (view.fifo.readyCount > 0) return true;
    return view.heap.peekTime() <= now && receivableCount(view, now, 1) > 0;
  }
  if (view.ready.size > 0) return true;
  const plain = plainCount(view, 1, hasReceivableStepsMax);
  if (plain > 0) return true;
  return view.heap.peekTime() <= now && releasesDueAt(view, now, 1) > 0;
}

/**
 * About how many messages a receive at `now` could take, up to `limit`: locks and delays that
 * ended count (on a FIFO queue one per group they open, `fifo_receivable.ts`), and a scan that
 * gives up early answers at least 1. Never 0 while `hasReceivable(now)` is true.
 */
export function receivableCount(view: ReceivableView, now: number, limit: number): number {
  const { fifo, heap } = view;
  if (fifo) {
    const ready = Math.min(limit, fifo.readyCount);
    if (ready === limit || heap.peekTime() > now) return ready;
    const fifoView = { fifo, heap, tracked: view.tracked };
    return ready + groupsOpenedAt(fifoView, now, limit - ready, receivableScanStepsMax);
  }
  let count = Math.min(limit, view.ready.size);
  if (count < limit && heap.peekTime() <= now) count += releasesDueAt(view, now, limit - count);
  if (count < limit) count += plainCount(view, limit - count, receivableScanStepsMax);
  return Math.min(limit, count);
}

/**
 * Standard queues: the messages never received nor delayed from the cursor on, up to `limit`;
 * once `stepsMax` steps found none more, at least 1.
 */
function plainCount(view: ReceivableView, limit: number, stepsMax: number): number {
  const { deleted, tracked, end } = view;
  let count = 0;
  let cursor = Math.max(view.cursor, view.low);
  for (let steps = 0; cursor < end && count < limit; steps++) {
    if (steps === stepsMax) return Math.max(count, 1);
    if (deleted.has(cursor)) cursor = deleted.nextAbsent(cursor);
    else {
      if (!tracked.has(cursor)) count++;
      cursor++;
    }
  }
  return count;
}

/**
 * Standard queues: the Delayed and Inflight messages whose delay or lock ended by `now` (the
 * releases the next apply makes), up to `limit`; once `receivableScanStepsMax` heap entries were
 * visited without an answer, at least 1.
 */
function releasesDueAt(view: ReceivableView, now: number, limit: number): number {
  const tracked = view.tracked;
  let count = 0;
  let visits = 0;
  let gaveUp = false;
  let lastTime = NaN;
  let lastSequence = NaN;
  view.heap.visitUntil(now, (time, sequence) => {
    if (count >= limit) return false;
    if (visits++ === receivableScanStepsMax) return !(gaveUp = true);
    // Equal entries (a lock changed away and back) come out one after the other: one release.
    if (time === lastTime && sequence === lastSequence) return true;
    lastTime = time;
    lastSequence = sequence;
    const message = tracked.get(sequence);
    if (message === undefined || message.visibleAt !== time) return true;
    if (message.state !== TrackState.Ready) count++;
    return true;
  });
  return gaveUp ? Math.max(count, 1) : count;
}
