/**
 * The cluster-health lines of `/metrics` (Prometheus text), as this node sees them: its term,
 * role and leader, its commit index, the membership, on the leader each other member's lag and
 * silence, elsewhere the leader's silence, the peer connections, whether it distrusts its log,
 * and the disk guard. Everything is read at scrape time from the replica's status and the times
 * `PeerContact` noted, except two counters that count role changes as the replica reports them
 * (they start at 0 with the process, as Prometheus counters may).
 *
 * @module
 */
import type { PeerRefusals, RaftReplicaStatus, RoleChange } from "../replication/mod.ts";
import { leaderHeardLately } from "./readiness.ts";

/** What the lines are read from. */
export interface RaftMetricsParts {
  replica: {
    status(): RaftReplicaStatus;
    onRoleChange(handler: (change: RoleChange) => void): void;
  };
  /** Peer connections and silences (`PeerContact`). */
  peers: {
    connected(id: string): boolean | null;
    silentMs(id: string): number;
    heardMsAgo(id: string): number | null;
    /** Null when the transport has no connections (a one-voter group). */
    refusals(): PeerRefusals | null;
  };
  /** The disk guard (`DiskGuard`): `freeBytes` is Infinity until it read any (or when off). */
  disk: () => { low: boolean; freeBytes: number };
  /**
   * `leaderSilenceMsMax` of the replica's election timeout: past it without a message from the
   * leader this node names, `cmqd_raft_leader_known` is 0 (as `/readyz` is 503).
   */
  leaderSilenceMsMax: number;
}

/** The roles `cmqd_raft_role` reports, as `/v1/cluster` names them. */
const roles = ["leader", "follower", "candidate", "learner"] as const;

/**
 * Counts this node's leader changes and elections from the moment it is made (make it right
 * after the replica opens), and renders the lines.
 *
 * @example
 * ```ts
 * const raftMetrics = new RaftMetrics({
 *   replica,
 *   peers,
 *   disk: () => diskGuard,
 *   leaderSilenceMsMax: leaderSilenceMsMax(1000),
 * });
 * const text = raftMetrics.text();
 * ```
 */
export class RaftMetrics {
  readonly #parts: RaftMetricsParts;
  #role: string;
  /** The leadership last counted: a leader and its term. */
  #leader: { id: string; term: number } | null = null;
  #leaderChanges = 0;
  #elections = 0;

