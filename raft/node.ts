/**
 * `RaftNode`: the application's handle on one Raft replica. It is a pure state machine: time
 * arrives through `tick()`, messages through `step()`, and every effect leaves through `ready()`
 * as a `Ready` the caller must persist, send and apply in the order described in `doc.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { InvalidRequestError, NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { type LogStorage, MemorySnapshotSink } from "./log_storage.ts";
import { applyConfigChange, cloneConfig, encodeConfigChange, isVoter } from "./membership.ts";
import type { ProgressState } from "./progress.ts";
import { Raft, type RaftSettings } from "./raft.ts";
import { FreshStart, type LostState } from "./fresh.ts";
import { broadcastAppend } from "./replication.ts";
import {
  answersLately,
  readsPending,
  refusedLeadLately,
  requestRead,
  startTransfer,
} from "./step_leader.ts";
import { removalOf } from "./removal.ts";
import {
  type ConfigChange,
  type ConfigState,
  type Entry,
  EntryType,
  type HardState,
  type LogIndex,
  maxIndex,
  type Message,
  MessageType,
  minIndex,
  nextIndex,
  type NodeId,
  prevIndex,
  type Prng,
  type ReadState,
  type Ready,
  type Removal,
  type Role,
  type SnapshotSink,
  type SoftState,
  type Term,
} from "./types.ts";

/** How to build a `RaftNode`. Limits are per follower unless said otherwise. */
export interface RaftNodeOptions {
  id: NodeId;
  storage: LogStorage;
  /** Source of the randomized election timeouts. */
  prng: Prng;
  /** Ticks without hearing from a leader before campaigning (randomized up to twice). 10. */
  electionTicks?: number;
  /** Ticks between a leader's heartbeats. 1. */
  heartbeatTicks?: number;
  /**
   * A member answers the leader when it heard from it within this many ticks: the leader hands
   * over (`requestNewTerm`, a refused transfer) only to such a voter, as `ProgressStatus.answering`
   * tells the application. At least `heartbeatTicks`. `heartbeatTicks` + 2.
   */
  answerTicksMax?: number;
  /** Run a pre-vote round before a real election so a partitioned node can't inflate terms. true. */
  preVote?: boolean;
  /** Leader steps down without a quorum for an election timeout; followers hold a lease. true. */
  checkQuorum?: boolean;
  /** Appends in flight to one follower. 256. */
  inflightMessagesMax?: number;
  /** Entry bytes in flight to one follower. 32 MiB. */
  inflightBytesMax?: number;
  /** Entry bytes per append message (at least one entry is always sent). 1 MiB. */
  entriesPerMessageBytesMax?: number;
  /** Bytes per snapshot chunk. 1 MiB. */
  snapshotChunkBytes?: number;
  /** Snapshot chunks in flight to one follower. 4. */
  snapshotChunksInflightMax?: number;
  /**
   * Where this node, as a follower, writes the snapshot chunks it receives. Default: a
   * `MemorySnapshotSink` (the whole snapshot in memory; fine for tests, not for big states).
   */
  snapshotSink?: SnapshotSink;
  /**
   * Largest snapshot a follower accepts: 4 GiB with the default `MemorySnapshotSink`, 1 TiB with
   * a sink of the caller's (which streams the bytes somewhere other than RAM, e.g. a file).
   */
  snapshotBytesMax?: number;
  /** Proposal bytes a leader holds uncommitted before refusing more. 256 MiB. */
  uncommittedBytesMax?: number;
  /** ReadIndex requests a leader holds unconfirmed. 4096. */
  readIndexPendingMax?: number;
  /** Committed entry bytes per Ready (at least one entry). 64 MiB. */
  readyCommittedBytesMax?: number;
  /** The application's applied index after a restart (default: the storage's snapshot index). */
  appliedIndex?: LogIndex;
  /** Whether the node may campaign and grant votes (see `setCanCampaign`). true. */
  canCampaign?: boolean;
  /** The node starts with an empty log: it may have lost one (see `fresh.ts`). false. */
  fresh?: boolean;
  /**
   * The node neither campaigns nor grants votes while its log ends below this index. For a node
   * that joins a running group on an empty log: the group's commit index when it joined (its id
   * may be a removed member's, whose old votes and acknowledgements others may still count; see
   * `doc.ts`, "Joining on an empty log"). Keep it durable until the log reaches it. 0.
   */
  voteFloor?: LogIndex;
}

