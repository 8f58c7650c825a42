/**
 * Cluster membership changes on the leader (API: `POST /v1/cluster/nodes`, `DELETE
 * /v1/cluster/nodes/{id}`), and keeping the transport's peer list in step with the replicated
 * member addresses on every node.
 *
 * A join is a single-server change in three replicated steps (Raft dissertation §4.1): record
 * the new node's addresses (`SetMember`, so every node — and every snapshot — can reach it;
 * first those of the members with none recorded, the initial voters of `--peers`),
 * add it as a learner (it receives the log but does not vote), wait until it has caught up, then
 * promote it to voter. Until promotion the quorum is unchanged, so a slow or dead joiner never
 * blocks writes. A join repeated with the same addresses (a retry) carries on where the first
 * stopped; once its node is a voter at those recorded addresses (a joined node's restart with
 * `--join` kept) it is done: answered at once, proposing nothing but the initial voters' addresses
 * still unrecorded, if any. Done means committed: a promotion in the log but not yet committed (a
 * new leader's inherited entry, another join of the node) is waited for, and answered `NotReady`
 * (retried by the joining node) if it does not commit in time. One naming a member (or a node whose join is under way, or one recorded by a join cut
 * short) with other addresses, or
 * another member's addresses (or those of a node whose join is under way), is refused: recording
 * them would cut that member off (every node would dial it at the new address). A removal of a
 * node whose join is under way wins: the join stops at its next step with a refusal (not a 503
 * its joining node would retry) and adds nothing back. The leader's own join (its `--join`
 * repeated at a restart, forwarded back to it) is answered as done: it is a voter.
 *
 * @module
 */
import type { NodeId } from "../../raft/mod.ts";
import type { ClusterInfo, JoinRequest } from "../../sdk/protocol.ts";
import {
  BrokerError,
  CommandType,
  encodeJson,
  invalidParameter,
  type StateMachine,
} from "../engine/mod.ts";
import {
  type RaftReplica,
  ReplicationError,
  type Timers,
  type Transport,
} from "../replication/mod.ts";
import { answersLeader, transferCandidates } from "./hand_off.ts";
import type { DialHints } from "./dial_hints.ts";
import { realTimers } from "./real_time.ts";
import { asBrokerError } from "../service/mod.ts";
import { checkJoin } from "./join_request.ts";

/** Options of `Membership`. */
export interface MembershipOptions {
  nodeId: string;
  /** This node's client URL (a joining node may not claim it). */
  url?: string;
  /** This node's peer address (`host:port`), recorded for it by a join while it leads. */
  peerAddress?: string;
  /**
   * The `--peers` list and the group's initial voters (`bootstrapVoters` of `GET /v1/cluster`):
   * dialled once the log is open, each at its recorded address if it has one, but an initial
   * voter the configuration no longer lists is not (it was removed).
   */
  peers?: { list: { id: string; peerAddress: string }[]; bootstrapVoters?: string[] };
  /**
   * The node runs alone (no `--peers`, `--join` or `--force-new-cluster`): it has no peer port,
   * so it refuses every join.
   */
  alone?: boolean;
  /** The member addresses past the commit index on disk: dialled until applied (`DialHints`). */
  hints?: DialHints;
  replica: RaftReplica;
  machine: StateMachine;
  transport: Transport;
  /** How this node's cluster view is rendered for answers. */
  clusterInfo: () => ClusterInfo;
  /** A learner counts as caught up when it is at most this many entries behind. */
  catchUpLagMax?: number;
  /** Give up waiting for a learner after this long (it stays a learner; join again). */
  catchUpMsMax?: number;
  /** Times the wait for a learner: the node's monotonic clock. Default `performance.now()`. */
  monotonic?: { now(): number };
  /** Paces the wait for a learner. Default `setTimeout`. */
  timers?: Timers;
}

/** How long a removal waits for a majority of the voters left to answer the leader. */
const upWaitMsMax = 2_000;

/** How long a removal waits for an uncommitted configuration change to commit (see `remove`). */
const pendingChangeWaitMsMax = 2_000;

/** Raft's refusal of a configuration change while another is uncommitted (or the leader's
 * first entry of its term is). */
function isChangePending(error: unknown): boolean {
  return error instanceof ReplicationError && error.dropReason === "config-change-pending";
}

