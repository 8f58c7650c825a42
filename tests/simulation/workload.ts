/**
 * Simulated clients: each sends (with and without dedup ids, to a standard and a FIFO queue),
 * receives with locks, deletes and changes visibility through the broker of the node it
 * believes leads, moving elsewhere on NoLeader, and records every outcome in the `History`.
 *
 * @module
 */
import { BrokerError, type EngineService, ReplicationError } from "../../broker/testing.ts";
import { SimulatedCrash } from "../../storage/mod.ts";
import { type Prng, randomInt } from "../../raft/mod.ts";
import type { ReceivedMessage, SendMessageEntry } from "../../sdk/protocol.ts";
import type { History } from "./checkers.ts";
import type { SimCluster } from "./cluster.ts";
import type { Scheduler } from "./scheduler.ts";

/** The queues the workload uses. */
export const queues = [{ name: "std", fifo: false }, { name: "fifo", fifo: true }];

/** Shared by the clients of one run. */
export interface WorkloadParts {
  cluster: SimCluster;
  scheduler: Scheduler;
  history: History;
  prng: Prng;
}

/** Whether an error is an expected answer of a cluster in trouble (else: a bug). */
export function isTransient(error: unknown): error is Error {
  // A read of a message body on a node whose power was just cut fails like a dying server.
  if (error instanceof SimulatedCrash) return true;
  // Membership changes call the replica directly, which refuses with its own error type.
  if (error instanceof ReplicationError) return error.code !== "InvalidProposal";
  // A lagging node may not know a queue or topic yet (they are never deleted in the workload).
  // NodeRemoved: a node that rejoins (fresh disk) is no member until its addition reaches it.
  return error instanceof BrokerError &&
    (error.code === "NoLeader" || error.code === "NotReady" || error.code === "QueueNotFound" ||
      error.code === "TopicNotFound" || error.code === "NodeRemoved");
}

/** NotReady: the command may or may not have been applied. */
export function outcomeUnknown(error: unknown): boolean {
  return (error instanceof BrokerError || error instanceof ReplicationError) &&
    error.code === "NotReady";
}

/** The broker of the node believed to lead, or of any live node. */
export function pickBroker(parts: WorkloadParts, target: { id: string }): EngineService | null {
  const node = parts.cluster.node(target.id);
  if (node.broker !== null) return node.broker;
  const up = parts.cluster.up();
  if (up.length === 0) return null;
  target.id = up[randomInt(parts.prng, up.length)].id;
  return parts.cluster.node(target.id).broker;
}

/** Follows a NoLeader hint ("the leader is n2"), else tries another node. */
export function redirect(parts: WorkloadParts, target: { id: string }, error: Error): void {
  const hint = /the leader is (\S+)/.exec(error.message)?.[1];
  const ids = parts.cluster.ids;
  target.id = hint !== undefined && ids.includes(hint)
    ? hint
    : ids[randomInt(parts.prng, ids.length)];
}

/** One client. */
export class Client {
  readonly #parts: WorkloadParts;
  readonly #name: string;
  readonly #target = { id: "n1" };
  #counter = 0;
  /** Unknown-outcome sends with a dedup id, retried with the same id. */
  #retries: { queue: string; entry: SendMessageEntry }[] = [];
  /** Receipt handles to delete on the next receive of their queue. */
  #deferred = new Map<string, string[]>();
  stopped = false;
  operations = 0;

