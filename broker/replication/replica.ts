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
 * A leader sends its appends before persisting them, so its fsync and the followers' overlap
 * (see `#handleReady`), and a commit learned while a Ready is being persisted is applied at once
 * (`#applyCommittedMidReady`). Persisting itself is `log_writer.ts`.
 *
 * Proposals and peer messages that arrive while a Ready is being persisted go into the next
 * Ready: one write, one fdatasync and one append message per follower for all of them (group
 * commit). The leader stamps every entry with cluster time (`cluster_clock.ts`: the monotonic
 * clock, slewed towards the wall clock, never below the log's last stamp).
 *
 * Snapshots: `snapshot_writer.ts` (written beside the loop), `snapshot_container.ts` (container),
 * `log_storage.ts` (what Raft sees). Opening: `recovery.ts`, with why a node with a damaged log
 * refuses to vote until repaired.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SegmentLog } from "../../storage/mod.ts";
import {
  applyConfigChange,
  type ConfigChange,
  type ConfigState,
  decodeConfigChange,
  type Entry,
  EntryType,
  type HardState,
  type LogIndex,
  type Message,
  type NodeId,
  nodeId,
  RaftNode,
  type Ready,
  type Removal,
  type Role,
  type Snapshot,
  type Term,
} from "../../raft/mod.ts";
import { fromRaftError, noLeader, outcomeUnknown, ReplicationError, stopLine } from "./errors.ts";
import type {
  AppliedEntry,
  Applier,
  ClockLike,
  LogReader,
  Proposer,
  Timers,
  Transport,
} from "./types.ts";
import { RaftLogStorage } from "./log_storage.ts";
import { readApplied } from "./applied_read.ts";
import { stopRefusal, tooManyWrites } from "./refusals.ts";
import { RaftLogWriter } from "./log_writer.ts";
import { durablePrefix } from "./durable_prefix.ts";
import { installReceivedSnapshot, type SnapshotParts, snapshotParts } from "./snapshot_io.ts";
import { SnapshotWriter } from "./snapshot_writer.ts";
import { Outstanding, type ProposalWaiters, type ReadWaiters } from "./waiters.ts";
import { ClusterClock } from "./cluster_clock.ts";
import { RemovalWatch } from "./removal_watch.ts";
import { type RecoveredState, recoverReplica } from "./recovery.ts";
import { TrustWatch } from "./lost_state.ts";
import {
  commitPersistPolicy,
  type PeerStatus,
  type RaftReplicaOptions,
  type RaftReplicaStatus,
  type ReplicaSettings,
  replicaSettings,
  replicaStatus,
  type RoleChange,
} from "./replica_status.ts";

export type { PeerStatus, RaftReplicaOptions, RaftReplicaStatus, RoleChange };

const construction = Symbol("RaftReplica.open");

/**
 * One Raft group's replica on this node, behind the `Proposer` and `LogReader` contracts.
 *
 * @example
 * ```ts
 * const replica = await RaftReplica.open({ nodeId: "n1", log, machine, transport, fs,
 *   snapshotsDir, initialVoters: ["n1", "n2", "n3"], clock, timers, prng: createPrng(seed) });
 * ```
 */
