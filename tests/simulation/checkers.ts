/**
 * What the simulation checks, and the history it checks against. Every violation throws a
 * `SimulationViolation` naming the invariant.
 *
 * - election safety: at most one leader per term;
 * - log safety: the entry applied at an index (term + CRC) is the same on every node, forever;
 * - applied means durable: a node applies an entry only once its own log holds it (same term)
 *   durably;
 * - replica equality: nodes that applied the same index hold byte-identical machines;
 * - locks: a new delivery of a message starts at or after the previous lock's end (log time),
 *   unless that lock was changed by a visibility change whose outcome is unknown;
 * - real time: a lock also lasts in the simulation's true time — at least 99% of its length
 *   (cluster time may run 1% fast while it catches up with a wall clock; see
 *   `cluster_clock.ts`), whatever the nodes' wall clocks jump to;
 * - deletes stick: no delivery after a delete acknowledged for an earlier delivery;
 * - FIFO: within a group, first deliveries follow send order;
 * - durability: at the end, every acknowledged, undeleted message is received; none deleted is;
 * - dedup: one logical send retried with its dedup id yields at most one message id.
 *
 * @module
 */
import { crc32c } from "../../storage/mod.ts";
import type { Entry } from "../../raft/mod.ts";
import type { ReceivedMessage } from "../../sdk/protocol.ts";

/** A broken invariant. */
export class SimulationViolation extends Error {
  constructor(invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
    this.name = "SimulationViolation";
  }
}

interface Delivery {
  queue: string;
  message: ReceivedMessage;
  visibilitySeconds: number;
  /** The lock's end as last acknowledged (a visibility change moves it). */
  lockEnd: number;
  /** A visibility change of unknown outcome touched this lock. */
  uncertain: boolean;
  /** True time when the receive was asked for and when it was answered. */
  requestedAt: number;
  answeredAt: number;
}

/** How much faster than real time cluster time may run (`cluster_clock.ts`'s slew). */
const clockSlewRate = 0.01;

interface SentRecord {
  queue: string;
  body: string;
  id: string;
  sequence: number;
  groupId?: string;
}

/** What `History.appliedDurable` reads of a node's log. */
export interface AppliedLog {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly durableIndex: number;
  term(index: number): number;
}

/** Everything observed, and the checks over it. */
export class History {
  readonly #leaders = new Map<number, string>();
  readonly #committed = new Map<number, string>();
  readonly #stateHashes = new Map<number, { node: string; hash: number }>();
  readonly sent = new Map<string, SentRecord>();
  readonly #deliveries = new Map<string, Delivery[]>();
  readonly #byHandle = new Map<string, Delivery>();
  /** Message id → receive count of the delivery whose handle deleted it. */
  readonly deleted = new Map<string, number>();
  readonly maybeDeleted = new Set<string>();
  /** Body → ids it was stored under (sends carrying a dedup id). */
  readonly #dedupBodies = new Map<string, Set<string>>();
  applied = 0;

  leader(term: number, node: string): void {
    const known = this.#leaders.get(term);
    if (known !== undefined && known !== node) {
      throw new SimulationViolation("one leader per term", `${known} and ${node} in ${term}`);
    }
    this.#leaders.set(term, node);
  }

  apply(node: string, entry: Entry): void {
    this.applied++;
    const print = `${entry.term}:${entry.type}:${entry.timestamp}:${crc32c(entry.data)}`;
    const known = this.#committed.get(entry.index);
    if (known !== undefined && known !== print) {
      throw new SimulationViolation(
        "committed entries never change",
        `${node} applied ${print} at ${entry.index}, another node ${known}`,
      );
    }
    this.#committed.set(entry.index, print);
  }

  appliedDurable(node: string, entry: Entry, log: AppliedLog): void {
    const term = entry.index >= log.firstIndex && entry.index <= log.lastIndex
      ? log.term(entry.index)
      : undefined;
    if (entry.index > log.durableIndex || term !== entry.term) {
      throw new SimulationViolation(
        "applied means durable",
        `${node} applied ${entry.index} (term ${entry.term}) with its log durable to ` +
          `${log.durableIndex} and term ${term} there`,
      );
    }
  }

  machineState(node: string, index: number, image: Uint8Array): void {
    const hash = crc32c(image);
    const known = this.#stateHashes.get(index);
    if (known !== undefined && known.hash !== hash) {
      throw new SimulationViolation(
        "replicas agree",
        `${node} and ${known.node} differ after applying ${index}`,
      );
    }
    this.#stateHashes.set(index, { node, hash });
  }

  sendAcknowledged(record: SentRecord, dedup: boolean): void {
    this.sent.set(record.id, record);
    if (dedup) {
      const ids = this.#dedupBodies.get(record.body) ?? new Set();
      ids.add(record.id);
      this.#dedupBodies.set(record.body, ids);
    }
  }

