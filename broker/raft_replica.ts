/**
 * `RaftReplica`: one Raft group's replica on one node, the I/O shell around the pure `RaftNode`.
 * It owns the loop that follows the Ready/advance contract of `raft/doc.ts`:
 *
 * ```
 * while hasReady: persist (snapshot → truncate → append + ONE fsync → hard state if term/vote
 *                 changed) → send messages → apply committed entries → resolve proposals,
 *                 serve reads → advance
 * ```
 *
 * Proposals and peer messages that arrive while a Ready is being persisted go into the next
 * Ready: one write, one fdatasync and one append message per follower for all of them (group
 * commit). The leader stamps every entry with `max(last timestamp, clock)`; a new leader's log
 * holds every committed entry, so time never runs backwards across leaders either.
 *
 * Snapshots: see `raft_snapshot.ts` (container) and `raft_log_storage.ts` (what Raft sees).
 * Opening: see `raft_recovery.ts`, including why a node with a damaged committed log refuses to
 * vote until the leader has repaired it.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { FileSystem, SegmentLog } from "../storage/mod.ts";
import {
  applyConfigChange,
  type ConfigChange,
  type ConfigState,
  decodeConfigChange,
  type Entry,
  EntryType,
  type HardState,
  InvalidRequestError,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  nodeId,
  NotLeaderError,
  type Prng,
  ProposalDroppedError,
  RaftNode,
  type RaftNodeOptions,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type Term,
} from "../raft/mod.ts";
import { ApiError } from "./errors.ts";
import type { AppliedEntry, ClockLike, LogReader, Proposer, Timers } from "./engine_types.ts";
import type { StateMachine } from "./state_machine.ts";
import type { Transport } from "./transport_types.ts";
import { RaftLogStorage, toLogEntry } from "./raft_log_storage.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  pruneSnapshots,
  storeSnapshot,
} from "./raft_snapshot.ts";
import { recoverReplica } from "./raft_recovery.ts";

/** How to open a `RaftReplica`. */
export interface RaftReplicaOptions {
  nodeId: string;
  /** The group's log, opened (and recovered) by the caller, who also closes it. */
  log: SegmentLog;
  /** Loaded in place from the newest snapshot; the `Broker` may already hold it. */
  machine: StateMachine;
  transport: Transport;
  /** Stamps entries; also the time base of proposal and read timeouts. */
  clock: ClockLike;
  /** Drives ticks and nothing else (`realTimers` in production). */
  timers: Timers;
  /** Randomizes election timeouts (a seeded one in simulations). */
  prng: Prng;
  fs: FileSystem;
  snapshotsDir: string;
  /** Bootstrap membership, used only when no snapshot exists yet (a brand-new data dir). */
  initialVoters: string[];
  /** Milliseconds per Raft tick. 100. */
  tickMs?: number;
  /** Ticks without a leader before campaigning (randomized up to twice). 10. */
  electionTicks?: number;
  /** Snapshot after this many applied entries. 10 000. */
  snapshotEntriesInterval?: number;
  /** A proposal or read without an outcome after this long is answered NotReady. 10 000. */
  proposalTimeoutMs?: number;
  /** Proposals in flight at once; past it propose answers NotReady. 100 000. */
  pendingProposalsMax?: number;
  /** Persist the commit index in the hard state at least this often (ms). 3000. */
  commitPersistIntervalMs?: number;
  /** ... or after it advanced this many entries. 10 000. */
  commitPersistEntries?: number;
  /** Extra limits for the Raft core (inflight, chunk sizes...). */
  raft?: Partial<Omit<RaftNodeOptions, "id" | "storage" | "prng" | "appliedIndex">>;
  /** Where loud warnings go (damaged log, fatal errors). console.error. */
  warn?: (message: string) => void;
  /** Called after every applied entry (simulation checkers, metrics). */
  onApplied?: (entry: Entry) => void;
}

