/**
 * A queue's tracked messages (delayed or received ones) and their counts by state, so the API view
 * of a queue (`QueueState.view`: every GET of a queue, list pages, GetQueueAttributes, which
 * monitoring polls) costs no walk over every message in flight or delayed (about 1 ms at 100,000
 * in flight, on the leader's main thread).
 *
 * The counts are derived state: kept up to date by every change of a tracked message during apply
 * (so followers keep the same ones), rebuilt by `readState`, never written to a snapshot. The view
 * at `now` (a read between applies) also counts as visible the messages whose lock or delay ended
 * by `now` but that no apply has released yet: it finds those among the release heap's entries due
 * by `now`, read without popping and checked as `release` checks them.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import type { ReleaseHeap } from "./release_heap.ts";

/** States of a tracked message. */
export const TrackState = { Delayed: 0, Inflight: 1, Ready: 2 } as const;

/** Per-message state of a message that was delayed or received (not kept for plain backlog). */
export class Tracked {
  constructor(
    public state: number,
    public visibleAt: number,
    public receiveCount = 0,
    public firstReceivedAt = 0,
    /** Log index of the receive that delivered it last (0: never). */
    public deliveryIndex = 0,
  ) {}
}

/**
 * Test and debug switch: each `QueueState.view` also counts by a walk over every tracked message
 * and throws if the counts differ.
 */
export const trackCountChecks = { enabled: false };

/** Messages in flight and delayed at a time, as the API view counts them. */
export interface LockedCounts {
  inflight: number;
  delayed: number;
}

/** Sums over queues: their messages not yet deleted, and of those the ones locked at a time. */
export interface DepthSum extends LockedCounts {
  undeleted: number;
}

/** The depths of all queues together at a time, as their API views count them. */
export interface DepthTotals {
  activeMessages: number;
  inflightMessages: number;
  delayedMessages: number;
}

/**
 * The depths of `queues` together at `now`, from the counts each keeps (no view built): each
 * adds its messages not yet deleted, in flight and delayed (`QueueState.addDepthAt`).
 */
export function depthTotalsOf(
  queues: Iterable<{ addDepthAt(now: number, sum: DepthSum): void }>,
  now: number,
): DepthTotals {
  const sum: DepthSum = { undeleted: 0, inflight: 0, delayed: 0 };
  for (const queue of queues) queue.addDepthAt(now, sum);
  const { undeleted, inflight, delayed } = sum;
  return {
    activeMessages: undeleted - inflight - delayed,
    inflightMessages: inflight,
    delayedMessages: delayed,
  };
}

/** How many tracked messages a queue holds in each state. */
export class TrackCounts {
  delayed = 0;
  inflight = 0;
  ready = 0;

  /** A message of `state` became tracked. */
  add(state: number): void {
    this.#change(state, 1);
  }

  /** A tracked message of `state` is no longer tracked. */
  remove(state: number): void {
    this.#change(state, -1);
  }

  /** A tracked message went from state `from` to `to`. */
  move(from: number, to: number): void {
    this.#change(from, -1);
    this.#change(to, 1);
  }

  /** No message is tracked any more. */
  clear(): void {
    this.delayed = this.inflight = this.ready = 0;
  }

  #change(state: number, by: number): void {
    if (state === TrackState.Delayed) this.delayed += by;
    else if (state === TrackState.Inflight) this.inflight += by;
    else this.ready += by;
    invariant(this.delayed >= 0 && this.inflight >= 0 && this.ready >= 0, "counts stay >= 0");
  }

  /**
   * The messages in flight and delayed at `now`: those of the counts whose lock or delay has not
   * ended by `now`. Every Delayed or Inflight message has an entry `(visibleAt, sequence)` in
   * `heap` (pushed whenever it took that state or its `visibleAt` changed), so the ones that
   * ended by `now` are among the entries due by `now`. An entry counts as `release` would take
   * it: its message still tracked, with that `visibleAt`, and not Ready; a stale entry is skipped.
   * Equal entries (a lock changed away and back) come out one after the other, and count once.
   *
   * Costs O(k log k) in the k entries due by `now` (stale ones included), which the next apply's
   * `release` pops; they pile up only on a queue no entry touched since (no Tick releases locks
   * alone). Past an eighth of the tracked messages (+ 64), a visit costs more than a walk over
   * all of them (measured: about 9 times as much per message), so it walks them instead.
   */
  lockedAt(now: number, heap: ReleaseHeap, tracked: Map<number, Tracked>): LockedCounts {
    const counts = { inflight: 0, delayed: 0 };
    this.addLockedAt(now, heap, tracked, counts);
    return counts;
  }

  /**
   * Adds the messages in flight and delayed at `now` (as `lockedAt` counts them) to `sum`: the
   * node-wide totals sum them over every queue. A queue none of whose locks or delays ended by
   * `now` (its earliest heap entry is later) costs two additions and allocates nothing.
   */
  addLockedAt(
    now: number,
    heap: ReleaseHeap,
    tracked: Map<number, Tracked>,
    sum: LockedCounts,
  ): void {
    let inflight = this.inflight;
    let delayed = this.delayed;
    // With nothing due by `now`, the kept counts are what the visit would find.
    if (heap.peekTime() <= now) {
      const visitsMax = (tracked.size >> 3) + 64;
      if (heap.countDue(now, visitsMax) >= visitsMax) {
        ({ inflight, delayed } = lockedByWalk(now, tracked));
      } else {
        let lastTime = NaN;
        let lastSequence = NaN;
        heap.visitUntil(now, (time, sequence) => {
          if (time === lastTime && sequence === lastSequence) return true;
          lastTime = time;
          lastSequence = sequence;
          const message = tracked.get(sequence);
          if (message === undefined || message.visibleAt !== time) return true;
          if (message.state === TrackState.Inflight) inflight--;
          else if (message.state === TrackState.Delayed) delayed--;
          return true;
        });
      }
    }
    if (trackCountChecks.enabled) this.#check(now, tracked, { inflight, delayed });
    sum.inflight += inflight;
    sum.delayed += delayed;
  }

  /** Under `trackCountChecks`: the counts and `counts` are what a walk over `tracked` finds. */
  #check(now: number, tracked: Map<number, Tracked>, counts: LockedCounts): void {
    const all = new TrackCounts();
    for (const message of tracked.values()) all.add(message.state);
    const kept = [this.delayed, this.inflight, this.ready].join();
    const found = [all.delayed, all.inflight, all.ready].join();
    invariant(kept === found, `delayed, in flight, ready: ${kept}, by a walk ${found}`);
    const walked = lockedByWalk(now, tracked);
    invariant(
      counts.inflight === walked.inflight && counts.delayed === walked.delayed,
      `at ${now}: ${JSON.stringify(counts)}, by a walk ${JSON.stringify(walked)}`,
    );
  }
}

/** The messages in flight and delayed at `now`, by a walk over every tracked message. */
function lockedByWalk(now: number, tracked: Map<number, Tracked>): LockedCounts {
  const counts: LockedCounts = { inflight: 0, delayed: 0 };
  for (const message of tracked.values()) {
    if (message.visibleAt <= now || message.state === TrackState.Ready) continue;
    if (message.state === TrackState.Inflight) counts.inflight++;
    else counts.delayed++;
  }
  return counts;
}
