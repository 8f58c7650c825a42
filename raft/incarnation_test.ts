import assert from "node:assert/strict";
import { heartbeatParts, isLostEntries } from "./incarnation.ts";
import { SimCluster } from "./testing/mod.ts";
import { type LogIndex, LOST_ENTRIES, type Message, MessageType, nodeId } from "./types.ts";

/** n1..n3 vote, n4 learns; n1 leads and everything is replicated. */
function withLearner(seed: number): SimCluster {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    config: { voters: ["n1", "n2", "n3"], learners: ["n4"] },
    seed,
  });
  cluster.electLeader("n1");
  cluster.propose("n1", "a");
  cluster.propose("n1", "b");
  cluster.stabilize();
  return cluster;
}

/** Takes the first message `from` sends that `pick` selects out of its Readies. */
function catchFirst(
  cluster: SimCluster,
  from: string,
  pick: (message: Message) => boolean,
): () => Message | null {
  let caught: Message | null = null;
  cluster.onReady = (id, ready) => {
    if (id !== from || caught !== null) return;
    const at = ready.messages.findIndex(pick);
    if (at >= 0) caught = ready.messages.splice(at, 1)[0];
  };
  return () => caught;
}

/** Removes n4, then adds it back under its id on an empty disk, in the leader's term. */
function rejoinN4(cluster: SimCluster): void {
  const leader = cluster.raft("n1");
  leader.proposeConfigChange({ type: "remove", nodeId: nodeId("n4") });
  cluster.stabilize();
  cluster.crash("n4");
  cluster.wipe("n4");
  leader.proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  cluster.processReadies();
}

Deno.test("a late heartbeat answer of a removed incarnation doesn't mark its successor heard from", () => {
  const cluster = withLearner(41);
  const late = catchFirst(cluster, "n4", (message) => message.type === MessageType.HeartbeatResp);
  cluster.tickAll();
  cluster.stabilize();
  cluster.onReady = null;
  const answer = late();
  assert.ok(answer !== null, "n4 answered a heartbeat");
  const term = cluster.raft("n1").status().term;
  rejoinN4(cluster);
  const n4 = cluster.node("n4").id;
  cluster.network.hold(n4); // the new incarnation hears nothing yet
  assert.equal(cluster.raft("n1").status().term, term);
  assert.equal(cluster.raft("n1").status().progress.n4.silentTicks, null);
  cluster.network.send([answer]);
  cluster.deliverUntil(() => !cluster.network.pending().includes(answer));
  assert.equal(
    cluster.raft("n1").status().progress.n4.silentTicks,
    null,
    "not heard from: the answer is its predecessor's",
  );
  cluster.network.release(n4);
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().progress.n4.silentTicks, 0, "the new one answers");
  cluster.checkSafety();
});

Deno.test("a late lost-entries rejection of a removed incarnation doesn't lower its successor's match", () => {
  const cluster = withLearner(42);
  cluster.tickAll();
  cluster.stabilize();
  // n4 loses its last entries; the leader's next heartbeat names a commit beyond its log.
  cluster.crash("n4");
  const storage = cluster.node("n4").storage;
  storage.append(storage.entries(1 as LogIndex, 2 as LogIndex, Infinity));
  storage.setHardState({ ...storage.initialState().hardState, commit: 1 as LogIndex });
  cluster.restart("n4");
  const late = catchFirst(
    cluster,
    "n4",
    (message) => message.type === MessageType.AppResp && isLostEntries(message.context),
  );
  cluster.tickAll();
  cluster.stabilize();
  cluster.onReady = null;
  const rejection = late();
  assert.ok(rejection !== null, "n4 said it lost entries");
  assert.equal(rejection.rejectHint, 1);
  rejoinN4(cluster);
  cluster.stabilize(); // the new incarnation catches up
  const caughtUp = cluster.raft("n1").status();
  assert.equal(caughtUp.progress.n4.match, caughtUp.lastIndex);
  cluster.network.clearLog();
  cluster.network.send([rejection]);
  cluster.deliverUntil(() => !cluster.network.pending().includes(rejection));
  const after = cluster.raft("n1").status();
  assert.equal(after.progress.n4.match, caughtUp.lastIndex, "the match stays");
  assert.equal(after.progress.n4.state, "replicate");
  assert.equal(
    cluster.sentOfType(MessageType.App).filter((message) => message.to === "n4").length,
    0,
    "nothing re-sent",
  );
  cluster.checkSafety();
});

Deno.test("heartbeats carry the member's incarnation tag and the read round; answers echo both", () => {
  const cluster = withLearner(43);
  cluster.network.clearLog();
  cluster.readIndex("n1", "read-1");
  cluster.stabilize();
  const heartbeats = cluster.sentOfType(MessageType.Heartbeat);
  assert.ok(heartbeats.length >= 3);
  for (const heartbeat of heartbeats) {
    const parts = heartbeatParts(heartbeat.context);
    assert.ok(parts.incarnation !== null && /^\d+$/.test(parts.incarnation), heartbeat.context);
    assert.match(parts.round, /^r\d+$/);
  }
  const answers = cluster.sentOfType(MessageType.HeartbeatResp);
  assert.deepEqual(
    answers.map((message) => [message.from, message.context]).sort(),
    heartbeats.map((message) => [message.to, message.context]).sort(),
  );
  assert.deepEqual(cluster.node("n1").readStates?.map((read) => read.requestId), ["read-1"]);
});

Deno.test("an untagged heartbeat (a leader of an older version) is answered with an untagged lost-entries rejection", () => {
  const cluster = withLearner(44);
  const { term, lastIndex } = cluster.raft("n2").status();
  cluster.network.clearLog();
  cluster.raft("n2").step({
    type: MessageType.Heartbeat,
    from: cluster.node("n1").id,
    to: cluster.node("n2").id,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: lastIndex + 5, // beyond n2's log
    reject: false,
    rejectHint: 0,
    context: "r7",
  } as never);
  cluster.processReadies();
  const sent = cluster.network.sent.filter((message) => message.from === "n2");
  const rejection = sent.find((message) => message.type === MessageType.AppResp);
  assert.equal(rejection?.context, LOST_ENTRIES);
  const answer = sent.find((message) => message.type === MessageType.HeartbeatResp);
  assert.equal(answer?.context, "r7");
});