  delivered(
    queue: string,
    message: ReceivedMessage,
    options: { visibilitySeconds: number; requestedAt: number; answeredAt: number },
  ): void {
    const delivery = {
      queue,
      message,
      ...options,
      lockEnd: message.visibleAt,
      uncertain: false,
    };
    const list = this.#deliveries.get(message.id) ?? [];
    list.push(delivery);
    this.#deliveries.set(message.id, list);
    this.#byHandle.set(message.receiptHandle, delivery);
    if (message.body.startsWith("d:")) {
      const ids = this.#dedupBodies.get(message.body) ?? new Set();
      ids.add(message.id);
      this.#dedupBodies.set(message.body, ids);
    }
  }

  visibilityChanged(handle: string, visibleAt: number | null): void {
    const delivery = this.#byHandle.get(handle);
    if (delivery === undefined) return;
    if (visibleAt === null) delivery.uncertain = true;
    else delivery.lockEnd = visibleAt;
  }

  deleteAcknowledged(handle: string): void {
    const delivery = this.#byHandle.get(handle);
    if (delivery === undefined) return;
    const id = delivery.message.id;
    this.deleted.set(id, Math.max(this.deleted.get(id) ?? 0, delivery.message.receiveCount));
  }

  deleteUnknown(handle: string): void {
    const delivery = this.#byHandle.get(handle);
    if (delivery !== undefined) this.maybeDeleted.add(delivery.message.id);
  }

  /** Locks, deletes, FIFO and dedup over every delivery seen. */
  checkDeliveries(): void {
    for (const [id, list] of this.#deliveries) {
      const ordered = [...list].sort((a, b) => a.message.receiveCount - b.message.receiveCount);
      for (let i = 1; i < ordered.length; i++) {
        const previous = ordered[i - 1];
        const next = ordered[i];
        const receivedAt = next.message.visibleAt - next.visibilitySeconds * 1000;
        if (!previous.uncertain && receivedAt < previous.lockEnd) {
          throw new SimulationViolation(
            "a lock is a lock",
            `${id} delivered at ${receivedAt} (count ${next.message.receiveCount}) while ` +
              `locked until ${previous.lockEnd} (count ${previous.message.receiveCount})`,
          );
        }
        if (!previous.uncertain) this.#checkRealTime(id, previous, next);
      }
      const deletedAt = this.deleted.get(id);
      const after = ordered.find((d) =>
        deletedAt !== undefined && d.message.receiveCount > deletedAt
      );
      if (after !== undefined) {
        throw new SimulationViolation("deletes stick", `${id} delivered after its delete`);
      }
    }
    for (const [body, ids] of this.#dedupBodies) {
      if (ids.size > 1) {
        throw new SimulationViolation("dedup", `${body} stored as ${[...ids].join(", ")}`);
      }
    }
    this.#checkFifo();
  }

  /**
   * The first lock's stamp came after `requestedAt` and the next delivery's before its
   * `answeredAt`, so their difference bounds the true time between them from above: if even it
   * is shorter than the lock, the lock ended early in real time.
   */
  #checkRealTime(id: string, previous: Delivery, next: Delivery): void {
    const lockedAt = previous.message.visibleAt - previous.visibilitySeconds * 1000;
    const lockMs = previous.lockEnd - lockedAt;
    const trueMs = next.answeredAt - previous.requestedAt;
    if (trueMs < lockMs * (1 - clockSlewRate) - 1) {
      throw new SimulationViolation(
        "locks last in real time",
        `${id} was locked for ${lockMs} ms of cluster time but delivered again after at most ` +
          `${trueMs} ms of real time`,
      );
    }
  }

  #checkFifo(): void {
    const groups = new Map<string, SentRecord[]>();
    for (const record of this.sent.values()) {
      if (record.groupId === undefined) continue;
      const key = `${record.queue}/${record.groupId}`;
      groups.set(key, [...(groups.get(key) ?? []), record]);
    }
    for (const [group, records] of groups) {
      records.sort((a, b) => a.sequence - b.sequence);
      let previous = -Infinity;
      for (const record of records) {
        const first = this.#deliveries.get(record.id)?.[0]?.message.firstReceivedAt;
        if (first === undefined) continue;
        if (first < previous) {
          throw new SimulationViolation(
            "FIFO order",
            `${group}: ${record.id} (sequence ${record.sequence}) first received before an ` +
              "earlier message",
          );
        }
        previous = first;
      }
    }
  }

  /** After the final drain: every acknowledged send was received, no deleted one came back. */
  checkDurability(drained: Set<string>, deletedBefore: Set<string>): void {
    for (const [id, record] of this.sent) {
      const wasDeleted = this.deleted.has(id) || this.maybeDeleted.has(id);
      if (!wasDeleted && !drained.has(id)) {
        throw new SimulationViolation(
          "no acknowledged write is lost",
          `${id} (${record.body} on ${record.queue}) never came back`,
        );
      }
    }
    for (const id of drained) {
      if (deletedBefore.has(id)) {
        throw new SimulationViolation("deletes stick", `${id} came back after its delete`);
      }
    }
  }
}
