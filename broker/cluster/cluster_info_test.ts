import assert from "node:assert/strict";
import type { NodeId } from "../../raft/mod.ts";
import type { RaftReplicaStatus } from "../replication/mod.ts";
import { clusterInfo } from "./cluster_info.ts";

function status(overrides: Partial<RaftReplicaStatus>): RaftReplicaStatus {
  return {
    id: "n1",
    role: "follower",
    term: 3,
    leaderId: null,
    commit: 10,
    applied: 10,
    lastIndex: 12,
    snapshotIndex: 0,
    config: { voters: ["n1", "n2", "n3"] as NodeId[], learners: ["n4"] as NodeId[] },
    canCampaign: true,
    peers: [],
    ...overrides,
  };
}

const urls = (id: string) => `http://${id}:9876`;

// `cmqd cluster` (the CLI) prints the answer's role and then each node's: a campaigning node
// said `candidate` on top and `follower` for itself in the list.
Deno.test("a candidate (or pre-candidate) names itself candidate in nodes too, as in role", () => {
  for (const role of ["candidate", "preCandidate"] as const) {
    const info = clusterInfo(status({ role }), urls);
    assert.equal(info.role, "candidate");
    assert.deepEqual(
      info.nodes.map((node) => [node.id, node.role]),
      [["n1", "candidate"], ["n2", "follower"], ["n3", "follower"], ["n4", "learner"]],
    );
  }
});

Deno.test("a leader lists each member's match index and lag; a follower names the leader and its own role", () => {
  const leading = clusterInfo(
    status({
      role: "leader",
      leaderId: "n1",
      peers: [
        { id: "n2", match: 12, lag: 0, state: "replicate", silentTicks: 0, refusedLead: false },
        { id: "n3", match: 7, lag: 5, state: "probe", silentTicks: 4, refusedLead: false },
      ],
    }),
    urls,
  );
  assert.deepEqual(leading.nodes.map((node) => [node.id, node.role, node.matchIndex, node.lag]), [
    ["n1", "leader", 12, 0],
    ["n2", "follower", 12, 0],
    ["n3", "follower", 7, 5],
    ["n4", "learner", null, null],
  ]);
  const following = clusterInfo(status({ id: "n4", leaderId: "n2" }), urls);
  assert.equal(following.role, "learner");
  assert.deepEqual(
    following.nodes.map((node) => [node.id, node.role, node.url]),
    [
      ["n1", "follower", "http://n1:9876"],
      ["n2", "leader", "http://n2:9876"],
      ["n3", "follower", "http://n3:9876"],
      ["n4", "learner", "http://n4:9876"],
    ],
  );
});
