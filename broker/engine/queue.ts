/**
 * The state of one queue and every queue-local semantic of the API contract: send (delay, dedup, backlog
 * limit), receive (locks, FIFO groups, dead-lettering on too many receives), delete, visibility,
 * rewind, purge, retention and the dead-letter TTL. Pure and deterministic: time comes in as
 * `now` (the entry's timestamp), nothing here reads a clock or does I/O.
 *
 * Memory (README, promise 5): a message that was only sent costs its share of a run in
 * `MessageRuns` (14 bytes per send batch) and, on FIFO queues, 8 bytes of group columns. Only
 * messages that were delayed or received have a `Tracked` object, only deletes out of order cost
 * runs in the `RunSet`, and only messages moved in from another queue have a `Foreign` entry.
 *
 * Message states, by sequence `s` in `[low, end)`:
 * - deleted: in `#deleted` (deleted, purged or moved out; rewindable while in the window);
 * - plain: not deleted, not tracked: never received, visible; always `s >= #cursor`;
 * - tracked: `Delayed` (never received, visible at `visibleAt`), `Inflight` (locked until
 *   `visibleAt`) or `Ready` (visible again: lock ended or delay over). `release(now)` turns due
 *   Delayed/Inflight into Ready, and every apply calls it first, so during apply the state is
 *   exact.
 *
 * @module
 */
import { BrokerError, invalidParameter } from "./errors.ts";
import { invariant } from "./invariant.ts";
import { messageLimits, queueLimits } from "./limits.ts";
import { queueWideGroup } from "./queue_fifo.ts";
import { hasReceivable, receivableCount, type ReceivableView } from "./receivable.ts";
import { ownMap } from "./shared_empty.ts";
import type { DepthSum } from "./track_counts.ts";
import type { ByteReader } from "./binary.ts";
import type { SendHeader } from "./commands.ts";
import {
  decodeReceiptBytes,
  encodeReceiptHandle,
  notAReceiptHandle,
  receiptTag,
} from "./receipt.ts";
import type { Queue, RewindResponse, SentMessage } from "../../sdk/protocol.ts";
import {
  type DeadLetterTarget,
  type MessageSink,
  type MovedMessage,
  type QueueMeta,
  QueueStore,
  TrackState,
} from "./queue_store.ts";

export {
  type DeadLetterTarget,
  type HousekeepingForm,
  type MessageSink,
  type MovedMessage,
  type QueueMeta,
  TrackState,
} from "./queue_store.ts";

/** The message of a `ReceiptHandleStale` whose message left the queue (`gone`). */
const messageGone = "the message of this receipt handle is no longer in the queue (deleted, " +
  "expired, moved or purged)";
/** The message of a `ReceiptHandleStale` of an older delivery of a message still in the queue. */
const deliveredAgain = "the message was delivered again (or rewound) since this receipt handle";

/** One delivered message, as apply returns it (the service adds body, attributes, groupId). */
export interface Delivery {
  sequence: number;
  id: string;
  logIndex: number;
  slot: number;
  enqueuedAt: number;
  firstReceivedAt: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle: string;
  /** The queue it was moved from (dead-lettered, redriven), if it was moved in. */
  origin?: string;
}

/** A per-handle failure, by position in the request. */
export interface HandleFailure {
  index: number;
  code: "ReceiptHandleInvalid" | "ReceiptHandleStale" | "MessageNotInflight";
  message: string;
  /**
   * On a `ReceiptHandleStale` only: the handle verifies and its message is no longer in the
   * queue (deleted, expired, moved to the dead-letter queue or elsewhere, purged), so no later
   * delivery of it exists. Absent for a handle of an older delivery of a message still there.
   */
  gone?: true;
}

/**
 * One queue incarnation.
 *
 * @example
 * ```ts
 * const queue = new QueueState({ name: "jobs", incarnation: 1, salt: 7, attributes, createdAt: 0,
 *   modifiedAt: 0 });
 * queue.send({ entryIndex: 2, now: 0, messages: [{ delaySeconds: 0, bodyBytes: 5 }] });
 * ```
 */
