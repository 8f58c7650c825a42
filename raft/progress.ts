/**
 * The leader's view of one follower (as etcd's `Progress`): how far its log matches, what to send
 * next, and how much may be in flight.
 *
 * - `probe`: the leader does not know where the logs diverge; one append at a time, the next one
 *   only after a response (or a heartbeat response).
 * - `replicate`: the logs match up to `match`; appends are pipelined optimistically, bounded by
 *   `Inflights` (messages and bytes).
 * - `snapshot`: the follower needs entries the leader compacted; a chunked snapshot is in flight
 *   and no appends are sent until it is acknowledged.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type LogIndex, maxIndex, minIndex, nextIndex, type StoredSnapshot } from "./types.ts";

/** The replication state of one follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** Limits for in-flight appends to one follower. */
export interface InflightLimits {
  messagesMax: number;
  bytesMax: number;
}

/**
 * The appends sent to one follower and not yet acknowledged, oldest first, each remembered by the
 * last index it carried and its size.
 */
export class Inflights {
  readonly #limits: InflightLimits;
  #lastIndexes: LogIndex[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;

  constructor(limits: InflightLimits) {
    assert.ok(limits.messagesMax >= 1, "at least one append may be in flight");
    assert.ok(limits.bytesMax >= 1, "in-flight byte limit is positive");
    this.#limits = limits;
  }

  get count(): number {
    return this.#lastIndexes.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  full(): boolean {
    return this.count >= this.#limits.messagesMax || this.#bytes >= this.#limits.bytesMax;
  }

  add(lastIndex: LogIndex, bytes: number): void {
    if (this.full()) assert.fail("never send past the in-flight limits");
    if (!(this.count === 0 || lastIndex > this.#lastIndexes.at(-1)!)) {
      assert.fail("in-flight grows");
    }
    this.#lastIndexes.push(lastIndex);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Frees every append whose last index is ≤ `index` (they were acknowledged). */
  freeTo(index: LogIndex): void {
    while (this.#head < this.#lastIndexes.length && this.#lastIndexes[this.#head] <= index) {
      this.#bytes -= this.#sizes[this.#head];
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > this.#lastIndexes.length) {
      this.#lastIndexes = this.#lastIndexes.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Frees the oldest append, so a stalled window lets one more through (to detect a loss). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeTo(this.#lastIndexes[this.#head]);
  }

  reset(): void {
    this.#lastIndexes = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}

/** A chunked snapshot transfer to one follower. */
export interface SnapshotTransfer {
  /** Its bytes are read chunk by chunk from `snapshot.source`, never held whole. */
  snapshot: StoredSnapshot;
  /** Bytes the follower confirmed. */
  ackedOffset: number;
  /** Bytes sent so far (rewound to `ackedOffset` on loss). */
  sentOffset: number;
  /** Whether the chunk ending at `totalBytes` has been sent since the last rewind. */
  sentAll: boolean;
  /** Heartbeat intervals without an acknowledgement; the leader resends after two. */
  idleHeartbeats: number;
  /** A rejection already rewound `sentOffset` during this heartbeat interval. */
  rewound: boolean;
}

/** The leader's bookkeeping for one member. */
export class Progress {
  match = 0 as LogIndex;
  next: LogIndex;
  state: ProgressState = "probe";
  /** In probe state: an append is outstanding, wait for its answer. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The leader's tick (`Raft.ticks`) when it last heard from this member; null: not yet. */
  heardAtTick: number | null = null;
  /**
   * The leader's tick when this member last said it may not campaign (`NewTerm`); null: never.
   * The leader then picks no transfer target that said so lately.
   */
  refusedLeadAtTick: number | null = null;
  readonly inflights: Inflights;
  transfer: SnapshotTransfer | null = null;
  /**
   * Tells this member's incarnation from earlier ones of its id within the leader's term: the
   * leader's last index when it made this progress (distinct for an id removed and added back,
   * as the removal lies between). Appends, snapshot chunks and heartbeats carry it in `context`
   * (`incarnation.ts`), the answers echo it, and an answer with another tag is of an earlier
   * incarnation (see `stepLeader`).
   */
  readonly incarnation: string;

  constructor(next: LogIndex, limits: InflightLimits, incarnation = "") {
    this.next = next;
    this.inflights = new Inflights(limits);
    this.incarnation = incarnation;
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot index.
    const snapshotIndex = this.transfer?.snapshot.index ?? 0 as LogIndex;
    this.state = "probe";
    this.next = maxIndex(nextIndex(this.match), nextIndex(snapshotIndex));
    this.#resetState();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = nextIndex(this.match);
    this.#resetState();
  }

  becomeSnapshot(snapshot: StoredSnapshot): void {
    this.#resetState();
    this.state = "snapshot";
    this.transfer = {
      snapshot,
      ackedOffset: 0,
      sentOffset: 0,
      sentAll: false,
      idleHeartbeats: 0,
      rewound: false,
    };
  }

  #resetState(): void {
    this.probeSent = false;
    this.inflights.reset();
    this.transfer = null;
  }

  /** Records that the follower matches up to `index`; true if that is news. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = maxIndex(this.next, nextIndex(index));
    return updated;
  }

  /** An append carrying entries up to `lastIndex` went out. */
  sentEntries(lastIndex: LogIndex, bytes: number): void {
    if (this.state === "replicate") {
      this.next = nextIndex(lastIndex);
      this.inflights.add(lastIndex, bytes);
    } else {
      assert.equal(this.state, "probe", "no appends while a snapshot is in flight");
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejected append of `rejected` (its prev index); `hintIndex` is the leader's guess of
   * the last matching index. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: LogIndex, hintIndex: LogIndex): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = nextIndex(this.match);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    if (rejected <= this.match) {
      // The follower lacks an entry it acknowledged: it lost part of its log (a damaged disk),
      // or the rejection predates the acknowledgement. Re-sending the same probe would be
      // rejected forever (a storm once duplicates multiply it), so believe the follower: a
      // lower match only delays commits and costs a resend if the rejection was old.
      this.match = Math.max(0, Math.min(hintIndex, rejected - 1)) as LogIndex;
      this.next = nextIndex(this.match);
      this.probeSent = false;
      return true;
    }
    this.next = maxIndex(minIndex(rejected, nextIndex(hintIndex)), nextIndex(this.match));
    this.probeSent = false;
    return true;
  }

  /**
   * The follower says its log ends at `lastIndex`, below `match` (it lost acknowledged entries).
   * Lowers match and probes from there; false when the news is not news.
   */
  lostEntries(lastIndex: LogIndex): boolean {
    if (lastIndex >= this.match || this.state === "snapshot") return false;
    this.match = lastIndex;
    this.becomeProbe();
    this.next = nextIndex(lastIndex);
    return true;
  }

  /** Whether the leader must hold appends to this follower for now. */
  isPaused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflights.full();
    return true;
  }
}
