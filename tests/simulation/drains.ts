/**
 * The cluster-wide operations of a simulation run (see `simulate.ts`) that go to whichever node
 * leads, retrying through leader changes; and the healing phase's drains of every queue, its wait
 * for pending pushes, and its check that the replicas hold equal state.
 *
 * @module
 */
import type { SimNode } from "./cluster.ts";
import { SimulationViolation } from "./checkers.ts";
import { topicQueues } from "./topic_workload.ts";
import {
  deleteMessage,
  isTransient,
  pickBroker,
  queues,
  redirect,
  type WorkloadParts,
} from "./workload.ts";

/** Leader operations and drains over the parts of one run. */
export class Drains {
  readonly #parts: WorkloadParts;

  constructor(parts: WorkloadParts) {
    this.#parts = parts;
  }

  /** Runs `action` on the node that leads (its state is the newest) until it succeeds. */
  async onLeader<T>(action: (node: SimNode) => Promise<T>): Promise<T> {
    for (;;) {
      const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
      if (leader !== undefined) {
        try {
          return await action(leader);
        } catch (error) {
          if (!isTransient(error)) throw error;
        }
      }
      await this.#parts.scheduler.sleep(200);
    }
  }

  /** Waits until the leader holds no pending push; every one went through or a check fails. */
  async pushesSettled(): Promise<void> {
    for (;;) {
      const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
      const machine = leader?.machine;
      if (machine !== undefined && machine !== null) {
        const views = machine.topics.pushTargets().map((target) =>
          machine.topics.getSubscription(target.topic, target.subscription)!
        );
        for (const view of views) {
          if (view.push!.dropped > 0 || view.push!.expired > 0) {
            throw new SimulationViolation(
              "no push is given up on",
              `${view.topic}/${view.name}: ${JSON.stringify(view.push)}`,
            );
          }
        }
        if (views.every((view) => view.pendingMessages === 0)) return;
      }
      await this.#parts.scheduler.sleep(500);
    }
  }

  /** Receives and deletes everything in the topic queues: queue → body → message ids. */
  async drainTopicQueues(): Promise<Map<string, Map<string, Set<string>>>> {
    const received = new Map<string, Map<string, Set<string>>>();
    const target = { id: this.#parts.cluster.ids[0] };
    for (const queue of topicQueues) {
      const bodies = new Map<string, Set<string>>();
      received.set(queue, bodies);
      while (!this.empty(queue)) {
        const { broker, answer } = await this.retry(
          target,
          (broker) =>
            broker.receiveMessages(queue, { maxMessages: 16, visibilityTimeoutSeconds: 30 })
              .then((answer) => ({ broker, answer })),
        );
        if (answer.messages.length === 0) await this.#parts.scheduler.sleep(1_000);
        for (const message of answer.messages) {
          const ids = bodies.get(message.body) ?? new Set();
          ids.add(message.id);
          bodies.set(message.body, ids);
          await broker.deleteMessages(queue, [message.receiptHandle]).catch((error) => {
            if (!isTransient(error)) throw error;
          });
        }
      }
    }
    return received;
  }

  /** Retries `action` on whichever node leads until it succeeds. */
  async retry<T>(
    target: { id: string },
    action: (broker: NonNullable<ReturnType<typeof pickBroker>>) => Promise<T>,
  ): Promise<T> {
    for (;;) {
      const broker = pickBroker(this.#parts, target);
      if (broker !== null) {
        try {
          return await action(broker);
        } catch (error) {
          if (!isTransient(error)) throw error;
          redirect(this.#parts, target, error);
        }
      }
      await this.#parts.scheduler.sleep(200);
    }
  }

  /** Receives and deletes everything left; returns the ids received. */
  async drain(): Promise<Set<string>> {
    const drained = new Set<string>();
    const target = { id: this.#parts.cluster.ids[0] };
    for (const queue of queues) {
      while (!this.empty(queue.name)) {
        const requestedAt = this.#parts.scheduler.now;
        const response = await this.retry(target, (broker) =>
          broker.receiveMessages(queue.name, {
            maxMessages: 16,
            visibilityTimeoutSeconds: 5,
            waitSeconds: 0,
          }).then((answer) => ({ broker, answer })));
        const { broker, answer } = response;
        // Nothing visible yet (locks, or a leader whose clock is behind the log's time): wait.
        if (answer.messages.length === 0) await this.#parts.scheduler.sleep(1_000);
        for (const message of answer.messages) {
          this.#parts.history.delivered(queue.name, message, {
            visibilitySeconds: 5,
            requestedAt,
            answeredAt: this.#parts.scheduler.now,
          });
          drained.add(message.id);
          try {
            await deleteMessage(this.#parts, { broker, queue: queue.name, message });
          } catch (error) {
            if (!isTransient(error)) throw error;
          }
        }
      }
    }
    return drained;
  }

  /** True when the leader's state holds no undeleted message in `queue`. */
  empty(queue: string): boolean {
    const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
    if (leader === undefined || leader.machine === null) return false;
    const view = leader.machine.getQueue(queue, this.#parts.scheduler.now);
    if (view === undefined) return false;
    return view.activeMessages + view.inflightMessages + view.delayedMessages === 0;
  }

  checkReplicasEqual(): void {
    const images = this.#parts.cluster.up().map((node) => ({
      id: node.id,
      applied: node.machine!.appliedIndex,
      image: node.machine!.snapshot(),
    }));
    for (const other of images.slice(1)) {
      if (other.applied !== images[0].applied) continue;
      const same = other.image.length === images[0].image.length &&
        other.image.every((byte, index) => byte === images[0].image[index]);
      if (!same) {
        throw new SimulationViolation(
          "replicas agree",
          `${other.id} and ${images[0].id} differ at ${other.applied}`,
        );
      }
    }
  }
}
