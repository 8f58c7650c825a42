/**
 * The bound on how many queues (or topics) the group holds, `queuesMax` and `topicsMax`. A
 * create is checked before it is proposed, so the check counts, beside what the state machine
 * holds, the creates of new names this node has proposed and not yet seen settle: counting only
 * the applied ones let every create sent at once pass (50 concurrent creates under a bound of 5
 * made 50), so one client keeping many requests in flight went past the bound by as many.
 *
 * A node that has just become leader may not have applied every create and delete its
 * predecessor committed (see `missing_checks.ts`), so its local count may be short (a create
 * would pass the bound) or long (one the bound allows would be refused), and a name it holds may
 * be deleted already. Each entry it has not applied creates one queue or topic at most, so while
 * the count with those entries (`unapplied`) stays under the bound the create goes ahead at once,
 * as does the create of an existing name on a node that has applied everything; otherwise the
 * count is taken again after the read barrier, and only that one refuses. A leader's log holds
 * every committed entry, so the entries of its log it has not applied bound what it misses.
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
  /**
   * Entries this node holds and has not applied, at most as many creates as its count misses;
   * default none (a replica that applies each entry before it answers its proposal).
   */
  unapplied?: () => number;
  /** Waits until this node has applied everything committed (the replica's read barrier). */
  confirm: () => Promise<void>;
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
 *   unapplied: () => replica.status().lastIndex - machine.appliedIndex,
 *   confirm: () => replica.readBarrier(),
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
   * way, `max` already (counted after the read barrier when the local count may be wrong).
   */
  async run<T>(name: string, create: () => Promise<T>): Promise<T> {
    const { max, count, exists, kind } = this.#options;
    const unapplied = this.#options.unapplied?.() ?? 0;
    const existing = exists(name);
    if (existing && unapplied === 0) return await create();
    // Clearly under the bound, whatever the entries not applied yet create or delete.
    if (count() + this.#pendingNew(name) + unapplied >= max) {
      await this.#options.confirm();
      if (exists(name)) return await create();
      const held = count() + this.#pendingNew(name);
      if (held >= max) {
        throw new BrokerError(
          codes[kind],
          `this cluster holds ${held} ${kind} (those being created included), the most it ` +
            `allows (${kind}Max ${max}); delete one first`,
        );
      }
    } else if (existing) {
      return await create();
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