export class RaftReplica implements Proposer, LogReader {
  readonly #id: NodeId;
  readonly #log: SegmentLog;
  readonly #machine: Applier;
  readonly #transport: Transport;
  readonly #monotonic: ClockLike;
  readonly #timers: Timers;
  /** What taking and installing snapshots works on. */
  readonly #snapshotParts: SnapshotParts;
  readonly #storage: RaftLogStorage;
  readonly #raft: RaftNode;
  readonly #settings: ReplicaSettings;
  readonly #warn: (message: string) => void;
  readonly #expectedStop: (error: Error) => string | null;
  readonly #hooks: Pick<RaftReplicaOptions, "onApplied" | "onSnapshotInstalled">; // the owner's
  readonly #waiting: Outstanding;
  readonly #pending: ProposalWaiters;
  readonly #reads: ReadWaiters;
  readonly #roleHandlers: Array<(change: RoleChange) => void> = [];
  readonly #failureHandlers: Array<(error: Error) => void> = [];
  #config: ConfigState;
  /** Whether this node distrusts its log, and its repair (see recovery.ts, lost_state.ts). */
  readonly #trust: TrustWatch;
  #ticks = 0;
  /** Stamps proposals; never below any entry stored here. */
  readonly #time: ClusterClock;
  readonly #writer: RaftLogWriter;
  readonly #failRead = (error: unknown) => this.#fail(error); // made once: `entry` is hot
  readonly #snapshots = new SnapshotWriter(() => this.#snapshotParts, {
    onStored: () => this.#kick(),
    onError: this.#failRead,
  });
  #readCounter = 0;
  #tickTimer: unknown = null;
  #driving: Promise<void> | null = null;
  /** The Ready being handled has had all its committed entries applied (see below). */
  #readyApplied = false;
  /** True from the start of a Ready loop until its last synchronous step. */
  #running = false;
  #role: Role = "follower";
  #leaderId: NodeId | null = null;
  #closed = false;
  /** Set by close(): new proposals are refused while those in the log settle. */
  #closing = false;
  #failure: Error | null = null;
  /** Stopped or failed: a Ready goes no further at its next step (see `#handleReady`). */
  get #halted(): boolean {
    return this.#closed || this.#failure !== null;
  }
  readonly #removal = new RemovalWatch((line) => this.#warn(line));

  /** Use `RaftReplica.open`. */
  constructor(token: symbol, options: RaftReplicaOptions & { recovered: RecoveredState }) {
    assert.equal(token, construction, "use RaftReplica.open");
    const { recovered } = options;
    this.#id = nodeId(options.nodeId);
    this.#log = options.log;
    this.#machine = options.machine;
    this.#transport = options.transport;
    this.#monotonic = options.monotonic ?? options.clock;
    this.#timers = options.timers;
    this.#warn = options.warn ?? ((message) => console.error(`[raft ${options.nodeId}]`, message));
    this.#expectedStop = options.expectedStop ?? (() => null);
    const { onApplied, onSnapshotInstalled } = options;
    this.#hooks = { onApplied, onSnapshotInstalled };
    this.#settings = replicaSettings(options);
    this.#waiting = new Outstanding(this.#monotonic, this.#settings.proposalTimeoutMs);
    this.#pending = this.#waiting.proposals;
    this.#reads = this.#waiting.reads;
    this.#config = recovered.config;
    this.#time = new ClusterClock({ wall: options.clock, monotonic: this.#monotonic }, {
      tailTimestamp: recovered.tailTimestamp, // 0 (no time) for a new group: the wall clock
      slewRate: options.clockSlewRate,
    });
    const hard = options.log.readHardState();
    this.#storage = new RaftLogStorage(options.log, {
      snapshot: recovered.snapshot,
      hardState: { term: hard.term, vote: hard.vote, commit: hard.commit } as HardState,
      fs: options.fs,
      snapshotsDir: options.snapshotsDir,
    });
    const { fs, snapshotsDir, log, machine } = options;
    const parts = { log, machine, storage: this.#storage, fs, snapshotsDir, warn: this.#warn };
    this.#snapshotParts = snapshotParts(parts, () => this.#raft);
    this.#snapshots.applied(recovered.replayedBytes);
    const policy = commitPersistPolicy(this.#settings);
    this.#writer = new RaftLogWriter(
      { log: options.log, storage: this.#storage, clock: this.#monotonic },
      { tailTimestamp: recovered.tailTimestamp, policy },
    );
    const core = this.#settings.core;
    const trust = { storage: this.#storage, log: options.log, warn: this.#warn };
    this.#trust = new TrustWatch(recovered.repair, { ...trust, electionTicks: core.electionTicks });
    this.#raft = new RaftNode({
      ...core,
      id: this.#id,
      storage: this.#storage,
      snapshotSink: this.#snapshotParts.sink,
      prng: options.prng,
      appliedIndex: options.machine.appliedIndex as LogIndex,
      canCampaign: recovered.repair === null,
      fresh: recovered.fresh,
    });
    this.#removal.check(this.#raft); // its log may say so (later, only a step changes configs)
    this.#transport.onMessage((message) => this.#receive(message));
    this.#transport.onUnreachable((peer) => {
      if (!this.#halted) this.#raft.reportUnreachable(peer);
    });
    this.#scheduleTick();
  }

  /**
   * Recovers the replica from its snapshot files and log (see `recovery.ts`) and starts
   * ticking. The log must be open; the machine is loaded in place.
   */
  static async open(options: RaftReplicaOptions): Promise<RaftReplica> {
    const warn = options.warn ?? ((message) => console.error(`[raft ${options.nodeId}]`, message));
    const recovered = await recoverReplica({ ...options, warn });
    return new RaftReplica(construction, { ...options, warn, recovered });
  }

  /** This node's id. */
  get id(): string {
    return this.#id;
  }

  /** The leader this node knows of (itself when leading), or null (always once closed). */
  get leaderId(): string | null {
    return this.#closed ? null : this.#leaderId;
  }

  /** True while this node leads its group (never once closed: nothing may route to it). */
  get isLeader(): boolean {
    return this.#role === "leader" && !this.#closed;
  }

  /** Set while this node knows it is no longer a member (`removal_watch.ts`). */
  get removal(): Removal | null {
    return this.#removal.removal;
  }

  /** The configuration as of the applied index (`status().config`'s may be uncommitted). */
  get appliedConfig(): ConfigState {
    return { voters: [...this.#config.voters], learners: [...this.#config.learners] };
  }

  /** Highest index applied to the state machine. */
  get appliedIndex(): number {
    return this.#machine.appliedIndex;
  }

  /** The error that stopped this replica (a failed write, a broken invariant), if any. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Cluster time now (see `cluster_clock.ts`), for views and timers; never stamps. */
  now(): number {
    return this.#time.now();
  }

  /**
   * Calls `handler` once if the replica stops on a failure (a failed write or fsync, a broken
   * invariant); it then refuses everything and claims no leader. The owner ends the process.
   */
  onFailure(handler: (error: Error) => void): void {
    this.#failureHandlers.push(handler);
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
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    if (this.#pending.size >= this.#settings.pendingProposalsMax) {
      return Promise.reject(tooManyWrites());
    }
    const timestamp = this.#time.stamp();
    let proposal: { index: LogIndex; term: Term };
    try {
      proposal = this.#raft.propose(payload, { type, timestamp });
    } catch (error) {
      return Promise.reject(fromRaftError(error));
    }
    const promise = this.#waiting.track(proposal, () => noLeader(this.#leaderId));
    this.#kick();
    return promise;
  }

  /** Proposes a membership change; resolves once it is committed and applied. */
  proposeConfigChange(change: { type: ConfigChange["type"]; nodeId: string }): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    let proposal: { index: LogIndex; term: Term };
    try {
      proposal = this.#raft.proposeConfigChange({
        type: change.type,
        nodeId: nodeId(change.nodeId),
      });
    } catch (error) {
      return Promise.reject(fromRaftError(error));
    }
    const promise = this.#waiting.track(proposal, () => noLeader(this.#leaderId))
      .then(() => undefined);
    this.#kick();
    return promise;
  }

  /** Hands leadership to `to` (a voter); proposals are refused while it happens. */
  transferLeadership(to: string): void {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    try {
      this.#raft.transferLeadership(nodeId(to));
    } catch (error) {
      throw fromRaftError(error);
    }
    this.#kick();
  }

  /**
   * Resolves once this node has confirmed it still leads (a ReadIndex round) and has applied
   * everything committed before the call: a local read after it is linearizable.
   */
  readBarrier(): Promise<void> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.reject(refusal);
    const requestId = `${this.#id}:${++this.#readCounter}`;
    try {
      this.#raft.readIndex(requestId);
    } catch (error) {
      return Promise.reject(fromRaftError(error));
    }
    const promise = this.#waiting.read(requestId);
    this.#kick();
    return promise;
  }

  /** Reads an applied entry back (see `readApplied`: a failed read stops the replica). */
  entry(index: number, copy = true): AppliedEntry {
    return readApplied(this.#log, this.#machine.appliedIndex, index, copy, this.#failRead);
  }

  /** This replica's view of the group. */
  status(): RaftReplicaStatus {
    return replicaStatus(this.#raft.status(), {
      applied: this.#machine.appliedIndex,
      snapshotIndex: this.#storage.snapshotMeta.index,
      halted: this.#halted,
    });
  }

  /** Starts an election now (a no-op when not allowed). */
  campaign(): void {
    if (this.#halted) return; // a failed node starts no election, even in memory
    this.#raft.campaign();
    this.#kick();
  }

  /**
   * Stops: first refuses new proposals ("shutting down": never in the log), then lets those
   * already in the log settle for up to `drainMsMax`, then answers the rest "outcome unknown"
   * (they may still commit elsewhere), waits for the current Ready's step in flight (it goes no
   * further) and writes the final hard state. The log stays open (the owner closes it).
   */
  async close(options: { drainMsMax?: number } = {}): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    await this.#waiting.drain(this.#timers, {
      msMax: options.drainMsMax ?? 0,
      everyMs: this.#settings.tickMs,
      stop: () => this.#failure !== null,
    });
    const unknown = "node stopped; the outcome of this write is unknown";
    this.#stop(outcomeUnknown(unknown));
    await this.#driving?.catch(() => {});
    await this.#snapshots.settled();
    this.#snapshotParts.sink.close(); // a transfer not installed is not kept
    if (this.#failure !== null) return;
    try {
      await this.#writer.flush();
    } catch (error) {
      this.#warn(`final hard state not written: ${(error as Error).message}`);
    }
  }

  /** Stops at once without touching storage, as a killed process would (simulations). */
  abandon(): void {
    if (this.#closed) return;
    this.#stop(outcomeUnknown("node stopped; outcome unknown", {}));
  }

  #stop(error: ReplicationError): void {
    this.#closed = true;
    if (this.#tickTimer !== null) this.#timers.clearTimer(this.#tickTimer);
    this.#tickTimer = null;
    this.#waiting.rejectAll(error);
  }

  // ---- requests ------------------------------------------------------------------------------

  /** Why a proposal made now would be refused (not leader, stopped), or null. */
  refusal(): ReplicationError | null {
    const stopped = stopRefusal(this.#closed || this.#closing, this.#failure);
    if (stopped !== null || this.#role === "leader") return stopped;
    return this.#removal.refusal() ?? noLeader(this.#leaderId);
  }

  // ---- the loop ------------------------------------------------------------------------------

  #receive(message: Message): void {
    if (this.#halted) return;
    try {
      this.#raft.step(message);
      this.#applyCommittedMidReady();
    } catch (error) {
      return this.#fail(error);
    }
    this.#kick();
  }

  #scheduleTick(): void {
    this.#tickTimer = this.#timers.setTimer(this.#settings.tickMs, () => {
      if (this.#closed) return;
      if (this.#failure === null) {
        this.#ticks++;
        try {
          this.#raft.tick(); // may resend a snapshot chunk, read from its file: errors stop us
        } catch (error) {
          return this.#fail(error); // thrown from a timer, it would end the process
        }
        this.#waiting.expire();
        this.#kick();
      }
      this.#scheduleTick();
    });
  }

  /** Starts the Ready loop unless it runs (it re-checks `hasReady` after every advance). */
  #kick(): void {
    this.#removal.check(this.#raft); // after every step and tick (a lease may have run out)
    if (this.#running || this.#halted) return;
    const due = this.#writer.commitPersistDue() || this.#snapshots.stored;
    if (!this.#raft.hasReady() && !due) return;
    this.#running = true;
    this.#driving = this.#drive();
  }

  async #drive(): Promise<void> {
    await Promise.resolve(); // let the proposals of this turn join the Ready
    try {
      while (!this.#halted) {
        this.#snapshots.adopt(); // a snapshot written in the background (no Ready outstanding)
        if (this.#raft.hasReady()) {
          await this.#handleReady(this.#raft.ready());
        } else if (this.#writer.commitPersistDue()) {
          this.#writer.persistCommitInBackground((error) => {
            if (error !== undefined) this.#fail(error);
            else this.#kick();
          });
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

  /**
   * A commit learned while a Ready is being persisted (a follower's ack during the leader's
   * fsync) is applied at once rather than after the write and a whole next Ready: under load
   * that was a third of a replicated write's latency. Only entries durable here, and only once
   * the Ready's own committed entries are applied, so the order of application holds.
   */
  #applyCommittedMidReady(): void {
    if (!this.#readyApplied) return;
    const entries = this.#raft.takeCommittedEntries(this.#log.durableIndex as LogIndex);
    if (entries.length > 0) this.#apply(entries);
  }

  async #handleReady(ready: Ready): Promise<void> {
    this.#readyApplied = false; // before any await: no commit may jump this Ready's entries
    const lost = this.#trust.noteLost(this.#raft); // a fresh node's loss: durable before its log
    if (lost !== null) await lost;
    let committed = ready.committedEntries;
    // Committed entries already durable here are applied while this Ready's own write is
    // flushed, so their answers don't wait for that fsync (a leader learns of a commit one Ready
    // after persisting: this keeps a commit at one fsync) and the engine runs beside the disk.
    const split = durablePrefix(ready, this.#log.durableIndex); // (none this Ready writes)
    const durableFirst = committed.slice(0, split);
    committed = committed.slice(split);
    // A leader that stays leader sends before it writes (dissertation §10.2.1): the followers'
    // writes and fsyncs then run alongside its own instead of after it, which takes one fsync
    // (and a Ready turn) off every replicated write's latency. Safe because the core counts the
    // leader's own log toward a commit only once advance() says it is durable, and nothing a
    // leader sends vouches for its own disk. Acks, votes and a new term do: the core marks
    // only a Ready whose messages vouch for none of them (`sendFirst`; see raft's doc.ts).
    const sendFirst = ready.sendFirst === true && this.#role === "leader";
    if (sendFirst) {
      this.#writer.stamp(ready.entries); // entries Raft made itself leave with their timestamp
      this.#transport.send(ready.messages);
    }
    if (ready.snapshot !== undefined) await this.#installSnapshot(ready.snapshot);
    if (this.#halted) return; // stopped or failed meanwhile (a node noting a loss never leads)
    const appended = ready.entries.length > 0 ? this.#appendEntries(ready.entries) : null;
    if (appended !== null && durableFirst.length > 0) {
      appended.catch(() => {}); // awaited below; this turn must not report it unhandled
      await null; // the log's flush round starts on a microtask: let it dispatch the fsync
    }
    if (!this.#halted) this.#apply(durableFirst); // (none after a snapshot; none once halted)
    // Commits learned from now on may be applied mid-Ready: they follow these in order.
    this.#readyApplied = ready.snapshot === undefined && committed.length === 0;
    if (appended !== null) await appended;
    if (ready.hardState !== undefined) await this.#writer.persistHardState(ready.hardState);
    if (this.#halted) return; // stopped or failed: nothing more
    if (!sendFirst) this.#transport.send(ready.messages);
    this.#apply(committed);
    this.#readyApplied = true;
    this.#reads.serve(ready.readStates, this.#machine.appliedIndex);
    if (ready.softState !== undefined) this.#changeRole(ready.softState);
    this.#raft.advance(ready);
    await this.#trust.settle(this.#raft, this.#ticks); // trusts the log again once repaired
    if (this.#halted) return; // a stopped or failed node starts no snapshot
    const { snapshotEntriesInterval: entries, snapshotBytesInterval: bytes } = this.#settings;
    this.#snapshots.startIfDue(this.#config, { entries, bytes }); // written beside the loop
  }

  // ---- persisting ----------------------------------------------------------------------------

  async #appendEntries(entries: Entry[]): Promise<void> {
    await this.#writer.append(entries, (first) => {
      // Raft never truncates committed entries: every pending proposal from `first` on lost.
      this.#pending.rejectWhere((index) => index >= first, () => noLeader(this.#leaderId));
    });
    // A follower's entries are the leader's timeline: its time follows them, even down.
    if (this.isLeader) this.#time.observe(this.#writer.tailTimestamp);
    else this.#time.follow(this.#writer.tailTimestamp);
  }

  // ---- applying ------------------------------------------------------------------------------

  #apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.timestamp === undefined) assert.fail(`entry ${entry.index} was stamped`);
      if (entry.type === EntryType.ConfigChange) {
        this.#config = applyConfigChange(this.#config, decodeConfigChange(entry.data));
      }
      const result = this.#machine.apply({
        index: entry.index,
        timestamp: entry.timestamp,
        type: entry.type,
        payload: entry.data,
      });
      this.#hooks.onApplied?.(entry);
      this.#snapshots.applied(entry.data.length);
      this.#pending.settleApplied(entry.index, entry.term, result, () => noLeader(this.#leaderId));
    }
  }

  #changeRole(soft: { role: Role; leaderId: NodeId | null }): void {
    const wasLeader = this.#role === "leader";
    this.#role = soft.role;
    this.#leaderId = soft.leaderId;
    if (wasLeader && soft.role !== "leader") {
      // Reads in flight can no longer be confirmed by this node.
      this.#reads.rejectAll(noLeader(soft.leaderId));
    }
    const change = { role: soft.role, leaderId: soft.leaderId, term: this.#raft.status().term };
    for (const handler of this.#roleHandlers) handler(change);
  }

  // ---- snapshots -----------------------------------------------------------------------------

  async #installSnapshot(snapshot: Snapshot): Promise<void> {
    const installed = await installReceivedSnapshot(this.#snapshotParts, snapshot);
    this.#config = installed.config;
    this.#writer.tailTimestamp = installed.tailTimestamp ?? this.#writer.tailTimestamp;
    if (installed.tailTimestamp !== null) this.#time.follow(installed.tailTimestamp);
    this.#pending.rejectWhere((index) => index <= snapshot.index, outcomeUnknown);
    this.#hooks.onSnapshotInstalled?.({ index: snapshot.index });
  }

  #fail(error: unknown): void {
    if (this.#halted) return; // a stopped node's leftovers may fail
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#failure = failure;
    this.#warn(stopLine(failure, this.#expectedStop(failure)));
    // Writes in the log may still commit on the other voters.
    this.#waiting.rejectAll(outcomeUnknown(`replica failed: ${failure.message}`, {}));
    // Claim no leader: clients pinned to this node must go elsewhere, not wait on a zombie.
    if (this.#role !== "follower" || this.#leaderId !== null) {
      this.#changeRole({ role: "follower", leaderId: null });
    }
    for (const handler of this.#failureHandlers) handler(failure);
  }
}
