/**
 * The bound on how many queues (or topics) the group holds, `queuesMax` and `topicsMax`. A
 * create is checked before it is proposed, so the check counts, beside what the state machine
 * holds, the creates of new names this node has proposed and not yet seen settle: counting only
 * the applied ones let every create sent at once pass (50 concurrent creates under a bound of 5
 * made 50), so one client keeping many requests in flight went past the bound by as many.
 *
 * What it can't count: creates another node proposed as leader that are not applied here yet
 * (right after a change of leader), so the bound may still be passed by those.
 *
 * @module
 */
import { BrokerError } from "../engine/mod.ts";

/** What a `CreateLimit` counts and how it refuses. */
export interface CreateLimitOptions {
  /** The bound. */
  max: number;
  /** How many the state machine holds now. */
  count: () => number;
  /** Whether `name` exists now (a create of it adds nothing). */
  exists: (name: string) => boolean;
  /** What is bounded, as the refusal names it: `queues` (`queuesMax`) or `topics` (`topicsMax`). */
  kind: "queues" | "topics";
}

const codes = { queues: "QueueLimitExceeded", topics: "TopicLimitExceeded" } as const;

/**
 * Runs creates under the bound.
 *
 * @example
 * ```ts
 * const limit = new CreateLimit({
 *   max: 10_000,
 *   count: () => machine.queueCount,
 *   exists: (name) => machine.queueMeta(name) !== undefined,
 *   kind: "queues",
 * });
 * await limit.run("orders", () => propose(create));
 * ```
 */
export class CreateLimit {
  readonly #options: CreateLimitOptions;
  /** Names of creates proposed and not settled, with how many of each are under way. */
  readonly #pending = new Map<string, number>();

  constructor(options: CreateLimitOptions) {
    this.#options = options;
  }

  /**
   * Runs `create` of `name`, or throws 429 `QueueLimitExceeded` / `TopicLimitExceeded` (before
   * `create` is called) when `name` does not exist and the group holds, with the creates under
   * way, `max` already.
   */
  async run<T>(name: string, create: () => Promise<T>): Promise<T> {
    const { max, count, exists, kind } = this.#options;
    if (exists(name)) return await create();
    const held = count() + this.#pendingNew(name);
    if (held >= max) {
      throw new BrokerError(
        codes[kind],
        `this cluster holds ${held} ${kind} (those being created included), the most it ` +
          `allows (${kind}Max ${max}); delete one first`,
      );
    }
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + 1);
    try {
      return await create();
    } finally {
      const left = this.#pending.get(name)! - 1;
      if (left === 0) this.#pending.delete(name);
      else this.#pending.set(name, left);
    }
  }

  /** Creates under way of names other than `name` that don't exist yet (not applied). */
  #pendingNew(name: string): number {
    let pending = 0;
    for (const other of this.#pending.keys()) {
      if (other !== name && !this.#options.exists(other)) pending++;
    }
    return pending;
  }
}
