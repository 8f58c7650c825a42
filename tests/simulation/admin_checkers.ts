/**
 * What the simulation checks on the admin workload's queues (`admin_workload.ts`), invariants
 * that hold despite rewinds, purges, redrives, attribute updates and dead-letter moves. A message
 * slot is a queue and a sequence: a move (dead-letter, redrive) admits the message into a new
 * slot of its target, keeping its id and body.
 *
 * - nothing invented: every delivered body was sent by an admin client, to the queue it came from,
 *   to a source whose dead-letter queue that is, or (sent straight to a dead-letter queue, so
 *   without an origin) to a dead-letter queue a redrive naming this queue may have moved it from; its id, group and body agree with every other
 *   sighting of the id and of the slot, and with the send's acknowledgement;
 * - maxReceiveCount: no delivery from a source counts more receives than its policy allows;
 * - retention and dead-letter TTL: no delivery of a slot older than the retention in effect (the
 *   largest the update history allows) or, from a source with a TTL, older than it;
 * - locks: a slot's next delivery (receive count + 1) starts at or after the previous lock's end,
 *   in log time and in true time, unless a rewind of the queue may have come between;
 * - deletes stick: after an acknowledged delete of a slot, a delivery of it asked for later needs
 *   a rewind of its queue covering it (by timestamp or sequence) that may have applied after the
 *   delete and before the delivery, and that it was not barred from (deleted before an update set
 *   `rewindSeconds` to 0, applied before the rewind);
 * - purges stick: likewise for a slot known to exist before an acknowledged purge of its queue;
 * - FIFO: within a group of a queue, deliveries in log-time order never go back in sequence
 *   unless a rewind of the queue may have come between them.
 *
 * Replica equality (the run's own check) covers the rest: every node that applied the same index
 * holds byte-identical queues, barred rewinds and rewind windows included.
 *
 * @module
 */
import type { ReceivedMessage, SendMessageEntry } from "../../sdk/protocol.ts";
import { SimulationViolation } from "./checkers.ts";
import {
  type AdminOperation,
  adminQueues,
  adminSpec,
  adminVisibilities,
  bodyQueue,
} from "./admin_workload.ts";

/** One delivery from an admin queue. */
export interface AdminDelivery {
  queue: string;
  message: ReceivedMessage;
  /** The lock asked for, or null when the receive took the queue's visibility timeout. */
  visibilitySeconds: number | null;
  requestedAt: number;
  answeredAt: number;
  /** The acknowledged delete of this delivery's handle, in true time. */
  deleted?: Span;
}

interface Span {
  requestedAt: number;
  answeredAt: number;
}

interface AckedSend extends Span {
  queue: string;
  body: string;
  id: string;
  sequence: number;
}

/** The longest lock a receive taking the queue's visibility timeout may have got. */
const visibilityMax = Math.max(...adminVisibilities, 4);
const clockSlewRate = 0.01;

/** The admin workload's history and checks. */
export class AdminHistory {
  /** Body → queue and group it was sent with. */
  readonly #attempts = new Map<string, { queue: string; groupId?: string }>();
  readonly #acked = new Map<string, AckedSend>();
  readonly deliveries: AdminDelivery[] = [];
  readonly operations: AdminOperation[] = [];
  readonly refused = new Map<string, number>();
  /** Queue → recently delivered slots, for rewind targets. */
  readonly #recent = new Map<string, { sequence: number; enqueuedAt: number }[]>();

  sendAttempted(queue: string, entry: SendMessageEntry): void {
    this.#attempts.set(entry.body, { queue, groupId: entry.groupId });
  }

  sendAcknowledged(
    queue: string,
    body: string,
    sent: { id: string; sequence: number },
    span: Span,
  ): void {
    this.#acked.set(`${queue}#${sent.sequence}`, { queue, body, ...sent, ...span });
  }

  delivered(
    queue: string,
    message: ReceivedMessage,
    options: { visibilitySeconds: number | null; requestedAt: number; answeredAt: number },
  ): AdminDelivery {
    const delivery: AdminDelivery = { queue, message, ...options };
    this.deliveries.push(delivery);
    const recent = this.#recent.get(queue) ?? [];
    recent.push({ sequence: message.sequence, enqueuedAt: message.enqueuedAt });
    if (recent.length > 16) recent.shift();
    this.#recent.set(queue, recent);
    return delivery;
  }

  recentSlots(queue: string): { sequence: number; enqueuedAt: number }[] {
    return this.#recent.get(queue) ?? [];
  }

