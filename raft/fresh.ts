/**
 * # A node that starts with nothing ("fresh")
 *
 * Raft's safety rests on every voter keeping its log, its term and its vote. A voter whose disk
 * was replaced and that is started again under its id with its usual command has none of them.
 * With an empty log it would grant its vote to any candidate (every log is at least as up to date
 * as an empty one), and it forgot whom it voted for: one wiped voter and one lagging voter could
 * elect the lagging one, which would then overwrite writes a majority had acknowledged although
 * that majority (the leader and the lagging voter) kept their disks.
 *
 * The application starts a node with `fresh` when its log is empty (it holds no entry, no
 * snapshot and no record of damage). A fresh node can't tell a wiped disk from a new cluster
 * until it hears from the others:
 *
 * - A new cluster's first election is between empty logs. A fresh node grants its vote only to a
 *   candidate whose log is empty too, and campaigns as usual (its own empty log wins no vote of a
 *   node that holds entries). A candidate with entries is refused, but its request is no evidence
 *   that anything was committed: in a new cluster whose first leader crashed right after appending
 *   its no-op, the others must still be able to elect one of themselves.
 * - A leader's message that shows a log — an append whose previous index or commit index is past
 *   0, a heartbeat with a commit index, a snapshot — means this node may have held part of it and
 *   acknowledged it. It stops voting and campaigning (`canCampaign` false) and reports a
 *   `LostState` (`RaftNode.takeLostState`): the term it is in now and the leader's commit index.
 *   The application treats that as a damaged log (see `setCanCampaign`): it records the loss
 *   durably before it persists anything the leader sends, and lets the node vote again once it
 *   holds the leader's log up to that index and a leader of a newer term — elected without its
 *   vote — has committed an entry.
 * - A fresh node whose log gets entries without such evidence (from the first leader of a new
 *   cluster: an append from index 0 while nothing is committed) has a log: it is no longer fresh.
 *   So is a fresh node that wins an election (only among empty logs).
 *
 * What this can't tell apart: a node of a new cluster that starts after the first leader has
 * committed an entry looks exactly like a wiped one, and is treated like one (it catches up, then
 * asks for a new term). And a node wiped right after a new cluster's first election, before any
 * entry reached it, is indistinguishable from a new one: it may vote a second time in that term,
 * and two leaders of that term could then write conflicting entries. The window is the moments
 * between a new cluster's first election and its first append reaching the node.
 *
 * @module
 */

import type { Raft } from "./raft.ts";
import { type LogIndex, type Message, MessageType, type Term } from "./types.ts";

/** What a fresh node learned about the state it lost (see the module comment). */
export interface LostState {
  /** The node's term when it first heard from a leader that has a log. */
  term: Term;
  /** What that leader told it was committed. */
  commit: LogIndex;
}

/** The fresh state of one node: watches messages until it has a log or learns it lost one. */
export class FreshStart {
  /** Set once the node learned it lost its state; taken by the application. */
  #lost: LostState | null = null;
  #over = false;

  /** Whether the node is still fresh. */
  get active(): boolean {
    return !this.#over;
  }

  /**
   * Looks at a message of the node's current term before it is handled. A vote request for a
   * candidate with entries is refused; a leader's message that shows a log ends the fresh state
   * with a loss (the node stops voting and campaigning).
   */
  observe(raft: Raft, message: Message): void {
    if (this.#over) return;
    if (raft.log.lastIndex() > 0 || raft.role === "leader") {
      this.#over = true; // a log from the first leader, or its own as that leader
      return;
    }
    const { type } = message;
    if (type === MessageType.Vote || type === MessageType.PreVote) return;
    let commit: number;
    if (type === MessageType.App) {
      if (message.index === 0 && message.commit === 0) return; // a new cluster's first appends
      commit = message.commit;
    } else if (type === MessageType.Heartbeat) {
      if (message.commit === 0) return;
      commit = message.commit;
    } else if (type === MessageType.Snap) {
      commit = Math.max(message.commit, message.snapshot?.index ?? 0);
    } else {
      return;
    }
    this.#over = true;
    raft.canCampaign = false;
    this.#lost = { term: raft.term, commit: commit as LogIndex };
  }

  /** Whether a fresh node may grant its vote to a candidate whose log ends at `lastIndex`. */
  grants(lastIndex: LogIndex): boolean {
    return this.#over || lastIndex === 0;
  }

  /** The loss learned since the last call, once. */
  takeLost(): LostState | null {
    const lost = this.#lost;
    this.#lost = null;
    return lost;
  }
}