/** A proposal's place in the log: it succeeded iff the entry committed at `index` has `term`. */
export interface Proposal {
  index: LogIndex;
  term: Term;
}

/** One item of `proposeBatch`. */
export interface ProposalItem {
  data: Uint8Array;
  /** 16..255, application-defined. 16. */
  type?: number;
  timestamp?: number;
}

/** The leader's view of one member, as reported by `status()`. */
export interface ProgressStatus {
  match: LogIndex;
  next: LogIndex;
  state: ProgressState;
  inflight: number;
  /** In `snapshot` state: the index of the snapshot being sent (its bytes must stay readable). */
  snapshotIndex?: LogIndex;
  /** Ticks since the leader last heard from it (0 for the leader); null: not since it leads. */
  silentTicks: number | null;
  /** `silentTicks` is at most `answerTicksMax`: the leader would hand over to it. */
  answering: boolean;
  /**
   * It said within the last two election timeouts that it may not campaign (it answered a
   * transfer's `TimeoutNow`, or asked for a new term, with `NewTerm`): the leader hands
   * leadership to no such voter. False says only that it did not say so.
   */
  refusedLead: boolean;
}

/** A snapshot of a node's state for monitoring and tests. */
export interface RaftStatus {
  id: NodeId;
  term: Term;
  vote: NodeId | null;
  role: Role;
  leaderId: NodeId | null;
  commit: LogIndex;
  applied: LogIndex;
  lastIndex: LogIndex;
  /** Empty unless leader. */
  progress: Record<string, ProgressStatus>;
  config: ConfigState;
  canCampaign: boolean;
  leadTransferee: NodeId | null;
  /** Set while this node knows it is no longer a member (see `RaftNode.removal`). */
  removal: Removal | null;
}

const MiB = 1024 * 1024;

/**
 * One Raft replica.
 *
 * @example
 * ```ts
 * const node = new RaftNode({ id, storage, prng: createPrng(seed) });
 * // event loop
 * node.tick(); // every tick interval
 * node.step(messageFromPeer);
 * while (node.hasReady()) {
 *   const ready = node.ready();
 *   await persist(ready); // snapshot, entries (truncating at ready.truncateFrom), hardState; fsync
 *   send(ready.messages);
 *   apply(ready.committedEntries);
 *   serveReads(ready.readStates);
 *   node.advance(ready);
 * }
 * ```
 */
export class RaftNode {
  readonly #raft: Raft;
  readonly #readyCommittedBytesMax: number;
  #previousSoft: SoftState;
  #previousHard: HardState;
  #outstanding: Ready | null = null;

