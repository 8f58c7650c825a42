/**
 * A voter that lost its whole disk: distrusted like a damaged log (see `recovery.ts`). A voter
 * that lost only its log directory (its snapshots survive) is distrusted from the start, and
 * learns the term of its repair here the same way (`lost_log.ts`).
 *
 * A voter whose data directory was replaced and that is started again under its id with its
 * usual command (`--peers`, as a systemd unit keeps passing) has no log, no term and no vote. If
 * it voted like any node it would grant its vote to any candidate — every log is at least as up
 * to date as an empty one — and could vote twice in a term: with one lagging voter, the two
 * could elect a leader lacking writes a majority acknowledged, which then overwrites them
 * although that majority kept its disks.
 *
 * So a replica that opens on an empty log (no entry, no snapshot, no damage record, no commit)
 * starts its Raft node *fresh* (`raft/fresh.ts`): it grants votes only to candidates whose log is
 * empty too (a new cluster's first election), and as soon as a leader shows it a log — an append
 * past index 0 or with a commit index, a heartbeat with a commit index, a snapshot — it stops
 * voting and campaigning. The replica then records the loss as damage, in the term the node is in
 * now, before it persists anything the leader sent (so a crash can't make it forget), and
 * repairs it as any damaged log: it votes again once it holds the leader's log up to the commit
 * index the leader showed and a leader of a newer term — elected without its vote — has
 * committed an entry; caught up under the same leader, it asks for a new term. `GET /v1/cluster`
 * shows `canCampaign: false` meanwhile, and the log says why.
 *
 * A node of a new cluster that starts after the first leader committed an entry can't be told
 * from a wiped one and is treated the same (one extra election). A joining node (`--join`) is not
 * fresh: it is a learner until the leader promotes it, and the join refuses a node with an empty
 * data directory under the id of a current voter. Not closed: a node wiped after a new cluster's
 * first election but before any entry reached it looks new and may vote again in that term (two
 * leaders of that term could follow); and a leader of a term older than the one the node was in before the wipe (a
 * deposed one that has not heard of the newer term yet) sets the term of the repair too low.
 *
 * @module
 */
import type { LostState, RaftNode } from "../../raft/mod.ts";
import type { SegmentLog } from "../../storage/mod.ts";
import { type RepairGoal, RepairWatch } from "./recovery.ts";
import { recordLearnedTerm } from "./lost_log.ts";

type Warn = (message: string) => void;

/** What `TrustWatch` works with: the replica's parts. */
export interface TrustParts {
  electionTicks: number;
  storage: { term(index: number): number | undefined };
  log: SegmentLog;
  warn: Warn;
}

/** Where a replica stands on trusting its log: the repair in progress, if any. */
export class TrustWatch {
  #repair: RepairWatch | null;
  readonly #parts: TrustParts;

  constructor(goal: RepairGoal | null, parts: TrustParts) {
    this.#parts = parts;
    this.#repair = goal === null ? null : new RepairWatch(goal, parts.electionTicks);
  }

  /**
   * Before a Ready is persisted: when a fresh node learned from a leader that it lost its state,
   * records that durably (as damage in its current term) and starts a repair; null otherwise.
   */
  noteLost(raft: RaftNode): Promise<void> | null {
    const lost = raft.takeLostState();
    if (lost !== null) return this.#distrust(lost);
    const goal = this.#repair?.goal;
    if (goal?.termFromLeader !== true) return null;
    const { term, leaderId } = raft.status();
    if (leaderId === null) return null;
    return this.#learnTerm({ target: goal.target, term: Math.max(goal.term, term) }, leaderId);
  }

  /**
   * A node that lost its log directory (`lost_log.ts`) hears from a leader for the first time
   * since it started: the term it is in now is the one the repair must get past, recorded
   * durably before anything that leader sent is persisted (as a wiped node's loss is).
   */
  async #learnTerm(goal: RepairGoal, leaderId: string): Promise<void> {
    await recordLearnedTerm(this.#parts.log, goal);
    this.#parts.warn(
      `LOG LOST: leader ${leaderId} of term ${goal.term} found; this node may not vote or ` +
        `campaign until a leader of a term after ${goal.term} has repaired it to index ` +
        `${goal.target}`,
    );
    this.#repair = new RepairWatch(goal, this.#parts.electionTicks);
  }

  async #distrust(lost: LostState): Promise<void> {
    const reason = `this node started on an empty data directory, but a leader of term ` +
      `${lost.term} has a log (committed up to ${lost.commit}): its disk was replaced or wiped`;
    await this.#parts.log.noteDamage(
      { index: 1, file: "(empty data directory)", offset: 0, reason },
      { torn: false, term: lost.term },
    );
    const goal: RepairGoal = { target: lost.commit, term: lost.term };
    this.#parts.warn(
      `LOG LOST: ${reason}; it may not vote or campaign until a leader of a term after ` +
        `${goal.term} has repaired it to index ${goal.target}`,
    );
    this.#repair = new RepairWatch(goal, this.#parts.electionTicks);
  }

  /** After a Ready: trusts the log again once the repair is complete (see `RepairWatch`). */
  async settle(raft: RaftNode, ticks: number): Promise<void> {
    if (this.#repair === null) return;
    if (await this.#repair.settle(raft, { ...this.#parts, ticks })) this.#repair = null;
  }
}
