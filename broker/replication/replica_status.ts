/**
 * The options and reports of `RaftReplica` (split from `replica.ts` to keep it small).
 *
 * @module
 */
import type { FileSystem, SegmentLog } from "../../storage/mod.ts";
import type {
  ConfigState,
  Entry,
  Prng,
  RaftNodeOptions,
  RaftStatus,
  Removal,
  Role,
} from "../../raft/mod.ts";
import type { Applier, ClockLike, Timers, Transport } from "./types.ts";
import type { CommitPersistPolicy } from "./log_writer.ts";
import type { ForceNewClusterOptions } from "./force_new_cluster.ts";
import type { RecoveryOptions } from "./recovery.ts";

/** How to open a `RaftReplica`. */
export interface RaftReplicaOptions {
  nodeId: string;
  /** The group's log, opened (and recovered) by the caller, who also closes it. */
  log: SegmentLog;
  /** Loaded in place from the newest snapshot; the `EngineService` may already hold it. */
  machine: Applier;
  transport: Transport;
  /** The wall clock: cluster time slews towards it (see `cluster_clock.ts`). */
  clock: ClockLike;
  /**
   * A monotonic clock (never jumps; `performance.now()` in production): cluster time advances
   * by it, and proposal and read timeouts run on it. Defaults to `clock`.
   */
  monotonic?: ClockLike;
  /** How far cluster time may run faster or slower than the monotonic clock. 0.01. */
  clockSlewRate?: number;
  /** Drives ticks and nothing else (`realTimers` in production). */
  timers: Timers;
  /** Randomizes election timeouts (a seeded one in simulations). */
  prng: Prng;
  fs: FileSystem;
  snapshotsDir: string;
  /** Bootstrap membership, used only when no snapshot exists yet (a brand-new data dir). */
  initialVoters: string[];
  /**
   * The node joins a running group (`--join`): on an empty log it starts as any node with a log
   * does, not fresh (see `lost_state.ts`); the join refuses it under the id of a voter. false.
   */
  joining?: boolean;
  /** Milliseconds per Raft tick. 100. */
  tickMs?: number;
  /** Ticks without a leader before campaigning (randomized up to twice). 10. */
  electionTicks?: number;
  /** Snapshot after this many applied entries. 10 000. */
  snapshotEntriesInterval?: number;
  /**
   * ... or after this many payload bytes applied since the last snapshot, whatever the entry
   * count: bounds what a restart replays (and CRC-checks) when entries are big (a 10,000-entry
   * window of 256-message batches of 2 KB is 5 GB). 256 MiB.
   */
  snapshotBytesInterval?: number;
  /** A proposal or read without an outcome after this long is answered NotReady. 10 000. */
  proposalTimeoutMs?: number;
  /** Proposals in flight at once; past it propose answers NotReady. 100 000. */
  pendingProposalsMax?: number;
  /** Persist the commit index in the hard state at least this often (ms). 3000. */
  commitPersistIntervalMs?: number;
  /** ... or after it advanced this many entries. 10 000. */
  commitPersistEntries?: number;
  /**
   * ... or after this many payload bytes were appended: a restart reads the entries past the
   * persisted commit back through Raft, copied, before applying them. 64 MiB.
   */
  commitPersistBytes?: number;
  /** Extra limits for the Raft core (inflight, chunk sizes...). */
  raft?: Partial<Omit<RaftNodeOptions, "id" | "storage" | "prng" | "appliedIndex">>;
  /**
   * Make this node the sole voter of its group at open, before Raft starts (the survivor of a
   * lost majority, `--force-new-cluster`; see `force_new_cluster.ts`). Absent = no.
   */
  forceNewCluster?: ForceNewClusterOptions;
  /** Where loud warnings go (damaged log, fatal errors). console.error. */
  warn?: (message: string) => void;
  /**
   * The one-line reason of a failure its owner expects and reports itself (an entry a newer
   * release wrote: README, "Upgrading"), else null: such a stop is warned of by that line, any
   * other with its stack. Absent = every failure is unexpected.
   */
  expectedStop?: (error: Error) => string | null;
  /**
   * Called once a snapshot the leader sent is installed: the machine holds its state, and no
   * entry at or below its index is applied here.
   */
  onSnapshotInstalled?: (snapshot: { index: number }) => void;
  /** Called after every applied entry (simulation checkers, metrics). */
  onApplied?: (entry: Entry) => void;
  /**
   * Called at open for each entry past the replay (past the commit index on disk): read, not
   * applied (see `RecoveryOptions.onUnapplied`).
   */
  onUnapplied?: RecoveryOptions["onUnapplied"];
}

/** The Raft core's options the replica runs it with (see `raftTunables`). */
export type RaftTunables = NonNullable<RaftReplicaOptions["raft"]> & {
  electionTicks: number;
  answerTicksMax: number;
};

/** The tunables a running replica reads, with their defaults filled in. */
export type ReplicaSettings =
  & { core: RaftTunables }
  & Required<
    Pick<
      RaftReplicaOptions,
      | "tickMs"
      | "snapshotEntriesInterval"
      | "snapshotBytesInterval"
      | "proposalTimeoutMs"
      | "pendingProposalsMax"
      | "commitPersistIntervalMs"
      | "commitPersistEntries"
      | "commitPersistBytes"
    >
  >;

