import assert from "node:assert/strict";
import { InvalidRequestError, ProposalDroppedError } from "./errors.ts";
import { applyConfigChange, ConfigHistory, encodeConfigChange } from "./membership.ts";
import { SimCluster } from "./testing/mod.ts";
import { type Entry, EntryType, type LogIndex, MessageType, nodeId, type Term } from "./types.ts";

const [a, b, c] = [nodeId("a"), nodeId("b"), nodeId("c")];

function settle(cluster: SimCluster, ticks = 5): void {
  for (let tick = 0; tick < ticks; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

/** A three-voter group plus an empty fourth node waiting to be added. */
function growingCluster(seed: number): SimCluster {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    config: { voters: ["n1", "n2", "n3"] },
    seed,
  });
  cluster.electLeader("n1");
  for (let count = 0; count < 5; count++) cluster.propose("n1");
  cluster.stabilize();
  return cluster;
}

Deno.test("config changes validate: add, promote, remove, and refuse the impossible", () => {
  const config = { voters: [a], learners: [] };
  const withLearner = applyConfigChange(config, { type: "addLearner", nodeId: b });
  assert.deepEqual(withLearner, { voters: [a], learners: [b] });
  const promoted = applyConfigChange(withLearner, { type: "promote", nodeId: b });
  assert.deepEqual(promoted, { voters: [a, b], learners: [] });
  assert.deepEqual(applyConfigChange(promoted, { type: "remove", nodeId: a }), {
    voters: [b],
    learners: [],
  });
  assert.throws(
    () => applyConfigChange(config, { type: "promote", nodeId: c }),
    InvalidRequestError,
  );
  assert.throws(
    () => applyConfigChange(config, { type: "addLearner", nodeId: a }),
    InvalidRequestError,
  );
  assert.throws(
    () => applyConfigChange(config, { type: "remove", nodeId: a }),
    InvalidRequestError,
  );
  assert.throws(
    () => applyConfigChange(config, { type: "remove", nodeId: c }),
    InvalidRequestError,
  );
});

Deno.test("a config history undoes truncated changes and folds committed ones", () => {
  const history = new ConfigHistory(0 as LogIndex, { voters: [a], learners: [] });
  const entry = (index: number, change: Parameters<typeof encodeConfigChange>[0]): Entry => ({
    term: 1 as Term,
    index: index as LogIndex,
    type: EntryType.ConfigChange,
    data: encodeConfigChange(change),
  });
  history.append([entry(2, { type: "addLearner", nodeId: b })]);
  history.append([entry(4, { type: "promote", nodeId: b })]);
  assert.deepEqual(history.current().voters, [a, b]);
  history.truncateFrom(3 as LogIndex);
  assert.deepEqual(history.current(), { voters: [a], learners: [b] });
  history.commitTo(2 as LogIndex);
  assert.throws(() => history.truncateFrom(2 as LogIndex));
});

Deno.test("an append whose config change doesn't decode or apply is dropped, not fatal", () => {
  const cluster = new SimCluster({ seed: 31 });
  const leader = cluster.electLeader("n1");
  cluster.propose(leader);
  cluster.stabilize();
  const follower = cluster.raft("n2");
  const before = follower.status();
  const data = [
    new TextEncoder().encode("not json"),
    new TextEncoder().encode('{"type":"bogus","nodeId":"n9"}'),
    encodeConfigChange({ type: "remove", nodeId: nodeId("stranger") }), // not a member
  ];
  for (const bytes of data) {
    cluster.network.clearLog();
    // What a faulty (or forged) leader of the current term could send.
    follower.step({
      type: MessageType.App,
      from: cluster.node(leader).id,
      to: cluster.node("n2").id,
      term: before.term,
      logTerm: before.term, // the last entry (a proposal of this term)
      index: before.lastIndex,
      entries: [{
        term: before.term,
        index: (before.lastIndex + 1) as LogIndex,
        type: EntryType.ConfigChange,
        data: bytes,
      }],
      commit: before.commit,
      reject: false,
      rejectHint: 0,
      context: "",
    } as never);
    cluster.processReadies();
    assert.equal(follower.status().lastIndex, before.lastIndex, "nothing was appended");
  }
  cluster.propose(leader);
  cluster.stabilize();
  assert.equal(follower.status().lastIndex, before.lastIndex + 1, "the follower still follows");
  cluster.checkSafety();
});