  constructor(options: RaftNodeOptions) {
    const settings = resolveSettings(options);
    const storage = options.storage;
    this.#raft = new Raft({
      id: options.id,
      storage,
      prng: options.prng,
      settings,
      applied: options.appliedIndex ?? prevIndex(storage.firstIndex()),
      snapshotSink: options.snapshotSink ?? new MemorySnapshotSink(),
    });
    this.#raft.canCampaign = options.canCampaign ?? true;
    if (options.fresh === true) this.#raft.fresh = new FreshStart();
    this.#raft.voteFloor = options.voteFloor ?? (0 as LogIndex);
    this.#readyCommittedBytesMax = options.readyCommittedBytesMax ?? 64 * MiB;
    assert.ok(this.#readyCommittedBytesMax > 0, "readyCommittedBytesMax is positive");
    this.#previousSoft = this.#softState();
    this.#previousHard = this.#hardState();
  }

  get id(): NodeId {
    return this.#raft.id;
  }

  /** Advances logical time by one tick (drives elections, heartbeats and check-quorum). */
  tick(): void {
    this.#raft.tick();
  }

  /** Feeds a message received from a peer. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /** Starts an election now instead of waiting for the timeout (no-op if not allowed). */
  campaign(): void {
    this.#raft.startElection();
  }

  /**
   * Appends one application command (leader only); it is replicated from the next Ready.
   * Throws `NotLeaderError` or `ProposalDroppedError`.
   */
  propose(data: Uint8Array, options: { type?: number; timestamp?: number } = {}): Proposal {
    // proposeBatch's steps for one item, without its item, mapped copy and range objects: a
    // single proposal per request is the usual case.
    const type = options.type ?? EntryType.ApplicationMin;
    checkApplicationType(type);
    this.#checkProposal(data.byteLength);
    const raft = this.#raft;
    const index = raft.appendEntries([{ type, data, timestamp: options.timestamp }]);
    return { index, term: raft.term };
  }

  /**
   * Appends many commands at consecutive indexes in one go: one log append, one replication
   * round (group commit). Returns the index range and the term they were proposed in.
   */
  proposeBatch(items: readonly ProposalItem[]): {
    firstIndex: LogIndex;
    lastIndex: LogIndex;
    term: Term;
  } {
    // On every proposal: the checks fail through assert.fail, so a passing one costs a compare
    // (assert.ok with a built message was ~1% of a consume profile across the hot path).
    if (items.length === 0) assert.fail("a batch holds at least one proposal");
    let bytes = 0;
    for (const item of items) {
      checkApplicationType(item.type ?? EntryType.ApplicationMin);
      bytes += item.data.byteLength;
    }
    this.#checkProposal(bytes);
    const raft = this.#raft;
    const firstIndex = raft.appendEntries(items.map((item) => ({
      type: item.type ?? EntryType.ApplicationMin,
      data: item.data,
      timestamp: item.timestamp,
    })));
    return {
      firstIndex,
      lastIndex: (firstIndex + items.length - 1) as LogIndex,
      term: raft.term,
    };
  }

  /**
   * Proposes a single-server membership change. It takes effect on every node as soon as the
   * entry is appended to its log (dissertation §4.1), so only one may be uncommitted at a time,
   * and only after this leader committed an entry of its own term. A leader cannot remove
   * itself: transfer leadership first.
   */
  proposeConfigChange(change: ConfigChange): Proposal {
    const raft = this.#raft;
    this.#checkProposal(0);
    if (raft.configs.currentIndex() > raft.log.committed) {
      throw new ProposalDroppedError("config-change-pending", "a config change is uncommitted");
    }
    if (raft.log.term(raft.log.committed) !== raft.term) {
      throw new ProposalDroppedError("config-change-pending", "leader has not committed yet");
    }
    if (change.type === "remove" && change.nodeId === raft.id) {
      throw new InvalidRequestError("a leader cannot remove itself; transfer leadership first");
    }
    applyConfigChange(raft.configs.current(), change);
    const index = raft.appendEntries([
      { type: EntryType.ConfigChange, data: encodeConfigChange(change) },
    ]);
    return { index, term: raft.term };
  }

  /**
   * Asks the leader to hand leadership to `to`: once `to` has the whole log it receives
   * `TimeoutNow` and campaigns at once, even if it has just begun a pre-vote (it gets it again with each heartbeat answer while the
   * transfer runs, should one be lost). Proposals are refused meanwhile; the attempt is
   * abandoned after an election timeout, or as soon as `to` answers that it may not campaign
   * (it distrusts its log, is below its vote floor, is still installing a snapshot, is no voter
   * in its own configuration, or knows it was removed): leadership then goes to another voter
   * that may, as for `requestNewTerm`, if there is one.
   */
  transferLeadership(to: NodeId): void {
    const raft = this.#raft;
    if (raft.role !== "leader") throw new NotLeaderError(raft.leaderId);
    if (to === raft.id || raft.leadTransferee === to) return;
    if (!isVoter(raft.configs.current(), to)) {
      throw new InvalidRequestError(`${to} is not a voter`);
    }
    startTransfer(raft, to);
  }

  /**
   * For a follower that distrusts its log (see `setCanCampaign`): asks the leader to hand
   * leadership to another voter, so that the next leader is one elected without this node's
   * vote. A no-op without a known leader; the leader ignores it when no other voter is active.
   */
  requestNewTerm(): void {
    const raft = this.#raft;
    if (raft.role !== "follower" || raft.leaderId === null) return;
    raft.send({ type: MessageType.NewTerm, to: raft.leaderId });
  }

  /**
   * Requests a linearizable read point. The answer arrives in a later `Ready.readStates` and may
   * be served once that Ready's committed entries are applied. A follower forwards the request
   * to its leader; requests lost with a leader change are never answered (time them out), and
   * one the leader refuses (over its `readIndexPendingMax`, or from a node outside its
   * configuration) comes back in `Ready.refusedReads`.
   */
  readIndex(requestId: string): void {
    const raft = this.#raft;
    if (raft.role === "leader") {
      const pending = readsPending(raft);
      if (pending >= raft.settings.readIndexPendingMax) {
        throw new ProposalDroppedError("read-index-limit", `${pending} reads pending`);
      }
      requestRead(raft, { requester: raft.id, requestId });
      return;
    }
    if (raft.leaderId === null) throw new NotLeaderError(null);
    raft.send({ type: MessageType.ReadIndex, to: raft.leaderId, context: requestId });
  }

  /**
   * Allows or forbids campaigning and vote granting. An application whose storage found a damaged
   * committed range sets false: the node then only follows, so it cannot become leader (or help
   * elect one) with a log it does not trust, while the leader repairs it.
   */
  setCanCampaign(value: boolean): void {
    this.#raft.canCampaign = value;
  }

  /**
   * How this node knows it is no longer a member, or null: an entry in its own log that removed
   * it, or a `Removed` answer from a voter whose commit is past everything this node has seen
   * (see `removal.ts` for when one is believed). While set, the node does not campaign. It is
   * lifted when the log shows this node a member again at a later index (it was added back).
   */
  removal(): Removal | null {
    return removalOf(this.#raft);
  }

  /**
   * For a node started `fresh`: the state it lost, once it learned that from a leader (see
   * `fresh.ts`); null otherwise. It no longer campaigns or votes by then. Returned once.
   */
  takeLostState(): LostState | null {
    return this.#raft.fresh?.takeLost() ?? null;
  }

  /** Tells the leader that the last messages to `to` were probably lost (connection down). */
  reportUnreachable(to: NodeId): void {
    const progress = this.#raft.progress.get(to);
    if (this.#raft.role === "leader" && progress?.state === "replicate") progress.becomeProbe();
  }

  /** Whether a Ready is waiting (always false while a handed-out Ready is not advanced). */
  hasReady(): boolean {
    if (this.#outstanding !== null) return false;
    const raft = this.#raft;
    const log = raft.log;
    return raft.appendPending || raft.messages.length > 0 ||
      log.hasUnstableEntries() || log.pendingSnapshot() !== null ||
      log.hasNextCommittedEntries() || !sameSoft(this.#softState(), this.#previousSoft) ||
      !sameHard(this.#hardState(), this.#previousHard) ||
      raft.readStates.some((read) => read.index <= log.committed) || raft.refusedReads.length > 0;
  }

  /** Takes the next batch of work. Call `advance(ready)` when it has been handled. */
  ready(): Ready {
    assert.equal(this.#outstanding, null, "advance the previous Ready before taking another");
    const raft = this.#raft;
    const log = raft.log;
    if (raft.appendPending) broadcastAppend(raft, { sendIfEmpty: false });
    const snapshot = log.pendingSnapshot();
    const entries = log.unstableEntries();
    const committedEntries = log.nextCommittedEntries(this.#readyCommittedBytesMax);
    const appliedAfter = committedEntries.at(-1)?.index ??
      maxIndex(log.applied, snapshot?.index ?? noIndex);
    const ready: Ready = {
      entries,
      messages: raft.messages,
      committedEntries,
      readStates: this.#takeReads(appliedAfter),
    };
    raft.messages = [];
    if (raft.refusedReads.length > 0) {
      [ready.refusedReads, raft.refusedReads] = [raft.refusedReads, []];
    }
    if (snapshot !== null) ready.snapshot = snapshot;
    else if (log.needsTruncation()) ready.truncateFrom = entries[0].index;
    const soft = this.#softState();
    const hard = this.#hardState();
    // The parallel write (doc.ts) only for a leader that led, in this term with this vote, when
    // the previous Ready was taken: then nothing here vouches for state not yet durable. The
    // role alone can't tell: a leader deposed and re-elected (alone) between two Readies
    // reports no soft state change, but a new term and vote to persist before its appends go.
    if (
      soft.role === "leader" && this.#previousSoft.role === "leader" &&
      hard.term === this.#previousHard.term && hard.vote === this.#previousHard.vote &&
      snapshot === null && ready.truncateFrom === undefined
    ) ready.sendFirst = true;
    if (!sameSoft(soft, this.#previousSoft)) ready.softState = this.#previousSoft = soft;
    if (!sameHard(hard, this.#previousHard)) ready.hardState = this.#previousHard = hard;
    this.#outstanding = ready;
    return ready;
  }

  /**
   * While a Ready is being handled: the entries committed since it was taken (after the ones it
   * carries), up to `durableIndex` — what the caller's log holds durably. A commit learned in
   * the middle of a write (a follower's ack arriving during the leader's fsync) is then applied
   * at once instead of one whole Ready later. The caller must already have applied the
   * outstanding Ready's committed entries and must apply these now, in order: they count as
   * applied. Empty when no Ready is outstanding or it carries a snapshot.
   *
   * Only entries the caller persisted or is persisting with that Ready: one that arrived since
   * (even in place of a persisted one, which the caller's log still holds) waits for its write.
   */
  takeCommittedEntries(durableIndex: LogIndex): readonly Entry[] {
    const ready = this.#outstanding;
    // Called for every peer message: the common answer allocates nothing.
    if (ready === null || ready.snapshot !== undefined) return noEntries;
    const log = this.#raft.log;
    const from = nextIndex(maxIndex(ready.committedEntries.at(-1)?.index ?? noIndex, log.applied));
    // What advance(ready) will call stable: its entries, unless a later append replaced them.
    const last = ready.entries.at(-1);
    const written = last !== undefined && log.term(last.index) === last.term
      ? last.index
      : log.persistedLastIndex();
    const to = minIndex(minIndex(log.committed, durableIndex), written);
    if (from > to || from < log.firstIndex()) return noEntries;
    const entries = log.entries(from, nextIndex(to), this.#readyCommittedBytesMax);
    if (entries.length > 0) log.appliedTo(entries.at(-1)!.index);
    return entries;
  }

  /** Reports a Ready handled: its state persisted, messages sent, committed entries applied. */
  advance(ready: Ready): void {
    if (ready !== this.#outstanding) assert.fail("advance the Ready last handed out");
    const log = this.#raft.log;
    if (ready.snapshot !== undefined) log.stableSnapshotTo(ready.snapshot.index);
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committedEntries.at(-1);
    // takeCommittedEntries may have handed out (and counted applied) later entries already.
    if (lastCommitted !== undefined && lastCommitted.index > log.applied) {
      log.appliedTo(lastCommitted.index);
    }
    this.#outstanding = null;
    this.#raft.onPersisted();
  }

  /** The node's current state (copies; safe to keep). */
  status(): RaftStatus {
    const raft = this.#raft;
    const progress: Record<string, ProgressStatus> = {};
    if (raft.role === "leader") {
      for (const [id, entry] of raft.progress) {
        progress[id] = {
          match: entry.match,
          next: entry.next,
          state: entry.state,
          inflight: entry.inflights.count,
          silentTicks: id === raft.id
            ? 0
            : entry.heardAtTick === null
            ? null
            : raft.ticks - entry.heardAtTick,
          answering: id === raft.id || answersLately(raft, entry),
          refusedLead: refusedLeadLately(raft, entry),
        };
        if (entry.transfer !== null) progress[id].snapshotIndex = entry.transfer.snapshot.index;
      }
    }
    return {
      id: raft.id,
      term: raft.term,
      vote: raft.vote,
      role: raft.role,
      leaderId: raft.leaderId,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      progress,
      config: cloneConfig(raft.configs.current()),
      canCampaign: raft.mayVote(),
      leadTransferee: raft.leadTransferee,
      removal: removalOf(raft),
    };
  }

  #checkProposal(bytes: number): void {
    const raft = this.#raft;
    if (raft.role !== "leader") throw new NotLeaderError(raft.leaderId);
    if (raft.leadTransferee !== null) {
      throw new ProposalDroppedError("leader-transfer", `handing over to ${raft.leadTransferee}`);
    }
    const limit = raft.settings.uncommittedBytesMax;
    if (raft.uncommittedBytes > 0 && raft.uncommittedBytes + bytes > limit) {
      throw new ProposalDroppedError("uncommitted-bytes-limit", `over ${limit} bytes uncommitted`);
    }
  }

  #takeReads(appliedAfter: LogIndex): ReadState[] {
    const raft = this.#raft;
    const released = raft.readStates.filter((read) => read.index <= appliedAfter);
    if (released.length > 0) {
      raft.readStates = raft.readStates.filter((read) => read.index > appliedAfter);
    }
    return released;
  }

  #softState(): SoftState {
    return { leaderId: this.#raft.leaderId, role: this.#raft.role };
  }

  #hardState(): HardState {
    const raft = this.#raft;
    return { term: raft.term, vote: raft.vote, commit: raft.log.committed };
  }
}

const noEntries: readonly Entry[] = Object.freeze([]);
const noIndex = 0 as LogIndex;

function sameSoft(left: SoftState, right: SoftState): boolean {
  return left.leaderId === right.leaderId && left.role === right.role;
}

function sameHard(left: HardState, right: HardState): boolean {
  return left.term === right.term && left.vote === right.vote && left.commit === right.commit;
}

/** The settings a node runs with: `options` over the defaults (exported for tests). */
export function resolveSettings(options: RaftNodeOptions): RaftSettings {
  const settings: RaftSettings = {
    electionTicks: options.electionTicks ?? 10,
    heartbeatTicks: options.heartbeatTicks ?? 1,
    answerTicksMax: options.answerTicksMax ?? (options.heartbeatTicks ?? 1) + 2,
    preVote: options.preVote ?? true,
    checkQuorum: options.checkQuorum ?? true,
    inflightMessagesMax: options.inflightMessagesMax ?? 256,
    inflightBytesMax: options.inflightBytesMax ?? 32 * MiB,
    entriesPerMessageBytesMax: options.entriesPerMessageBytesMax ?? MiB,
    snapshotChunkBytes: options.snapshotChunkBytes ?? MiB,
    snapshotChunksInflightMax: options.snapshotChunksInflightMax ?? 4,
    snapshotBytesMax: options.snapshotBytesMax ??
      (options.snapshotSink === undefined ? 4096 * MiB : 2 ** 40),
    uncommittedBytesMax: options.uncommittedBytesMax ?? 256 * MiB,
    readIndexPendingMax: options.readIndexPendingMax ?? 4096,
  };
  assert.ok(settings.heartbeatTicks >= 1, "heartbeatTicks ≥ 1");
  assert.ok(settings.electionTicks > settings.heartbeatTicks, "electionTicks > heartbeatTicks");
  assert.ok(settings.answerTicksMax >= settings.heartbeatTicks, "answerTicksMax ≥ heartbeatTicks");
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === "number") {
      assert.ok(Number.isSafeInteger(value) && value > 0, `${name} is a positive integer`);
    }
  }
  return settings;
}

/** Fails unless `type` is an application entry type (a compare when it is). */
function checkApplicationType(type: number): void {
  if (
    !(Number.isInteger(type) && type >= EntryType.ApplicationMin &&
      type <= EntryType.ApplicationMax)
  ) {
    assert.fail(`application entry type ${type} is within 16..255`);
  }
}
