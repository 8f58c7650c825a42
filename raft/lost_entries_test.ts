import assert from "node:assert/strict";
import { isLostEntries } from "./incarnation.ts";
import { SimCluster } from "./testing/mod.ts";
import { type LogIndex, LOST_ENTRIES, MessageType } from "./types.ts";

/** n3 loses entries 5..9, which it had acknowledged; nobody else knows yet. */
function loseTail(cluster: SimCluster): void {
  cluster.crash("n3");
  const storage = cluster.node("n3").storage;
  storage.append(storage.entries(4 as LogIndex, 5 as LogIndex, Infinity));
  storage.setHardState({ ...storage.initialState().hardState, commit: 4 as LogIndex });
  cluster.restart("n3");
}

Deno.test("an idle leader learns from its heartbeat's answer that a follower lost entries, and re-sends them", () => {
  const cluster = new SimCluster({ seed: 21, node: { checkQuorum: false } });
  const leader = cluster.electLeader("n1");
  for (let count = 0; count < 8; count++) cluster.propose(leader);
  cluster.stabilize();
  cluster.tickAll();
  cluster.stabilize();
  assert.equal(cluster.raft(leader).status().progress["n3"].match, 9);
  loseTail(cluster);
  cluster.network.clearLog();
  // No proposal: only a heartbeat (commit 9, beyond n3's log) can reveal the loss.
  for (let tick = 0; tick < 3; tick++) {
    cluster.tickAll();
    cluster.stabilize();
    const status = cluster.raft("n3").status();
    assert.ok(status.commit <= status.lastIndex, "a follower never commits past its log");
  }
  const marked = cluster.sentOfType(MessageType.AppResp)
    .filter((message) => isLostEntries(message.context));
  assert.ok(marked.length >= 1, "n3 said it lost entries");
  assert.equal(marked[0].rejectHint, 4);
  assert.equal(cluster.raft("n3").status().lastIndex, 9, "the leader re-sent 5..9");
  assert.equal(cluster.raft(leader).status().progress["n3"].match, 9);
  cluster.checkLogMatching();
});

Deno.test("a lost-entries answer that brings no news changes nothing", () => {
  const cluster = new SimCluster({ seed: 22 });
  const leader = cluster.electLeader("n1");
  cluster.propose(leader);
  cluster.stabilize();
  const before = cluster.raft(leader).status().progress["n2"];
  cluster.network.clearLog();
  cluster.raft(leader).step({
    type: MessageType.AppResp,
    from: cluster.node("n2").id,
    to: cluster.node(leader).id,
    term: cluster.raft(leader).status().term,
    logTerm: 0,
    index: before.match,
    entries: [],
    commit: 0,
    reject: true,
    rejectHint: before.match,
    context: LOST_ENTRIES,
  } as never);
  cluster.processReadies();
  assert.deepEqual(cluster.raft(leader).status().progress["n2"], before);
  assert.equal(cluster.sentOfType(MessageType.App).length, 0);
});

Deno.test("an acknowledgement of entries past the leader's log is ignored, not counted or chased", () => {
  const cluster = new SimCluster({ seed: 24 });
  const leader = cluster.electLeader("n1");
  cluster.propose(leader);
  cluster.stabilize();
  const status = cluster.raft(leader).status();
  const before = status.progress["n2"];
  cluster.network.clearLog();
  // What a faulty (or forged) member could send: an acceptance far beyond the leader's log.
  cluster.raft(leader).step({
    type: MessageType.AppResp,
    from: cluster.node("n2").id,
    to: cluster.node(leader).id,
    term: status.term,
    logTerm: 0,
    index: status.lastIndex + 1_000_000,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
  } as never);
  cluster.processReadies();
  const after = cluster.raft(leader).status();
  assert.deepEqual(after.progress["n2"], before);
  assert.equal(after.commit, status.commit);
  assert.equal(after.role, "leader");
  cluster.propose(leader);
  cluster.stabilize();
  cluster.checkSafety();
});

Deno.test("a follower's NewTerm request makes the leader hand over to the most caught-up other voter", () => {
  const cluster = new SimCluster({ ids: ["n1", "n2", "n3", "n4", "n5"], seed: 23 });
  const leader = cluster.electLeader("n1");
  cluster.network.hold(cluster.node("n2").id);
  cluster.propose(leader);
  cluster.stabilize(); // n2 lags behind; n3, n4, n5 hold everything
  const term = cluster.raft(leader).status().term;
  cluster.raft("n5").requestNewTerm();
  cluster.processReadies();
  assert.equal(cluster.sentOfType(MessageType.NewTerm).length, 1);
  cluster.stabilize();
  const next = cluster.leader();
  assert.ok(next === "n3" || next === "n4", `leader is ${next}`);
  assert.equal(cluster.raft(next!).status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("a NewTerm request is ignored when no other voter could take over", () => {
  const cluster = new SimCluster({ ids: ["n1", "n2"], seed: 24 });
  const leader = cluster.electLeader("n1");
  const term = cluster.raft(leader).status().term;
  cluster.raft("n2").requestNewTerm();
  cluster.stabilize();
  assert.equal(cluster.leader(), leader);
  assert.equal(cluster.raft(leader).status().term, term);
  assert.equal(cluster.raft(leader).status().leadTransferee, null);
});
