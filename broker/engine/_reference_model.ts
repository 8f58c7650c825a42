/**
 * Test-only: an obviously-correct reference model of the queue semantics (plain arrays of plain
 * objects, linear scans everywhere) for `state_machine_model_test.ts`. It states the semantics
 * the engine promises; the engine must produce the same observable results.
 *
 * @module
 */
import { messageId } from "./receipt.ts";
import type { QueueAttributes } from "./types.ts";

const dedupWindowMs = 300_000;

/** A message as the model sees it. */
export interface ModelMessage {
  sequence: number;
  id: string;
  logIndex: number;
  slot: number;
  enqueuedAt: number;
  deleted: boolean;
  /** Deleted, and barred from rewinds by an UpdateQueueBarringDeleted (never comes back). */
  barred?: boolean;
  /** When it is (or was) visible: enqueue + delay, or the end of its lock. */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt: number;
  /** Log index of the receive that delivered it last; 0 = none. */
  delivery: number;
  group: string;
  origin?: string;
}

/** A queue of the model. */
export interface ModelQueue {
  name: string;
  incarnation: number;
  attributes: QueueAttributes;
  nextSequence: number;
  /**
   * No message below it may be rewound: it rises when an update (of the newer form) changes
   * `rewindSeconds`, to the first message sent inside the smaller window (0: every one so far).
   */
  rewindFloor: number;
  /** Retained messages, ascending by sequence. */
  messages: ModelMessage[];
  dedup: Map<string, { sequence: number; at: number }>;
}

/** A handle as the model knows it. */
export interface ModelHandle {
  kind: "real" | "forged" | "garbage";
  incarnation: number;
  sequence: number;
  delivery: number;
}

/**
 * Observable outcome of a handle operation: `ReceiptHandleStaleGone` is a `ReceiptHandleStale`
 * with `gone` (the message is no longer in the queue).
 */
export type HandleOutcome =
  | "ok"
  | "ReceiptHandleInvalid"
  | "ReceiptHandleStale"
  | "ReceiptHandleStaleGone"
  | "MessageNotInflight";

/** A send entry of the model. */
export interface ModelSend {
  bodyBytes: number;
  delaySeconds: number;
  groupId?: string;
  dedupId?: string;
}

/** The reference model of every queue. */
export class ReferenceModel {
  queues = new Map<string, ModelQueue>();

