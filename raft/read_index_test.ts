import assert from "node:assert/strict";
import { NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { SimCluster, testMessage } from "./testing/mod.ts";
import { MessageType, nodeId, type Term } from "./types.ts";

Deno.test("a leader answers a read after a heartbeat round reaches a quorum", () => {
  const cluster = new SimCluster({ seed: 1 });
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  const commit = cluster.raft("n1").status().commit;
  cluster.network.clearLog();
  cluster.raft("n1").readIndex("read-1");
  cluster.processReadies();
  assert.deepEqual(cluster.node("n1").readStates, [], "not before leadership is confirmed");
  assert.equal(cluster.sentOfType(MessageType.Heartbeat).length, 2);
  cluster.stabilize();
  assert.deepEqual(cluster.node("n1").readStates, [{ requestId: "read-1", index: commit }]);
});

Deno.test("an isolated leader cannot answer reads (it might be deposed)", () => {
  const cluster = new SimCluster({ seed: 2 });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  cluster.raft("n1").readIndex("stale?");
  for (let tick = 0; tick < 5; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.deepEqual(cluster.node("n1").readStates, []);
});

Deno.test("a follower's read is confirmed by the leader and served once applied", () => {
  const cluster = new SimCluster({ seed: 3 });
  cluster.electLeader("n1");
  for (let count = 0; count < 3; count++) cluster.propose("n1");
  cluster.stabilize();
  cluster.raft("n2").readIndex("follower-read");
  cluster.stabilize();
  const [read] = cluster.node("n2").readStates;
  assert.equal(read.requestId, "follower-read");
  assert.equal(read.index, cluster.raft("n1").status().commit);
  assert.ok(cluster.node("n2").state.length >= read.index, "applied before served");
});

Deno.test("a one-voter leader answers reads at once", () => {
  const cluster = new SimCluster({ ids: ["solo"], seed: 4 });
  cluster.electLeader("solo");
  cluster.raft("solo").readIndex("quick");
  cluster.processReadies();
  assert.deepEqual(cluster.node("solo").readStates, [{ requestId: "quick", index: 1 }]);
});

Deno.test("a new leader answers reads only after committing an entry of its term", () => {
  const cluster = new SimCluster({ seed: 5 });
  cluster.raft("n1").campaign();
  cluster.deliverUntil(() => cluster.raft("n1").status().role === "leader");
  assert.equal(cluster.raft("n1").status().commit, 0);
  cluster.raft("n1").readIndex("early");
  cluster.stabilize();
  assert.deepEqual(cluster.node("n1").readStates, [{ requestId: "early", index: 1 }]);
});

Deno.test("reads are bounded and refused without a known leader", () => {
  const cluster = new SimCluster({ seed: 6, node: { readIndexPendingMax: 2 } });
  assert.throws(() => cluster.raft("n2").readIndex("nobody"), NotLeaderError);
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  cluster.raft("n1").readIndex("one");
  cluster.raft("n1").readIndex("two");
  assert.throws(
    () => cluster.raft("n1").readIndex("three"),
    (error) => error instanceof ProposalDroppedError && error.reason === "read-index-limit",
  );
});

Deno.test("reads forwarded by followers count toward the leader's bound and the excess is refused back", () => {
  const cluster = new SimCluster({ seed: 7, node: { readIndexPendingMax: 2 } });
  const [n1, n2, n3] = cluster.ids;
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  // Only n2 can confirm n1's leadership now, and what n1 sends it waits.
  cluster.network.cut(n1, n3);
  cluster.network.hold(n2);
  for (const id of ["f1", "f2", "f3"]) cluster.raft("n2").readIndex(id);
  cluster.stabilize();
  assert.throws(
    () => cluster.raft("n1").readIndex("local"),
    (error) => error instanceof ProposalDroppedError && error.reason === "read-index-limit",
    "the forwarded reads fill the leader's bound",
  );
  cluster.network.release(n2);
  cluster.stabilize();
  assert.deepEqual(cluster.node("n2").readStates.map((read) => read.requestId), ["f1", "f2"]);
  assert.deepEqual(cluster.node("n2").refusedReads, ["f3"], "refused, not left unanswered");
  // Confirmed reads free the bound.
  cluster.raft("n2").readIndex("f4");
  cluster.stabilize();
  assert.deepEqual(cluster.node("n2").readStates.map((read) => read.requestId), ["f1", "f2", "f4"]);
  assert.deepEqual(cluster.node("n2").refusedReads, ["f3"]);
});

Deno.test("a read from a node outside the leader's configuration is refused back, with no heartbeat round", () => {
  const cluster = new SimCluster({ seed: 8 });
  const [n1] = cluster.ids;
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  const term = cluster.raft("n1").status().term as Term;
  cluster.network.clearLog();
  // A removed member (or any node still addressing this leader) at the leader's term.
  const stranger = nodeId("n9");
  for (const id of ["s1", "s2"]) {
    cluster.raft("n1").step(
      testMessage({ type: MessageType.ReadIndex, from: stranger, to: n1, term, context: id }),
    );
  }
  cluster.processReadies();
  assert.deepEqual(cluster.sentOfType(MessageType.Heartbeat), [], "no round for a non-member");
  assert.deepEqual(
    cluster.sentOfType(MessageType.ReadIndexResp).map((m) => [m.to, m.reject, m.context]),
    [[stranger, true, "s1"], [stranger, true, "s2"]],
  );
  // Members' reads are served as before.
  cluster.raft("n2").readIndex("member");
  cluster.stabilize();
  assert.deepEqual(cluster.node("n2").readStates.map((read) => read.requestId), ["member"]);
});

Deno.test("reads pending when the leader becomes the only member are answered, not held forever", () => {
  // Two voters; n1 leads. Reads wait for n2's heartbeat answer, then n2 is removed: its answers
  // now come from outside the configuration and are ignored, and nobody else will ever answer.
  const cluster = new SimCluster({ ids: ["n1", "n2"], seed: 11, node: { readIndexPendingMax: 2 } });
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  const commit = cluster.raft("n1").status().commit;
  cluster.raft("n1").readIndex("before-1");
  cluster.raft("n1").readIndex("before-2");
  cluster.processReadies();
  assert.deepEqual(cluster.node("n1").readStates, []);
  cluster.raft("n1").proposeConfigChange({ type: "remove", nodeId: nodeId("n2") });
  cluster.stabilize();
  for (let tick = 0; tick < 5; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.deepEqual(cluster.raft("n1").status().config.voters, ["n1"]);
  // A sole voter answers a read at once, and so may it those it held: nobody else can lead.
  assert.deepEqual(cluster.node("n1").readStates.map((read) => read.requestId), [
    "before-1",
    "before-2",
  ]);
  assert.ok(cluster.node("n1").readStates.every((read) => read.index === commit));
  // They no longer count toward readIndexPendingMax.
  cluster.raft("n1").readIndex("after");
  cluster.processReadies();
  assert.equal(cluster.node("n1").readStates.at(-1)?.requestId, "after");
});