  deleteAcknowledged(delivery: AdminDelivery, span: Span): void {
    delivery.deleted = span;
  }

  adminDone(operation: AdminOperation): void {
    this.operations.push(operation);
  }

  adminRefused(kind: string): void {
    this.refused.set(kind, (this.refused.get(kind) ?? 0) + 1);
  }

  /** How many admin writes of each kind were applied or may have been. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = { rewind: 0, purge: 0, redrive: 0, update: 0 };
    for (const operation of this.operations) counts[operation.kind]++;
    return counts;
  }

  /** Deliveries from a dead-letter queue of messages sent to its source. */
  deadLettered(): number {
    return this.deliveries.filter((delivery) =>
      adminSpec(delivery.queue).deadLetterOf === bodyQueue(delivery.message.body)
    ).length;
  }

  /**
   * Dead-letter queue slots that a message moved into 295 s or more after it was sent (by its
   * source's `enqueuedAt` where a delivery showed it, else by the send's request in true time):
   * moved by the TTL (300 s), or at least when it had passed.
   */
  deadLetteredLate(): number {
    const sentAt = new Map<string, number>();
    for (const acked of this.#acked.values()) sentAt.set(acked.id, acked.requestedAt);
    for (const { queue, message } of this.deliveries) {
      if (bodyQueue(message.body) === queue) sentAt.set(message.id, message.enqueuedAt);
    }
    const late = new Set<string>();
    for (const { queue, message } of this.deliveries) {
      if (adminSpec(queue).deadLetterOf !== bodyQueue(message.body)) continue;
      const at = sentAt.get(message.id);
      if (at !== undefined && message.enqueuedAt - at >= 295_000) {
        late.add(`${queue}#${message.sequence}`);
      }
    }
    return late.size;
  }

  /** Every check; throws the first violation. */
  check(): void {
    this.#checkOrigins();
    for (const delivery of this.deliveries) this.#checkAge(delivery);
    const slots = new Map<string, AdminDelivery[]>();
    for (const delivery of this.deliveries) {
      const key = `${delivery.queue}#${delivery.message.sequence}`;
      slots.set(key, [...(slots.get(key) ?? []), delivery]);
    }
    for (const list of slots.values()) {
      this.#checkLocks(list);
      this.#checkDeletes(list);
    }
    this.#checkPurges(slots);
    this.#checkFifo();
  }

  #checkOrigins(): void {
    const ids = new Map<string, { body: string; groupId?: string }>();
    const slots = new Map<string, { id: string; enqueuedAt: number }>();
    for (const delivery of this.deliveries) {
      const { queue, message } = delivery;
      const where = `${message.id} (${message.body}) from ${queue}`;
      const attempt = this.#attempts.get(message.body);
      if (attempt === undefined) throw new SimulationViolation("no invented message", where);
      const origin = attempt.queue;
      if (
        origin !== queue && adminSpec(queue).deadLetterOf !== origin &&
        !this.#namedRedrive(origin, queue, delivery)
      ) {
        throw new SimulationViolation(
          "no message from another queue",
          `${where}, sent to ${origin}`,
        );
      }
      if (message.groupId !== attempt.groupId) {
        throw new SimulationViolation(
          "a message keeps its group",
          `${where} in group ${message.groupId}, sent in ${attempt.groupId}`,
        );
      }
      const known = ids.get(message.id);
      if (known !== undefined && known.body !== message.body) {
        throw new SimulationViolation("one id, one message", `${where}; also ${known.body}`);
      }
      ids.set(message.id, message);
      const key = `${queue}#${message.sequence}`;
      const slot = slots.get(key);
      if (
        slot !== undefined && (slot.id !== message.id || slot.enqueuedAt !== message.enqueuedAt)
      ) {
        throw new SimulationViolation(
          "a slot holds one message",
          `${key}: ${where} enqueued at ${message.enqueuedAt}; also ${slot.id} at ${slot.enqueuedAt}`,
        );
      }
      slots.set(key, message);
      const acked = this.#acked.get(key);
      if (acked !== undefined && (acked.id !== message.id || acked.body !== message.body)) {
        throw new SimulationViolation(
          "a sent message is the one delivered",
          `${key} was sent as ${acked.id} (${acked.body}), delivered as ${where}`,
        );
      }
    }
    for (const acked of this.#acked.values()) {
      const known = ids.get(acked.id);
      if (known !== undefined && known.body !== acked.body) {
        throw new SimulationViolation(
          "one id, one message",
          `${acked.id}: ${acked.body}, ${known.body}`,
        );
      }
    }
  }

