/**
 * The admin workload of the simulation: queues of its own (so the main workload's model of `std`
 * and `fifo` stays exact), a standard and a FIFO queue with rewind enabled and a dead-letter
 * policy each, and their dead-letter queues (rewind enabled too). Its clients send, receive
 * (often letting locks lapse, so messages reach `maxReceiveCount` and dead-letter), delete, rewind
 * by timestamp and by sequence, purge, redrive from the dead-letter queues and update attributes
 * (`rewindSeconds` up and down, which bars deleted messages from rewinds, retention, the
 * visibility timeout), through the broker of the node they believe leads, as the other clients
 * do. Every outcome goes to an `AdminHistory` (`admin_checkers.ts`), checked after healing.
 *
 * The clients draw from a PRNG of their own, so they take no draw from the run's: a run without
 * them (`admin: false`) takes exactly the paths it took before they existed.
 *
 * @module
 */
import { BrokerError, type EngineService } from "../../broker/testing.ts";
import { type Prng, randomInt } from "../../raft/mod.ts";
import { SimulatedCrash } from "../../storage/mod.ts";
import type { QueueAttributesInput, RewindRequest, SendMessageEntry } from "../../sdk/protocol.ts";
import type { AdminHistory } from "./admin_checkers.ts";
import { isTransient, pickBroker, redirect, type WorkloadParts } from "./workload.ts";

/** One admin queue, the attributes it is created with and the values its updates choose from. */
export interface AdminQueueSpec {
  name: string;
  fifo: boolean;
  /** The source queue whose dead-letter queue this is. */
  deadLetterOf?: string;
  attributes: QueueAttributesInput;
  /** Retention and rewind windows an update sets together (each pair valid on its own). */
  retentions: number[];
  rewinds: number[];
}

/** Visibility timeouts an update sets (the initial one is 2). */
export const adminVisibilities = [1, 2, 3, 4, 5];

/**
 * Dead-letter queues first: a policy's target must exist. `a-std`'s retention stays above its
 * TTL (300 s, the least allowed); `a-fifo`'s goes down to 60 s, so retention drops messages (and
 * keeps a locked FIFO one until its lock ends) in runs of 200 steps.
 */
export const adminQueues: AdminQueueSpec[] = [
  {
    name: "a-dlq",
    fifo: false,
    deadLetterOf: "a-std",
    attributes: { rewindSeconds: 120, retentionSeconds: 3600, visibilityTimeoutSeconds: 2 },
    retentions: [600, 3600],
    rewinds: [0, 30, 120],
  },
  {
    name: "a-fdlq",
    fifo: true,
    deadLetterOf: "a-fifo",
    attributes: {
      fifo: true,
      rewindSeconds: 120,
      retentionSeconds: 3600,
      visibilityTimeoutSeconds: 2,
    },
    retentions: [600, 3600],
    rewinds: [0, 30, 120],
  },
  {
    name: "a-std",
    fifo: false,
    attributes: {
      rewindSeconds: 120,
      retentionSeconds: 600,
      visibilityTimeoutSeconds: 2,
      deadLetter: { queue: "a-dlq", maxReceiveCount: 3, maxTimeToLiveSeconds: 300 },
    },
    retentions: [400, 600, 3600],
    rewinds: [0, 30, 120, 300],
  },
  {
    name: "a-fifo",
    fifo: true,
    attributes: {
      fifo: true,
      rewindSeconds: 60,
      retentionSeconds: 90,
      visibilityTimeoutSeconds: 2,
      deadLetter: { queue: "a-fdlq", maxReceiveCount: 2 },
    },
    retentions: [60, 90, 600],
    rewinds: [0, 20, 60],
  },
];

/** The spec of an admin queue by name. */
export function adminSpec(name: string): AdminQueueSpec {
  return adminQueues.find((spec) => spec.name === name)!;
}

/** The queue a body was sent to: bodies are `queue/client-n`. */
export function bodyQueue(body: string): string {
  return body.slice(0, body.indexOf("/"));
}

