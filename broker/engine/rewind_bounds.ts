/**
 * Which deleted messages of a queue a rewind can no longer bring back, besides those sent before
 * its window: the ones below `floor`, a sequence an UpdateQueueWithRewindFloor entry (40) raises
 * (it bars every message below it, even one deleted only after that update), and the ones in
 * `barred`, exactly the messages that were deleted when an UpdateQueueBarringDeleted entry (43)
 * changed `rewindSeconds` and were then out of the smaller window (`QueueState.barRewind`).
 * `barred` holds deleted messages only, none below the queue's lowest: a rewind skips them, and
 * housekeeping forgets them once they reach the queue's oldest end.
 *
 * @module
 */
import { RunSet } from "./run_set.ts";

/** A queue's rewind floor and barred messages. */
export class RewindBounds {
  /** No message below it can come back; it only rises. Moot (stored as 0) once not above low. */
  floor = 0;
  /** Deleted messages that can never come back. */
  barred: RunSet = new RunSet();

  /** The first sequence from `cut` on that is neither below the floor nor barred. */
  from(cut: number): number {
    return this.barred.nextAbsent(Math.max(cut, this.floor));
  }

  /** True when the (deleted) message `sequence` can never come back. */
  isOut(sequence: number): boolean {
    return sequence < this.floor || this.barred.has(sequence);
  }

  /**
   * Where the deleted messages from `low` on that can never come back end: those before
   * `rewindFrom` (out of the window, or below the floor), then barred ones, and so on.
   */
  forgetEnd(deleted: RunSet, low: number, rewindFrom: number): number {
    let end = low;
    while (deleted.has(end)) {
      const out = end < rewindFrom ? rewindFrom : this.barred.nextAbsent(end);
      if (out === end) break;
      end = Math.min(deleted.nextAbsent(end), out);
    }
    return end;
  }

  /** Bars every member of `deleted` in `[low, cut)`. */
  bar(deleted: RunSet, low: number, cut: number): void {
    this.barred.addFrom(deleted, low, cut);
  }

  /** How many of `deleted` in `[from, end)` a rewind would bring back. */
  rewindable(deleted: RunSet, from: number, end: number): number {
    return deleted.countRange(from, end) - this.barred.countRange(from, end);
  }

  /**
   * Undeletes every member of `deleted` in `[from, end)` that is not barred; returns how many.
   * `restored`, when given, receives each run undeleted, ascending. The work follows the runs
   * undeleted and the barred runs passed over.
   */
  undelete(deleted: RunSet, from: number, end: number, restored?: [number, number][]): number {
    let count = 0;
    for (let start = from; start < end;) {
      const stop = Math.min(this.barred.nextMember(start), end);
      for (let run = deleted.nextMember(start); restored && run < stop;) {
        const runStop = Math.min(deleted.nextAbsent(run), stop);
        restored.push([run, runStop]);
        run = deleted.nextMember(runStop);
      }
      count += deleted.removeRange(start, stop);
      start = stop < end ? this.barred.nextAbsent(stop) : end;
    }
    return count;
  }

  /** Forgets what is below `low` (the queue dropped it). */
  trimBelow(low: number): void {
    this.barred.trimBelow(low);
  }
}