export class QueueState extends QueueStore {
  /** A queue restored from `writeState` output. */
  static read(meta: QueueMeta, reader: ByteReader): QueueState {
    const queue = new QueueState(meta);
    queue.readState(reader);
    return queue;
  }

  /** Enqueues a send batch; returns ids and sequences in request order, or the error. */
  send(
    input: { entryIndex: number; now: number; messages: SendHeader[] },
  ): SentMessage[] | BrokerError {
    const { entryIndex, now, messages } = input;
    const attributes = this.meta.attributes;
    for (let index = 0; index < messages.length; index++) {
      if (messages[index].bodyBytes > attributes.maxMessageBytes) {
        return new BrokerError(
          "MessageTooLarge",
          `messages.${index}.body: ${messages[index].bodyBytes} bytes exceed maxMessageBytes ` +
            `${attributes.maxMessageBytes}`,
          { field: `messages.${index}.body` },
        );
      }
    }
    const duplicates = this.#findDuplicates(messages, now);
    let fresh = messages.length;
    if (duplicates !== null) {
      for (const duplicate of duplicates) if (duplicate >= 0) fresh--;
    }
    if (this.undeleted + fresh > attributes.maxBacklog) return this.#backlogFull(fresh);
    const results: SentMessage[] = [];
    for (let slot = 0; slot < messages.length; slot++) {
      const message = messages[slot];
      const duplicate = duplicates === null ? -1 : duplicates[slot];
      if (duplicate >= 0) {
        results.push({ id: this.idOf(duplicate), sequence: duplicate });
        continue;
      }
      const sequence = this.runs.endSequence;
      this.runs.append(1, { logIndex: entryIndex, slot, time: now });
      this.undeleted++;
      if (message.delaySeconds > 0) {
        const visibleAt = now + message.delaySeconds * 1000;
        this.track(sequence, TrackState.Delayed, visibleAt);
      }
      this.fifo?.onAppend(sequence, message.groupId ?? queueWideGroup);
      if (message.dedupId !== undefined) {
        // Re-inserted, not overwritten in place: the map's order is its expiry order, and
        // `maintain` stops at the first id still in its window. An id sent again after its
        // window ended (before a Tick dropped it) would otherwise keep its old place and hold
        // back every expired id behind it for as long as it keeps being sent.
        const dedup = (this.dedup = ownMap(this.dedup));
        dedup.delete(message.dedupId);
        dedup.set(message.dedupId, { sequence, at: now });
      }
      results.push({ id: this.idOf(sequence), sequence });
    }
    return results;
  }