  #activeDeadLetter(queue: ModelQueue): ModelQueue | undefined {
    const policy = queue.attributes.deadLetter;
    if (!policy) return undefined;
    const target = this.queues.get(policy.queue);
    if (!target || target === queue || target.attributes.fifo !== queue.attributes.fifo) {
      return undefined;
    }
    return target;
  }

  static isInflight(message: ModelMessage, now: number): boolean {
    return !message.deleted && message.receiveCount > 0 && message.visibleAt > now;
  }

  move(message: ModelMessage, from: ModelQueue, to: ModelQueue, now: number): void {
    message.deleted = true;
    to.messages.push({
      sequence: to.nextSequence++,
      id: message.id,
      logIndex: message.logIndex,
      slot: message.slot,
      enqueuedAt: now,
      deleted: false,
      visibleAt: now,
      receiveCount: 0,
      firstReceivedAt: 0,
      delivery: 0,
      group: from.attributes.fifo ? message.group : "",
      origin: from.name,
    });
  }

  /**
   * `inGroupOrder` false: the earliest form (Tick, ReceiveBatch 1, SendReceive 2), whose TTL
   * moves all but the messages in flight and whose retention drops those too; true: the newest
   * (TickKeepingLocks, ReceiveBatch 3, SendReceive 4), whose retention keeps a FIFO queue's
   * message in flight until its lock ends.
   */
  maintain(queue: ModelQueue, now: number, inGroupOrder = true): void {
    const retentionCut = now - queue.attributes.retentionSeconds * 1000;
    const keepsLocks = queue.attributes.fifo && inGroupOrder;
    queue.messages = queue.messages.filter((message) =>
      message.enqueuedAt >= retentionCut || (keepsLocks && ReferenceModel.isInflight(message, now))
    );
    const rewindCut = now - queue.attributes.rewindSeconds * 1000;
    while (queue.messages.length > 0 && queue.messages[0].deleted) {
      const first = queue.messages[0];
      const out = first.barred || first.sequence < queue.rewindFloor;
      if (first.enqueuedAt >= rewindCut && !out) break;
      queue.messages.shift();
    }
    const target = this.#activeDeadLetter(queue);
    const ttl = queue.attributes.deadLetter?.maxTimeToLiveSeconds;
    if (target && ttl !== undefined) {
      // FIFO: a group's messages move in send order, none while one of them is in flight.
      // (The earlier form: only the messages in flight stay.)
      const fifo = queue.attributes.fifo && inGroupOrder;
      const held = new Set<string>();
      for (const message of fifo ? queue.messages : []) {
        if (message.deleted) continue;
        if (ReferenceModel.isInflight(message, now)) held.add(message.group);
      }
      for (const message of queue.messages) {
        if (message.deleted || message.enqueuedAt >= now - ttl * 1000) continue;
        if (held.has(message.group) || ReferenceModel.isInflight(message, now)) {
          if (fifo) held.add(message.group);
          continue;
        }
        this.move(message, queue, target, now);
      }
    }
  }

  /**
   * True when a Tick in group order at `now` would move a message of `queue` by the dead-letter
   * TTL (housekeeping a node must not leave waiting for some other trigger).
   */
  ttlMoveDue(queue: ModelQueue, now: number): boolean {
    const ttl = queue.attributes.deadLetter?.maxTimeToLiveSeconds;
    if (!this.#activeDeadLetter(queue) || ttl === undefined) return false;
    const held = new Set<string>();
    for (const message of queue.attributes.fifo ? queue.messages : []) {
      if (ReferenceModel.isInflight(message, now)) held.add(message.group);
    }
    return queue.messages.some((message) =>
      !message.deleted && message.enqueuedAt < now - ttl * 1000 && !held.has(message.group) &&
      !ReferenceModel.isInflight(message, now)
    );
  }

  tick(now: number, inGroupOrder = true): void {
    const queues = [...this.queues.values()].sort((a, b) => a.incarnation - b.incarnation);
    for (const queue of queues) this.maintain(queue, now, inGroupOrder);
  }

  send(queue: ModelQueue, input: { now: number; index: number; messages: ModelSend[] }) {
    const { now, index, messages } = input;
    const tooLarge = messages.findIndex((m) => m.bodyBytes > queue.attributes.maxMessageBytes);
    if (tooLarge >= 0) return { error: "MessageTooLarge" };
    const live = queue.messages.filter((message) => !message.deleted).length;
    const planned: (number | null)[] = [];
    const seen = new Map<string, number>();
    let next = queue.nextSequence;
    for (const message of messages) {
      const known = message.dedupId === undefined ? undefined : queue.dedup.get(message.dedupId);
      if (known && now < known.at + dedupWindowMs) planned.push(known.sequence);
      else if (message.dedupId !== undefined && seen.has(message.dedupId)) {
        planned.push(seen.get(message.dedupId)!);
      } else {
        if (message.dedupId !== undefined) seen.set(message.dedupId, next);
        planned.push(null);
        next++;
      }
    }
    const fresh = planned.filter((value) => value === null).length;
    if (live + fresh > queue.attributes.maxBacklog) return { error: "BacklogFull" };
    const results = messages.map((message, slot) => {
      const duplicate = planned[slot];
      if (duplicate !== null) {
        return { id: messageId(queue.incarnation, duplicate), sequence: duplicate };
      }
      const sequence = queue.nextSequence++;
      queue.messages.push({
        sequence,
        id: messageId(queue.incarnation, sequence),
        logIndex: index,
        slot,
        enqueuedAt: now,
        deleted: false,
        visibleAt: now + message.delaySeconds * 1000,
        receiveCount: 0,
        firstReceivedAt: 0,
        delivery: 0,
        group: queue.attributes.fifo ? message.groupId ?? "" : "",
      });
      if (message.dedupId !== undefined) queue.dedup.set(message.dedupId, { sequence, at: now });
      return { id: messageId(queue.incarnation, sequence), sequence };
    });
    return { messages: results };
  }

  #candidate(queue: ModelQueue, now: number): ModelMessage | undefined {
    const live = queue.messages.filter((message) => !message.deleted);
    if (!queue.attributes.fifo) return live.find((message) => message.visibleAt <= now);
    return this.openHeads(queue, now)[0];
  }

  /** FIFO: the heads a receive at `now` could take, one per open group, oldest first. */
  openHeads(queue: ModelQueue, now: number): ModelMessage[] {
    const live = queue.messages.filter((message) => !message.deleted);
    const heads: ModelMessage[] = [];
    for (const group of new Set(live.map((message) => message.group))) {
      const members = live.filter((message) => message.group === group);
      if (members.some((message) => ReferenceModel.isInflight(message, now))) continue;
      if (members[0].visibleAt <= now) heads.push(members[0]);
    }
    return heads.sort((a, b) => a.sequence - b.sequence);
  }

  /** True when a receive at `now` would deliver a message, housekeeping aside. */
  hasCandidate(queue: ModelQueue, now: number): boolean {
    return this.#candidate(queue, now) !== undefined;
  }

  receive(
    queue: ModelQueue,
    input: {
      now: number;
      index: number;
      max: number;
      visibilityMs: number;
      inGroupOrder?: boolean;
    },
  ) {
    const { now, index } = input;
    this.maintain(queue, now, input.inGroupOrder);
    const target = this.#activeDeadLetter(queue);
    const maxReceiveCount = queue.attributes.deadLetter?.maxReceiveCount;
    const delivered: ModelMessage[] = [];
    while (delivered.length < input.max) {
      const message = this.#candidate(queue, now);
      if (!message) break;
      if (target && maxReceiveCount !== undefined && message.receiveCount >= maxReceiveCount) {
        this.move(message, queue, target, now);
        continue;
      }
      if (message.receiveCount === 0) message.firstReceivedAt = now;
      message.receiveCount++;
      message.visibleAt = now + input.visibilityMs;
      message.delivery = index;
      delivered.push(message);
    }
    return delivered.map((message) => ({ ...message }));
  }

  checkHandle(queue: ModelQueue, handle: ModelHandle): ModelMessage | HandleOutcome {
    if (handle.kind !== "real" || handle.incarnation !== queue.incarnation) {
      return "ReceiptHandleInvalid";
    }
    const message = queue.messages.find((candidate) => candidate.sequence === handle.sequence);
    if (!message || message.deleted) return "ReceiptHandleStaleGone";
    if (message.delivery !== handle.delivery) return "ReceiptHandleStale";
    return message;
  }

  deleteMessage(queue: ModelQueue, handle: ModelHandle): HandleOutcome {
    const message = this.checkHandle(queue, handle);
    if (typeof message === "string") return message;
    message.deleted = true;
    return "ok";
  }

  changeVisibility(
    queue: ModelQueue,
    input: { handle: ModelHandle; seconds: number; now: number },
  ) {
    const message = this.checkHandle(queue, input.handle);
    if (typeof message === "string") return message;
    if (!ReferenceModel.isInflight(message, input.now)) return "MessageNotInflight";
    message.visibleAt = input.now + input.seconds * 1000;
    return message.visibleAt;
  }

  /** An update of the newer form changes `rewindSeconds` from `before` to `after`. */
  raiseRewindFloor(queue: ModelQueue, now: number, before: number, after: number): void {
    if (before === after) return;
    const cut = now - Math.min(before, after) * 1000;
    const inside = queue.messages.find((message) => message.enqueuedAt >= cut);
    const floor = Math.min(before, after) === 0 || !inside ? queue.nextSequence : inside.sequence;
    queue.rewindFloor = Math.max(queue.rewindFloor, floor);
  }

  /**
   * An UpdateQueueBarringDeleted changes `rewindSeconds` from `before` to `after`: every deleted
   * message sent before the smaller window (every deleted one, when either is 0) is barred.
   */
  barDeleted(queue: ModelQueue, now: number, before: number, after: number): void {
    if (before === after) return;
    const seconds = Math.min(before, after);
    for (const message of queue.messages) {
      if (!message.deleted) continue;
      if (seconds === 0 || message.enqueuedAt < now - seconds * 1000) message.barred = true;
    }
  }

  /**
   * A rewind; `fromWindow` (RewindFromWindow): a timestamp before the window starts at the
   * window's start instead of being refused.
   */
  rewind(
    queue: ModelQueue,
    input: { now: number; timestamp?: number; sequence?: number; fromWindow?: boolean },
  ) {
    const rewindMs = queue.attributes.rewindSeconds * 1000;
    const windowStart = input.now - rewindMs;
    if (rewindMs === 0) return { error: "InvalidParameter" };
    let start: ModelMessage | undefined;
    if (input.sequence !== undefined) {
      start = queue.messages.find((message) => message.sequence === input.sequence);
      const out = start && (start.barred || start.sequence < queue.rewindFloor);
      if (!start || start.enqueuedAt < windowStart || out) {
        return { error: "InvalidParameter" };
      }
    } else {
      if (input.timestamp! < windowStart) {
        if (!input.fromWindow) return { error: "InvalidParameter" };
        input = { ...input, timestamp: windowStart };
      }
      // (Not below the floor: a timestamp before it starts at the floor; nor barred.)
      start = queue.messages.find((message) =>
        message.enqueuedAt >= input.timestamp! && message.sequence >= queue.rewindFloor &&
        !message.barred
      );
    }
    const from = start ? start.sequence : queue.nextSequence;
    let count = 0;
    for (const message of queue.messages) {
      if (message.sequence < from || !message.deleted || message.barred) continue;
      Object.assign(message, {
        deleted: false,
        visibleAt: 0,
        receiveCount: 0,
        firstReceivedAt: 0,
        delivery: 0,
      });
      count++;
    }
    return {
      from: start
        ? { timestamp: start.enqueuedAt, sequence: start.sequence }
        : { timestamp: input.timestamp ?? input.now, sequence: from },
      messages: count,
    };
  }

  purge(queue: ModelQueue): number {
    let purged = 0;
    for (const message of queue.messages) {
      if (!message.deleted) purged++;
      message.deleted = true;
    }
    return purged;
  }

  /**
   * `inGroupOrder` false: the earlier form (Redrive, RedriveOfCreated) moves past a stayer;
   * `housekeeps` (RedriveAfterHousekeeping): the queue's housekeeping runs first (once the
   * checks pass), so what retention expired is dropped, not moved.
   */
  redrive(
    queue: ModelQueue,
    input: {
      now: number;
      destination?: string;
      max: number;
      inGroupOrder?: boolean;
      housekeeps?: boolean;
    },
  ) {
    let fixed: ModelQueue | undefined;
    if (input.destination !== undefined) {
      fixed = this.queues.get(input.destination);
      if (!fixed) return { error: "QueueNotFound" };
      if (fixed === queue || fixed.attributes.fifo !== queue.attributes.fifo) {
        return { error: "InvalidParameter" };
      }
    }
    if (input.housekeeps) this.maintain(queue, input.now);
    let moved = 0;
    const stayed = new Set<string>(); // FIFO groups move a prefix, in send order
    for (const message of [...queue.messages]) {
      if (moved >= input.max) break;
      if (message.deleted) continue;
      const fifo = queue.attributes.fifo && input.inGroupOrder !== false;
      if (message.visibleAt > input.now || (fifo && stayed.has(message.group))) {
        if (fifo) stayed.add(message.group);
        continue;
      }
      let target = fixed;
      if (!target && message.origin !== undefined) {
        const origin = this.queues.get(message.origin);
        if (origin && origin !== queue && origin.attributes.fifo === queue.attributes.fifo) {
          target = origin;
        }
      }
      if (!target) {
        if (fifo) stayed.add(message.group);
        continue;
      }
      this.move(message, queue, target, input.now);
      moved++;
    }
    return { moved };
  }

  counts(queue: ModelQueue, now: number) {
    const live = queue.messages.filter((message) => !message.deleted);
    const inflight = live.filter((message) => ReferenceModel.isInflight(message, now)).length;
    const delayed = live.filter((m) => m.receiveCount === 0 && m.visibleAt > now).length;
    const rewindMs = queue.attributes.rewindSeconds * 1000;
    const rewindable = rewindMs === 0
      ? 0
      : queue.messages.filter((message) =>
        message.deleted && message.enqueuedAt >= now - rewindMs &&
        message.sequence >= queue.rewindFloor && !message.barred
      ).length;
    return {
      activeMessages: live.length - inflight - delayed,
      inflightMessages: inflight,
      delayedMessages: delayed,
      rewindableMessages: rewindable,
      oldestMessageAt: live.length > 0 ? live[0].enqueuedAt : null,
    };
  }
}