/** The refusal of a node on an empty data directory under a voter's id (see `joinCluster`). */
export const wipedVoterRefusal = "is a voter of this cluster with its data";

/**
 * Joins and removals, and the transport's peer list.
 *
 * @example
 * ```ts
 * const membership = new Membership({ nodeId, replica, machine, transport, clusterInfo });
 * await membership.join({ id: "n4", peerAddress: "10.0.0.4:9877", clientUrl: "http://10.0.0.4:9876" });
 * ```
 */
export class Membership {
  readonly #options: MembershipOptions;
  /** Voters this leader already tried to hand over to for removing itself (a retry tries another). */
  readonly #handOffsTried = new Set<string>();
  /**
   * The joins this leader is carrying out (their addresses are not recorded at first); `removed`
   * once a removal of their node came meanwhile: the join stops at its next step.
   */
  readonly #joining = new Set<{ request: JoinRequest; removed: boolean }>();

  constructor(options: MembershipOptions) {
    this.#options = options;
    const { machine, transport, nodeId } = options;
    const follow = (id: string, peerAddress: string | null) => {
      if (id === nodeId) return;
      if (peerAddress === null) transport.removePeer(id as NodeId);
      else transport.setPeer({ id: id as NodeId, peerAddress });
    };
    machine.onMember = (id, address) => follow(id, address?.peerAddress ?? null);
    for (const member of machine.members()) follow(member.id, member.peerAddress);
    const recorded = new Set(machine.members().map((member) => member.id));
    for (const peer of options.peers?.list ?? []) {
      if (recorded.has(peer.id)) continue;
      const address = this.#flagAddress(peer.id);
      if (address !== null) follow(peer.id, address);
    }
    // Past the commit index on disk, unapplied: dialled, never taken as records (`DialHints`).
    for (const hint of options.hints?.members() ?? []) {
      try {
        follow(hint.id, hint.peerAddress);
      } catch {
        // Not host:port, so not a record this program wrote (a join checks it): not dialled.
      }
    }
    options.hints?.onSettled((ids) => {
      for (const id of ids) {
        const address = machine.members().find((member) => member.id === id)?.peerAddress ??
          this.#flagAddress(id);
        follow(id, address);
      }
    });
  }