  constructor(parts: WorkloadParts, name: string) {
    this.#parts = parts;
    this.#name = name;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      await this.#step();
      this.operations++;
      await this.#parts.scheduler.sleep(randomInt(this.#parts.prng, 200));
    }
  }

  async #step(): Promise<void> {
    const prng = this.#parts.prng;
    const broker = pickBroker(this.#parts, this.#target);
    if (broker === null) return;
    const queue = queues[randomInt(prng, queues.length)];
    try {
      const roll = prng.next();
      if (roll < 0.45) await this.#send(broker, queue);
      else await this.#receive(broker, queue.name);
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (error instanceof BrokerError && error.code !== "NotReady") {
        redirect(this.#parts, this.#target, error);
      }
    }
  }

  async #send(broker: EngineService, queue: { name: string; fifo: boolean }): Promise<void> {
    const prng = this.#parts.prng;
    let item = this.#retries.shift();
    if (item === undefined || item.queue !== queue.name) {
      if (item !== undefined) this.#retries.push(item);
      const dedup = prng.next() < 0.3;
      const body = `${dedup ? "d:" : ""}${this.#name}-${++this.#counter}`;
      const entry: SendMessageEntry = { body };
      if (dedup) entry.dedupId = body;
      if (queue.fifo) entry.groupId = `g${randomInt(prng, 2)}`;
      item = { queue: queue.name, entry };
    }
    try {
      const response = await broker.sendMessages(item.queue, [item.entry]);
      const sent = response.messages[0];
      this.#parts.history.sendAcknowledged({
        queue: item.queue,
        body: item.entry.body,
        id: sent.id,
        sequence: sent.sequence,
        groupId: item.entry.groupId,
      }, item.entry.dedupId !== undefined);
    } catch (error) {
      if (isTransient(error) && item.entry.dedupId !== undefined) this.#retries.push(item);
      throw error;
    }
  }

  async #receive(broker: EngineService, queue: string): Promise<void> {
    const prng = this.#parts.prng;
    const history = this.#parts.history;
    const visibilitySeconds = 1 + randomInt(prng, 8);
    const requestedAt = this.#parts.scheduler.now;
    // Deletes put off by the last receive of this queue ride on this one, as consumers do.
    const carried = this.#deferred.get(queue) ?? [];
    this.#deferred.delete(queue);
    let response;
    try {
      response = await broker.receiveMessages(queue, {
        maxMessages: 1 + randomInt(prng, 4),
        visibilityTimeoutSeconds: visibilitySeconds,
        waitSeconds: randomInt(prng, 3) === 0 ? 1 : 0,
        deleteReceiptHandles: carried.length > 0 ? carried : undefined,
      });
    } catch (error) {
      // The deletes may have been written before the failure (of the receive after them).
      for (const handle of carried) history.deleteUnknown(handle);
      throw error;
    }
    const failed = new Set((response.failures ?? []).map((failure) => failure.receiptHandle));
    for (const handle of carried) if (!failed.has(handle)) history.deleteAcknowledged(handle);
    const timing = { visibilitySeconds, requestedAt, answeredAt: this.#parts.scheduler.now };
    for (const message of response.messages) history.delivered(queue, message, timing);
    for (const message of response.messages) {
      const roll = prng.next();
      if (roll < 0.3) this.#defer(queue, message.receiptHandle);
      else if (roll < 0.6) await deleteMessage(this.#parts, { broker, queue, message });
      else if (roll < 0.8) await this.#changeVisibility(broker, queue, message);
    }
  }

  #defer(queue: string, handle: string): void {
    const handles = this.#deferred.get(queue) ?? [];
    handles.push(handle);
    this.#deferred.set(queue, handles);
  }

  async #changeVisibility(
    broker: EngineService,
    queue: string,
    message: ReceivedMessage,
  ): Promise<void> {
    const handle = message.receiptHandle;
    const seconds = randomInt(this.#parts.prng, 6);
    try {
      const result = await broker.changeVisibility(queue, [
        { receiptHandle: handle, visibilityTimeoutSeconds: seconds },
      ]);
      for (const entry of result.entries) {
        this.#parts.history.visibilityChanged(entry.receiptHandle, entry.visibleAt);
      }
    } catch (error) {
      if (outcomeUnknown(error)) this.#parts.history.visibilityChanged(handle, null);
      throw error;
    }
  }
}

/** Deletes one received message, recording the outcome. */
export async function deleteMessage(
  parts: WorkloadParts,
  request: { broker: EngineService; queue: string; message: ReceivedMessage },
): Promise<void> {
  const handle = request.message.receiptHandle;
  try {
    const result = await request.broker.deleteMessages(request.queue, [handle]);
    if (result.failures.length === 0) parts.history.deleteAcknowledged(handle);
  } catch (error) {
    if (outcomeUnknown(error)) parts.history.deleteUnknown(handle);
    throw error;
  }
}
