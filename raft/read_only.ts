/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4): a read records the commit index,
 * then waits until a heartbeat round proves a majority still follows this leader. A round that
 * reaches a quorum also confirms every read registered before it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LogIndex, NodeId } from "./types.ts";

/** One read waiting for its leadership confirmation. */
export interface PendingRead {
  /** Who asked: the leader itself or a follower that forwarded the request. */
  requester: NodeId;
  requestId: string;
  index: LogIndex;
  /** The heartbeat context proving this round. */
  context: string;
  acks: Set<NodeId>;
}

/** The reads of one leadership, in the order they were registered. */
export class ReadOnly {
  #pending = new Map<string, PendingRead>();
  #queue: string[] = [];
  #nextRound = 1;

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a read at `index` and returns the heartbeat context that confirms it. */
  add(read: { requester: NodeId; requestId: string; index: LogIndex }): string {
    // Contexts are generated, never the caller's ids, so followers' ids cannot collide.
    const context = `r${this.#nextRound++}`;
    this.#pending.set(context, { ...read, context, acks: new Set() });
    this.#queue.push(context);
    return context;
  }

  /** Records `from`'s acknowledgement of round `context`; returns who acked, or null if unknown. */
  recordAck(from: NodeId, context: string): ReadonlySet<NodeId> | null {
    const read = this.#pending.get(context);
    if (read === undefined) return null;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns every read up to and including round `context`, oldest first. */
  release(context: string): PendingRead[] {
    const position = this.#queue.indexOf(context);
    assert.ok(position >= 0, "released round is pending");
    const released = this.#queue.splice(0, position + 1).map((key) => this.#pending.get(key)!);
    for (const read of released) this.#pending.delete(read.context);
    return released;
  }

  /**
   * The newest round whose acknowledgements satisfy `confirmed`, or null: after a change of the
   * configuration, rounds may be confirmed by the acks they already hold.
   */
  newestConfirmed(confirmed: (acks: ReadonlySet<NodeId>) => boolean): string | null {
    for (let position = this.#queue.length - 1; position >= 0; position--) {
      const context = this.#queue[position];
      if (confirmed(this.#pending.get(context)!.acks)) return context;
    }
    return null;
  }

  /** The newest round, carried by periodic heartbeats so a lost one is retried. */
  lastContext(): string {
    return this.#queue.at(-1) ?? "";
  }

  clear(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