  constructor(parts: RaftMetricsParts) {
    this.#parts = parts;
    const status = parts.replica.status();
    this.#role = status.role;
    if (status.leaderId !== null) this.#leader = { id: status.leaderId, term: status.term };
    parts.replica.onRoleChange((change) => this.#observe(change));
  }

  #observe(change: RoleChange): void {
    // An election bumps the term as the node becomes a candidate. A one-voter group wins its
    // election within one step, so the replica reports it as leader without a candidate role.
    if (change.role === "candidate" && this.#role !== "candidate") this.#elections++;
    if (change.role === "leader" && this.#role !== "candidate" && this.#role !== "leader") {
      this.#elections++;
    }
    this.#role = change.role;
    const leader = this.#leader;
    if (
      change.leaderId !== null && (leader?.id !== change.leaderId || leader.term !== change.term)
    ) {
      this.#leaderChanges++;
      this.#leader = { id: change.leaderId, term: change.term };
    }
  }

  /** The lines, ending with a newline. */
  text(): string {
    const status = this.#parts.replica.status();
    const { voters, learners } = status.config;
    const lines: string[] = [];
    const family = (name: string, type: "gauge" | "counter", help: string, samples: string[]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const sample of samples) lines.push(`${name}${sample}`);
    };
    const role = roleOf(status);
    const known = leaderHeardLately(
      { id: status.id, isLeader: status.role === "leader", leaderId: status.leaderId },
      (id) => this.#parts.peers.heardMsAgo(id),
      this.#parts.leaderSilenceMsMax,
    );
    family(
      "cmqd_raft_term",
      "gauge",
      "The Raft term this node is in (each election starts a new one).",
      [` ${status.term}`],
    );
    family(
      "cmqd_raft_role",
      "gauge",
      "1 for the role this node plays now (leader, follower, candidate, learner: a pre-candidate counts as candidate, as in /v1/cluster), 0 for the others.",
      roles.map((name) => `{role="${name}"} ${name === role ? 1 : 0}`),
    );
    family(
      "cmqd_raft_leader_known",
      "gauge",
      "1 when this node knows a leader it can reach (itself included), 0 while it knows none, or the leader it names has sent nothing for two election timeouts (a node that may not campaign keeps naming a lost leader): it then relays nothing and /readyz answers 503. A leader handing its leadership over stays 1 (it still names itself) while /readyz answers 503 and it refuses writes.",
      [` ${known ? 1 : 0}`],
    );
    family(
      "cmqd_raft_commit_index",
      "gauge",
      "Highest log index this node knows to be committed (cmqd_applied_index follows it).",
      [` ${status.commit}`],
    );
    family(
      "cmqd_raft_leader_changes_total",
      "counter",
      "Times this node saw a new leader (a new leader id or term; its first leader too) since it started.",
      [` ${this.#leaderChanges}`],
    );
    family(
      "cmqd_raft_elections_started_total",
      "counter",
      "Elections this node started since it started (it became a candidate, in a new term), won or not.",
      [` ${this.#elections}`],
    );
    family("cmqd_raft_voters", "gauge", "Voters in the membership this node knows.", [
      ` ${voters.length}`,
    ]);
    family("cmqd_raft_learners", "gauge", "Learners in the membership this node knows.", [
      ` ${learners.length}`,
    ]);
    const leading = status.role === "leader";
    family(
      "cmqd_raft_follower_lag_entries",
      "gauge",
      "On the leader only: entries of the leader's log another member has not acknowledged (the leader's last index minus its match index).",
      leading ? status.peers.map((peer) => `{node="${peer.id}"} ${peer.lag}`) : [],
    );
    family(
      "cmqd_raft_follower_last_contact_seconds",
      "gauge",
      "On the leader only: seconds since a Raft message from another member last arrived at this node (since this node started if none has).",
      leading
        ? status.peers.map((peer) =>
          `{node="${peer.id}"} ${Math.round(this.#parts.peers.silentMs(peer.id)) / 1000}`
        )
        : [],
    );
    // The leader this node follows: the current one, or while it knows none, the last it knew
    // (so the silence keeps growing while it campaigns cut off, rather than vanishing).
    const followed = leading ? null : status.leaderId ?? this.#leader?.id ?? null;
    const leaderSilentMs = followed === null || followed === status.id
      ? null
      : this.#parts.peers.heardMsAgo(followed);
    family(
      "cmqd_raft_leader_last_contact_seconds",
      "gauge",
      "Not on the leader: seconds since a Raft message from the leader last arrived at this node (the current leader, or while it knows none the last one it knew; absent until it has heard from one, and on a node that led last).",
      leaderSilentMs === null ? [] : [` ${Math.round(leaderSilentMs) / 1000}`],
    );
    const others = [...voters, ...learners].filter((id) => id !== status.id);
    const connections = others.map((id) => [id, this.#parts.peers.connected(id)] as const)
      .filter(([, connected]) => connected !== null);
    family(
      "cmqd_peer_connected",
      "gauge",
      "1 while this node's peer connection to another member (the one it sends Raft messages on) is up, 0 while it is down.",
      connections.map(([id, connected]) => `{node="${id}"} ${connected ? 1 : 0}`),
    );
    const refusals = this.#parts.peers.refusals();
    family(
      "cmqd_peer_refusals_total",
      "counter",
      "Peer connections this node refused or found in conflict since start, by reason: other_cluster (the hello announced another cluster id: a node of another cluster, or one started with another --peers list), own_node_id (the hello claimed this node's own id), node_id_twice (a member id connected announcing another peer address while its connection was open: two processes with one --node-id, or a member that moved). Each is logged, rate-limited.",
      refusals === null ? [] : [
        `{reason="other_cluster"} ${refusals.otherCluster}`,
        `{reason="own_node_id"} ${refusals.ownNodeId}`,
        `{reason="node_id_twice"} ${refusals.nodeIdConflicts}`,
      ],
    );
    family(
      "cmqd_peer_refused_by_peer_total",
      "counter",
      "This node's peer connections the other side refused since start, by reason: other_cluster (it proved the cluster key and refused this node's cluster id; the log names both ids), unproven (a refusal that did not prove the key: another key, or not a cmqd node). Each is logged, rate-limited.",
      refusals === null ? [] : [
        `{reason="other_cluster"} ${refusals.byPeer.otherCluster}`,
        `{reason="unproven"} ${refusals.byPeer.unproven}`,
      ],
    );
    family(
      "cmqd_log_distrusted",
      "gauge",
      "1 while this node distrusts its own log (storage found damage at open): it neither campaigns nor votes until the leader has repaired it, 0 otherwise.",
      [` ${status.canCampaign ? 0 : 1}`],
    );
    const disk = this.#parts.disk();
    family(
      "cmqd_disk_alarm",
      "gauge",
      "1 while free space on the data directory is below --min-free-disk-mb and this node refuses sends (507), 0 otherwise or when the guard is off.",
      [` ${disk.low ? 1 : 0}`],
    );
    family(
      "cmqd_disk_free_bytes",
      "gauge",
      "Free bytes on the data directory's file system at the disk guard's last reading (absent when the guard is off).",
      Number.isFinite(disk.freeBytes) ? [` ${disk.freeBytes}`] : [],
    );
    return lines.join("\n") + "\n";
  }
}

function roleOf(status: RaftReplicaStatus): (typeof roles)[number] {
  if (status.role === "leader") return "leader";
  if (status.role !== "follower") return "candidate";
  const learners: string[] = status.config.learners;
  return learners.includes(status.id) ? "learner" : "follower";
}
