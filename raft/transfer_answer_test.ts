import assert from "node:assert/strict";
import { SimCluster } from "./testing/mod.ts";
import { type Message, MessageType, nodeId } from "./types.ts";

/** Takes every `NewTerm` `from` sends out of its Readies (kept, in order) until `stop()`. */
function holdNewTerms(cluster: SimCluster, from: string): { held: Message[]; stop(): void } {
  const held: Message[] = [];
  let holding = true;
  cluster.onReady = (id, ready) => {
    if (!holding || id !== from) return;
    held.push(...ready.messages.filter((message) => message.type === MessageType.NewTerm));
    ready.messages = ready.messages.filter((message) => message.type !== MessageType.NewTerm);
  };
  return { held, stop: () => (holding = false) };
}

/** Ticks every node `count` times, stabilizing after each. */
function tickFor(cluster: SimCluster, count: number): void {
  for (let tick = 0; tick < count; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

Deno.test("a late NewTerm answering a transfer that timed out does not make the leader hand over", () => {
  const cluster = new SimCluster({ seed: 31 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  cluster.raft("n2").setCanCampaign(false);
  const answers = holdNewTerms(cluster, "n2");
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  cluster.stabilize();
  tickFor(cluster, 10); // the transfer is abandoned at the election timeout
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.ok(answers.held.length > 0, "n2 answered the TimeoutNow");
  answers.stop();
  cluster.raft("n2").setCanCampaign(true); // it trusts its log again
  cluster.network.clearLog();
  cluster.network.send([answers.held[0]]); // the answer arrives late, in the same term
  cluster.stabilize();
  assert.equal(cluster.sentOfType(MessageType.TimeoutNow).length, 0, "no hand-over started");
  assert.equal(cluster.leader(), "n1");
  assert.equal(cluster.raft("n1").status().term, term);
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  assert.equal(cluster.raft("n1").status().progress.n2.refusedLead, false);
  cluster.checkSafety();
});

Deno.test("a late NewTerm answering an earlier transfer to the same voter does not end the one running", () => {
  const cluster = new SimCluster({ seed: 32 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  cluster.raft("n2").setCanCampaign(false);
  const answers = holdNewTerms(cluster, "n2");
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  cluster.stabilize();
  tickFor(cluster, 10);
  assert.equal(cluster.raft("n1").status().leadTransferee, null);
  answers.stop();
  cluster.raft("n2").setCanCampaign(true);
  // A new transfer to n2; its TimeoutNow is still on the wire when the old answer arrives.
  cluster.network.hold(nodeId("n2"));
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  cluster.processReadies();
  cluster.network.send([answers.held[0]]);
  cluster.deliver(); // only the late answer is deliverable: n2's mailbox is held
  assert.equal(cluster.raft("n1").status().leadTransferee, "n2", "the running transfer stays");
  cluster.network.release(nodeId("n2"));
  cluster.stabilize();
  assert.equal(cluster.leader(), "n2");
  assert.equal(cluster.raft("n2").status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("an untagged NewTerm answering TimeoutNow (a node of an older version) still ends the transfer", () => {
  const cluster = new SimCluster({ seed: 33 });
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  cluster.raft("n2").setCanCampaign(false);
  // n2 answers as a node that does not echo the transfer's tag.
  cluster.onReady = (id, ready) => {
    if (id !== "n2") return;
    ready.messages = ready.messages.map((message) =>
      message.type === MessageType.NewTerm ? { ...message, context: "" } : message
    );
  };
  cluster.raft("n1").transferLeadership(nodeId("n2"));
  cluster.stabilize(); // no tick: the transfer is given up at once, as before tags
  assert.equal(cluster.leader(), "n3");
  assert.equal(cluster.raft("n3").status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("each transfer's TimeoutNow carries its own tag, and a refusing voter echoes it", () => {
  const cluster = new SimCluster({ seed: 34 });
  cluster.electLeader("n1");
  cluster.raft("n2").setCanCampaign(false);
  cluster.raft("n3").setCanCampaign(false);
  cluster.network.clearLog();
  cluster.raft("n1").transferLeadership(nodeId("n2")); // n2 refuses, then n3: n1 keeps leading
  cluster.stabilize();
  const timeoutNows = cluster.sentOfType(MessageType.TimeoutNow);
  const newTerms = cluster.sentOfType(MessageType.NewTerm);
  assert.deepEqual(timeoutNows.map((message) => message.to), ["n2", "n3"]);
  assert.notEqual(timeoutNows[0].context, "");
  assert.notEqual(timeoutNows[0].context, timeoutNows[1].context);
  assert.deepEqual(
    newTerms.map((message) => [message.from, message.context]),
    timeoutNows.map((message) => [message.to, message.context]),
  );
  assert.equal(cluster.leader(), "n1");
});

Deno.test("a hand-over skips a voter silent for longer than answerTicksMax, as status().answering says", () => {
  // Without check-quorum nothing resets the per-round activity marks: n3, silent for 6 ticks,
  // was still "recently active" by them.
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    seed: 35,
    node: { checkQuorum: false },
  });
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  const term = cluster.raft("n1").status().term;
  cluster.network.isolate(nodeId("n3"), cluster.ids); // as caught up as n4, but down
  tickFor(cluster, 4);
  const progress = () => cluster.raft("n1").status().progress;
  assert.equal(progress().n3.silentTicks, 4);
  assert.equal(progress().n3.answering, false, "silent for more than 3 ticks");
  assert.equal(progress().n4.answering, true);
  cluster.raft("n2").requestNewTerm(); // n3 comes first among equals, but it does not answer
  cluster.stabilize();
  assert.equal(cluster.leader(), "n4");
  assert.equal(cluster.raft("n4").status().term, term + 1);
  cluster.checkSafety();
});

Deno.test("answerTicksMax sets how long a silent voter still counts as answering", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    seed: 36,
    node: { checkQuorum: false, answerTicksMax: 6 },
  });
  cluster.electLeader("n1");
  cluster.propose("n1");
  cluster.stabilize();
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  tickFor(cluster, 6);
  const progress = () => cluster.raft("n1").status().progress;
  assert.equal(progress().n3.answering, true, "6 ticks silent: within the window");
  cluster.raft("n2").requestNewTerm();
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().leadTransferee, "n3", "the leader picks it too");
  tickFor(cluster, 1);
  assert.equal(progress().n3.answering, false);
});

Deno.test("answerTicksMax shorter than a heartbeat interval is refused", () => {
  assert.throws(
    () => new SimCluster({ seed: 37, node: { heartbeatTicks: 4, answerTicksMax: 3 } }),
    /answerTicksMax ≥ heartbeatTicks/,
  );
});
