/**
 * Membership changes under faults: the leader removes a non-leader voter; the removed node is
 * stopped and its disk thrown away; some time later it comes back like a real joining node (an
 * empty data directory, the group's bootstrap voters as its initial membership, see `main.ts
 * --join`), is added as a learner, catches up, and is promoted back to voter.
 *
 * Every step is driven against whichever node leads at the moment and retried on the answers of
 * a cluster in trouble (no leader, outcome unknown, a change still pending), so a cycle always
 * completes once the network heals. A step counts as done only when its configuration entry is
 * known committed, never merely appended.
 *
 * @module
 */
import { randomInt } from "../../raft/mod.ts";
import type { RaftReplica } from "../../broker/testing.ts";
import type { SimNode } from "./cluster.ts";
import { isTransient, type WorkloadParts } from "./workload.ts";

/** A configuration, with node ids read as plain strings. */
interface Config {
  voters: readonly string[];
  learners: readonly string[];
}

/** A learner is promoted once the leader has seen it this close to the end of the log. */
const catchUpLagMax = 16;
/** How often a stalled step is tried again. */
const retryMs = 200;

/** Stands for "not yet" (a learner still catching up): retried like a transient answer. */
class NotYet extends Error {}

/** One remove → wait → rejoin as learner → catch up → promote cycle at a time. */
export class MembershipDriver {
  readonly #parts: WorkloadParts;
  /** The cycle in flight, if any (resolves when the node is a voter again). */
  #cycle: Promise<void> | null = null;
  changes = 0;
  /** What the cycle in flight is doing, for failure reports. */
  phase = "idle";

  constructor(parts: WorkloadParts) {
    this.#parts = parts;
  }

  /** True while a cycle runs. */
  get busy(): boolean {
    return this.#cycle !== null;
  }

  /**
   * Starts a cycle when every configured node is a voter and nothing is in flight; returns the
   * node it removes, or null. Errors that are not transient go to `onError`.
   *
   * Every node must also be up and see itself as a voter, working around a Raft liveness bug
   * (found with seed 324, 60 steps, at a cycle rate of 0.5): a node whose own configuration
   * says it can't campaign (a learner whose log has not reached its promotion yet) resets
   * `electionElapsed` at every election timeout without campaigning (`#tickElection` in
   * raft/raft.ts), so with its old leader's id still set it stays "in lease" forever and
   * silently drops every (pre-)vote request. Removing another voter then can make its vote
   * necessary, and no election ever succeeds.
   */
  maybeStart(onError: (error: unknown) => void): string | null {
    if (this.#cycle !== null) return null;
    const leader = this.#leader();
    if (leader === null) return null;
    const ids = this.#parts.cluster.ids;
    const allVoters = (config: Config) =>
      config.learners.length === 0 && ids.every((id) => config.voters.includes(id));
    if (this.#parts.cluster.up().length !== ids.length) return null;
    if (!this.#parts.cluster.up().every((node) => allVoters(node.replica!.status().config))) {
      return null;
    }
    const candidates = ids.filter((id) => id !== leader.id);
    const target = candidates[randomInt(this.#parts.prng, candidates.length)];
    const awayMs = 500 + randomInt(this.#parts.prng, 3_000);
    this.#cycle = this.#run(target, awayMs)
      .catch(onError)
      .finally(() => {
        this.#cycle = null;
      });
    return target;
  }

  /** Resolves once the cycle in flight (if any) has put its node back as a voter. */
  finish(): Promise<void> {
    return this.#cycle ?? Promise.resolve();
  }

  async #run(id: string, awayMs: number): Promise<void> {
    const { cluster, scheduler } = this.#parts;
    this.phase = `removing ${id}`;
    await this.#reach((config) => !config.voters.includes(id), async (replica) => {
      if (replica.id === id) {
        // A leader can't remove itself: move leadership to another voter, then retry.
        const other = replica.status().config.voters.find((voter) => voter !== id)!;
        replica.transferLeadership(other);
        throw new NotYet();
      }
      await replica.proposeConfigChange({ type: "remove", nodeId: id });
    });
    this.changes++;
    cluster.remove(id);
    this.phase = `${id} away`;
    await scheduler.sleep(awayMs);
    await cluster.rejoin(id);
    this.phase = `adding ${id} as a learner`;
    await this.#reach(
      (config) => config.learners.includes(id) || config.voters.includes(id),
      (replica) => replica.proposeConfigChange({ type: "addLearner", nodeId: id }),
    );
    this.changes++;
    this.phase = `promoting ${id}`;
    await this.#reach((config) => config.voters.includes(id), async (replica) => {
      const peer = replica.status().peers.find((candidate) => candidate.id === id);
      if (peer === undefined || peer.match === 0 || peer.lag > catchUpLagMax) throw new NotYet();
      await replica.proposeConfigChange({ type: "promote", nodeId: id });
    });
    this.changes++;
    // Busy (no bit flips, no next cycle) until the node itself knows it votes again: see the
    // liveness bug described at `maybeStart`.
    this.phase = `${id} learning of its promotion`;
    for (;;) {
      const own: Config | undefined = cluster.node(id).replica?.status().config;
      if (own?.voters.includes(id)) break;
      await scheduler.sleep(retryMs);
    }
    this.phase = "idle";
  }

  /**
   * Acts on the current leader until `goal` holds for a configuration known committed: either
   * `act`'s proposal resolved (committed and applied), or one leader of one term showed the goal
   * in its configuration and later committed its whole log as it stood then.
   */
  async #reach(
    goal: (config: Config) => boolean,
    act: (replica: RaftReplica) => Promise<void>,
  ): Promise<void> {
    let mark: { id: string; term: number; index: number } | null = null;
    for (;;) {
      const leader = this.#leader();
      if (leader !== null) {
        const replica = leader.replica!;
        const status = replica.status();
        if (goal(status.config)) {
          const same = mark !== null && mark.id === leader.id && mark.term === status.term;
          if (same && status.commit >= mark!.index) return;
          if (!same) mark = { id: leader.id, term: status.term, index: status.lastIndex };
        } else {
          mark = null;
          try {
            await act(replica);
            return;
          } catch (error) {
            if (!(error instanceof NotYet) && !isTransient(error)) throw error;
          }
        }
      }
      await this.#parts.scheduler.sleep(retryMs);
    }
  }

  /** The live node that leads (the one of the highest term, should two believe they lead). */
  #leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.#parts.cluster.up()) {
      if (!node.replica!.isLeader || node.replica!.failure !== null) continue;
      if (best === null || node.replica!.status().term > best.replica!.status().term) best = node;
    }
    return best;
  }
}
