/**
 * The messages of a standard queue that the dead-letter TTL passed while they were in flight
 * (`ttlPending` in queue_store.ts): each goes to the dead-letter queue once its lock ends, unless
 * it is deleted first. A walk over all of them cost 3–6 ms per `needsTick` (about once a second
 * on the leader) and ~4.7 ms per Tick and per receive at 100,000 of them, whether a lock ended
 * or not.
 *
 * Instead the queue reports each change of a kept message (`changed`): its lock ended, changed or
 * began again, or it was deleted (`changedAll`: a purge deleted them all). Every other kept
 * message is still in flight under the same lock as when it was last looked at, so:
 * - a Tick (`settle`) looks only at the changed ones, in sequence order: the same messages leave,
 *   in the same order, as a walk over all of them in sequence order, and the same ones stay (the
 *   snapshot lists them as before, ascending);
 * - the due time (`dueAt`) is the earliest `visibleAt` of the kept messages (a lock end, past
 *   for one released since; -Infinity once one is deleted), kept by `HeldDue` (held_due.ts) with
 *   each message as its own "group": a heap by lock end whose stale entries are dropped at the
 *   top. Only `dueAt` fills the heap, so a replica that never asks (a follower) keeps none.
 *
 * Past a quarter of the kept messages (+ 64) changed, the next Tick walks all of them instead
 * (about the same work, and no list as long as the kept one). After a restore it walks all once.
 * Under `heldDueChecks` both are checked against a walk.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { HeldDue, heldDueChecks, type HeldGroupsView } from "./held_due.ts";
import { SortedNumbers } from "./sorted_numbers.ts";

/** How the queue's messages look to `TtlPending`. */
export interface PendingView {
  /** The lock end of tracked `sequence` (undefined: no longer tracked, i.e. deleted). */
  visibleAt(sequence: number): number | undefined;
  /** True while `sequence` is kept: not deleted and in flight. */
  stays(sequence: number): boolean;
}

/** Changed messages, beyond a quarter of the kept ones, before the next Tick walks all. */
const changedMax = 64;

/** The messages a standard queue's dead-letter TTL keeps until their lock ends. */
export class TtlPending {
  /** The kept messages (maybe deleted or no longer in flight since the last `settle`). */
  #members = new SortedNumbers();
  /** Members that changed since the last `settle` (every other one stays). */
  #changed = new Set<number>();
  /** Every member is to be looked at by the next `settle` (`#changed` is empty). */
  #changedAll = false;
  #due = new HeldDue<number>();
  #view: PendingView;
  #dueView: HeldGroupsView<number>;

  constructor(view: PendingView) {
    this.#view = view;
    const members = this.#members;
    this.#dueView = {
      heldInflight: (sequence) => {
        if (!members.has(sequence)) return -1;
        return view.visibleAt(sequence) === undefined ? 0 : sequence;
      },
      lockEnd: (sequence) => view.visibleAt(sequence)!,
      isHeldLock: (sequence, time) => members.has(sequence) && view.visibleAt(sequence) === time,
      heldKeys: () => members.toArray(),
      heldCount: () => members.size,
    };
  }

  /** Kept messages. */
  get size(): number {
    return this.#members.size;
  }

  /** The kept messages, ascending (the snapshot's list). */
  toArray(): number[] {
    return this.#members.toArray();
  }

  /** Keeps in-flight `sequences`, ascending, above every kept one (the TTL passes in order). */
  add(sequences: number[]): void {
    this.#members.appendSorted(sequences);
    for (const sequence of sequences) this.#due.look(sequence, this.#members.size);
  }

  /** Kept `sequences`, ascending, as a snapshot listed them: each is looked at by the next Tick. */
  load(sequences: number[]): void {
    this.#members.appendSorted(sequences);
    this.changedAll();
  }

  /** The lock of `sequence` ended, changed or began again, or it was deleted (if it is kept). */
  changed(sequence: number): void {
    const members = this.#members;
    if (!members.has(sequence)) return;
    if (!this.#changedAll) {
      if (this.#changed.size < members.size / 4 + changedMax) this.#changed.add(sequence);
      else {
        this.#changedAll = true;
        this.#changed.clear();
      }
    }
    this.#due.look(sequence, members.size);
  }

  /** Every kept message changed (a purge deleted them). */
  changedAll(): void {
    this.#changedAll = true;
    this.#changed.clear();
    this.#due.reset();
  }

  /** Forgets the kept messages below `low` (out of the queue). */
  trimBelow(low: number): void {
    this.#members.trimBelow(low);
  }

  /**
   * Stops keeping the messages that are deleted or no longer in flight, and returns them in
   * sequence order (the deleted ones too: the caller moves the others).
   */
  settle(): number[] {
    const members = this.#members;
    const stays = this.#view.stays;
    const expected = heldDueChecks.enabled ? members.toArray().filter((s) => !stays(s)) : null;
    let leaving: number[];
    if (this.#changedAll) {
      const kept: number[] = [];
      leaving = [];
      for (const sequence of members.toArray()) (stays(sequence) ? kept : leaving).push(sequence);
      if (leaving.length > 0) {
        members.clear();
        members.appendSorted(kept);
      }
    } else {
      leaving = [...this.#changed].filter((sequence) => members.has(sequence) && !stays(sequence))
        .sort((left, right) => left - right);
      for (const sequence of leaving) members.delete(sequence);
    }
    this.#changed.clear();
    this.#changedAll = false;
    for (const sequence of leaving) this.#due.forget(sequence);
    if (expected !== null) {
      const same = expected.length === leaving.length &&
        expected.every((sequence, at) => leaving[at] === sequence);
      if (!same) invariant(false, `kept messages leaving ${leaving}, by a walk ${expected}`);
    }
    return leaving;
  }

  /** The earliest lock end of the kept messages (-Infinity: one is deleted; Infinity: none). */
  dueAt(): number {
    const due = this.#due.dueAt(this.#dueView);
    if (heldDueChecks.enabled) {
      let walked = Infinity;
      for (const sequence of this.#members.toArray()) {
        walked = Math.min(walked, this.#view.visibleAt(sequence) ?? -Infinity);
      }
      if (due !== walked) invariant(false, `kept messages due at ${due}, by a walk at ${walked}`);
    }
    return due;
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return this.#members.memoryBytes() + this.#due.memoryBytes() + this.#changed.size * 48;
  }
}
