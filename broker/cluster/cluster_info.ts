/**
 * The body of `GET /v1/cluster`: the cluster as this node sees it, from its replica's status.
 *
 * @module
 */
import type { ClusterInfo } from "../../sdk/protocol.ts";
import type { RaftReplicaStatus } from "../replication/mod.ts";

/**
 * The cluster view of `status` (the bootstrap voters and cluster id are added by the node).
 * The node's own entry in `nodes` names the role the answer's `role` names (a candidate is
 * `candidate` there too, not `follower`); the others' are known only as learner, leader or
 * follower. A node that knows it was removed (`status.removal`) says so in `removed` and may not
 * vote; the rest of its answer is its last view.
 *
 * @example
 * ```ts
 * const info = clusterInfo(replica.status(), (id) => urls.get(id) ?? null);
 * ```
 */
export function clusterInfo(
  status: RaftReplicaStatus,
  clientUrlOf: (id: string) => string | null,
): ClusterInfo {
  const peers = new Map(status.peers.map((peer) => [peer.id, peer]));
  const learners: string[] = status.config.learners;
  const role = status.role === "leader"
    ? "leader"
    : status.role === "follower"
    ? (learners.includes(status.id) ? "learner" : "follower")
    : "candidate";
  const ids: string[] = [...status.config.voters, ...learners];
  const roleOf = (id: string) =>
    id === status.id
      ? role
      : learners.includes(id)
      ? "learner"
      : id === status.leaderId
      ? "leader"
      : "follower";
  return {
    nodeId: status.id,
    role,
    term: status.term,
    leaderId: status.leaderId,
    commitIndex: status.commit,
    appliedIndex: status.applied,
    canVote: status.canCampaign && status.removal === null,
    leadTransferee: status.leadTransferee,
    removed: status.removal === null
      ? null
      : { index: status.removal.index, by: status.removal.by },
    nodes: ids.map((id) => ({
      id,
      url: clientUrlOf(id),
      role: roleOf(id),
      matchIndex: id === status.id ? status.lastIndex : peers.get(id)?.match ?? null,
      lag: id === status.id ? 0 : peers.get(id)?.lag ?? null,
    })),
  };
}