  /** A redrive from `from` naming `to` as its destination may have come before `delivery`. */
  #namedRedrive(from: string, to: string, delivery: AdminDelivery): boolean {
    return this.operations.some((operation) =>
      operation.kind === "redrive" && operation.named && operation.queue === from &&
      operation.destination === to && operation.requestedAt < delivery.answeredAt
    );
  }

  /** Receive count, retention and TTL, against the earliest log time the receive may have had. */
  #checkAge(delivery: AdminDelivery): void {
    const { queue, message } = delivery;
    const spec = adminSpec(queue);
    const policy = spec.attributes.deadLetter;
    const where = `${message.id} (${message.body}) from ${queue}`;
    if (policy?.maxReceiveCount !== undefined && message.receiveCount > policy.maxReceiveCount) {
      throw new SimulationViolation(
        "maxReceiveCount",
        `${where} delivered with receive count ${message.receiveCount}`,
      );
    }
    const receivedAt = message.visibleAt - (delivery.visibilitySeconds ?? visibilityMax) * 1000;
    const age = receivedAt - message.enqueuedAt;
    const ttl = policy?.maxTimeToLiveSeconds;
    if (ttl !== undefined && age > ttl * 1000) {
      throw new SimulationViolation(
        "dead-letter TTL",
        `${where} delivered ${age} ms after its send`,
      );
    }
    const retention = this.#retentionBound(queue, delivery);
    if (age > retention * 1000) {
      throw new SimulationViolation(
        "retention",
        `${where} delivered ${age} ms after its send (retention at most ${retention} s)`,
      );
    }
  }

  /**
   * The largest retention that may have been in effect when `delivery` applied: the initial one
   * or any update that may have applied before it, except those surely replaced before it (by an
   * update asked for after they were answered, and answered before the delivery was asked for).
   */
  #retentionBound(queue: string, delivery: AdminDelivery): number {
    const updates = this.operations.filter((operation) =>
      operation.kind === "update" && operation.queue === queue &&
      operation.attributes.retentionSeconds !== undefined &&
      operation.requestedAt < delivery.answeredAt
    ) as (AdminOperation & { kind: "update" })[];
    const replaced = (answeredAt: number) =>
      updates.some((later) =>
        later.requestedAt > answeredAt && later.answeredAt < delivery.requestedAt
      );
    let bound = replaced(-Infinity) ? 0 : adminSpec(queue).attributes.retentionSeconds!;
    for (const update of updates) {
      if (!replaced(update.answeredAt)) {
        bound = Math.max(bound, update.attributes.retentionSeconds!);
      }
    }
    return bound;
  }

  /**
   * Rewinds of `queue` that may have applied between true times `from` and `to`; with `covers`,
   * only those whose target covers that message and that it was not barred from: a message
   * deleted (by `covers.deletedBy`) before an update set `rewindSeconds` to 0 is barred from every
   * rewind applied after it (the change to 0 bars every message deleted so far, and so does the
   * change away from 0 that any later rewind needs).
   */
  #rewindsBetween(
    queue: string,
    from: number,
    to: number,
    covers?: { message: ReceivedMessage; deletedBy: number },
  ) {
    const closings = this.operations.filter((operation) =>
      operation.kind === "update" && operation.queue === queue &&
      operation.attributes.rewindSeconds === 0 && Number.isFinite(operation.answeredAt)
    );
    return this.operations.filter((operation) => {
      if (operation.kind !== "rewind" || operation.queue !== queue) return false;
      if (operation.answeredAt <= from || operation.requestedAt >= to) return false;
      if (covers === undefined) return true;
      const { message, deletedBy } = covers;
      const request = operation.request;
      const covered = "timestamp" in request
        ? message.enqueuedAt >= request.timestamp
        : message.sequence >= request.sequence;
      const barred = closings.some((closing) =>
        closing.requestedAt > deletedBy && closing.answeredAt < operation.requestedAt
      );
      return covered && !barred;
    });
  }

  /** Consecutive deliveries of one slot within one life (receive count + 1). */
  #checkLocks(list: AdminDelivery[]): void {
    const known = list.filter((delivery) => delivery.visibilitySeconds !== null)
      .sort((a, b) => receivedAt(a) - receivedAt(b));
    for (let i = 1; i < known.length; i++) {
      const previous = known[i - 1];
      const next = known[i];
      if (next.message.receiveCount !== previous.message.receiveCount + 1) continue;
      const between = this.#rewindsBetween(next.queue, previous.requestedAt, next.answeredAt);
      if (between.length > 0) continue;
      const where = `${next.message.id} (${next.message.body}) from ${next.queue}`;
      if (receivedAt(next) < previous.message.visibleAt) {
        throw new SimulationViolation(
          "a lock is a lock",
          `${where} delivered at ${receivedAt(next)} (count ${next.message.receiveCount}) while ` +
            `locked until ${previous.message.visibleAt}`,
        );
      }
      const lockMs = previous.visibilitySeconds! * 1000;
      const trueMs = next.answeredAt - previous.requestedAt;
      if (trueMs < lockMs * (1 - clockSlewRate) - 1) {
        throw new SimulationViolation(
          "locks last in real time",
          `${where} locked for ${lockMs} ms, delivered again after at most ${trueMs} ms`,
        );
      }
    }
  }

  #checkDeletes(list: AdminDelivery[]): void {
    for (const deleted of list) {
      const span = deleted.deleted;
      if (span === undefined) continue;
      for (const later of list) {
        if (later.requestedAt <= span.answeredAt) continue;
        const rewinds = this.#rewindsBetween(later.queue, span.requestedAt, later.answeredAt, {
          message: later.message,
          deletedBy: span.answeredAt,
        });
        if (rewinds.length === 0) {
          throw new SimulationViolation(
            "deletes stick",
            `${later.message.id} (${later.message.body}) from ${later.queue} delivered at ` +
              `${later.requestedAt}–${later.answeredAt} after its delete (answered at ` +
              `${span.answeredAt}), no rewind covering it (and not barred) in between`,
          );
        }
      }
    }
  }

  #checkPurges(slots: Map<string, AdminDelivery[]>): void {
    const purges = this.operations.filter((operation) =>
      operation.kind === "purge" && Number.isFinite(operation.answeredAt)
    );
    for (const purge of purges) {
      for (const [key, list] of slots) {
        if (list[0].queue !== purge.queue) continue;
        const acked = this.#acked.get(key);
        const existed = (acked !== undefined && acked.answeredAt < purge.requestedAt) ||
          list.some((delivery) => delivery.answeredAt < purge.requestedAt);
        if (!existed) continue;
        for (const later of list) {
          if (later.requestedAt <= purge.answeredAt) continue;
          const rewinds = this.#rewindsBetween(purge.queue, purge.requestedAt, later.answeredAt, {
            message: later.message,
            deletedBy: purge.answeredAt,
          });
          if (rewinds.length === 0) {
            throw new SimulationViolation(
              "purges stick",
              `${later.message.id} (${later.message.body}) from ${later.queue} delivered at ` +
                `${later.requestedAt} after a purge answered at ${purge.answeredAt}`,
            );
          }
        }
      }
    }
  }

  #checkFifo(): void {
    for (const spec of adminQueues.filter((queue) => queue.fifo)) {
      const groups = new Map<string, AdminDelivery[]>();
      for (const delivery of this.deliveries) {
        if (delivery.queue !== spec.name || delivery.visibilitySeconds === null) continue;
        const group = delivery.message.groupId!;
        groups.set(group, [...(groups.get(group) ?? []), delivery]);
      }
      for (const [group, list] of groups) {
        // Ties in log time: the order that passes (such deliveries are not ordered by it).
        list.sort((a, b) =>
          receivedAt(a) - receivedAt(b) || a.message.sequence - b.message.sequence
        );
        for (let i = 1; i < list.length; i++) {
          const previous = list[i - 1];
          const next = list[i];
          if (next.message.sequence >= previous.message.sequence) continue;
          if (this.#rewindsBetween(spec.name, previous.requestedAt, next.answeredAt).length > 0) {
            continue;
          }
          throw new SimulationViolation(
            "FIFO order",
            `${spec.name}/${group}: sequence ${next.message.sequence} (${next.message.body}) ` +
              `delivered at ${receivedAt(next)} after ${previous.message.sequence} ` +
              `(${previous.message.body}) at ${receivedAt(previous)}, no rewind in between`,
          );
        }
      }
    }
  }
}

/** The log time of the receive (for a delivery whose lock length is known). */
function receivedAt(delivery: AdminDelivery): number {
  return delivery.message.visibleAt - delivery.visibilitySeconds! * 1000;
}