  /** The refusal of `adding` messages that don't fit under maxBacklog (the count says why). */
  #backlogFull(adding: number): BrokerError {
    const more = adding === 1 ? "1 more does" : `${adding} more do`;
    return new BrokerError(
      "BacklogFull",
      `queue '${this.meta.name}' holds ${this.undeleted} of at most ${this.meta.attributes.maxBacklog} ` +
        `messages (maxBacklog): ${more} not fit`,
    );
  }

  /**
   * Enqueues a topic subscription's copy of message `slot` of a PublishBatch entry; answers the
   * refusal (too large for this queue, backlog full) or null. Copies join the queue-wide group
   * of a FIFO queue and are visible at once.
   */
  admitPublished(input: { entryIndex: number; now: number; slot: number; bodyBytes: number }) {
    const attributes = this.meta.attributes;
    if (input.bodyBytes > attributes.maxMessageBytes) {
      return new BrokerError(
        "MessageTooLarge",
        `${input.bodyBytes} bytes exceed maxMessageBytes ${attributes.maxMessageBytes} of ` +
          `queue '${this.meta.name}'`,
      );
    }
    if (this.undeleted + 1 > attributes.maxBacklog) return this.#backlogFull(1);
    const sequence = this.runs.endSequence;
    this.runs.append(1, { logIndex: input.entryIndex, slot: input.slot, time: input.now });
    this.undeleted++;
    this.fifo?.onAppend(sequence, queueWideGroup);
    return null;
  }

  /**
   * For each message: the sequence it duplicates (dedup window, or earlier in the batch), or -1.
   * Null when no message has a dedup id (none is a duplicate): the usual send makes no map and
   * no array for it.
   */
  #findDuplicates(messages: SendHeader[], now: number): number[] | null {
    let anyDedupId = false;
    for (const message of messages) if (message.dedupId !== undefined) anyDedupId = true;
    if (!anyDedupId) return null;
    const inBatch = new Map<string, number>();
    const nextSequence = this.runs.endSequence;
    let fresh = 0;
    return messages.map((message) => {
      const dedupId = message.dedupId;
      if (dedupId === undefined) {
        fresh++;
        return -1;
      }
      const known = this.dedup.get(dedupId);
      if (known !== undefined && now < known.at + messageLimits.dedupWindowMs) {
        return known.sequence;
      }
      const earlier = inBatch.get(dedupId);
      if (earlier !== undefined) return earlier;
      const sequence = nextSequence + fresh++;
      inBatch.set(dedupId, sequence);
      return -1;
    });
  }

  /**
   * Delivers up to `maxMessages`, oldest sequence first (FIFO: oldest eligible group head), and
   * no more than `answerBytesMax` of bodies as `#bodyBytesBound` counts them (at least one).
   */
  receive(input: {
    now: number;
    entryIndex: number;
    maxMessages: number;
    visibilityMs: number;
    deadLetter?: DeadLetterTarget;
    answerBytesMax?: number;
  }): Delivery[] {
    const deliveries: Delivery[] = [];
    const maxReceiveCount = input.deadLetter?.maxReceiveCount;
    let answerBytes = input.answerBytesMax ?? Infinity;
    while (deliveries.length < input.maxMessages) {
      const sequence = this.fifo ? this.fifo.firstReady() ?? Infinity : this.#nextStandard();
      if (sequence === Infinity) break;
      const tracked = this.tracked.get(sequence);
      if (
        maxReceiveCount !== undefined && tracked !== undefined &&
        tracked.receiveCount >= maxReceiveCount
      ) {
        input.deadLetter!.sink(this.extract(sequence));
        continue;
      }
      answerBytes -= this.#bodyBytesBound(sequence);
      if (answerBytes < 0 && deliveries.length > 0) break;
      deliveries.push(this.#deliver(sequence, input));
    }
    return deliveries;
  }

  /**
   * The most body bytes message `sequence` may have, from the state alone (the body is in the
   * log): the queue's `maxMessageBytes`, which every send and publish copy is held to, unless it
   * was sent no later than the last change of the queue's attributes (which may have lowered it)
   * or moved in from another queue (whose may be higher): then the most any queue takes.
   */
  #bodyBytesBound(sequence: number): number {
    const { attributes, createdAt, modifiedAt } = this.meta;
    const changed = modifiedAt > createdAt && this.runs.timeOf(sequence) <= modifiedAt;
    if (changed || this.foreign.has(sequence)) return queueLimits.maxMessageBytes.max;
    return attributes.maxMessageBytes;
  }

  /** The smallest receivable sequence of a standard queue (Infinity when none). */
  #nextStandard(): number {
    let cursor = Math.max(this.cursor, this.runs.lowSequence);
    const end = this.runs.endSequence;
    while (cursor < end) {
      if (this.deleted.has(cursor)) cursor = this.deleted.nextAbsent(cursor);
      else if (this.tracked.has(cursor)) cursor++;
      else break;
    }
    this.cursor = cursor;
    return Math.min(cursor < end ? cursor : Infinity, this.ready.at(0) ?? Infinity);
  }

  #deliver(sequence: number, input: { now: number; entryIndex: number; visibilityMs: number }) {
    // Only a live, visible message is handed out: never a deleted one, never one under a lock.
    invariant(!this.isDeleted(sequence), "a delivered message is not deleted");
    invariant(sequence < this.runs.endSequence, "a delivered message was sent");
    let tracked = this.tracked.get(sequence);
    invariant(tracked?.state !== TrackState.Inflight, "a delivered message is not in flight");
    invariant(tracked?.state !== TrackState.Delayed, "a delivered message is not delayed");
    if (tracked === undefined) {
      tracked = this.track(sequence, TrackState.Inflight, input.now + input.visibilityMs);
    } else {
      if (!this.fifo) {
        this.ready.delete(sequence);
        this.lockChanged(sequence); // (the dead-letter TTL may keep it: its lock began again)
      }
      this.counts.move(tracked.state, TrackState.Inflight);
      tracked.state = TrackState.Inflight;
      tracked.visibleAt = input.now + input.visibilityMs;
      this.heap.push(tracked.visibleAt, sequence);
    }
    if (tracked.receiveCount === 0) tracked.firstReceivedAt = input.now;
    tracked.receiveCount++;
    // Delivery indexes are log indexes: a new delivery always names a later entry.
    invariant(input.entryIndex > tracked.deliveryIndex, "each delivery has a newer receipt");
    tracked.deliveryIndex = input.entryIndex;
    this.fifo?.onDeliver(sequence);
    const locator = this.runs.locate(sequence);
    const meta = this.meta;
    const delivery: Delivery = {
      sequence,
      id: this.idOf(sequence),
      logIndex: locator.logIndex,
      slot: locator.slot,
      enqueuedAt: locator.time,
      firstReceivedAt: tracked.firstReceivedAt,
      receiveCount: tracked.receiveCount,
      visibleAt: tracked.visibleAt,
      receiptHandle: encodeReceiptHandle({
        incarnation: meta.incarnation,
        sequence,
        deliveryIndex: input.entryIndex,
        tag: receiptTag(meta.salt, {
          incarnation: meta.incarnation,
          sequence,
          deliveryIndex: input.entryIndex,
        }),
      }),
    };
    const origin = this.foreign.get(sequence)?.origin;
    if (origin !== undefined) delivery.origin = origin;
    return delivery;
  }

  /** The sequence a handle names if it is the current delivery, else the failure. */
  #checkHandle(bytes: Uint8Array, index: number): number | HandleFailure {
    const fields = decodeReceiptBytes(bytes);
    const meta = this.meta;
    const invalid = (message: string): HandleFailure => ({
      index,
      code: "ReceiptHandleInvalid",
      message,
    });
    if (fields === null) return invalid(notAReceiptHandle);
    if (fields.incarnation !== meta.incarnation) {
      return invalid(`not a receipt handle of queue '${meta.name}'`);
    }
    if (fields.tag !== receiptTag(meta.salt, fields) || fields.sequence >= this.runs.endSequence) {
      return invalid("receipt handle does not verify");
    }
    const tracked = this.tracked.get(fields.sequence);
    if (tracked === undefined && this.isDeleted(fields.sequence)) {
      return { index, code: "ReceiptHandleStale", message: messageGone, gone: true };
    }
    // Untracked and not deleted: rewound since (a delivery before the rewind).
    if (
      tracked === undefined || tracked.deliveryIndex !== fields.deliveryIndex ||
      tracked.receiveCount === 0
    ) {
      return { index, code: "ReceiptHandleStale", message: deliveredAgain };
    }
    return fields.sequence;
  }

  /** Deletes the message of a current handle; returns the failure or null. */
  deleteHandle(bytes: Uint8Array, index: number): HandleFailure | null {
    const sequence = this.#checkHandle(bytes, index);
    if (typeof sequence !== "number") return sequence;
    this.extract(sequence);
    return null;
  }

  /** Changes the lock of an in-flight message; 0 releases it now. */
  changeVisibility(
    input: { bytes: Uint8Array; index: number; seconds: number; now: number },
  ): number | HandleFailure {
    const sequence = this.#checkHandle(input.bytes, input.index);
    if (typeof sequence !== "number") return sequence;
    const tracked = this.tracked.get(sequence);
    invariant(tracked !== undefined, "a current receipt names a tracked delivery");
    if (tracked.state !== TrackState.Inflight) {
      return {
        index: input.index,
        code: "MessageNotInflight",
        message: "the message's lock already ended",
      };
    }
    tracked.visibleAt = input.now + input.seconds * 1000;
    if (input.seconds === 0) {
      this.counts.move(tracked.state, TrackState.Ready);
      tracked.state = TrackState.Ready;
      if (this.fifo) this.fifo.onLockEnd(sequence);
      else {
        const added = this.ready.add(sequence);
        invariant(added, "a released message was not already ready");
        this.lockChanged(sequence);
      }
    } else {
      this.heap.push(tracked.visibleAt, sequence);
      this.lockChanged(sequence);
    }
    return tracked.visibleAt;
  }

  /** Appends a message moved in from another queue; it is visible at once. */
  admit(message: MovedMessage, now: number): void {
    const sequence = this.runs.endSequence;
    this.runs.append(1, { logIndex: message.logIndex, slot: message.slot, time: now });
    (this.foreign = ownMap(this.foreign)).set(sequence, {
      incarnation: message.incarnation,
      sequence: message.sequence,
      origin: message.origin,
    });
    this.undeleted++;
    this.fifo?.onAppend(sequence, message.group ?? queueWideGroup);
  }

  /** Deletes every undeleted message (they stay rewindable); returns how many. */
  purge(): number {
    const purged = this.undeleted;
    this.deleted.addRange(this.runs.lowSequence, this.runs.endSequence);
    this.tracked.clear();
    this.counts.clear();
    this.heap.clear();
    this.ready.clear();
    this.fifo?.onPurge();
    this.ttlPending?.changedAll();
    this.undeleted = 0;
    this.cursor = this.runs.endSequence;
    return purged;
  }

  /**
   * A change of `rewindSeconds` from `before` to `after` at `now` bars the messages before the
   * cut (the first sent inside the smaller window; the queue's end when either is 0) from
   * rewinds: as `floor` (UpdateQueueWithRewindFloor) every one below it, even one deleted later;
   * as `barred` (UpdateQueueBarringDeleted) those deleted by now: the others can come back.
   */
  closeRewindWindow(now: number, before: number, after: number, as: "floor" | "barred"): void {
    if (before === after) return;
    const seconds = Math.min(before, after);
    const end = this.runs.endSequence;
    const cut = seconds === 0 ? end : this.runs.firstAtOrAfter(now - seconds * 1000);
    if (as === "floor") this.rewindBounds.floor = Math.max(this.rewindBounds.floor, cut);
    else this.rewindBounds.bar(this.deleted, this.runs.lowSequence, cut);
  }

  /**
   * Undeletes every message from the rewind point on (none below the floor, or barred). A
   * timestamp before the window is refused, or with `fromWindow` (RewindFromWindow) taken as the
   * window's start.
   */
  rewind(
    now: number,
    target: { timestamp?: number; sequence?: number },
    fromWindow = false,
  ): RewindResponse | BrokerError {
    const field = target.sequence !== undefined ? "sequence" : "timestamp";
    const rewindMs = this.meta.attributes.rewindSeconds * 1000;
    if (rewindMs === 0) {
      return invalidParameter(field, `rewind is disabled on queue '${this.meta.name}'`);
    }
    const windowStart = now - rewindMs;
    const end = this.runs.endSequence;
    const bounds = this.rewindBounds;
    let from: number;
    if (target.sequence !== undefined) {
      from = target.sequence;
      const low = this.runs.lowSequence;
      if (from < low || from >= end || this.runs.timeOf(from) < windowStart || bounds.isOut(from)) {
        return invalidParameter(field, "no message with this sequence inside the rewind window");
      }
    } else {
      if (target.timestamp! < windowStart && !fromWindow) {
        return invalidParameter(field, `before the rewind window (starts at ${windowStart})`);
      }
      target = { timestamp: Math.max(target.timestamp!, windowStart) };
      from = bounds.from(this.runs.firstAtOrAfter(target.timestamp!));
    }
    // FIFO: the runs of deleted messages that come back, for their groups (a walk of the whole
    // queue would cost every replica's apply path time in the messages retained).
    const restored: [number, number][] | undefined = this.fifo ? [] : undefined;
    const count = bounds.undelete(this.deleted, from, end, restored);
    this.undeleted += count;
    this.cursor = Math.min(this.cursor, from);
    this.resetDeadLetterScan();
    this.fifo?.onRestored(restored!);
    return {
      from: from < end
        ? { timestamp: this.runs.timeOf(from), sequence: from }
        : { timestamp: target.timestamp ?? now, sequence: from },
      messages: count,
    };
  }

  /**
   * Moves visible messages to `targetFor(origin)` in sequence order, up to `maxMessages`; a
   * message whose target is null stays. Returns how many moved.
   */
  redrive(
    maxMessages: number,
    targetFor: (origin: string | undefined) => MessageSink | null,
    inGroupOrder: boolean,
  ): number {
    let moved = 0;
    let sequence = this.runs.lowSequence;
    const end = this.runs.endSequence;
    // FIFO: a group moves a prefix, in send order; after a message that stays (locked, delayed,
    // no target), the rest of its group stays too, so none overtakes it. (Not for entries of the
    // earlier form, Redrive and RedriveOfCreated: every visible message with a target moves.)
    const stayed = new Set<string>();
    while (moved < maxMessages && sequence < end) {
      if (this.deleted.has(sequence)) {
        sequence = this.deleted.nextAbsent(sequence);
        continue;
      }
      const group = inGroupOrder ? this.fifo?.groupKey(sequence) : undefined;
      const state = this.tracked.get(sequence)?.state;
      const sink = (group === undefined || !stayed.has(group)) &&
          (state === undefined || state === TrackState.Ready)
        ? targetFor(this.foreign.get(sequence)?.origin)
        : null;
      if (sink !== null) {
        sink(this.extract(sequence));
        moved++;
      } else if (group !== undefined) {
        stayed.add(group);
      }
      sequence++;
    }
    return moved;
  }

  /** The API view of the queue at `now`. */
  view(now: number): Queue {
    const { inflight, delayed } = this.counts.lockedAt(now, this.heap, this.tracked);
    const { name, attributes, createdAt, modifiedAt } = this.meta;
    const low = this.runs.lowSequence;
    const end = this.runs.endSequence;
    const rewindMs = attributes.rewindSeconds * 1000;
    const rewindable = rewindMs === 0 || low === end
      ? 0
      : this.rewindBounds.rewindable(this.deleted, Math.max(low, this.rewindFrom(now)), end);
    const oldest = this.undeleted > 0 ? this.runs.timeOf(this.deleted.nextAbsent(low)) : null;
    return {
      name,
      ...attributes,
      createdAt,
      modifiedAt,
      activeMessages: this.undeleted - inflight - delayed,
      inflightMessages: inflight,
      delayedMessages: delayed,
      rewindableMessages: rewindable,
      oldestMessageAt: oldest,
    };
  }

  /** Adds the queue's messages not yet deleted, in flight and delayed at `now` to `sum`. */
  addDepthAt(now: number, sum: DepthSum): void {
    sum.undeleted += this.undeleted;
    this.counts.addLockedAt(now, this.heap, this.tracked, sum);
  }

  /** True when a receive at `now` may find a message (false positives possible, rare). */
  hasReceivable(now: number): boolean {
    return hasReceivable(this.#receivableView(), now);
  }

  /** About how many messages a receive at `now` could take, up to `limit` (`receivable.ts`). */
  receivableCount(now: number, limit: number): number {
    return receivableCount(this.#receivableView(), now, limit);
  }

  #receivableView(): ReceivableView {
    const { fifo, heap, tracked, ready, deleted, cursor } = this;
    return { fifo, heap, tracked, ready, deleted, low: this.low, end: this.end, cursor };
  }

  /** FIFO queues: true while group `key` holds a message (a new one queues behind it). */
  holdsGroup(key: string): boolean {
    return (this.fifo?.headOf(key) ?? 0) > 0;
  }

  /** When the next lock or delay ends (maybe earlier: stale entries), or null. */
  nextVisibleAt(): number | null {
    const time = this.heap.peekTime();
    return time === Infinity ? null : time;
  }

  /** Count of undeleted messages. */
  get undeletedCount(): number {
    return this.undeleted;
  }
}
