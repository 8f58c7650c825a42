/**
 * The Raft state of one node and the transitions between roles. This is an internal record shared
 * by the `step_*.ts` and `replication.ts` files (hence public fields); the application talks to
 * `RaftNode` in `node.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RaftLog } from "./log.ts";
import { ConfigHistory, isVoter, members } from "./membership.ts";
import { type InflightLimits, Progress } from "./progress.ts";
import { hasQuorum, voteResult } from "./quorum.ts";
import { ReadOnly } from "./read_only.ts";
import { broadcastAppend, broadcastHeartbeat, maybeCommit, tickSnapshots } from "./replication.ts";
import { stepCandidate } from "./step_candidate.ts";
import { stepFollower } from "./step_follower.ts";
import {
  releaseReadsAwaitingCommit,
  releaseReadsConfirmedByConfig,
  stepLeader,
} from "./step_leader.ts";
import { dropSnapshotReceiver, type SnapshotReceiver } from "./snapshot_receiver.ts";
import type { FreshStart } from "./fresh.ts";
import { randomInt } from "./prng.ts";
import { answerStranger, probeWhileSilent, removalOf, takeRemovalNotice } from "./removal.ts";
import {
  type Entry,
  EntryType,
  type LogIndex,
  type Message,
  MessageType,
  nextIndex,
  nextTerm,
  type NodeId,
  prevIndex,
  type Prng,
  type ReadState,
  type Removal,
  type Role,
  type SnapshotSink,
  type Term,
} from "./types.ts";
import type { LogStorage } from "./log_storage.ts";

/** Marks votes of a campaign asked for by `TimeoutNow`: they override leader leases. */
export const CAMPAIGN_TRANSFER = "transfer";

/** Tunables of the core, all resolved (see `RaftNodeOptions` for meanings and defaults). */
export interface RaftSettings {
  electionTicks: number;
  heartbeatTicks: number;
  answerTicksMax: number;
  preVote: boolean;
  checkQuorum: boolean;
  inflightMessagesMax: number;
  inflightBytesMax: number;
  entriesPerMessageBytesMax: number;
  snapshotChunkBytes: number;
  snapshotChunksInflightMax: number;
  snapshotBytesMax: number;
  uncommittedBytesMax: number;
  readIndexPendingMax: number;
}

/** The fields of a message a sender must choose; the rest default to zero values. */
export type OutgoingMessage = Partial<Message> & Pick<Message, "type" | "to">;

/** One node's Raft state. */
export class Raft {
  readonly id: NodeId;
  readonly settings: RaftSettings;
  readonly prng: Prng;
  readonly log: RaftLog;
  readonly configs: ConfigHistory;
  term = 0 as Term;
  vote: NodeId | null = null;
  role: Role = "follower";
  leaderId: NodeId | null = null;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Ticks since this node started: when the leader last heard from a member (`Progress`). */
  ticks = 0;
  randomizedElectionTimeout = 0;
  votes = new Map<NodeId, boolean>();
  progress = new Map<NodeId, Progress>();
  leadTransferee: NodeId | null = null;
  /** Leader: ticks since the transfer to `leadTransferee` started (abandoned at electionTicks). */
  transferElapsed = 0;
  /**
   * Leader: the tag of the transfer to `leadTransferee` (`TimeoutNow.context`, echoed by a
   * `NewTerm` answering it); each transfer this node starts gets a new one.
   */
  transferTag = "";
  /** Transfers this node started, ever: numbers their tags. */
  transfersStarted = 0;
  /** False while the application distrusts its own log: no campaigns, no votes granted. */
  canCampaign = true;
  /**
   * No campaigns and no votes granted while the log ends below this index: a node that joined on
   * an empty log must first hold what the group had committed when it joined (`voteFloor` of
   * `RaftNodeOptions`). 0 = none.
   */
  voteFloor = 0 as LogIndex;
  /** The last `Removed` answer believed (see `removal.ts`; `removalOf` says if it still holds). */
  toldRemoved: Removal | null = null;
  /** Set when the node started with an empty log (see `fresh.ts`). */
  fresh: FreshStart | null = null;
  messages: Message[] = [];
  readonly readOnly = new ReadOnly();
  /** Reads asked for before this leader committed an entry of its term. */
  readsAwaitingCommit: { requester: NodeId; requestId: string }[] = [];
  /** Confirmed reads of this node, released once applied. */
  readStates: ReadState[] = [];
  /** Request ids of reads this node forwarded that the leader refused (its pending bound). */
  refusedReads: string[] = [];
  /** Leader: sizes of proposals not yet committed, for `uncommittedBytesMax`. */
  uncommitted: { index: LogIndex; bytes: number }[] = [];
  uncommittedBytes = 0;
  /** Leader: entries were appended locally and not yet offered to followers. */
  appendPending = false;
  snapshotReceiver: SnapshotReceiver | null = null;
  /** Where received snapshot chunks go (the application's file, or memory in tests). */
  readonly snapshotSink: SnapshotSink;