/** A peer as the leader sees it. */
export interface PeerStatus {
  id: string;
  match: number;
  /** Entries the peer is behind the leader's last index. */
  lag: number;
  state: string;
}

/** What `/v1/cluster` shows of this replica. */
export interface RaftReplicaStatus {
  id: string;
  role: Role;
  term: number;
  leaderId: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  config: ConfigState;
  /** False while the log is distrusted (see `raft_recovery.ts`). */
  canCampaign: boolean;
  /** Empty unless leader. */
  peers: PeerStatus[];
}

/** What `onRoleChange` handlers are told. */
export interface RoleChange {
  role: Role;
  leaderId: string | null;
  term: number;
}

interface PendingProposal {
  term: number;
  deadline: number;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

interface PendingRead {
  deadline: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const construction = Symbol("RaftReplica.open");
/** Marks the append rejection a repairing follower sends (see `#repairView`). */
const repairContext = "lost-acknowledged-entries";

/**
 * One Raft group's replica on this node, behind the `Proposer` and `LogReader` contracts.
 *
 * @example
 * ```ts
 * const log = await SegmentLog.open(`${dir}/log`, { fs });
 * const machine = new StateMachine();
 * const replica = await RaftReplica.open({ nodeId: "n1", log, machine, transport, fs,
 *   snapshotsDir: `${dir}/snapshots`, initialVoters: ["n1", "n2", "n3"],
 *   clock: { now: () => Date.now() }, timers: realTimers, prng: createPrng(seed) });
 * const broker = new Broker({ proposer: replica, machine, log: replica });
 * replica.onRoleChange(() => broker.wakeAll());
 * ```
 */
export class RaftReplica implements Proposer, LogReader {
  readonly #id: NodeId;
  readonly #log: SegmentLog;
  readonly #machine: StateMachine;
  readonly #transport: Transport;
  readonly #clock: ClockLike;
  readonly #timers: Timers;
  readonly #fs: FileSystem;
  readonly #snapshotsDir: string;
  readonly #storage: RaftLogStorage;
  readonly #raft: RaftNode;
  readonly #settings: Required<
    Pick<
      RaftReplicaOptions,
      | "tickMs"
      | "snapshotEntriesInterval"
      | "proposalTimeoutMs"
      | "pendingProposalsMax"
      | "commitPersistIntervalMs"
      | "commitPersistEntries"
    >
  >;
  readonly #warn: (message: string) => void;
  readonly #onApplied?: (entry: Entry) => void;
  readonly #pending = new Map<number, PendingProposal>();
  readonly #reads = new Map<string, PendingRead>();
  readonly #roleHandlers: Array<(change: RoleChange) => void> = [];
  #config: ConfigState;
  #repairTarget: number | null;
  /** Highest timestamp stamped or stored: proposals never go below it. */
  #lastTimestamp: number;
  /** Timestamp of the last entry in the log (the floor for entries Raft creates itself). */
  #tailTimestamp: number;
  /** Hard state of the last persisted Ready (its commit refers to durable entries only). */
  #durableHard: HardState;
  #writtenHard: HardState;
  #writtenAt: number;
  #readCounter = 0;
  #tickTimer: unknown = null;
  #driving: Promise<void> | null = null;
  /** True from the start of a Ready loop until its last synchronous step. */
  #running = false;
  #role: Role = "follower";
  #leaderId: NodeId | null = null;
  #closed = false;
  #failure: Error | null = null;