Deno.test("a learner catches up without voting, then is promoted to a voter", () => {
  const cluster = growingCluster(1);
  const leader = cluster.raft("n1");
  leader.proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  settle(cluster);
  assert.deepEqual(leader.status().config.learners, ["n4"]);
  assert.deepEqual(cluster.node("n4").state, cluster.node("n1").state, "the learner caught up");
  assert.equal(leader.status().progress["n4"].match, leader.status().lastIndex);
  // A learner never campaigns, however long it waits.
  cluster.network.isolate(cluster.node("n4").id, cluster.ids);
  settle(cluster, 50);
  assert.equal(cluster.sentOfType(MessageType.PreVote).filter((m) => m.from === "n4").length, 0);
  cluster.network.heal();
  settle(cluster);
  leader.proposeConfigChange({ type: "promote", nodeId: nodeId("n4") });
  settle(cluster);
  assert.deepEqual(leader.status().config.voters, ["n1", "n2", "n3", "n4"]);
  // With four voters, two nodes down leave no majority: commits stop.
  cluster.crash("n2");
  cluster.crash("n3");
  const commitBefore = leader.status().commit;
  cluster.propose("n1", "needs three of four");
  settle(cluster, 3);
  assert.equal(leader.status().commit, commitBefore);
  cluster.restart("n3");
  settle(cluster, 5);
  assert.ok(cluster.node("n4").state.at(-1)!.endsWith("needs three of four"));
  cluster.checkSafety();
});

Deno.test("a removed node gets no more entries and cannot disrupt the group", () => {
  const cluster = new SimCluster({ seed: 2 });
  const leader = cluster.raft(cluster.electLeader("n1"));
  leader.proposeConfigChange({ type: "remove", nodeId: nodeId("n3") });
  settle(cluster);
  assert.deepEqual(leader.status().config.voters, ["n1", "n2"]);
  assert.equal(leader.status().progress["n3"], undefined);
  const term = leader.status().term;
  cluster.network.clearLog();
  cluster.propose("n1", "without n3");
  settle(cluster, 40);
  // Only the answers to its campaigns that tell it it was removed (removed_member_test.ts).
  const toRemoved = cluster.network.sent.filter((m) => m.to === "n3");
  assert.ok(toRemoved.every((m) => m.type === MessageType.Removed), "entries sent to n3");
  assert.equal(leader.status().role, "leader");
  assert.equal(leader.status().term, term);
  // The removal took effect on the leader when appended, so n3 never heard of it; its campaigns
  // are ignored by the others' leases.
  assert.equal(cluster.raft("n2").status().term, term);
});

Deno.test("only one config change may be pending, and only after the leader's first commit", () => {
  const cluster = growingCluster(3);
  const leader = cluster.raft("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  leader.proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  assert.throws(
    () => leader.proposeConfigChange({ type: "remove", nodeId: nodeId("n2") }),
    (error) => error instanceof ProposalDroppedError && error.reason === "config-change-pending",
  );
  assert.throws(
    () => leader.proposeConfigChange({ type: "remove", nodeId: nodeId("n1") }),
    ProposalDroppedError,
  );
  cluster.network.heal();
  settle(cluster, 1);
  assert.throws(
    () => leader.proposeConfigChange({ type: "remove", nodeId: nodeId("n1") }),
    InvalidRequestError,
    "a leader cannot remove itself",
  );
  assert.throws(
    () => leader.proposeConfigChange({ type: "promote", nodeId: nodeId("n2") }),
    InvalidRequestError,
  );
});

Deno.test("a config change takes effect when appended and is undone when truncated", () => {
  const cluster = growingCluster(4);
  const oldLeader = cluster.raft("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  oldLeader.proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  cluster.stabilize();
  assert.deepEqual(oldLeader.status().config.learners, ["n4"], "in effect while uncommitted");
  assert.ok(oldLeader.status().commit < oldLeader.status().lastIndex);
  let newLeader = cluster.leader();
  while (newLeader === null || newLeader === "n1") {
    cluster.tickAll();
    cluster.stabilize();
    newLeader = cluster.leader();
  }
  cluster.propose(newLeader, "new term");
  cluster.stabilize();
  cluster.network.heal();
  settle(cluster, 25);
  assert.equal(oldLeader.status().role, "follower");
  assert.deepEqual(oldLeader.status().config.learners, [], "the truncated change is undone");
  cluster.checkSafety();
});

Deno.test("a restarted node rebuilds its membership from the config entries in its log", () => {
  const cluster = growingCluster(5);
  cluster.raft("n1").proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  settle(cluster);
  cluster.crash("n2");
  cluster.restart("n2");
  assert.deepEqual(cluster.raft("n2").status().config, {
    voters: ["n1", "n2", "n3"],
    learners: ["n4"],
  });
});