  /**
   * The `--peers` address of `id`, if it is dialled: one never a member is (a list crossed with
   * another cluster's is refused and logged), an initial voter the configuration no longer lists
   * is not (it was removed).
   */
  #flagAddress(id: string): string | null {
    const { peers, replica } = this.#options;
    const peer = peers?.list.find((each) => each.id === id);
    if (peer === undefined) return null;
    const { voters, learners } = replica.status().config;
    const removed = peers?.bootstrapVoters?.includes(id) &&
      ![...voters, ...learners].includes(id as NodeId);
    return removed ? null : peer.peerAddress;
  }

  /** The client URL recorded for a member (when its transport hello has not arrived yet). */
  clientUrl(id: string): string | null {
    return this.#options.machine.members().find((member) => member.id === id)?.clientUrl ?? null;
  }

  /** Adds a node: record its address, add it as a learner, wait for catch-up, promote. */
  async join(request: JoinRequest): Promise<ClusterInfo> {
    try {
      return await this.#join(request);
    } catch (error) {
      throw asBrokerError(error);
    }
  }

  /** Removes a node from the voters and forgets its address. The leader can't remove itself. */
  async remove(id: string): Promise<void> {
    try {
      await this.#remove(id);
    } catch (error) {
      throw asBrokerError(error);
    }
  }

  async #join(request: JoinRequest): Promise<ClusterInfo> {
    this.#refuseAlone();
    checkJoin(request);
    const { replica } = this.#options;
    this.#requireLeader();
    // The leader is no peer of its own: the catch-up wait would never see it, and recording
    // other addresses for it would misdirect every forward to it.
    if (request.id === this.#options.nodeId) {
      // Its own join, repeated at a restart (`--join` stays in its command) and forwarded here by
      // the member it asked: this process leads, so it is a voter already, and nothing changes.
      if (this.#isOwnJoin(request)) return this.#options.clusterInfo();
      throw invalidParameter(
        "id",
        `node '${request.id}' is this node, the leader; a join comes from the joining node`,
      );
    }
    this.#checkAddresses(request);
    this.#checkNotWiped(request);
    const joining = { request, removed: false };
    // A removal of the node meanwhile wins: the join stops at its next step, adding nothing.
    const goOn = () => {
      if (!joining.removed) return;
      throw invalidParameter(
        "id",
        `node '${request.id}' is being removed (DELETE /v1/cluster/nodes/${request.id}): its ` +
          "join, under way, stopped; to add it, join it again",
      );
    };
    this.#joining.add(joining);
    try {
      for (const known of this.#unrecorded()) {
        await replica.propose(CommandType.SetMember, encodeJson(known));
        goOn();
      }
      if (this.#isDone(joining)) {
        await this.#promoted(request.id, goOn);
        return this.#options.clusterInfo();
      }
      const { emptyDataDir: _, ...member } = request;
      await replica.propose(CommandType.SetMember, encodeJson(member));
      goOn();
      let config = replica.status().config;
      if (![...config.voters, ...config.learners].includes(request.id as NodeId)) {
        await replica.proposeConfigChange({ type: "addLearner", nodeId: request.id });
        goOn();
      }
      await this.#caughtUp(request.id, goOn);
      config = replica.status().config;
      if (config.learners.includes(request.id as NodeId)) {
        await replica.proposeConfigChange({ type: "promote", nodeId: request.id });
        goOn();
      }
      await this.#promoted(request.id, goOn); // promoted by another join of it, or a past leader
      return this.#options.clusterInfo();
    } finally {
      this.#joining.delete(joining);
    }
  }

  async #remove(id: string): Promise<void> {
    const { replica } = this.#options;
    this.#requireLeader();
    // A join of the node under way on this leader stops at its next step once the removal is
    // proposed: it adds nothing back. Its addresses, recorded or only proposed, are forgotten
    // (the forgetting comes after them in the log).
    const joins = () => [...this.#joining].filter((joining) => joining.request.id === id);
    const stopJoins = () => joins().forEach((joining) => joining.removed = true);
    const config = replica.status().config;
    if (![...config.voters, ...config.learners].includes(id as NodeId)) {
      // Out of the configuration, its address still recorded: a removal whose leader lost the
      // lead between its two steps (or a join refused after its first). Every node would keep
      // dialling it: the retry forgets it.
      if (joins().length > 0 || this.#options.machine.members().some((m) => m.id === id)) {
        stopJoins();
        await replica.propose(CommandType.SetMember, encodeJson({ id, remove: true }));
        return;
      }
      throw new BrokerError("NotFound", `node '${id}' is not a member`);
    }
    if (id === this.#options.nodeId) {
      // Hand leadership to another voter first; the client retries against the new leader. A
      // retry that finds this node still leading tries another voter: the last one may be down.
      const others = transferCandidates(replica);
      if (others.length === 0) throw invalidParameter("id", "the last voter can't be removed");
      if (others.every((other) => this.#handOffsTried.has(other))) this.#handOffsTried.clear();
      const target = others.find((other) => !this.#handOffsTried.has(other))!;
      this.#handOffsTried.add(target);
      replica.transferLeadership(target);
      throw new BrokerError("NoLeader", "leadership is moving off this node; retry", {
        retryAfterSeconds: 1,
      });
    }
    await this.#proposeRemoval(id, stopJoins);
    await replica.propose(CommandType.SetMember, encodeJson({ id, remove: true }));
  }

  /**
   * Proposes the configuration change removing `id`. One change is uncommitted at a time: a
   * removal that meets another (the join's own learner or promotion, say) waits up to
   * `pendingChangeWaitMsMax` for it to commit, and then goes on; past that, 503 with Retry-After.
   */
  async #proposeRemoval(id: string, stopJoins: () => void): Promise<void> {
    const { replica } = this.#options;
    const clock = this.#options.monotonic ?? performance;
    const timers = this.#options.timers ?? realTimers;
    const deadline = clock.now() + pendingChangeWaitMsMax;
    for (;;) {
      // Again after a wait: the change that committed meanwhile may have made `id` a voter.
      await this.#votersLeftUp(id);
      stopJoins();
      try {
        await replica.proposeConfigChange({ type: "remove", nodeId: id });
        return;
      } catch (error) {
        if (!isChangePending(error)) throw error;
        if (clock.now() >= deadline) {
          throw new BrokerError(
            "NotReady",
            `removing '${id}' waited ${pendingChangeWaitMsMax} ms for the configuration change ` +
              "before it to commit (one commits at a time), in vain; retry",
            { retryAfterSeconds: 1 },
          );
        }
      }
      this.#requireLeader();
      await new Promise<void>((resolve) => timers.setTimer(50, resolve));
    }
  }

  /**
   * The removal takes effect on the leader as soon as it is appended and commits in the new
   * configuration: if a majority of the voters left is not up, nothing commits, and the group
   * has no leader until enough of them return (removing a running voter while another is down,
   * in a group of three). Refused then, like etcd's strict reconfiguration check; removing a
   * voter that is down leaves the running ones, and goes through. A leader only just elected (or
   * a voter only just back) has not heard from every voter yet: waits up to `upWaitMsMax` for
   * them before refusing. A voter is up when it answers the leader (`answersLeader`: heard from
   * within the last 300 ms); one that answers late only delays the removal.
   */
  async #votersLeftUp(id: string): Promise<void> {
    const { replica } = this.#options;
    const clock = this.#options.monotonic ?? performance;
    const timers = this.#options.timers ?? realTimers;
    const deadline = clock.now() + upWaitMsMax;
    for (;;) {
      const status = replica.status();
      const left: string[] = status.config.voters.filter((voter) => voter !== id);
      if (left.length === status.config.voters.length) return; // a learner: the quorum stays
      const up = left.filter((voter) =>
        voter === replica.id ||
        status.peers.some((peer) => peer.id === voter && answersLeader(peer))
      );
      const majority = Math.floor(left.length / 2) + 1;
      if (up.length >= majority) return;
      if (clock.now() >= deadline) {
        throw new BrokerError(
          "NotReady",
          `removing '${id}' would leave the voters ${[...left].sort().join(", ")}, of which ` +
            `only ${up.length === 0 ? "none" : [...up].sort().join(", ")} answers the leader: ` +
            `the removal commits only with a majority (${majority}) of them; start the others ` +
            "again first, or remove one that is down first",
          { retryAfterSeconds: 5 },
        );
      }
      this.#requireLeader();
      await new Promise<void>((resolve) => timers.setTimer(50, resolve));
    }
  }

  /**
   * The members with no recorded addresses (the initial voters: each knows the others from its
   * `--peers`) whose addresses this leader knows: its own, and those its transport dials with
   * the client URL their hello announced. A join records them first, so a node that joins learns
   * them from the log (or a snapshot) as it learns a joined member's, and dials them as members:
   * it keeps its links to them while every one of them is down, and redials them. Knowing them
   * only by dialling back their hellos, it dropped those links then, and waited for them to dial
   * it again (removed meanwhile, it was never told). One this leader has not heard from since it
   * started is recorded by a later join.
   */
  #unrecorded(): { id: string; peerAddress: string; clientUrl: string }[] {
    const { replica, machine, transport, nodeId, url, peerAddress } = this.#options;
    const config = replica.status().config;
    const recorded = new Set(machine.members().map((member) => member.id));
    return ([...config.voters, ...config.learners] as string[]).flatMap((id) => {
      if (recorded.has(id)) return [];
      const address = id === nodeId ? peerAddress : transport.peerAddress?.(id as NodeId);
      const clientUrl = id === nodeId ? url : transport.clientUrl(id as NodeId);
      return address && clientUrl ? [{ id, peerAddress: address, clientUrl }] : [];
    });
  }

  /**
   * A member keeps the addresses it has: a join naming it with others (a second node started
   * under its id, a typo) would make every node dial that address instead. A new node may not
   * take a member's addresses either.
   */
  #checkAddresses(request: JoinRequest): void {
    const { replica, machine } = this.#options;
    const config = replica.status().config;
    const memberIds: string[] = [...config.voters, ...config.learners];
    const records = machine.members().filter((member) => memberIds.includes(member.id));
    const recorded = records.find((member) => member.id === request.id);
    if (memberIds.includes(request.id)) {
      if (
        recorded?.peerAddress === request.peerAddress && recorded.clientUrl === request.clientUrl
      ) return;
      const where = recorded === undefined
        ? "(an initial voter)"
        : `at ${recorded.peerAddress} (${recorded.clientUrl})`;
      throw invalidParameter(
        "id",
        `node '${request.id}' is already a member ${where}; to give it other addresses, remove ` +
          `it first (DELETE /v1/cluster/nodes/${request.id})`,
      );
    }
    const peerTaken = [...records, ...this.#unrecorded()]
      .find((member) => member.peerAddress === request.peerAddress);
    if (peerTaken !== undefined) {
      throw invalidParameter("peerAddress", `is the peer address of member '${peerTaken.id}'`);
    }
    const { nodeId, url, transport } = this.#options;
    const urlOf = (id: string) =>
      id === nodeId ? url : records.find((member) => member.id === id)?.clientUrl ??
        transport.clientUrl(id as NodeId);
    const urlTaken = memberIds.find((id) => urlOf(id) === request.clientUrl);
    if (urlTaken !== undefined) {
      throw invalidParameter("clientUrl", `is the client URL of member '${urlTaken}'`);
    }
    this.#checkJoining(request);
  }

  /**
   * Nor may a new node take the addresses of another one whose join is under way: on this
   * leader, or recorded and not (yet) in the configuration (a join between its first two steps,
   * or one cut short there, or a removal between its two steps). Both would be recorded at one
   * address, and every node would dial one node under two ids.
   */
  #checkJoining(request: JoinRequest): void {
    const joins = [...this.#joining].map((joining) => joining.request);
    // Its own join under way at other addresses (a second node started under its id, a typo):
    // recording them would overwrite the first's while it goes on.
    const first = joins.find((other) =>
      other.id === request.id &&
      (other.peerAddress !== request.peerAddress || other.clientUrl !== request.clientUrl)
    );
    if (first !== undefined) {
      throw invalidParameter(
        "id",
        `node '${request.id}' is joining at ${first.peerAddress} (${first.clientUrl}); to give ` +
          `it other addresses, remove it first (DELETE /v1/cluster/nodes/${request.id})`,
      );
    }
    // Its own record out of the configuration (a join, or a removal, cut short) at other
    // addresses: the rule of a member's (and of a running join's).
    const records = this.#options.machine.members();
    const cut = records.find((other) =>
      other.id === request.id &&
      (other.peerAddress !== request.peerAddress || other.clientUrl !== request.clientUrl)
    );
    if (cut !== undefined) {
      throw invalidParameter(
        "id",
        `node '${request.id}' is recorded at ${cut.peerAddress} (${cut.clientUrl}), out of the ` +
          "configuration (a join or a removal cut short); to give it other addresses, remove it " +
          `first (DELETE /v1/cluster/nodes/${request.id})`,
      );
    }
    const others = [...joins, ...records].filter((other) => other.id !== request.id);
    const under = (id: string) =>
      `of node '${id}', whose join is under way (if it was cut short, remove it: ` +
      `DELETE /v1/cluster/nodes/${id})`;
    const peerTaken = others.find((other) => other.peerAddress === request.peerAddress);
    if (peerTaken !== undefined) {
      throw invalidParameter("peerAddress", `is the peer address ${under(peerTaken.id)}`);
    }
    const urlTaken = others.find((other) => other.clientUrl === request.clientUrl);
    if (urlTaken !== undefined) {
      throw invalidParameter("clientUrl", `is the client URL ${under(urlTaken.id)}`);
    }
  }

  /**
   * A current voter that joins again from an empty data directory lost its disk: its log, term
   * and vote. Carrying on (a retry) would leave a voter with an empty log among the voters a
   * majority counts on (see `replication/lost_state.ts`); it must leave and join as a new member.
   */
  #checkNotWiped(request: JoinRequest): void {
    if (request.emptyDataDir !== true) return;
    if (!this.#options.replica.status().config.voters.includes(request.id as NodeId)) return;
    throw invalidParameter(
      "id",
      `${request.id} ${wipedVoterRefusal}; a node with an empty data directory can't take ` +
        `its place: remove it first (DELETE /v1/cluster/nodes/${request.id}), then join`,
    );
  }

  /**
   * A node that runs alone can't reach a node it added (it has no peer port), and its plain
   * restart would be refused: its log would show a group with others.
   */
  #refuseAlone(): void {
    if (this.#options.alone !== true) return;
    const { nodeId } = this.#options;
    throw new BrokerError(
      "InvalidParameter",
      `node '${nodeId}' runs alone (started without --peers, --join or --force-new-cluster): ` +
        "it has no peer port, so a node it added could never be reached; to take joins, start " +
        `it as a cluster member, with --peers naming only itself (--peers ${nodeId}=host:peerPort) ` +
        "and the cluster key (--cluster-key-file or CMQD_CLUSTER_KEY)",
    );
  }

  /**
   * Whether `request` is this node's own join: its id, this process's own addresses (no other
   * process listens at them) and this node a voter. Another process under the leader's id (a
   * second node started under it, a typo) names other addresses, and is refused.
   */
  #isOwnJoin(request: JoinRequest): boolean {
    const { nodeId, url, peerAddress, replica } = this.#options;
    return request.id === nodeId && url !== undefined && request.clientUrl === url &&
      peerAddress !== undefined && request.peerAddress === peerAddress &&
      replica.status().config.voters.includes(nodeId as NodeId);
  }

  /**
   * Whether `joining` is a join already done: its node a voter at exactly the addresses recorded
   * for it (a joined node's restart repeats its `--join`). It changes nothing: no `SetMember`, no
   * catch-up wait. A learner (a join cut short) carries on to its promotion. So does a node whose
   * join is under way on this leader too: its promotion may not have committed yet, and the
   * answer of a join that carries on comes after it has.
   */
  #isDone(joining: { request: JoinRequest }): boolean {
    const { replica, machine } = this.#options;
    const { id, peerAddress, clientUrl } = joining.request;
    if (!replica.status().config.voters.includes(id as NodeId)) return false;
    const underWay = [...this.#joining].some((other) =>
      other !== joining && other.request.id === id
    );
    if (underWay) return false;
    const recorded = machine.members().find((member) => member.id === id);
    return recorded?.peerAddress === peerAddress && recorded.clientUrl === clientUrl;
  }

  /**
   * Waits until `id` is a voter in the applied (committed) configuration: the log's last one may
   * hold its promotion uncommitted (appended by another join of it, or by a past leader, and
   * committed along with this leader's first entry). Up to `pendingChangeWaitMsMax`; then
   * `NotReady`, which its joining node retries: told it is a voter, it would stop asking.
   */
  async #promoted(id: string, goOn: () => void): Promise<void> {
    const { replica } = this.#options;
    const clock = this.#options.monotonic ?? performance;
    const timers = this.#options.timers ?? realTimers;
    const deadline = clock.now() + pendingChangeWaitMsMax;
    for (;;) {
      goOn();
      if (replica.appliedConfig.voters.includes(id as NodeId)) return;
      if (clock.now() >= deadline) {
        throw new BrokerError(
          "NotReady",
          `node '${id}' is a voter only in a configuration change not committed yet (its ` +
            "promotion); join again",
          { retryAfterSeconds: 1 },
        );
      }
      this.#requireLeader();
      await new Promise<void>((resolve) => timers.setTimer(50, resolve));
    }
  }

  #requireLeader(): void {
    const { replica } = this.#options;
    // A closing (closed, failed) replica: a wait for a learner or for voters ends with its
    // refusal ("node is shutting down"), instead of polling it until its own deadline.
    const refusal = replica.refusal();
    if (refusal?.code === "NotReady") throw refusal;
    if (!replica.isLeader) {
      throw new BrokerError("NoLeader", "membership changes go through the leader", {
        retryAfterSeconds: 1,
      });
    }
  }

  /** Waits until `id` has caught up; `goOn` throws when the join must stop. */
  async #caughtUp(id: string, goOn: () => void): Promise<void> {
    const { replica } = this.#options;
    const lagMax = this.#options.catchUpLagMax ?? 64;
    const clock = this.#options.monotonic ?? performance;
    const timers = this.#options.timers ?? realTimers;
    const deadline = clock.now() + (this.#options.catchUpMsMax ?? 60_000);
    for (;;) {
      goOn();
      const peer = replica.status().peers.find((candidate) => candidate.id === id);
      if (peer !== undefined && peer.match > 0 && peer.lag <= lagMax) return;
      if (clock.now() > deadline) {
        throw new BrokerError("NotReady", `node '${id}' has not caught up yet; join again`, {
          retryAfterSeconds: 5,
        });
      }
      this.#requireLeader();
      await new Promise<void>((resolve) => timers.setTimer(50, resolve));
    }
  }
}
