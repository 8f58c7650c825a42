/**
 * The data of one queue and its housekeeping: tracking, removal, lock releases, retention,
 * rewind-window trimming, the dead-letter TTL, and the snapshot form. `QueueState` (queue.ts)
 * adds the API operations on top. The fields are `protected` rather than `#private` only so the
 * two files can share them; nothing outside `queue.ts` touches them.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import type { ByteReader, ByteWriter } from "./binary.ts";
import { messageLimits } from "./limits.ts";
import { MessageRuns } from "./message_runs.ts";
import { RunSet } from "./run_set.ts";
import { RewindBounds } from "./rewind_bounds.ts";
import { ReleaseHeap } from "./release_heap.ts";
import { SortedNumbers } from "./sorted_numbers.ts";
import { FifoGroups } from "./queue_fifo.ts";
import { HeldDue, heldDueByWalk, heldDueChecks, type HeldGroupsView } from "./held_due.ts";
import { TtlPending } from "./ttl_pending.ts";
import * as retention from "./fifo_retention.ts";
import { messageId } from "./receipt.ts";
import { emptyMap, ownMap } from "./shared_empty.ts";
import { deleteBelow } from "./map_prefix.ts";
import type { HousekeepingForm, QueueAttributes } from "./types.ts";
import { TrackCounts, Tracked, TrackState } from "./track_counts.ts";

export { TrackState } from "./track_counts.ts";
export type { HousekeepingForm } from "./types.ts";

/** A message moved in from another queue: the id it keeps and where it came from. */
export interface Foreign {
  incarnation: number;
  sequence: number;
  origin: string;
}

/** A message leaving one queue for another (dead letter, redrive). Its body stays in the log. */
export interface MovedMessage {
  logIndex: number;
  slot: number;
  /** Incarnation and sequence its id is made of. */
  incarnation: number;
  sequence: number;
  /** The queue it leaves. */
  origin: string;
  /** Its group (FIFO queues); undefined for the queue-wide group or a standard queue. */
  group?: string;
}

/** Receives moved messages (the state machine resolves the target queue). */
export type MessageSink = (message: MovedMessage) => void;

/** The dead-letter target as the state machine resolved it for this apply. */
export interface DeadLetterTarget {
  sink: MessageSink;
  maxReceiveCount?: number;
  maxTimeToLiveSeconds?: number;
}

/** What identifies a queue incarnation, and its attributes. */
export interface QueueMeta {
  name: string;
  /** Log index of the CreateQueue entry. */
  incarnation: number;
  /** Key of the receipt handle tags. */
  salt: number;
  attributes: QueueAttributes;
  createdAt: number;
  modifiedAt: number;
}

const firstSequence = 1;
const trackedBytesEstimate = 96;
const mapEntryBytesEstimate = 80;