  /** Use `RaftReplica.open`. */
  constructor(
    token: symbol,
    options: RaftReplicaOptions & {
      recovered: Awaited<ReturnType<typeof recoverReplica>>;
    },
  ) {
    assert.equal(token, construction, "use RaftReplica.open");
    const { recovered } = options;
    this.#id = nodeId(options.nodeId);
    this.#log = options.log;
    this.#machine = options.machine;
    this.#transport = options.transport;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#fs = options.fs;
    this.#snapshotsDir = options.snapshotsDir;
    this.#warn = options.warn ?? ((message) => console.error(`[raft ${options.nodeId}]`, message));
    this.#onApplied = options.onApplied;
    this.#settings = {
      tickMs: options.tickMs ?? 100,
      snapshotEntriesInterval: options.snapshotEntriesInterval ?? 10_000,
      proposalTimeoutMs: options.proposalTimeoutMs ?? 10_000,
      pendingProposalsMax: options.pendingProposalsMax ?? 100_000,
      commitPersistIntervalMs: options.commitPersistIntervalMs ?? 3_000,
      commitPersistEntries: options.commitPersistEntries ?? 10_000,
    };
    this.#config = recovered.config;
    this.#repairTarget = recovered.repairTarget;
    this.#tailTimestamp = recovered.tailTimestamp;
    this.#lastTimestamp = recovered.tailTimestamp;
    const hard = options.log.readHardState();
    this.#writtenHard = { term: hard.term, vote: hard.vote, commit: hard.commit } as HardState;
    this.#writtenAt = options.clock.now();
    this.#storage = new RaftLogStorage(options.log, {
      snapshot: recovered.snapshot,
      hardState: this.#writtenHard,
      fs: options.fs,
      snapshotsDir: options.snapshotsDir,
    });
    this.#durableHard = this.#storage.initialState().hardState;
    this.#raft = new RaftNode({
      ...options.raft,
      electionTicks: options.electionTicks ?? options.raft?.electionTicks ?? 10,
      id: this.#id,
      storage: this.#storage,
      prng: options.prng,
      appliedIndex: options.machine.appliedIndex,
      canCampaign: recovered.repairTarget === null,
    });
    this.#transport.onMessage((message) => this.#receive(message));
    this.#transport.onUnreachable((peer) => {
      if (!this.#closed) this.#raft.reportUnreachable(peer);
    });
    this.#scheduleTick();
  }

  /**
   * Recovers the replica from its snapshot files and log (see `raft_recovery.ts`) and starts
   * ticking. The log must be open; the machine is loaded in place.
   */
  static async open(options: RaftReplicaOptions): Promise<RaftReplica> {
    const warn = options.warn ?? ((message) => console.error(`[raft ${options.nodeId}]`, message));
    const recovered = await recoverReplica({
      log: options.log,
      machine: options.machine,
      fs: options.fs,
      snapshotsDir: options.snapshotsDir,
      initialVoters: options.initialVoters,
      warn,
    });
    return new RaftReplica(construction, { ...options, warn, recovered });
  }

  /** This node's id. */
  get id(): string {
    return this.#id;
  }

  /** The leader this node knows of (itself when leading), or null. */
  get leaderId(): string | null {
    return this.#leaderId;
  }

  /** True while this node leads its group. */
  get isLeader(): boolean {
    return this.#role === "leader";
  }

  /** Highest index applied to the state machine. */
  get appliedIndex(): number {
    return this.#machine.appliedIndex;
  }

  /** The error that stopped this replica (a failed write, a broken invariant), if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** The wall clock, for timers only. */
  now(): number {
    return this.#clock.now();
  }

  /** Calls `handler` whenever this node's role or known leader changes. */
  onRoleChange(handler: (change: RoleChange) => void): void {
    this.#roleHandlers.push(handler);
  }

  /**
   * Proposes a command (leader only) and resolves with `StateMachine.apply()`'s result once it
   * is committed and applied in the term it was proposed in. Rejects `NoLeader` (retryable)
   * when not leader or when the entry was overwritten, `NotReady` when the outcome is unknown.
   */
  propose(type: number, payload: Uint8Array): Promise<unknown> {
    const refusal = this.#refusal();
    if (refusal !== null) return Promise.reject(refusal);
    if (this.#pending.size >= this.#settings.pendingProposalsMax) {
      return Promise.reject(
        new ApiError("NotReady", "too many writes in flight", { retryAfterSeconds: 1 }),
      );
    }
    const timestamp = Math.max(this.#lastTimestamp, this.#clock.now());
    let proposal: { index: LogIndex; term: Term };
    try {
      proposal = this.#raft.propose(payload, { type, timestamp });
    } catch (error) {
      return Promise.reject(this.#translate(error));
    }
    this.#lastTimestamp = timestamp;
    const promise = this.#track(proposal);
    this.#kick();
    return promise;
  }

  /** Proposes a membership change; resolves once it is committed and applied. */
  proposeConfigChange(change: { type: ConfigChange["type"]; nodeId: string }): Promise<void> {
    const refusal = this.#refusal();
    if (refusal !== null) return Promise.reject(refusal);
    let proposal: { index: LogIndex; term: Term };
    try {
      proposal = this.#raft.proposeConfigChange({
        type: change.type,
        nodeId: nodeId(change.nodeId),
      });
    } catch (error) {
      return Promise.reject(this.#translate(error));
    }
    const promise = this.#track(proposal).then(() => undefined);
    this.#kick();
    return promise;
  }

  /** Hands leadership to `to` (a voter); proposals are refused while it happens. */
  transferLeadership(to: string): void {
    const refusal = this.#refusal();
    if (refusal !== null) throw refusal;
    try {
      this.#raft.transferLeadership(nodeId(to));
    } catch (error) {
      throw this.#translate(error);
    }
    this.#kick();
  }

  /**
   * Resolves once this node has confirmed it still leads (a ReadIndex round) and has applied
   * everything committed before the call: a local read after it is linearizable.
   */
  readBarrier(): Promise<void> {
    const refusal = this.#refusal();
    if (refusal !== null) return Promise.reject(refusal);
    const requestId = `${this.#id}:${++this.#readCounter}`;
    try {
      this.#raft.readIndex(requestId);
    } catch (error) {
      return Promise.reject(this.#translate(error));
    }
    const promise = new Promise<void>((resolve, reject) => {
      const deadline = this.#clock.now() + this.#settings.proposalTimeoutMs;
      this.#reads.set(requestId, { deadline, resolve, reject });
    });
    this.#kick();
    return promise;
  }

  /** Reads an applied entry back (bodies live only in the log). */
  entry(index: number): AppliedEntry {
    assert.ok(index <= this.#machine.appliedIndex, `entry ${index} is not applied yet`);
    return this.#log.entry(index);
  }

  /** This replica's view of the group. */
  status(): RaftReplicaStatus {
    const raft = this.#raft.status();
    const peers: PeerStatus[] = Object.entries(raft.progress)
      .filter(([id]) => id !== this.#id)
      .map(([id, progress]) => ({
        id,
        match: progress.match,
        lag: Math.max(0, raft.lastIndex - progress.match),
        state: progress.state,
      }));
    return {
      id: this.#id,
      role: raft.role,
      term: raft.term,
      leaderId: raft.leaderId,
      commit: raft.commit,
      applied: this.#machine.appliedIndex,
      lastIndex: raft.lastIndex,
      snapshotIndex: this.#storage.snapshotMeta.index,
      config: { voters: [...raft.config.voters], learners: [...raft.config.learners] },
      canCampaign: raft.canCampaign,
      peers,
    };
  }

  /** Starts an election now (tests; a no-op when not allowed). */
  campaign(): void {
    if (this.#closed) return;
    this.#raft.campaign();
    this.#kick();
  }

  /**
   * Stops: no more ticks or proposals, pending ones rejected, the current Ready finished, the
   * final hard state (with the commit index) written. The log stays open (the owner closes it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop(new ApiError("NotReady", "node is shutting down", { retryAfterSeconds: 1 }));
    await this.#driving?.catch(() => {});
    if (this.#failure !== null) return;
    try {
      await this.#writeHardState(this.#durableHard);
    } catch (error) {
      this.#warn(`final hard state not written: ${(error as Error).message}`);
    }
  }

  /** Stops at once without touching storage, as a killed process would (simulations). */
  abandon(): void {
    if (this.#closed) return;
    this.#stop(new ApiError("NotReady", "node stopped; outcome unknown"));
  }

  #stop(error: ApiError): void {
    this.#closed = true;
    if (this.#tickTimer !== null) this.#timers.clearTimer(this.#tickTimer);
    this.#tickTimer = null;
    this.#rejectAll(error);
  }

  // ---- requests ------------------------------------------------------------------------------

  #refusal(): ApiError | null {
    if (this.#closed) {
      return new ApiError("NotReady", "node is shutting down", { retryAfterSeconds: 1 });
    }
    if (this.#failure !== null) {
      return new ApiError("NotReady", `replica failed: ${this.#failure.message}`);
    }
    if (this.#role !== "leader") return noLeader(this.#leaderId);
    return null;
  }

  #translate(error: unknown): unknown {
    if (error instanceof NotLeaderError) return noLeader(error.leaderId);
    if (error instanceof ProposalDroppedError) {
      return new ApiError("NotReady", error.message, { retryAfterSeconds: 1 });
    }
    if (error instanceof InvalidRequestError) {
      return new ApiError("InvalidParameter", error.message);
    }
    return error;
  }

  #track(proposal: { index: LogIndex; term: Term }): Promise<unknown> {
    // A proposal of an earlier term at this index was overwritten by this leader's log.
    this.#settle(proposal.index, noLeader(this.#leaderId));
    return new Promise((resolve, reject) => {
      const deadline = this.#clock.now() + this.#settings.proposalTimeoutMs;
      this.#pending.set(proposal.index, { term: proposal.term, deadline, resolve, reject });
    });
  }

  #settle(index: number, error: unknown): void {
    const pending = this.#pending.get(index);
    if (pending === undefined) return;
    this.#pending.delete(index);
    pending.reject(error);
  }

  #rejectAll(error: ApiError): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    for (const read of this.#reads.values()) read.reject(error);
    this.#reads.clear();
  }

  // ---- the loop ------------------------------------------------------------------------------

  #receive(message: Message): void {
    if (this.#closed || this.#failure !== null) return;
    try {
      this.#raft.step(this.#repairView(message));
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#kick();
  }

  /**
   * Two consequences of a node losing entries it had acknowledged (raft_recovery.ts), which the
   * Raft core, like etcd's, assumes never happens:
   *
   * - Follower: the leader still believes our old match and sends heartbeats with a commit index
   *   beyond our log. Clamp it to our durable last index. Safe: within the leader's term our log
   *   only changed by its own appends or by the cut, which keeps a prefix it had matched. While
   *   repairing, also answer with an append rejection naming our real last index, since a
   *   leader that thinks we are caught up sends no appends that we could reject.
   * - Leader: a repairing follower's rejection says its log ends below the match we track for it;
   *   the core never lowers a match, so it would never re-send the lost range. Hand leadership
   *   to another voter: a new leader probes every follower from scratch and repairs it. (The
   *   clean fix belongs in the core: lower `match` on such a rejection.)
   */
  #repairView(message: Message): Message {
    if (message.type === MessageType.Heartbeat && message.commit > this.#log.lastIndex) {
      if (this.#repairTarget !== null) {
        // Tell the leader where our log really ends (it is silent while it thinks we are
        // caught up): an append rejection it will recognise below.
        this.#transport.send([{
          ...message,
          type: MessageType.AppResp,
          from: this.#id,
          to: message.from,
          term: this.#raft.status().term,
          index: message.commit,
          reject: true,
          rejectHint: this.#log.lastIndex as LogIndex,
          logTerm: 0 as Term,
          entries: [],
          context: repairContext,
        }]);
      }
      return { ...message, commit: this.#log.lastIndex as LogIndex };
    }
    // Only the replica of a repairing follower sends this; the core's own rejections are not
    // evidence (a reordered stale rejection looks the same).
    if (message.type !== MessageType.AppResp || message.context !== repairContext) return message;
    if (!message.reject || this.#role !== "leader") return message;
    const status = this.#raft.status();
    // Only a rejection of this leader's own term speaks about the log it matched.
    if (message.term !== status.term) return message;
    const match = status.progress[message.from]?.match ?? 0;
    if (message.rejectHint >= match || message.index < match) return message;
    const successor = status.config.voters
      .filter((id) => id !== this.#id && id !== message.from)
      .sort((left, right) =>
        (status.progress[right]?.match ?? 0) - (status.progress[left]?.match ?? 0)
      )[0];
    if (successor !== undefined && status.leadTransferee === null) {
      this.#warn(
        `${message.from} lost entries it acknowledged (its log ends at ${message.rejectHint}, ` +
          `match was ${match}); handing leadership to ${successor} so it is re-probed`,
      );
      this.#raft.transferLeadership(successor);
    }
    return message;
  }

  #scheduleTick(): void {
    this.#tickTimer = this.#timers.setTimer(this.#settings.tickMs, () => {
      if (this.#closed) return;
      if (this.#failure === null) {
        this.#raft.tick();
        this.#expire();
        this.#kick();
      }
      this.#scheduleTick();
    });
  }

  #expire(): void {
    const now = this.#clock.now();
    const unknown = () => new ApiError("NotReady", "outcome unknown", { retryAfterSeconds: 1 });
    for (const [index, pending] of this.#pending) {
      if (pending.deadline > now) break; // insertion order is deadline order
      this.#pending.delete(index);
      pending.reject(unknown());
    }
    for (const [requestId, read] of this.#reads) {
      if (read.deadline > now) break;
      this.#reads.delete(requestId);
      read.reject(new ApiError("NotReady", "read barrier timed out", { retryAfterSeconds: 1 }));
    }
  }

  /** Starts the Ready loop unless it runs (it re-checks `hasReady` after every advance). */
  #kick(): void {
    if (this.#running || this.#closed || this.#failure !== null) return;
    if (!this.#raft.hasReady() && !this.#commitPersistDue()) return;
    this.#running = true;
    this.#driving = this.#drive();
  }

  async #drive(): Promise<void> {
    await Promise.resolve(); // let the proposals of this turn join the Ready
    try {
      while (!this.#closed && this.#failure === null) {
        if (this.#raft.hasReady()) {
          await this.#handleReady(this.#raft.ready());
        } else if (this.#commitPersistDue()) {
          await this.#writeHardState(this.#durableHard);
        } else {
          break;
        }
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      // Synchronously with the last check of hasReady: a kick right after starts a new loop.
      this.#running = false;
    }
  }

  async #handleReady(ready: Ready): Promise<void> {
    if (ready.snapshot !== undefined) await this.#installSnapshot(ready.snapshot);
    if (ready.entries.length > 0) await this.#appendEntries(ready.entries);
    if (ready.hardState !== undefined) await this.#persistHardState(ready.hardState);
    if (this.#closed) return; // a stopped node sends and applies nothing more
    this.#transport.send(ready.messages);
    this.#apply(ready.committedEntries);
    this.#serveReads(ready.readStates);
    if (ready.softState !== undefined) this.#changeRole(ready.softState);
    this.#raft.advance(ready);
    this.#checkRepaired();
    const sinceSnapshot = this.#machine.appliedIndex - this.#storage.snapshotMeta.index;
    if (sinceSnapshot >= this.#settings.snapshotEntriesInterval) await this.#takeSnapshot();
  }

  // ---- persisting ----------------------------------------------------------------------------

  async #appendEntries(entries: Entry[]): Promise<void> {
    const log = this.#log;
    const first = entries[0].index;
    const waits: Promise<void>[] = [];
    if (first <= log.lastIndex) {
      // Raft never truncates committed entries: every pending proposal from `first` on lost.
      for (const index of [...this.#pending.keys()]) {
        if (index >= first) this.#settle(index, noLeader(this.#leaderId));
      }
      waits.push(log.truncateSuffix(first));
      this.#tailTimestamp = first - 1 >= log.firstIndex
        ? log.entry(first - 1).timestamp
        : this.#tailTimestamp;
    }
    // Entries Raft makes itself (no-ops, config changes) carry no time: they take the previous
    // entry's, which every later proposal is at or above, so the log's time never goes back.
    let previous = this.#tailTimestamp;
    for (const entry of entries) {
      entry.timestamp ??= previous;
      assert.ok(entry.timestamp >= previous, `timestamp of entry ${entry.index} goes back`);
      previous = entry.timestamp;
    }
    log.append(entries.map(toLogEntry));
    this.#tailTimestamp = previous;
    this.#lastTimestamp = Math.max(this.#lastTimestamp, previous);
    waits.push(log.sync());
    await Promise.all(waits);
  }

  async #persistHardState(hardState: HardState): Promise<void> {
    const written = this.#writtenHard;
    this.#durableHard = { ...hardState };
    if (hardState.term !== written.term || hardState.vote !== written.vote) {
      await this.#writeHardState(hardState);
    }
  }

  #commitPersistDue(): boolean {
    const behind = this.#durableHard.commit - this.#writtenHard.commit;
    if (behind <= 0) return false;
    return behind >= this.#settings.commitPersistEntries ||
      this.#clock.now() - this.#writtenAt >= this.#settings.commitPersistIntervalMs;
  }

  async #writeHardState(hardState: HardState): Promise<void> {
    // While repairing, keep claiming the old commit so a crash cannot hide the damage.
    const commit = Math.max(hardState.commit, this.#repairTarget ?? 0);
    const state = { term: hardState.term, vote: hardState.vote, commit } as HardState;
    await this.#log.writeHardState(state);
    this.#writtenHard = state;
    this.#writtenAt = this.#clock.now();
    this.#storage.setHardState(state);
  }

  // ---- applying ------------------------------------------------------------------------------

  #apply(entries: Entry[]): void {
    for (const entry of entries) {
      assert.ok(entry.timestamp !== undefined, `entry ${entry.index} was stamped`);
      if (entry.type === EntryType.ConfigChange) {
        this.#config = applyConfigChange(this.#config, decodeConfigChange(entry.data));
      }
      const result = this.#machine.apply({
        index: entry.index,
        timestamp: entry.timestamp,
        type: entry.type,
        payload: entry.data,
      });
      this.#onApplied?.(entry);
      const pending = this.#pending.get(entry.index);
      if (pending === undefined) continue;
      this.#pending.delete(entry.index);
      if (pending.term === entry.term) pending.resolve(result);
      else pending.reject(noLeader(this.#leaderId));
    }
  }

  #serveReads(readStates: ReadState[]): void {
    for (const read of readStates) {
      const pending = this.#reads.get(read.requestId);
      if (pending === undefined) continue;
      assert.ok(this.#machine.appliedIndex >= read.index, "reads are served after applying");
      this.#reads.delete(read.requestId);
      pending.resolve();
    }
  }

  #changeRole(soft: { role: Role; leaderId: NodeId | null }): void {
    const wasLeader = this.#role === "leader";
    this.#role = soft.role;
    this.#leaderId = soft.leaderId;
    if (wasLeader && soft.role !== "leader") {
      // Reads in flight can no longer be confirmed by this node.
      for (const read of this.#reads.values()) read.reject(noLeader(soft.leaderId));
      this.#reads.clear();
    }
    const change = { role: soft.role, leaderId: soft.leaderId, term: this.#raft.status().term };
    for (const handler of this.#roleHandlers) handler(change);
  }

  /** See raft_recovery.ts for why both conditions are needed. */
  #checkRepaired(): void {
    const target = this.#repairTarget;
    if (target === null) return;
    const status = this.#raft.status();
    if (status.commit < target || status.leaderId === null) return;
    if (this.#storage.term(status.commit) !== status.term) return;
    this.#warn(`log repaired up to ${status.commit} (needed ${target}); voting again`);
    this.#repairTarget = null;
    this.#raft.setCanCampaign(true);
  }

  // ---- snapshots -----------------------------------------------------------------------------

  async #takeSnapshot(): Promise<void> {
    const machine = this.#machine;
    const index = machine.appliedIndex;
    const term = this.#log.term(index);
    const lowestReferencedIndex = machine.lowestReferencedIndex();
    const config = this.#config;
    const data = encodeSnapshotContainer({
      index,
      term,
      config,
      lowestReferencedIndex,
      machine: machine.snapshot(),
      entries: [],
    });
    await storeSnapshot(this.#fs, { dir: this.#snapshotsDir, index, data });
    this.#storage.setSnapshot({ index, term, config, lowestReferencedIndex });
    pruneSnapshots(this.#fs, { dir: this.#snapshotsDir, keepIndex: index });
    // Entry `index` itself stays, so the log never starts after the snapshot.
    const keepFrom = Math.min(index, lowestReferencedIndex);
    if (keepFrom > this.#log.firstIndex) await this.#log.deletePrefix(keepFrom);
  }

  async #installSnapshot(snapshot: Snapshot): Promise<void> {
    const container = decodeSnapshotContainer(snapshot.data);
    assert.equal(container.index, snapshot.index, "the container is the snapshot's");
    assert.equal(container.term, snapshot.term, "the container has the snapshot's term");
    // The file goes first: it carries the entries, so a crash before the log is rewritten is
    // repaired at the next open (raft_recovery.ts).
    const dir = this.#snapshotsDir;
    await storeSnapshot(this.#fs, { dir, index: snapshot.index, data: snapshot.data });
    const entries = container.entries;
    const first = entries[0];
    if (first !== undefined) await this.#log.resetTo(first.index - 1, first.term);
    else await this.#log.resetTo(snapshot.index, snapshot.term);
    if (entries.length > 0) {
      this.#log.append(entries);
      await this.#log.sync();
    }
    this.#machine.loadSnapshot(container.machine);
    assert.equal(this.#machine.appliedIndex, snapshot.index, "the machine is at the snapshot");
    this.#config = container.config;
    this.#storage.setSnapshot({
      index: snapshot.index,
      term: snapshot.term,
      config: container.config,
      lowestReferencedIndex: container.lowestReferencedIndex,
    });
    this.#tailTimestamp = entries.at(-1)?.timestamp ?? this.#lastTimestamp;
    this.#lastTimestamp = Math.max(this.#lastTimestamp, this.#tailTimestamp);
    const unknown = new ApiError("NotReady", "outcome unknown", { retryAfterSeconds: 1 });
    for (const index of [...this.#pending.keys()]) {
      if (index <= snapshot.index) this.#settle(index, unknown);
    }
    pruneSnapshots(this.#fs, { dir, keepIndex: snapshot.index });
  }

  #fail(error: unknown): void {
    if (this.#closed) return; // a stopped node's leftovers failing is expected
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#failure ??= failure;
    this.#warn(`replica stopped: ${failure.stack ?? failure.message}`);
    this.#rejectAll(new ApiError("NotReady", `replica failed: ${failure.message}`));
  }
}

function noLeader(leaderId: string | null): ApiError {
  const where = leaderId === null ? "no leader is known" : `the leader is ${leaderId}`;
  return new ApiError("NoLeader", `not the leader; ${where}`, { retryAfterSeconds: 1 });
}
