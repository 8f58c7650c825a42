import assert from "node:assert/strict";
import { MemoryLogStorage } from "./log_storage.ts";
import { RaftNode } from "./node.ts";
import { createPrng } from "./prng.ts";
import { SimCluster, testMessage } from "./testing/mod.ts";
import { MessageType, nodeId, type Term } from "./types.ts";

Deno.test("a three-node group elects exactly one leader after its election timeout", () => {
  const cluster = new SimCluster({ seed: 3 });
  const leader = cluster.waitForLeader();
  const statuses = cluster.ids.map((id) => cluster.raft(id).status());
  assert.equal(statuses.filter((status) => status.role === "leader").length, 1);
  for (const status of statuses) {
    assert.equal(status.leaderId, leader);
    assert.equal(status.term, statuses[0].term);
  }
});

Deno.test("election safety holds over many seeds with lossy, reordering networks", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const cluster = new SimCluster({ ids: ["a", "b", "c", "d", "e"], seed });
    cluster.network.faults = { dropRate: 0.2, duplicateRate: 0.1, reorder: true };
    for (let tick = 0; tick < 120; tick++) {
      cluster.tickAll();
      cluster.deliver(20);
    }
    // The harness asserts at most one leader per term whenever someone becomes leader.
    assert.ok(cluster.leadersByTerm.size >= 1, `seed ${seed} elected someone`);
  }
});

Deno.test("election timeouts are drawn from [electionTicks, 2 * electionTicks)", () => {
  const id = nodeId("solo");
  const seen = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    const storage = new MemoryLogStorage({ config: { voters: [id], learners: [] } });
    const node = new RaftNode({ id, storage, prng: createPrng(seed), electionTicks: 5 });
    let ticks = 0;
    while (node.status().role !== "leader") {
      node.tick();
      ticks++;
      assert.ok(ticks < 10, "campaigns before 2 * electionTicks");
    }
    seen.add(ticks);
  }
  assert.deepEqual([...seen].sort(), [5, 6, 7, 8, 9]);
});

Deno.test("a single-node group leads at once on campaign and commits on its own persist", () => {
  const cluster = new SimCluster({ ids: ["solo"], seed: 1 });
  cluster.electLeader("solo");
  cluster.propose("solo", "x");
  cluster.stabilize();
  const node = cluster.node("solo");
  assert.deepEqual(node.state.map((key) => key.split(":").slice(1).join(":")), ["0:", "16:x"]);
  assert.equal(cluster.raft("solo").status().commit, 2);
});

Deno.test("pre-vote keeps a partitioned node from inflating its term", () => {
  const cluster = new SimCluster({ seed: 5 });
  const leader = cluster.electLeader("n1");
  const termBefore = cluster.raft(leader).status().term;
  cluster.network.isolate(cluster.node("n3").id, cluster.ids);
  for (let tick = 0; tick < 100; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.equal(cluster.raft("n3").status().term, termBefore, "isolated node stays in its term");
  cluster.network.heal();
  for (let tick = 0; tick < 5; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.equal(cluster.leader(), leader, "the healthy leader kept leading");
  assert.equal(cluster.raft(leader).status().term, termBefore);
  assert.equal(cluster.raft("n3").status().leaderId, leader);
});

Deno.test("without pre-vote a partitioned node inflates its term (the problem pre-vote solves)", () => {
  const cluster = new SimCluster({ seed: 5, node: { preVote: false, checkQuorum: false } });
  cluster.electLeader("n1");
  const termBefore = cluster.raft("n1").status().term;
  cluster.network.isolate(cluster.node("n3").id, cluster.ids);
  for (let tick = 0; tick < 100; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.ok(cluster.raft("n3").status().term > termBefore + 2);
});

Deno.test("check-quorum makes an isolated leader step down within two election timeouts", () => {
  const cluster = new SimCluster({ seed: 9 });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  // The first check may still count contacts from before the cut; the second cannot.
  for (let tick = 0; tick < 20; tick++) cluster.tickAll();
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().role, "follower");
  const newLeader = cluster.waitForLeader();
  assert.notEqual(newLeader, "n1");
});

Deno.test("followers with a live leader ignore vote requests (leader lease)", () => {
  const cluster = new SimCluster({ seed: 11 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  // A disruptive vote request with a higher term, as a node that skipped pre-vote would send.
  cluster.raft("n2").step({
    type: MessageType.Vote,
    from: nodeId("n3"),
    to: nodeId("n2"),
    term: (term + 5) as never,
    logTerm: 99 as never,
    index: 99 as never,
    entries: [],
    commit: 0 as never,
    reject: false,
    rejectHint: 0 as never,
    context: "",
  });
  cluster.stabilize();
  assert.equal(cluster.raft("n2").status().term, term);
  assert.equal(cluster.leader(), "n1");
});

Deno.test("a node that may not campaign neither campaigns nor grants votes, but follows", () => {
  const cluster = new SimCluster({ seed: 2 });
  cluster.raft("n1").setCanCampaign(false);
  for (let tick = 0; tick < 100; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  const leader = cluster.leader();
  assert.ok(leader !== null && leader !== "n1");
  assert.equal(cluster.sentOfType(MessageType.PreVote).filter((m) => m.from === "n1").length, 0);
  const grants = cluster.network.sent.filter((message) =>
    message.from === "n1" && !message.reject &&
    (message.type === MessageType.VoteResp || message.type === MessageType.PreVoteResp)
  );
  assert.equal(grants.length, 0);
  cluster.propose(leader, "after");
  cluster.stabilize();
  assert.ok(cluster.node("n1").state.at(-1)!.endsWith(":after"), "it still follows the log");
});

Deno.test("with two of three nodes down nobody becomes leader", () => {
  const cluster = new SimCluster({ seed: 4 });
  cluster.crash("n2");
  cluster.crash("n3");
  for (let tick = 0; tick < 100; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.equal(cluster.leader(), null);
  assert.equal(cluster.raft("n1").status().term, 0, "pre-vote never bumps the term");
});

Deno.test("a node that can't campaign lets its lease on a silent leader run out", () => {
  // n1 sees itself as a learner (its log does not show its promotion yet) while the others count
  // it as a voter: it must answer their campaigns once the old leader went quiet, not ignore
  // them because its election clock keeps restarting without a campaign.
  const [n1, n2, n3] = [nodeId("n1"), nodeId("n2"), nodeId("n3")];
  for (let seed = 0; seed < 40; seed++) {
    const storage = new MemoryLogStorage({ config: { voters: [n2, n3], learners: [n1] } });
    const node = new RaftNode({ id: n1, storage, prng: createPrng(seed), electionTicks: 10 });
    node.step(testMessage({ type: MessageType.Heartbeat, from: n2, to: n1, term: 1 as Term }));
    if (node.hasReady()) node.advance(node.ready());
    for (let tick = 0; tick < 30; tick++) node.tick();
    node.step(testMessage({ type: MessageType.PreVote, from: n3, to: n1, term: 2 as Term }));
    const answers = node.hasReady() ? node.ready().messages : [];
    assert.ok(
      answers.some((message) => message.type === MessageType.PreVoteResp && !message.reject),
      `seed ${seed}: the pre-vote of n3 was ignored`,
    );
  }
});
