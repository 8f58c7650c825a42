/**
 * The simulated network between the nodes: each node incarnation gets a `Transport` endpoint;
 * messages are delayed, lost, duplicated and reordered by the seeded PRNG, and links can be cut
 * one way or both ways (partitions).
 *
 * @module
 */
import type { Message, Prng } from "../../raft/mod.ts";
import { LocalTransport, type Transport } from "../../broker/testing.ts";
import type { Scheduler } from "./scheduler.ts";

/** Fault rates and delays of the network. */
export interface NetworkKnobs {
  lossRate: number;
  duplicateRate: number;
  delayMsMin: number;
  delayMsMax: number;
}

class Endpoint extends LocalTransport {
  constructor(readonly network: SimNetwork, readonly id: string) {
    super();
  }
  send(messages: Message[]): void {
    if (this.closed) return;
    for (const message of messages) this.network.transmit(message);
  }
}

/**
 * The network.
 *
 * @example
 * ```ts
 * const network = new SimNetwork(scheduler, prng, knobs);
 * const transport = network.attach("n1"); // give it to the replica
 * network.cut("n1", "n2"); // one way
 * ```
 */
export class SimNetwork {
  readonly #scheduler: Scheduler;
  readonly #prng: Prng;
  knobs: NetworkKnobs;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #cut = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(scheduler: Scheduler, prng: Prng, knobs: NetworkKnobs) {
    this.#scheduler = scheduler;
    this.#prng = prng;
    this.knobs = knobs;
  }

  /** A fresh endpoint for a (re)started node; the previous one goes deaf. */
  attach(id: string): Transport {
    this.detach(id);
    const endpoint = new Endpoint(this, id);
    this.#endpoints.set(id, endpoint);
    return endpoint;
  }

  /** The node is down: nothing reaches it and it sends nothing. */
  detach(id: string): void {
    const old = this.#endpoints.get(id);
    if (old !== undefined) old.closed = true;
    this.#endpoints.delete(id);
  }

  /** Drops every message from `from` to `to` (one way). */
  cut(from: string, to: string): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Cuts both ways between `id` and every other node. */
  isolate(id: string, others: string[]): void {
    for (const other of others) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  get partitioned(): boolean {
    return this.#cut.size > 0;
  }

  transmit(message: Message): void {
    const knobs = this.knobs;
    if (this.#cut.has(`${message.from}>${message.to}`) || this.#prng.next() < knobs.lossRate) {
      this.dropped++;
      return;
    }
    const copies = this.#prng.next() < knobs.duplicateRate ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      const delay = knobs.delayMsMin +
        Math.floor(this.#prng.next() * (knobs.delayMsMax - knobs.delayMsMin + 1));
      const clone = structuredClone(message);
      this.#scheduler.schedule(delay, () => this.#deliver(clone));
    }
  }

  #deliver(message: Message): void {
    // A partition that started while the message was in flight drops it too.
    if (this.#cut.has(`${message.from}>${message.to}`)) {
      this.dropped++;
      return;
    }
    const endpoint = this.#endpoints.get(message.to);
    if (endpoint === undefined || endpoint.closed || endpoint.handler === null) return;
    this.delivered++;
    endpoint.handler(message);
  }
}