/** `options`' tunables with the defaults of the ones left out. */
export function replicaSettings(options: RaftReplicaOptions): ReplicaSettings {
  const tickMs = options.tickMs ?? 100;
  return {
    core: raftTunables(options, tickMs),
    tickMs,
    snapshotEntriesInterval: options.snapshotEntriesInterval ?? 10_000,
    snapshotBytesInterval: options.snapshotBytesInterval ?? 256 * 1024 * 1024,
    proposalTimeoutMs: options.proposalTimeoutMs ?? 10_000,
    pendingProposalsMax: options.pendingProposalsMax ?? 100_000,
    commitPersistIntervalMs: options.commitPersistIntervalMs ?? 3_000,
    commitPersistEntries: options.commitPersistEntries ?? 10_000,
    commitPersistBytes: options.commitPersistBytes ?? 64 * 1024 * 1024,
  };
}

/**
 * The election timeout in ms of a replica built with `options` (its tick and election ticks, at
 * their defaults where left out): what a follower waits without hearing its leader before it
 * campaigns.
 */
export function electionTimeoutMs(
  options: Pick<RaftReplicaOptions, "tickMs" | "electionTicks" | "raft">,
): number {
  const tickMs = options.tickMs ?? 100;
  return raftTunables(options as RaftReplicaOptions, tickMs).electionTicks * tickMs;
}

/** How recently the leader must have heard from a member for it to count as answering. */
export const answerWindowMs = 300;

/**
 * The Raft core's tunables as the replica runs it: `options.raft`, the election timeout, and the
 * answer window in ticks (`answerTicksMax`, unless `options.raft` sets it): `answerWindowMs` at
 * the replica's tick, so that it is the same time whatever the tick, but never less than a
 * heartbeat interval and two ticks (a heartbeat answer or two late still answers).
 */
export function raftTunables(options: RaftReplicaOptions, tickMs: number): RaftTunables {
  const raft = options.raft ?? {};
  const electionTicks = options.electionTicks ?? raft.electionTicks ?? 10;
  const answerTicksMax = raft.answerTicksMax ??
    Math.max((raft.heartbeatTicks ?? 1) + 2, Math.round(answerWindowMs / tickMs));
  return { ...raft, electionTicks, answerTicksMax };
}

/** When the commit index is written although term and vote did not change. */
export function commitPersistPolicy(settings: ReplicaSettings): CommitPersistPolicy {
  return {
    intervalMs: settings.commitPersistIntervalMs,
    entries: settings.commitPersistEntries,
    bytes: settings.commitPersistBytes,
  };
}

/** A peer as the leader sees it. */
export interface PeerStatus {
  id: string;
  match: number;
  /** Entries the peer is behind the leader's last index. */
  lag: number;
  state: string;
  /** Ticks (`tickMs` each) since the leader last heard from it; null: not since it leads. */
  silentTicks: number | null;
  /**
   * The leader heard from it within the answer window (`raftTunables`): it counts as up, and
   * Raft's own hand-over (a refused transfer, a `NewTerm` request) would pick it.
   */
  answering: boolean;
  /** It said lately that it may not campaign (see Raft's `ProgressStatus.refusedLead`). */
  refusedLead: boolean;
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
  /** False while the log is distrusted (see `recovery.ts`). */
  canCampaign: boolean;
  /** Empty unless leader. */
  peers: PeerStatus[];
  /** The voter this leader is handing its leadership to, while the transfer runs; else null. */
  leadTransferee: string | null;
  /** How this node knows it is no longer a member (as `/readyz`'s `NodeRemoved` says), or null. */
  removal: Removal | null;
}

/** What `onRoleChange` handlers are told. */
export interface RoleChange {
  role: Role;
  leaderId: string | null;
  term: number;
}

/**
 * The replica's report built from its Raft node's status. A replica that stopped (`halted`:
 * closed or failed) leads nothing and knows no leader, whatever its Raft node last held (it is
 * never stepped again): it reports a follower without a leader and without peers' progress, as
 * its `isLeader` and `leaderId` say, so that `/v1/cluster` and the metrics don't show a failed
 * node as the leader.
 */
export function replicaStatus(
  raft: RaftStatus,
  local: { applied: number; snapshotIndex: number; halted: boolean },
): RaftReplicaStatus {
  const halted = local.halted;
  const peers: PeerStatus[] = halted ? [] : Object.entries(raft.progress)
    .filter(([id]) => id !== raft.id)
    .map(([id, progress]) => ({
      id,
      match: progress.match,
      lag: Math.max(0, raft.lastIndex - progress.match),
      state: progress.state,
      silentTicks: progress.silentTicks,
      answering: progress.answering,
      refusedLead: progress.refusedLead,
    }));
  return {
    id: raft.id,
    role: halted ? "follower" : raft.role,
    term: raft.term,
    leaderId: halted ? null : raft.leaderId,
    commit: raft.commit,
    applied: local.applied,
    lastIndex: raft.lastIndex,
    snapshotIndex: local.snapshotIndex,
    config: { voters: [...raft.config.voters], learners: [...raft.config.learners] },
    canCampaign: raft.canCampaign,
    peers,
    leadTransferee: halted ? null : raft.leadTransferee,
    removal: raft.removal === null ? null : { ...raft.removal },
  };
}
