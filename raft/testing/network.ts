/**
 * An in-memory network for Raft tests: a queue of messages with seeded faults (drops,
 * duplicates, reordering), cut links, isolated nodes, and held (undelivered) mailboxes.
 *
 * @module
 */

import { randomInt } from "../prng.ts";
import type { Message, NodeId, Prng } from "../types.ts";

/** Fault rates of a `SimNetwork`, each a probability in [0, 1]. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** When true, the next message delivered is picked at random instead of FIFO. */
  reorder: boolean;
}

/**
 * A simulated network.
 *
 * @example
 * ```ts
 * const network = new SimNetwork(createPrng(7));
 * network.isolate(nodeId("n1"));
 * network.send(ready.messages);
 * const message = network.take(); // the next deliverable message, or undefined
 * ```
 */
export class SimNetwork {
  readonly #prng: Prng;
  #queue: Message[] = [];
  #cut = new Set<string>();
  #held = new Set<NodeId>();
  faults: NetworkFaults = { dropRate: 0, duplicateRate: 0, reorder: false };
  /** Every message ever sent, for assertions about traffic; cleared by `clearLog()`. */
  sent: Message[] = [];

  constructor(prng: Prng) {
    this.#prng = prng;
  }

  /** Queues messages, applying drops, duplicates and cut links. */
  send(messages: readonly Message[]): void {
    for (const message of messages) {
      this.sent.push(message);
      if (this.#cut.has(linkKey(message.from, message.to))) continue;
      if (this.#chance(this.faults.dropRate)) continue;
      this.#queue.push(message);
      if (this.#chance(this.faults.duplicateRate)) this.#queue.push(message);
    }
  }

  /** Removes and returns the next deliverable message (held mailboxes are skipped). */
  take(): Message | undefined {
    const deliverable: number[] = [];
    for (let position = 0; position < this.#queue.length; position++) {
      if (!this.#held.has(this.#queue[position].to)) {
        deliverable.push(position);
        if (!this.faults.reorder) break;
      }
    }
    if (deliverable.length === 0) return undefined;
    const pick = this.faults.reorder
      ? deliverable[randomInt(this.#prng, deliverable.length)]
      : deliverable[0];
    const [message] = this.#queue.splice(pick, 1);
    // A link cut after sending also loses what was on the wire.
    if (this.#cut.has(linkKey(message.from, message.to))) return this.take();
    return message;
  }

  /** Messages queued (including held ones), optionally only those to `to`. */
  pending(to?: NodeId): Message[] {
    return to === undefined ? [...this.#queue] : this.#queue.filter((message) => message.to === to);
  }

  /** Cuts the link between `left` and `right` in both directions. */
  cut(left: NodeId, right: NodeId): void {
    this.#cut.add(linkKey(left, right));
    this.#cut.add(linkKey(right, left));
  }

  /** Cuts `id` off from every node in `others`. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const other of others) if (other !== id) this.cut(id, other);
  }

  /** Splits the nodes into groups that cannot talk across. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const left of group) for (const right of other) this.cut(left, right);
      }
    }
  }

  /** Keeps messages to `id` queued until `release(id)`. */
  hold(id: NodeId): void {
    this.#held.add(id);
  }

  release(id: NodeId): void {
    this.#held.delete(id);
  }

  /** Restores every link and mailbox (faults rates stay). */
  heal(): void {
    this.#cut.clear();
    this.#held.clear();
  }

  /** Drops everything queued. */
  clear(): void {
    this.#queue = [];
  }

  clearLog(): void {
    this.sent = [];
  }

  #chance(probability: number): boolean {
    return probability > 0 && this.#prng.next() < probability;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