/** The fields and housekeeping of a queue. */
export class QueueStore {
  meta: QueueMeta;
  protected runs: MessageRuns = new MessageRuns(firstSequence);
  protected deleted: RunSet = new RunSet();
  protected tracked: Map<number, Tracked> = emptyMap();
  /** How many of `tracked` are in each state (derived: kept by every change, see `view`). */
  protected counts: TrackCounts = new TrackCounts();
  protected heap: ReleaseHeap = new ReleaseHeap();
  /** Standard queues: tracked messages in state Ready, by sequence. */
  protected ready: SortedNumbers = new SortedNumbers();
  protected fifo: FifoGroups | null;
  protected foreign: Map<number, Foreign> = emptyMap();
  /** dedupId → first message; insertion order is expiry order (time never goes back). */
  protected dedup: Map<string, { sequence: number; at: number }> = emptyMap();
  protected undeleted = 0;
  /** The rewind floor and the deleted messages barred from rewinds (`rewind_bounds.ts`). */
  rewindBounds: RewindBounds = new RewindBounds();
  /** No plain message below it. */
  protected cursor = firstSequence;
  /** Messages below it were checked against the dead-letter TTL (except those kept). */
  protected ttlCursor = firstSequence;
  /**
   * Standard queues: TTL-expired messages that were in flight when checked (maybe deleted or
   * released since; null: none), told of each change of theirs. FIFO queues keep none here (see
   * `ttlBlocked`), but write theirs in the snapshot's place of it (`#ttlKept`), as an earlier
   * release read it.
   */
  protected ttlPending: TtlPending | null = null;
  /**
   * FIFO queues: the groups that hold TTL-expired messages below `ttlCursor` still in the queue,
   * because a message of the group is in flight (maybe stale entries: their head moved on).
   * Derived on restore: exactly the groups whose head is below `ttlCursor`. So the messages
   * below `ttlCursor` still in the queue are those of these groups (`#ttlKept`).
   */
  protected ttlBlocked: Set<string> = new Set();
  /**
   * FIFO queues: the keys of `ttlBlocked` to look at again (added, or their group's head or
   * count in flight changed since). The others stay blocked: their head is still below the
   * cursor, which only grows while they are held, and still has a message of its group in flight.
   */
  protected ttlRecheck: Set<string> = new Set();
  /**
   * FIFO queues: the earliest due time of the `ttlBlocked` groups for `dueAt`, told of each
   * change that can move it (held or no longer, a head or count in flight, a lock changed).
   */
  protected ttlDue: HeldDue | null = null;
  #heldView: HeldGroupsView | null = null;
  /** How retention sees the messages (`fifo_retention.ts`: FIFO queues keep those in flight). */
  #retained = retention.retainedMessages({
    deleted: () => this.deleted,
    tracked: (sequence) => this.tracked.get(sequence),
    timeOf: (sequence) => this.runs.timeOf(sequence),
  });

  constructor(meta: QueueMeta) {
    this.meta = meta;
    this.fifo = meta.attributes.fifo
      ? new FifoGroups({
        isDeleted: (sequence) => this.isDeleted(sequence),
        isBlocked: (sequence) => {
          const state = this.tracked.get(sequence)?.state;
          return state === TrackState.Delayed || state === TrackState.Inflight;
        },
        isInflight: (sequence) => this.tracked.get(sequence)?.state === TrackState.Inflight,
        changed: (key) => {
          if (!this.ttlBlocked.has(key)) return;
          this.ttlRecheck.add(key);
          this.ttlDue!.look(key, this.ttlBlocked.size);
        },
      })
      : null;
    if (this.fifo) {
      this.ttlDue = new HeldDue();
      this.#heldView = this.#newHeldView(this.fifo);
    }
  }

  /** How `ttlDue` sees the held groups (see `heldDueByWalk` for the same answer by a walk). */
  #newHeldView(fifo: FifoGroups): HeldGroupsView {
    const holds = (key: string) => {
      const head = fifo.headOf(key);
      return this.ttlBlocked.has(key) && head > 0 && head < this.ttlCursor;
    };
    return {
      heldInflight: (key) => {
        if (!holds(key)) return -1;
        if (fifo.inflightOf(key) === 0) return 0;
        // The group's message in flight: its head, or (after a rewind brought back messages
        // before it) a later one.
        for (let sequence = fifo.headOf(key); sequence > 0;) {
          if (this.tracked.get(sequence)?.state === TrackState.Inflight) return sequence;
          sequence = fifo.nextOf(sequence, this.end);
        }
        return -1;
      },
      lockEnd: (sequence) => this.tracked.get(sequence)!.visibleAt,
      isHeldLock: (sequence, time) => {
        const tracked = this.tracked.get(sequence);
        if (tracked?.state !== TrackState.Inflight || tracked.visibleAt !== time) return false;
        return holds(fifo.groupKey(sequence));
      },
      heldKeys: () => this.ttlBlocked,
      heldCount: () => this.ttlBlocked.size,
    };
  }

  /** Lowest retained sequence. */
  get low(): number {
    return this.runs.lowSequence;
  }

  /** Next sequence to assign. */
  get end(): number {
    return this.runs.endSequence;
  }

  protected isDeleted(sequence: number): boolean {
    return sequence < this.runs.lowSequence || this.deleted.has(sequence);
  }

  protected track(sequence: number, state: number, visibleAt: number): Tracked {
    const tracked = new Tracked(state, visibleAt);
    (this.tracked = ownMap(this.tracked)).set(sequence, tracked);
    this.counts.add(state);
    this.heap.push(visibleAt, sequence);
    return tracked;
  }

  /** The message id of a retained sequence. */
  idOf(sequence: number): string {
    const foreign = this.foreign.get(sequence);
    return foreign
      ? messageId(foreign.incarnation, foreign.sequence)
      : messageId(this.meta.incarnation, sequence);
  }

  /** Applies due releases: locks and delays that ended by `now` make messages Ready. */
  release(now: number): void {
    const heap = this.heap;
    while (heap.peekTime() <= now) {
      const time = heap.peekTime();
      const sequence = heap.pop();
      const tracked = this.tracked.get(sequence);
      if (tracked === undefined || tracked.visibleAt !== time) continue;
      if (tracked.state === TrackState.Ready) continue;
      invariant(!this.isDeleted(sequence), "a deleted message is never tracked");
      const wasInflight = tracked.state === TrackState.Inflight;
      this.counts.move(tracked.state, TrackState.Ready);
      tracked.state = TrackState.Ready;
      if (this.fifo) {
        if (wasInflight) this.fifo.onLockEnd(sequence);
        else this.fifo.refreshOf(sequence);
      } else {
        // A message is in exactly one of delayed, in flight and ready.
        const added = this.ready.add(sequence);
        invariant(added, "a released message was not already ready");
        if (wasInflight) this.ttlPending?.changed(sequence);
      }
    }
  }

  /** Removes the message from the queue (deleted, moved or purged) and describes it. */
  extract(sequence: number): MovedMessage {
    invariant(!this.isDeleted(sequence), "only a live message is removed");
    invariant(sequence < this.runs.endSequence, "only a sent message is removed");
    const tracked = this.tracked.get(sequence);
    const wasInflight = tracked?.state === TrackState.Inflight;
    const locator = this.runs.locate(sequence);
    const foreign = this.foreign.get(sequence);
    const group = this.fifo?.groupName(sequence);
    this.deleted.add(sequence);
    this.undeleted--;
    invariant(this.undeleted >= 0, "the count of undeleted messages never goes negative");
    if (tracked !== undefined) {
      this.tracked.delete(sequence);
      this.counts.remove(tracked.state);
      if (!this.fifo && tracked.state === TrackState.Ready) this.ready.delete(sequence);
    }
    this.fifo?.onRemove(sequence, wasInflight, this.runs.endSequence);
    this.ttlPending?.changed(sequence);
    const moved: MovedMessage = {
      logIndex: locator.logIndex,
      slot: locator.slot,
      incarnation: foreign?.incarnation ?? this.meta.incarnation,
      sequence: foreign?.sequence ?? sequence,
      origin: this.meta.name,
    };
    if (group !== undefined) moved.group = group;
    return moved;
  }

  /** The lock of `sequence` changed, began again, or (standard queues) ended by a change. */
  protected lockChanged(sequence: number): void {
    if (!this.fifo) {
      this.ttlPending?.changed(sequence);
      return;
    }
    const key = this.fifo.groupKey(sequence);
    if (this.ttlBlocked.has(key)) this.ttlDue!.look(key, this.ttlBlocked.size);
  }

  /** Forgets every message below `newLow` (expired, or deleted and out of the rewind window). */
  protected dropPrefix(newLow: number): void {
    const low = this.runs.lowSequence;
    if (newLow <= low) return;
    this.fifo?.dropPrefix(low, newLow, this.runs.endSequence);
    this.undeleted -= newLow - low - this.deleted.countRange(low, newLow);
    deleteBelow(this.tracked, low, newLow, (tracked) => this.counts.remove(tracked.state));
    deleteBelow(this.foreign, low, newLow);
    this.ready.trimBelow(newLow);
    this.deleted.trimBelow(newLow);
    this.rewindBounds.trimBelow(newLow);
    this.runs.trimBelow(newLow);
    this.cursor = Math.max(this.cursor, newLow);
    this.ttlCursor = Math.max(this.ttlCursor, newLow);
    this.ttlPending?.trimBelow(newLow);
    invariant(this.undeleted >= 0, "the count of undeleted messages never goes negative");
  }

  /** The first sequence a rewind at `now` may bring back: inside the window, not below the floor. */
  protected rewindFrom(now: number): number {
    const cut = this.runs.firstAtOrAfter(now - this.meta.attributes.rewindSeconds * 1000);
    return this.rewindBounds.from(cut);
  }

  /** Starts the dead-letter TTL scan over (after a rewind or a policy change). */
  resetDeadLetterScan(): void {
    this.ttlCursor = this.runs.lowSequence;
    this.ttlPending = null;
    this.ttlBlocked.clear();
    this.ttlRecheck.clear();
    this.ttlDue?.reset();
  }

  /**
   * Housekeeping at `now`, run by Tick for every queue and before every receive: releases,
   * retention expiry (on a FIFO queue `keepsLocks`, not of messages in flight:
   * `fifo_retention.ts`), trimming deleted messages out of the rewind window, moving messages
   * older than the dead-letter TTL (not those in flight; on a FIFO queue `inGroupOrder`, none of
   * a group with one in flight), expiring dedup ids. The form of the entry decides (`CommandType`).
   */
  maintain(now: number, deadLetter: DeadLetterTarget | undefined, form: HousekeepingForm): void {
    this.release(now);
    const attributes = this.meta.attributes;
    const cut = this.runs.firstAtOrAfter(now - attributes.retentionSeconds * 1000);
    retention.expire(this.fifo && form.keepsLocks ? this.#retained : null, this.low, cut, {
      drop: (below) => this.dropPrefix(below),
      remove: (sequence) => this.extract(sequence),
    });
    // Deleted messages out of the window, below the floor, or barred from rewinds.
    this.dropPrefix(this.rewindBounds.forgetEnd(this.deleted, this.low, this.rewindFrom(now)));
    const ttlSeconds = deadLetter?.maxTimeToLiveSeconds;
    if (deadLetter !== undefined && ttlSeconds !== undefined) {
      this.#moveExpired(now - ttlSeconds * 1000, deadLetter.sink, form.inGroupOrder);
    }
    for (const [dedupId, entry] of this.dedup) {
      if (now < entry.at + messageLimits.dedupWindowMs) break;
      this.dedup.delete(dedupId);
    }
  }

  #moveExpired(cut: number, sink: MessageSink, inGroupOrder: boolean): void {
    const fifo = this.fifo;
    if (fifo && inGroupOrder) return this.#moveExpiredFifo(fifo, cut, sink);
    // Standard queues, and FIFO queues for entries of the earlier form (Tick, ReceiveBatch
    // layout 1, SendReceive layout 2): their earlier meaning, which skips only the messages in
    // flight (so a group's expired messages may overtake its head in the dead-letter queue).
    // All in sequence order: the kept ones whose lock ended (below the cursor), then the others
    // (a standard queue's `settle` names only the kept ones no longer in flight, or deleted; its
    // `pending` are only the newly kept ones).
    const pending: number[] = [];
    const inflight = (sequence: number) =>
      this.tracked.get(sequence)?.state === TrackState.Inflight;
    for (const sequence of fifo ? this.#ttlKept(fifo) : this.ttlPending?.settle() ?? []) {
      if (this.isDeleted(sequence)) continue;
      if (fifo && inflight(sequence)) pending.push(sequence);
      else sink(this.extract(sequence));
    }
    const limit = this.runs.firstAtOrAfter(cut);
    this.#eachUndeletedBelow(limit, (sequence) => {
      if (inflight(sequence)) pending.push(sequence);
      else sink(this.extract(sequence));
    });
    if (fifo) {
      this.ttlBlocked = new Set(pending.map((kept) => fifo.groupKey(kept)));
      this.ttlRecheck = new Set(this.ttlBlocked);
      this.ttlDue!.reset();
    } else if (pending.length > 0) (this.ttlPending ??= this.#newPending()).add(pending);
    else if (this.ttlPending?.size === 0) this.ttlPending = null;
    this.ttlCursor = Math.max(this.ttlCursor, limit);
  }

  /** A standard queue's kept messages, as `ttlPending` sees them (kept: in flight, not deleted). */
  #newPending(): TtlPending {
    const tracked = (sequence: number) => this.tracked.get(sequence);
    return new TtlPending({
      visibleAt: (sequence) => tracked(sequence)?.visibleAt,
      stays: (s) => !this.isDeleted(s) && tracked(s)?.state === TrackState.Inflight,
    });
  }

  /** FIFO: the messages below `ttlCursor` still in the queue (the blocked groups'), ascending. */
  #ttlKept(fifo: FifoGroups): number[] {
    const kept: number[] = [];
    for (const key of this.ttlBlocked) {
      for (let sequence = fifo.headOf(key); sequence > 0 && sequence < this.ttlCursor;) {
        kept.push(sequence);
        sequence = fifo.nextOf(sequence, this.end);
      }
    }
    return kept.sort((left, right) => left - right);
  }

  /**
   * The dead-letter TTL of a FIFO queue moves each group's expired messages in send order, so
   * they keep their order in the dead-letter queue: a group with a message in flight keeps them
   * all until that lock ends (or the message is deleted), as it keeps them from receivers. All
   * moves go in sequence order, as on a standard queue: the blocked groups' expired messages
   * (below `ttlCursor`) merged by head, then the newly expired ones.
   */
  #moveExpiredFifo(fifo: FifoGroups, cut: number, sink: MessageSink): void {
    const blocked = this.ttlBlocked;
    const due = this.ttlDue!;
    // Only the groups whose lock ended are ordered (a heap: with many groups held, a sorted
    // array's splices cost O(groups²) per Tick); the ones still locked just stay, unvisited.
    const heads = new ReleaseHeap();
    for (const key of this.ttlRecheck) {
      if (!blocked.has(key)) continue;
      const head = fifo.headOf(key);
      if (head === 0 || head >= this.ttlCursor) {
        blocked.delete(key);
        due.forget(key);
      } else if (fifo.inflightOf(key) === 0) {
        blocked.delete(key);
        due.forget(key);
        heads.push(head, head);
      }
    }
    this.ttlRecheck.clear();
    while (heads.size > 0) {
      const head = heads.pop();
      const key = fifo.groupKey(head);
      sink(this.extract(head));
      const next = fifo.headOf(key);
      if (next > 0 && next < this.ttlCursor) heads.push(next, next);
    }
    const limit = this.runs.firstAtOrAfter(cut);
    this.#eachUndeletedBelow(limit, (sequence) => {
      const key = fifo.groupKey(sequence);
      if (blocked.has(key) || fifo.inflightOf(key) > 0 || fifo.headOf(key) !== sequence) {
        if (!blocked.has(key)) {
          this.ttlRecheck.add(key);
          due.look(key, blocked.size);
        }
        blocked.add(key);
      } else {
        sink(this.extract(sequence));
      }
    });
    this.ttlCursor = Math.max(this.ttlCursor, limit);
  }

  /**
   * Calls `visit` with each sequence from the TTL cursor (or the queue's low end) up to `limit`
   * that is not deleted, in order; `visit` may extract the message it is given.
   */
  #eachUndeletedBelow(limit: number, visit: (sequence: number) => void): void {
    let sequence = Math.max(this.ttlCursor, this.low);
    while (sequence < limit) {
      if (this.deleted.has(sequence)) {
        sequence = this.deleted.nextAbsent(sequence);
        continue;
      }
      visit(sequence);
      sequence++;
    }
  }

  /** When `maintain` next has work (Infinity: none). */
  dueAt(ttlActive: boolean): number {
    const attributes = this.meta.attributes;
    let due = Infinity;
    for (const entry of this.dedup.values()) {
      due = entry.at + messageLimits.dedupWindowMs;
      break;
    }
    if (this.low === this.end) return due;
    // Messages expire when strictly older than a cut, hence the + 1 (ms).
    const lowTime = this.runs.timeOf(this.low) + 1;
    const retained = !this.fifo || this.deleted.has(this.low) ? null : this.#retained;
    due = Math.min(due, retention.due(retained, this.low, this.end, lowTime, attributes));
    if (this.deleted.has(this.low)) {
      const out = this.rewindBounds.isOut(this.low);
      due = Math.min(due, out ? -Infinity : lowTime + attributes.rewindSeconds * 1000);
    }
    const ttlSeconds = attributes.deadLetter?.maxTimeToLiveSeconds;
    if (ttlActive && ttlSeconds !== undefined) {
      if (this.ttlPending) due = Math.min(due, this.ttlPending.dueAt());
      if (this.ttlDue) {
        const held = this.ttlDue.dueAt(this.#heldView!);
        if (heldDueChecks.enabled) {
          const walked = heldDueByWalk(
            this.fifo!,
            this.ttlBlocked,
            this.ttlCursor,
            this.end,
            (at) => {
              const tracked = this.tracked.get(at);
              return tracked?.state === TrackState.Inflight ? tracked.visibleAt : undefined;
            },
          );
          invariant(held === walked, `held groups due at ${held}, by a walk at ${walked}`);
        }
        due = Math.min(due, held);
      }
      const next = Math.max(this.ttlCursor, this.low);
      if (next < this.end) due = Math.min(due, this.runs.timeOf(next) + 1 + ttlSeconds * 1000);
    }
    return due;
  }

  /** The lowest log index a retained message of this queue points at (Infinity: none). */
  minLogIndex(): number {
    return this.runs.minLogIndex();
  }

  /** Bytes of the compact structures plus estimates for the maps. */
  memoryBytes(): number {
    return this.runs.memoryBytes() + this.deleted.memoryBytes() + this.heap.memoryBytes() +
      this.rewindBounds.barred.memoryBytes() + (this.ttlDue?.memoryBytes() ?? 0) +
      (this.ttlPending?.memoryBytes() ?? 0) + this.ready.memoryBytes() +
      (this.fifo?.memoryBytes() ?? 0) + this.tracked.size * trackedBytesEstimate +
      (this.foreign.size + this.dedup.size + this.ttlBlocked.size) * mapEntryBytesEstimate + 512;
  }

  /** Serializes the persistent state; derived indexes are rebuilt by `readState`. */
  writeState(writer: ByteWriter): void {
    this.runs.write(writer);
    this.deleted.write(writer);
    writer.u32(this.tracked.size);
    for (const [sequence, tracked] of this.tracked) {
      writer.f64(sequence);
      writer.u8(tracked.state);
      writer.f64(tracked.visibleAt);
      writer.f64(tracked.receiveCount);
      writer.f64(tracked.firstReceivedAt);
      writer.f64(tracked.deliveryIndex);
    }
    writer.u32(this.foreign.size);
    for (const [sequence, foreign] of this.foreign) {
      writer.f64(sequence);
      writer.f64(foreign.incarnation);
      writer.f64(foreign.sequence);
      writer.string16(foreign.origin);
    }
    writer.u32(this.dedup.size);
    for (const [dedupId, entry] of this.dedup) {
      writer.string16(dedupId);
      writer.f64(entry.sequence);
      writer.f64(entry.at);
    }
    for (const value of [this.undeleted, this.cursor, this.ttlCursor]) writer.f64(value);
    // (FIFO: the messages kept, as an earlier release kept them in flight, and reads them.)
    const kept = this.fifo ? this.#ttlKept(this.fifo) : this.ttlPending?.toArray() ?? [];
    writer.u32(kept.length);
    for (const sequence of kept) writer.f64(sequence);
    this.fifo?.write(writer, this.low, this.end);
  }

  /** Inverse of `writeState` on a fresh queue with the same meta. */
  readState(reader: ByteReader): void {
    this.runs = MessageRuns.read(reader);
    this.deleted = RunSet.read(reader);
    const trackedCount = reader.u32();
    for (let index = 0; index < trackedCount; index++) {
      const sequence = reader.uint();
      const tracked = new Tracked(reader.u8(), reader.uint(), reader.uint(), reader.uint());
      tracked.deliveryIndex = reader.uint();
      (this.tracked = ownMap(this.tracked)).set(sequence, tracked);
      this.counts.add(tracked.state);
      if (tracked.state === TrackState.Ready) {
        if (!this.fifo) this.ready.add(sequence);
      } else {
        this.heap.push(tracked.visibleAt, sequence);
      }
    }
    const foreignCount = reader.u32();
    for (let index = 0; index < foreignCount; index++) {
      const sequence = reader.uint();
      const incarnation = reader.uint();
      (this.foreign = ownMap(this.foreign)).set(sequence, {
        incarnation,
        sequence: reader.uint(),
        origin: reader.string16(),
      });
    }
    const dedupCount = reader.u32();
    for (let index = 0; index < dedupCount; index++) {
      const dedupId = reader.string16();
      (this.dedup = ownMap(this.dedup)).set(dedupId, {
        sequence: reader.uint(),
        at: reader.uint(),
      });
    }
    this.undeleted = reader.uint();
    this.cursor = reader.uint();
    this.ttlCursor = reader.uint();
    const pending = Array.from({ length: reader.u32() }, () => reader.uint());
    // (A snapshot of an earlier release may list in-flight FIFO messages as pending: their
    // groups' heads are below the cursor, so they are blocked groups now.)
    if (!this.fifo && pending.length > 0) (this.ttlPending = this.#newPending()).load(pending);
    if (this.fifo) {
      this.fifo.read(reader);
      this.fifo.rebuild(this.low, this.end);
      this.ttlBlocked = new Set(this.fifo.keysWithHeadBelow(this.ttlCursor));
      this.ttlRecheck = new Set(this.ttlBlocked);
      this.ttlDue!.reset();
    }
  }
}
