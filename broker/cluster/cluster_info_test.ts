import assert from "node:assert/strict";
import type { LogIndex, NodeId } from "../../raft/mod.ts";
import type { RaftReplicaStatus } from "../replication/mod.ts";
import { clusterInfo } from "./cluster_info.ts";
import { TestCluster } from "./testing/mod.ts";

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
    leadTransferee: null,
    removal: null,
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
        {
          id: "n2",
          match: 12,
          lag: 0,
          state: "replicate",
          silentTicks: 0,
          answering: true,
          refusedLead: false,
        },
        {
          id: "n3",
          match: 7,
          lag: 5,
          state: "probe",
          silentTicks: 4,
          answering: false,
          refusedLead: false,
        },
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

Deno.test("a node that knows it was removed says so, by its own log or by whom it was told, and may not vote", () => {
  const member = clusterInfo(status({}), urls);
  assert.equal(member.removed, null);
  assert.equal(member.canVote, true);
  // Its own log holds the change that removed it: its configuration no longer lists it.
  const byLog = clusterInfo(
    status({
      removal: { index: 9 as LogIndex, by: null },
      config: { voters: ["n2", "n3"] as NodeId[], learners: [] },
    }),
    urls,
  );
  assert.deepEqual(byLog.removed, { index: 9, by: null });
  assert.equal(byLog.canVote, false);
  assert.deepEqual(byLog.nodes.map((node) => node.id), ["n2", "n3"]);
  // Told by a member whose committed configuration at 14 does not list it: its own view is old.
  const told = clusterInfo(
    status({ removal: { index: 14 as LogIndex, by: "n2" as NodeId } }),
    urls,
  );
  assert.deepEqual(told.removed, { index: 14, by: "n2" });
  assert.equal(told.canVote, false);
  assert.equal(told.role, "follower");
  // A distrusted log still says false without a removal.
  const distrusted = clusterInfo(status({ canCampaign: false }), urls);
  assert.equal(distrusted.canVote, false);
  assert.equal(distrusted.removed, null);
});

Deno.test("a leader handing its leadership over names the voter it hands to; null otherwise", async () => {
  const cluster = await TestCluster.start();
  try {
    const leader = await cluster.waitForLeader();
    const replica = cluster.replica(leader);
    const target = [...cluster.nodes.keys()].find((id) => id !== leader)!;
    assert.equal(clusterInfo(replica.status(), urls).leadTransferee, null);
    // The target hears nothing from the leader: the transfer stays under way.
    cluster.cut(leader, target);
    replica.transferLeadership(target);
    // Was: no field; a transfer in progress showed nowhere in GET /v1/cluster.
    assert.equal(clusterInfo(replica.status(), urls).leadTransferee, target);
    const follower = clusterInfo(cluster.replica(target).status(), urls);
    assert.equal(follower.leadTransferee, null, "only the leader knows of its transfer");
    cluster.heal();
    await cluster.until(() => cluster.replica(leader).status().leadTransferee === null);
    assert.equal(clusterInfo(cluster.replica(leader).status(), urls).leadTransferee, null);
  } finally {
    await cluster.stopAll();
  }
});