  constructor(options: {
    id: NodeId;
    storage: LogStorage;
    prng: Prng;
    settings: RaftSettings;
    applied: LogIndex;
    snapshotSink: SnapshotSink;
  }) {
    this.id = options.id;
    this.snapshotSink = options.snapshotSink;
    this.settings = options.settings;
    this.prng = options.prng;
    const { hardState, config } = options.storage.initialState();
    this.log = new RaftLog(options.storage, {
      committed: hardState.commit,
      applied: options.applied,
    });
    this.configs = new ConfigHistory(prevIndex(options.storage.firstIndex()), config, this.id);
    this.#replayConfigChanges(options.storage);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, null);
  }

  /** Rebuilds the membership from the config entries in the stored log. */
  #replayConfigChanges(storage: LogStorage): void {
    const first = this.log.firstIndex();
    const last = this.log.lastIndex();
    if (first <= last && storage.visitEntries !== undefined) {
      // Streamed without copies: past the snapshot a big log holds gigabytes of bodies, and
      // paging copies of them through the allocator left it holding ~100 MB after a restart.
      // A config entry is decoded during the call; nothing keeps its data.
      storage.visitEntries(first, nextIndex(last), (entry) => this.configs.append([entry]));
    } else {
      for (let from = first; from <= last;) {
        const page = this.log.entries(from, nextIndex(last), 8 * 1024 * 1024);
        this.configs.append(page);
        from = nextIndex(page.at(-1)!.index);
      }
    }
    this.configs.commitTo(this.log.committed);
  }

  // ---- messages ------------------------------------------------------------------------------

  send(message: OutgoingMessage): void {
    if (message.to === this.id) assert.fail("a node never messages itself");
    this.messages.push({
      from: this.id,
      term: this.term,
      logTerm: 0 as Term,
      index: 0 as LogIndex,
      entries: [],
      commit: 0 as LogIndex,
      reject: false,
      rejectHint: 0 as LogIndex,
      context: "",
      ...message,
    });
  }

  // ---- roles ---------------------------------------------------------------------------------

  /** Whether this node may campaign and grant votes: it trusts its log, and it reached the floor. */
  mayVote(): boolean {
    return this.canCampaign && this.log.lastIndex() >= this.voteFloor;
  }

  isPromotable(): boolean {
    return isVoter(this.configs.current(), this.id) && this.log.pendingSnapshot() === null &&
      removalOf(this) === null;
  }

  #reset(termValue: Term): void {
    if (this.term !== termValue) {
      this.term = termValue;
      this.vote = null;
      // A transfer from an older term's leader will never finish: drop its partial bytes.
      dropSnapshotReceiver(this);
    }
    this.leaderId = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.settings.electionTicks +
      randomInt(this.prng, this.settings.electionTicks);
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = null;
    this.transferElapsed = 0;
    this.readOnly.clear();
    this.readsAwaitingCommit = [];
    this.uncommitted = [];
    this.uncommittedBytes = 0;
    this.appendPending = false;
  }

  becomeFollower(termValue: Term, leaderId: NodeId | null): void {
    this.#reset(termValue);
    this.role = "follower";
    this.leaderId = leaderId;
  }

  becomePreCandidate(): void {
    assert.notEqual(this.role, "leader", "a leader never pre-campaigns");
    // A pre-candidate keeps its term and vote: pre-votes change nothing durable.
    const elapsed = this.electionElapsed;
    this.#reset(this.term);
    this.electionElapsed = elapsed;
    this.role = "preCandidate";
  }

  becomeCandidate(): void {
    assert.notEqual(this.role, "leader", "a leader never campaigns");
    this.#reset(nextTerm(this.term));
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    assert.ok(this.role === "candidate", "only a candidate becomes leader");
    this.#reset(this.term);
    this.role = "leader";
    this.leaderId = this.id;
    this.syncProgress();
    // A leader may not know which of its entries are committed until one of its own term is
    // (§5.4.2); the no-op gets there quickly.
    this.appendEntries([{ type: EntryType.Noop, data: new Uint8Array() }]);
  }

  /** Leader: makes `progress` hold exactly the current members. */
  syncProgress(): void {
    const config = this.configs.current();
    const memberIds = members(config);
    for (const id of [...this.progress.keys()]) {
      if (!memberIds.includes(id) && id !== this.id) this.progress.delete(id);
    }
    const limits: InflightLimits = {
      messagesMax: this.settings.inflightMessagesMax,
      bytesMax: this.settings.inflightBytesMax,
    };
    for (const id of [...memberIds, this.id]) {
      if (this.progress.has(id)) continue;
      const last = this.log.lastIndex();
      const progress = new Progress(nextIndex(last), limits, String(last));
      if (id === this.id) {
        progress.match = this.log.persistedLastIndex();
        progress.state = "replicate";
        progress.recentActive = true;
      }
      this.progress.set(id, progress);
    }
    if (this.leadTransferee !== null && !isVoter(config, this.leadTransferee)) {
      this.leadTransferee = null;
    }
  }

  /** Leader: appends new entries of the current term to the local log. */
  appendEntries(items: { type: number; data: Uint8Array; timestamp?: number }[]): LogIndex {
    if (this.role !== "leader") assert.fail("only a leader appends proposals");
    let index = this.log.lastIndex();
    const entries: Entry[] = items.map((item) => {
      index = nextIndex(index);
      const entry: Entry = {
        term: this.term,
        index,
        type: item.type,
        data: item.data,
      };
      if (item.timestamp !== undefined) entry.timestamp = item.timestamp;
      return entry;
    });
    this.log.append(entries);
    for (const entry of entries) {
      const bytes = entry.data.byteLength;
      this.uncommitted.push({ index: entry.index, bytes });
      this.uncommittedBytes += bytes;
    }
    if (this.configs.append(entries)) {
      this.syncProgress();
      releaseReadsConfirmedByConfig(this);
    }
    this.appendPending = true;
    return entries[0].index;
  }

  /** Leader: the own log became durable up to the persisted index; it counts toward commit. */
  onPersisted(): void {
    if (this.role !== "leader") return;
    this.progress.get(this.id)!.maybeUpdate(this.log.persistedLastIndex());
    if (maybeCommit(this)) {
      releaseReadsAwaitingCommit(this);
      broadcastAppend(this, { sendIfEmpty: true });
    }
  }

  /** Commit advanced (any role): fold committed config changes, free uncommitted budget. */
  onCommitted(): void {
    this.configs.commitTo(this.log.committed);
    while (this.uncommitted.length > 0 && this.uncommitted[0].index <= this.log.committed) {
      this.uncommittedBytes -= this.uncommitted.shift()!.bytes;
    }
  }

  // ---- time ----------------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    // Only a node that will campaign restarts its clock. One that can't (a learner, a voter whose
    // log does not show it promoted yet, a distrusted log) must let its lease on the old leader
    // run out, or it would ignore every (pre-)vote request forever and could block elections.
    const willCampaign = this.role !== "leader" && this.isPromotable() && this.mayVote();
    if (willCampaign && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startElection();
    } else if (!willCampaign && this.role !== "leader") {
      probeWhileSilent(this);
    }
  }

  #tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    // A transfer that did not finish within an election timeout is abandoned. Its clock is its
    // own: transfers started one after another must not postpone check-quorum's rounds.
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.settings.electionTicks) {
      this.leadTransferee = null;
    }
    if (this.electionElapsed >= this.settings.electionTicks) {
      this.electionElapsed = 0;
      if (this.settings.checkQuorum && !this.#quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.settings.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      broadcastHeartbeat(this, this.readOnly.lastContext());
      tickSnapshots(this);
    }
  }

  /** Check-quorum: did a majority of voters talk to us since the last round? Resets the marks. */
  #quorumActive(): boolean {
    const active = hasQuorum(
      this.configs.current().voters,
      (id) => id === this.id || this.progress.get(id)?.recentActive === true,
    );
    for (const [id, progress] of this.progress) progress.recentActive = id === this.id;
    return active;
  }

  // ---- elections -----------------------------------------------------------------------------

  /** Starts an election (with a pre-vote round if configured) when allowed. */
  startElection(): void {
    if (this.role === "leader" || !this.isPromotable() || !this.mayVote()) return;
    this.campaign(this.settings.preVote ? "preVote" : "election");
  }

  campaign(kind: "preVote" | "election" | "transfer"): void {
    let voteTerm: Term;
    let type: MessageType;
    if (kind === "preVote") {
      this.becomePreCandidate();
      voteTerm = nextTerm(this.term);
      type = MessageType.PreVote;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      type = MessageType.Vote;
    }
    if (this.#poll(this.id, true) === "won") return;
    for (const voter of this.configs.current().voters) {
      if (voter === this.id) continue;
      this.send({
        type,
        to: voter,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: kind === "transfer" ? CAMPAIGN_TRANSFER : "",
      });
    }
  }

  /** Records a vote and acts on the result. */
  #poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    this.votes.set(from, granted);
    const result = voteResult(this.configs.current().voters, this.votes);
    if (result === "won") {
      if (this.role === "preCandidate") this.campaign("election");
      else this.becomeLeader();
    } else if (result === "lost") {
      this.becomeFollower(this.term, null);
    }
    return result;
  }

  recordVote(message: Message): void {
    this.#poll(message.from, !message.reject);
  }

  // ---- messages in ---------------------------------------------------------------------------

  step(message: Message): void {
    assert.equal(message.to, this.id, "message delivered to its addressee");
    // Whatever the terms: a commit index is a fact, and a stranger's term is no reason to move.
    if (message.type === MessageType.Removed) return takeRemovalNotice(this, message);
    if (answerStranger(this, message)) return;
    if (!this.#stepTerm(message)) return;
    this.fresh?.observe(this, message);
    if (message.type === MessageType.Vote || message.type === MessageType.PreVote) {
      this.#handleVoteRequest(message);
      return;
    }
    if (this.role === "leader") stepLeader(this, message);
    else if (this.role === "follower") stepFollower(this, message);
    else stepCandidate(this, message);
  }

  /** Applies the term rules of §5.1 plus pre-vote and leases; false if the message is done. */
  #stepTerm(message: Message): boolean {
    const { type } = message;
    const isVoteRequest = type === MessageType.Vote || type === MessageType.PreVote;
    if (message.term > this.term) {
      if (isVoteRequest && message.context !== CAMPAIGN_TRANSFER && this.#inLease()) return false;
      if (type === MessageType.PreVote) return true;
      if (type === MessageType.PreVoteResp && !message.reject) return true;
      const fromLeader = type === MessageType.App || type === MessageType.Heartbeat ||
        type === MessageType.Snap;
      this.becomeFollower(message.term, fromLeader ? message.from : null);
      return true;
    }
    if (message.term < this.term) {
      if (type === MessageType.App || type === MessageType.Heartbeat) {
        // A stale leader (maybe cut off while we moved on) learns our term from this answer.
        this.send({ type: MessageType.AppResp, to: message.from });
      } else if (type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, to: message.from, reject: true });
      }
      return false;
    }
    return true;
  }

  /** Check-quorum lease: a follower that heard from a leader recently ignores campaigns. */
  #inLease(): boolean {
    return this.settings.checkQuorum && this.leaderId !== null &&
      this.electionElapsed < this.settings.electionTicks;
  }

  #handleVoteRequest(message: Message): void {
    const preVote = message.type === MessageType.PreVote;
    const responseType = preVote ? MessageType.PreVoteResp : MessageType.VoteResp;
    const canVote = this.vote === message.from ||
      (this.vote === null && this.leaderId === null) ||
      (preVote && message.term > this.term);
    const upToDate = this.log.isUpToDate(message.index, message.logTerm) &&
      (this.fresh?.grants(message.index) ?? true);
    if (canVote && this.mayVote() && upToDate) {
      // A pre-vote is answered in the candidate's future term so it can count it.
      this.send({ type: responseType, to: message.from, term: message.term });
      if (!preVote) {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: responseType, to: message.from, reject: true });
    }
  }
}
