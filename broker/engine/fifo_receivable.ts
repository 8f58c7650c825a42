/**
 * What the locks and delays that ended by `now`, and that no apply has released yet, add to what
 * a receive on a FIFO queue could take (`QueueState.receivableCount` between applies, which the
 * long polls' wake-ups go by): a group counts once, and only when those releases open it — its
 * head is free and none of its messages is in flight afterwards — while it is not open already.
 * A delay that ends behind a message of its group in flight, or behind a head that waits, adds
 * nothing (counted as one per entry, it woke a parked receive that then found nothing).
 *
 * @module
 */
import type { FifoGroups } from "./queue_fifo.ts";
import type { ReleaseHeap } from "./release_heap.ts";
import { type Tracked, TrackState } from "./track_counts.ts";

/** The queue's parts the count reads (nothing is changed). */
export interface FifoReleaseView {
  fifo: FifoGroups;
  heap: ReleaseHeap;
  tracked: ReadonlyMap<number, Tracked>;
}

/**
 * How many groups the releases due at `now` would open, up to `limit`; once `visitsMax` heap
 * entries were visited without an answer, at least 1 (as a scan that gives up early). Every
 * visit counts toward `visitsMax`, stale entries too: they stay in the heap until an apply pops
 * them (a count changes nothing), so skipping them for free let one count visit them all.
 */
export function groupsOpenedAt(
  view: FifoReleaseView,
  now: number,
  limit: number,
  visitsMax: number,
): number {
  const { fifo, heap, tracked } = view;
  const due = new Set<number>();
  const lockEnds = new Map<string, number>();
  let gaveUp = false;
  let visits = 0;
  heap.visitUntil(now, (time, sequence) => {
    if (visits++ === visitsMax) return !(gaveUp = true);
    const message = tracked.get(sequence);
    if (message === undefined || message.visibleAt !== time) return true; // stale
    if (message.state === TrackState.Ready || due.has(sequence)) return true;
    due.add(sequence);
    const key = fifo.groupKey(sequence);
    const ending = message.state === TrackState.Inflight ? 1 : 0;
    lockEnds.set(key, (lockEnds.get(key) ?? 0) + ending);
    return true;
  });
  const blocked = (sequence: number) => {
    const state = tracked.get(sequence)?.state;
    return state === TrackState.Delayed || state === TrackState.Inflight;
  };
  let opened = 0;
  for (const [key, ending] of lockEnds) {
    if (opened >= limit) break;
    const head = fifo.headOf(key);
    if (head === 0) continue;
    const inflight = fifo.inflightOf(key);
    if (inflight === 0 && !blocked(head)) continue; // open already (counted by the caller)
    if (inflight - ending === 0 && (!blocked(head) || due.has(head))) opened++;
  }
  return gaveUp ? Math.max(opened, 1) : opened;
}
