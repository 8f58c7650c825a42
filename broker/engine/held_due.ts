/**
 * When the dead-letter TTL of a FIFO queue next has work for the groups it holds (`ttlBlocked` in
 * queue_store.ts): the earliest lock end of their messages in flight, or -Infinity once one of
 * them has none in flight. The leader asks this about once a second (`StateMachine.needsTick`);
 * a walk over every held group cost 16–21 ms there at 100,000 groups.
 *
 * Instead each held group is looked at once after it changed: its message in flight goes into a
 * heap by lock end. A heap entry may go stale (the group moved on, the lock changed or ended, the
 * group is no longer held); stale entries are checked against the queue when they come to the
 * top, and dropped. The queue reports every change that can make an entry stale or a group's due
 * time differ (`look`): a held group's head or count in flight changed, the lock of its message in
 * flight changed, or it became held. So the answer is exactly the walk's (`dueAt` of queue_store.ts
 * checks that under `heldDueChecks`).
 *
 * Only `dueAt` fills the heap, so a replica that never asks (a follower) holds only the set of
 * groups to look at, at most a quarter of the held groups (+ 64).
 *
 * @module
 */
import { ReleaseHeap } from "./release_heap.ts";
import type { FifoGroups } from "./queue_fifo.ts";

/**
 * How the held groups look to `HeldDue` (keyed by group; ttl_pending.ts uses the same with a
 * standard queue's messages as keys, each its own "group").
 */
export interface HeldGroupsView<K = string> {
  /**
   * The message in flight of held group `key` (its due time is that message's lock end), 0 when
   * the group is held with nothing in flight (due now), or -1 when it holds nothing (not held,
   * or its head is not below the TTL cursor).
   */
  heldInflight(key: K): number;
  /** The lock end of in-flight `sequence` (only asked of a sequence `heldInflight` named). */
  lockEnd(sequence: number): number;
  /** True while `sequence` is the message in flight of a held group, locked until `time`. */
  isHeldLock(sequence: number, time: number): boolean;
  /** The held groups (each is looked at again after a compaction of the heap). */
  heldKeys(): Iterable<K>;
  /** How many groups are held. */
  heldCount(): number;
}

/**
 * Test and debug switch: `QueueStore.dueAt` also walks every held group (and every message the
 * TTL keeps in flight) and compares; a Tick checks the messages it moves against a walk.
 */
export const heldDueChecks = { enabled: false };

/** Heap entries kept beyond the held groups' count before the heap is built again. */
const staleEntriesMax = 64;
/** Groups to look at, beyond a quarter of the held ones, before all are looked at instead. */
const lookMax = 64;

/** The earliest due time of a FIFO queue's held groups, without a walk over all of them. */
export class HeldDue<K = string> {
  /** Held groups to look at (changed since their last look, or never looked at). */
  #look = new Set<K>();
  /** Every held group is to be looked at (`#look` is empty). */
  #lookAll = false;
  /** `(lock end, sequence)` of held groups' messages in flight, maybe stale. */
  #heap = new ReleaseHeap();

  /**
   * Group `key` (held, of `heldCount`) changed: its due time may differ. Past a quarter of the
   * held groups, all are looked at instead (about the same work, and a replica that never asks
   * holds no list as long as the held groups').
   */
  look(key: K, heldCount: number): void {
    if (this.#lookAll) return;
    if (this.#look.size >= heldCount / 4 + lookMax) this.reset();
    else this.#look.add(key);
  }

  /** Group `key` is no longer held. */
  forget(key: K): void {
    this.#look.delete(key);
  }

  /** Starts over: every held group is to be looked at (after a restore, a rewind, a new set). */
  reset(): void {
    this.#heap.clear();
    this.#look.clear();
    this.#lookAll = true;
  }

  /** The earliest due time of the held groups (Infinity: none). */
  dueAt(view: HeldGroupsView<K>): number {
    const heap = this.#heap;
    // Stale entries are dropped only at the top: a compaction bounds the ones below it.
    if (heap.size > 2 * view.heldCount() + staleEntriesMax) this.reset();
    let due = Infinity;
    const lookAt = (key: K) => {
      const sequence = view.heldInflight(key);
      if (sequence === 0) {
        due = -Infinity; // (stays to look at: the next Tick moves the group's messages)
        return true;
      }
      if (sequence > 0) heap.push(view.lockEnd(sequence), sequence);
      return false;
    };
    if (this.#lookAll) {
      this.#lookAll = false;
      for (const key of view.heldKeys()) if (lookAt(key)) this.#look.add(key);
    } else {
      for (const key of this.#look) if (!lookAt(key)) this.#look.delete(key);
    }
    while (heap.size > 0) {
      const time = heap.peekTime();
      if (view.isHeldLock(heap.peekSequence(), time)) return Math.min(due, time);
      heap.pop();
    }
    return due;
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return this.#heap.memoryBytes() + this.#look.size * 48;
  }
}

/**
 * The earliest due time of a FIFO queue's held groups by a walk over all of them, the answer
 * `HeldDue` must match (`heldDueChecks`): -Infinity for a held group with nothing in flight, else
 * the end of its lock (`inflightVisibleAt`: a message's lock end when it is in flight).
 */
export function heldDueByWalk(
  fifo: FifoGroups,
  blocked: Iterable<string>,
  cursor: number,
  end: number,
  inflightVisibleAt: (sequence: number) => number | undefined,
): number {
  let due = Infinity;
  for (const key of blocked) {
    const head = fifo.headOf(key);
    if (head === 0 || head >= cursor) continue;
    if (fifo.inflightOf(key) === 0) {
      due = -Infinity;
      continue;
    }
    for (let sequence = head; sequence > 0; sequence = fifo.nextOf(sequence, end)) {
      const visibleAt = inflightVisibleAt(sequence);
      if (visibleAt === undefined) continue;
      due = Math.min(due, visibleAt);
      break;
    }
  }
  return due;
}
