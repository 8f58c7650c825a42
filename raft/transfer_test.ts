import assert from "node:assert/strict";
import { InvalidRequestError, NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { SimCluster } from "./testing/mod.ts";
import { MessageType, nodeId } from "./types.ts";

const encoder = new TextEncoder();

Deno.test("leadership moves to an up-to-date follower without waiting for a timeout", () => {
  const cluster = new SimCluster({ seed: 1 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  cluster.raft("n1").transferLeadership(nodeId("n3"));
  cluster.stabilize();
  assert.equal(cluster.leader(), "n3");
  assert.equal(cluster.raft("n3").status().term, term + 1);
  assert.equal(cluster.raft("n1").status().leaderId, "n3");
});

Deno.test("a lagging transfer target is caught up before it gets TimeoutNow", () => {
  const cluster = new SimCluster({ seed: 2 });
  cluster.electLeader("n1");
  const n3 = cluster.node("n3").id;
  cluster.network.hold(n3);
  for (let count = 0; count < 5; count++) cluster.propose("n1");
  cluster.stabilize();
  cluster.network.clear(); // n3 missed all of it
  cluster.network.release(n3);
  cluster.network.clearLog();
  cluster.raft("n1").transferLeadership(n3);
  cluster.stabilize();
  const timeoutNow = cluster.sentOfType(MessageType.TimeoutNow);
  assert.equal(timeoutNow.length, 1);
  assert.equal(cluster.leader(), "n3");
  assert.deepEqual(cluster.node("n3").state.slice(0, 6), cluster.node("n1").state.slice(0, 6));
  cluster.checkSafety();
});

Deno.test("proposals are refused while a transfer is in progress", () => {
  const cluster = new SimCluster({ seed: 3 });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n2").id, cluster.ids);
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  assert.throws(
    () => cluster.raft("n1").propose(encoder.encode("x")),
    (error) => error instanceof ProposalDroppedError && error.reason === "leader-transfer",
  );
});

Deno.test("a transfer to an unreachable node is abandoned after an election timeout", () => {
  const cluster = new SimCluster({ seed: 4 });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n2").id, cluster.ids);
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  for (let tick = 0; tick < 10; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.equal(cluster.leader(), "n1");
  cluster.propose("n1", "accepted again");
});

Deno.test("transfer targets must be voters and only a leader can transfer", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3"],
    config: { voters: ["n1", "n2"], learners: ["n3"] },
    seed: 5,
  });
  cluster.electLeader("n1");
  assert.throws(() => cluster.raft("n1").transferLeadership(nodeId("n3")), InvalidRequestError);
  assert.throws(() => cluster.raft("n2").transferLeadership(nodeId("n1")), NotLeaderError);
});

Deno.test("transfer requests do not keep a leader that lost its quorum from stepping down", () => {
  const cluster = new SimCluster({ seed: 6 });
  const [n1, n2, n3] = cluster.ids;
  cluster.electLeader("n1");
  cluster.network.isolate(n1, cluster.ids);
  // An operator's removal of n1 retried against it every few ticks: each retry hands over to
  // the next voter (as the member API does), and none can arrive.
  for (let tick = 0; tick < 60 && cluster.raft("n1").status().role === "leader"; tick++) {
    if (tick % 5 === 0) cluster.raft("n1").transferLeadership(tick % 10 === 0 ? n2 : n3);
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.equal(cluster.raft("n1").status().role, "follower", "check-quorum still ran");
  assert.notEqual(cluster.waitForLeader(), "n1");
});

Deno.test("a transfer is abandoned an election timeout after it started, whatever check-quorum's phase", () => {
  const cluster = new SimCluster({ seed: 7 });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n2").id, cluster.ids);
  for (let tick = 0; tick < 7; tick++) cluster.tickAll(); // mid-way through a check-quorum round
  cluster.stabilize();
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  for (let tick = 0; tick < 9; tick++) cluster.tickAll();
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().leadTransferee, "n2", "not before its timeout");
  cluster.tickAll();
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.equal(cluster.leader(), "n1");
});

/** Drops the first `TimeoutNow` any node sends; returns how many were dropped so far. */
function dropFirstTimeoutNow(cluster: SimCluster): () => number {
  let dropped = 0;
  cluster.onReady = (_id, ready) => {
    if (dropped > 0) return;
    const at = ready.messages.findIndex((message) => message.type === MessageType.TimeoutNow);
    if (at < 0) return;
    ready.messages.splice(at, 1);
    dropped++;
  };
  return () => dropped;
}

for (const lagging of [false, true]) {
  Deno.test(`a lost TimeoutNow is sent again while the transfer runs (target ${lagging ? "lagging" : "caught up"})`, () => {
    const cluster = new SimCluster({ seed: 8 });
    cluster.electLeader("n1");
    const n3 = cluster.node("n3").id;
    if (lagging) {
      cluster.network.hold(n3);
      for (let count = 0; count < 3; count++) cluster.propose("n1");
      cluster.stabilize();
      cluster.network.clear();
      cluster.network.release(n3);
    }
    const dropped = dropFirstTimeoutNow(cluster);
    const term = cluster.raft("n1").status().term;
    cluster.raft("n1").transferLeadership(n3);
    cluster.stabilize();
    assert.equal(dropped(), 1, "the first TimeoutNow was lost");
    assert.equal(cluster.leader(), "n1");
    // The transfer is abandoned at the election timeout (10 ticks): it must finish before.
    for (let tick = 0; tick < 3; tick++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.equal(cluster.leader(), "n3");
    assert.equal(cluster.raft("n3").status().term, term + 1);
    cluster.propose("n3");
    cluster.stabilize();
    cluster.checkSafety();
  });
}

Deno.test("a transfer to a voter that may not campaign moves on to another voter at once", () => {
  const cluster = new SimCluster({ seed: 9 });
  cluster.electLeader("n1");
  cluster.raft("n2").setCanCampaign(false); // it distrusts its log
  const term = cluster.raft("n1").status().term;
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  cluster.stabilize(); // no tick: nothing waits for the transfer's timeout
  assert.equal(cluster.leader(), "n3");
  assert.equal(cluster.raft("n3").status().term, term + 1);
  assert.equal(cluster.raft("n1").status().leaderId, "n3");
  cluster.checkSafety();
});

Deno.test("a transfer gives up at once when no voter that may campaign is left, and does not bounce", () => {
  const cluster = new SimCluster({ seed: 10 });
  cluster.electLeader("n1");
  cluster.raft("n2").setCanCampaign(false);
  cluster.raft("n3").setCanCampaign(false);
  const term = cluster.raft("n1").status().term;
  cluster.network.clearLog();
  cluster.raft("n2").requestNewTerm(); // hands over to n3, which refuses too
  cluster.stabilize();
  assert.equal(cluster.sentOfType(MessageType.TimeoutNow).length, 1);
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.equal(cluster.leader(), "n1");
  assert.equal(cluster.raft("n1").status().term, term);
  cluster.propose("n1", "accepted at once");
  // A hand-over asked for later skips both while they keep refusing.
  cluster.raft("n1").transferLeadership(nodeId("n3"));
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.equal(cluster.sentOfType(MessageType.TimeoutNow).length, 2);
  cluster.propose("n1", "accepted again");
  cluster.stabilize();
  cluster.checkSafety();
});

Deno.test("a transfer to a voter still installing a snapshot moves on to another voter at once", () => {
  const cluster = new SimCluster({ seed: 11, node: { snapshotChunkBytes: 256 } });
  cluster.electLeader("n1");
  cluster.crash("n3");
  for (let count = 0; count < 20; count++) cluster.propose("n1", `entry ${count}`);
  cluster.stabilize();
  cluster.compact("n1");
  cluster.restart("n3");
  const term = cluster.raft("n1").status().term;
  // n3 gets the snapshot. While the application still handles the Ready that installs it (its
  // answer sent, the Ready not yet advanced), the leader's `TimeoutNow` arrives: n3 may not
  // campaign until the install is done.
  let installing = 0;
  cluster.onReady = (id, ready) => {
    if (id !== "n3" || ready.snapshot === undefined) return;
    installing++;
    cluster.network.send(ready.messages.splice(0));
    cluster.stabilize();
  };
  cluster.raft("n1").transferLeadership(nodeId("n3"));
  cluster.stabilize(); // no tick: nothing waits for the transfer's timeout or a heartbeat
  assert.equal(installing, 1, "n3 installed one snapshot");
  assert.ok(cluster.sentOfType(MessageType.TimeoutNow).some((message) => message.to === "n3"));
  assert.equal(cluster.leader(), "n2");
  assert.equal(cluster.raft("n2").status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("the leader's status shows which voters said lately that they may not campaign", () => {
  const cluster = new SimCluster({ seed: 12 });
  cluster.electLeader("n1");
  cluster.raft("n2").setCanCampaign(false);
  cluster.raft("n3").setCanCampaign(false);
  const refused = () => {
    const { progress } = cluster.raft("n1").status();
    return [progress.n1.refusedLead, progress.n2.refusedLead, progress.n3.refusedLead];
  };
  assert.deepEqual(refused(), [false, false, false]);
  cluster.raft("n1").transferLeadership(nodeId("n3")); // n3 refuses, then n2: n1 keeps leading
  cluster.stabilize();
  assert.equal(cluster.leader(), "n1");
  assert.deepEqual(refused(), [false, true, true]);
  // The mark lasts two election timeouts (10 ticks each), as the leader's own choice skips it.
  for (let tick = 0; tick < 19; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.deepEqual(refused(), [false, true, true]);
  cluster.tickAll();
  assert.deepEqual(refused(), [false, false, false]);
});

Deno.test("a transferee that has just started a pre-vote campaigns at once on TimeoutNow", () => {
  const cluster = new SimCluster({ seed: 13 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  // n3's election timer ran out (say, a few heartbeats were late): it pre-campaigns in n1's
  // term; n1 and n2, in their leases, ignore its pre-votes.
  cluster.raft("n3").campaign();
  cluster.stabilize();
  assert.equal(cluster.raft("n3").status().role, "preCandidate");
  assert.equal(cluster.raft("n3").status().term, term);
  cluster.raft("n1").transferLeadership(nodeId("n3"));
  cluster.stabilize(); // no tick: no heartbeat answer brings a second TimeoutNow
  assert.equal(cluster.leader(), "n3");
  assert.equal(cluster.raft("n3").status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("a pre-candidate that may not campaign answers the leader's TimeoutNow with NewTerm", () => {
  const cluster = new SimCluster({ seed: 14 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  cluster.raft("n3").campaign();
  cluster.stabilize();
  assert.equal(cluster.raft("n3").status().role, "preCandidate");
  cluster.raft("n3").setCanCampaign(false); // it came to distrust its log meanwhile
  cluster.network.clearLog();
  cluster.raft("n1").transferLeadership(nodeId("n3"));
  cluster.stabilize();
  assert.deepEqual(
    cluster.sentOfType(MessageType.NewTerm).map((message) => message.from),
    ["n3"],
  );
  // The leader moved on to n2 at once.
  assert.equal(cluster.leader(), "n2");
  assert.equal(cluster.raft("n2").status().term, term + 1);
  cluster.checkSafety();
});