/** True when the write behind `error` may have been applied all the same. */
export function mayHaveApplied(error: unknown): boolean {
  if (error instanceof SimulatedCrash) return true;
  if (!(error instanceof Error)) return false;
  const fields = error as { code?: string; outcomeUnknown?: true };
  return fields.outcomeUnknown === true || fields.code === "NotReady";
}

/** One admin client. */
export class AdminClient {
  readonly #parts: WorkloadParts;
  readonly #history: AdminHistory;
  readonly #name: string;
  readonly #target = { id: "n1" };
  #counter = 0;
  stopped = false;
  /** Set after the fault phase: one operation every 0.5–2.5 s, so a long soak stays cheap. */
  slow = false;
  operations = 0;

  /** `parts.prng` is the admin workload's own PRNG, not the run's. */
  constructor(parts: WorkloadParts, history: AdminHistory, name: string) {
    this.#parts = parts;
    this.#history = history;
    this.#name = name;
  }

  get #prng(): Prng {
    return this.#parts.prng;
  }

  get #now(): number {
    return this.#parts.scheduler.now;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      await this.#step();
      this.operations++;
      const pause = this.slow ? 500 + randomInt(this.#prng, 2000) : randomInt(this.#prng, 400);
      await this.#parts.scheduler.sleep(pause);
    }
  }

  async #step(): Promise<void> {
    const broker = pickBroker(this.#parts, this.#target);
    if (broker === null) return;
    const spec = adminQueues[randomInt(this.#prng, adminQueues.length)];
    const roll = this.#prng.next();
    try {
      if (roll < 0.34) await this.#send(broker, spec);
      else if (roll < 0.74) await this.#receive(broker, spec);
      else if (roll < 0.84) await this.#rewind(broker, spec);
      else if (roll < 0.87) await this.#purge(broker, spec);
      else if (roll < 0.93) await this.#redrive(broker, spec);
      else await this.#update(broker, spec);
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (error instanceof BrokerError && error.code !== "NotReady") {
        redirect(this.#parts, this.#target, error);
      }
    }
  }

  async #send(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    // Dead-letter queues get a few sends of their own: messages without an origin to redrive to.
    if (spec.deadLetterOf !== undefined && this.#prng.next() < 0.7) return;
    const entries: SendMessageEntry[] = Array.from(
      { length: 1 + randomInt(this.#prng, 3) },
      () => {
        const entry: SendMessageEntry = { body: `${spec.name}/${this.#name}-${++this.#counter}` };
        if (spec.fifo) entry.groupId = `g${randomInt(this.#prng, 3)}`;
        // A long delay now and then keeps an old message at the queue's head, so deleted
        // messages behind it (and barred runs) stay in memory and in snapshots.
        else if (this.#prng.next() < 0.1) entry.delaySeconds = 1 + randomInt(this.#prng, 40);
        this.#history.sendAttempted(spec.name, entry);
        return entry;
      },
    );
    const requestedAt = this.#now;
    const response = await broker.sendMessages(spec.name, entries);
    response.messages.forEach((sent, index) =>
      this.#history.sendAcknowledged(spec.name, entries[index].body, sent, {
        requestedAt,
        answeredAt: this.#now,
      })
    );
  }

  async #receive(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    const prng = this.#prng;
    // After the fault phase the sources are seldom read, so some of their messages outlive the
    // dead-letter TTL in a long soak and move by it rather than by their receive count.
    if (this.slow && spec.deadLetterOf === undefined && prng.next() < 0.8) return;
    // A quarter of the receives take the queue's own visibility timeout (which updates change).
    const visibilitySeconds = prng.next() < 0.25 ? null : 1 + randomInt(prng, 4);
    const requestedAt = this.#now;
    const response = await broker.receiveMessages(spec.name, {
      maxMessages: 1 + randomInt(prng, 4),
      visibilityTimeoutSeconds: visibilitySeconds ?? undefined,
      waitSeconds: randomInt(prng, 4) === 0 ? 1 : 0,
    });
    const answeredAt = this.#now;
    const deliveries = response.messages.map((message) =>
      this.#history.delivered(spec.name, message, { visibilitySeconds, requestedAt, answeredAt })
    );
    for (const delivery of deliveries) {
      // The rest let their lock lapse: delivered again, until maxReceiveCount dead-letters them.
      if (prng.next() >= 0.45) continue;
      const handle = delivery.message.receiptHandle;
      const deleteRequestedAt = this.#now;
      const result = await broker.deleteMessages(spec.name, [handle]);
      if (result.failures.length === 0) {
        this.#history.deleteAcknowledged(delivery, {
          requestedAt: deleteRequestedAt,
          answeredAt: this.#now,
        });
      }
    }
  }

  async #rewind(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    const prng = this.#prng;
    const seen = this.#history.recentSlots(spec.name);
    if (seen.length === 0) return;
    const slot = seen[randomInt(prng, seen.length)];
    const request: RewindRequest = prng.next() < 0.5
      ? { timestamp: slot.enqueuedAt - randomInt(prng, 3) * 1000 }
      : { sequence: slot.sequence };
    const fromWindow = prng.next() < 0.5;
    await this.#admin(
      { kind: "rewind", queue: spec.name, request },
      () => broker.rewind(spec.name, request, { fromWindow }),
      // A timestamp before the window (without fromWindow), a sequence out of it, barred or no
      // longer retained: refused, and nothing changes.
      (error) => error instanceof BrokerError && error.code === "InvalidParameter",
    );
  }

  async #purge(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    // Rarer on the sources, so their messages live long enough to dead-letter (none in a soak:
    // they are to outlive the TTL).
    if (spec.deadLetterOf === undefined && (this.slow || this.#prng.next() < 0.5)) return;
    await this.#admin({ kind: "purge", queue: spec.name }, () => broker.purge(spec.name));
  }

  async #redrive(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    if (spec.deadLetterOf === undefined) return;
    const prng = this.#prng;
    const request: { maxMessages?: number; destination?: string } = {};
    if (prng.next() < 0.5) request.maxMessages = 1 + randomInt(prng, 5);
    if (prng.next() < 0.3) request.destination = spec.deadLetterOf;
    await this.#admin(
      {
        kind: "redrive",
        queue: spec.name,
        destination: spec.deadLetterOf,
        named: request.destination !== undefined,
      },
      () => broker.redrive(spec.name, request),
    );
  }

  async #update(broker: EngineService, spec: AdminQueueSpec): Promise<void> {
    const prng = this.#prng;
    const attributes: QueueAttributesInput = {};
    if (prng.next() < 0.7) {
      attributes.retentionSeconds = spec.retentions[randomInt(prng, spec.retentions.length)];
      attributes.rewindSeconds = spec.rewinds[randomInt(prng, spec.rewinds.length)];
    }
    if (prng.next() < 0.5) {
      attributes.visibilityTimeoutSeconds =
        adminVisibilities[randomInt(prng, adminVisibilities.length)];
    }
    await this.#admin(
      { kind: "update", queue: spec.name, attributes },
      () => broker.updateQueue(spec.name, attributes),
    );
  }

  /** Runs one admin write and records it: answered, refused, or of unknown outcome. */
  async #admin(
    operation: AdminOperationInput,
    write: () => Promise<unknown>,
    refused: (error: unknown) => boolean = () => false,
  ): Promise<void> {
    const requestedAt = this.#now;
    try {
      const result = await write();
      this.#history.adminDone({ ...operation, requestedAt, answeredAt: this.#now, result });
    } catch (error) {
      if (refused(error)) {
        this.#history.adminRefused(operation.kind);
        return;
      }
      if (mayHaveApplied(error)) {
        this.#history.adminDone({ ...operation, requestedAt, answeredAt: Infinity });
      }
      throw error;
    }
  }
}

/** An admin write as a client asks for it. */
export type AdminOperationInput =
  | { kind: "rewind"; queue: string; request: RewindRequest }
  | { kind: "purge"; queue: string }
  /** `named`: the destination was given, so messages without an origin move there too. */
  | { kind: "redrive"; queue: string; destination: string; named: boolean }
  | { kind: "update"; queue: string; attributes: QueueAttributesInput };

/** An admin write that was applied (`answeredAt` finite) or may have been (`Infinity`). */
export type AdminOperation = AdminOperationInput & {
  requestedAt: number;
  answeredAt: number;
  result?: unknown;
};
