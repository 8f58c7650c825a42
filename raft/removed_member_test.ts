/**
 * A voter removed while it was cut off (or down) never sees the entry that removed it. These
 * tests pin down what it may still do to the group (nothing), how the group tells it, and that a
 * member that lags can't talk a node that is newer than its own view out of the cluster.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryLogStorage } from "./log_storage.ts";
import { ConfigHistory, encodeConfigChange } from "./membership.ts";
import { SimCluster } from "./testing/mod.ts";
import {
  type Entry,
  EntryType,
  type LogIndex,
  type Message,
  MessageType,
  nodeId,
  type Term,
} from "./types.ts";

const [a, b] = [nodeId("n1"), nodeId("n2")];

function settle(cluster: SimCluster, ticks: number): void {
  for (let tick = 0; tick < ticks; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

/** n1 leads n1..n3 and removes n3 while n3 is cut off; returns the removal's index. */
function removeWhileCutOff(cluster: SimCluster): LogIndex {
  cluster.electLeader("n1");
  cluster.propose("n1", "before");
  cluster.stabilize();
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  const removal = cluster.raft("n1").proposeConfigChange({ type: "remove", nodeId: nodeId("n3") });
  cluster.propose("n1", "after");
  settle(cluster, 3);
  assert.deepEqual(cluster.raft("n2").status().config.voters, ["n1", "n2"]);
  assert.ok(cluster.raft("n2").status().commit >= removal.index, "the removal committed");
  assert.deepEqual(cluster.raft("n3").status().config.voters, ["n1", "n2", "n3"]);
  return removal.index;
}

for (
  const settings of [{ preVote: true, checkQuorum: true }, { preVote: false, checkQuorum: false }]
) {
  Deno.test(`a removed node that missed its removal never moves the group's term or leader (${JSON.stringify(settings)})`, () => {
    const cluster = new SimCluster({ seed: 7, node: settings });
    removeWhileCutOff(cluster);
    // Cut off, n3 campaigns (without pre-vote its term climbs; with it, it stays).
    settle(cluster, 60);
    const term = cluster.raft("n1").status().term;
    cluster.network.heal();
    cluster.network.clearLog();
    settle(cluster, 100);
    for (const id of ["n1", "n2"]) {
      const status = cluster.raft(id).status();
      assert.equal(status.term, term, `${id} kept its term`);
      assert.equal(status.leaderId, "n1", `${id} kept its leader`);
    }
    assert.equal(cluster.raft("n1").status().role, "leader");
    assert.notEqual(cluster.raft("n3").status().role, "leader");
    cluster.checkSafety();
  });
}

Deno.test("the group tells a removed node that campaigns that it was removed, and it stops", () => {
  const cluster = new SimCluster({ seed: 11 });
  const removedAt = removeWhileCutOff(cluster);
  settle(cluster, 40);
  cluster.network.heal();
  settle(cluster, 40);
  const status = cluster.raft("n3").status();
  assert.ok(status.removal !== null, "n3 learned of its removal");
  assert.ok(status.removal.index >= removedAt, `removed as of ${status.removal.index}`);
  assert.ok(["n1", "n2"].includes(status.removal.by!));
  assert.equal(status.role, "follower");
  // Told once, it campaigns no more: nothing from it after one more election timeout.
  settle(cluster, 5);
  cluster.network.clearLog();
  settle(cluster, 60);
  assert.deepEqual(cluster.network.sent.filter((message) => message.from === "n3"), []);
  assert.equal(cluster.raft("n1").status().role, "leader");
});

Deno.test("a removed node that was down when it was removed learns it after its restart", () => {
  const cluster = new SimCluster({ seed: 12 });
  cluster.electLeader("n1");
  cluster.crash("n3");
  const removal = cluster.raft("n1").proposeConfigChange({ type: "remove", nodeId: nodeId("n3") });
  settle(cluster, 3);
  cluster.restart("n3");
  assert.equal(cluster.raft("n3").status().removal, null, "nothing in its log says so");
  settle(cluster, 60);
  const told = cluster.raft("n3").status().removal;
  assert.ok(told !== null && told.index >= removal.index, JSON.stringify(told));
});

Deno.test("a node whose own log removes it knows it, and no longer once the removal is undone", () => {
  const self = nodeId("n3");
  const history = new ConfigHistory(0 as LogIndex, { voters: [a, b, self], learners: [] }, self);
  const change = (index: number, type: "addLearner" | "promote" | "remove"): Entry => ({
    term: 1 as Term,
    index: index as LogIndex,
    type: EntryType.ConfigChange,
    data: encodeConfigChange({ type, nodeId: self }),
  });
  assert.equal(history.selfRemovedAt(), null);
  history.append([change(5, "remove")]);
  assert.equal(history.selfRemovedAt(), 5);
  history.truncateFrom(5 as LogIndex); // the removal was never committed
  assert.equal(history.selfRemovedAt(), null);
  history.append([change(6, "remove")]);
  history.commitTo(6 as LogIndex);
  assert.equal(history.selfRemovedAt(), 6, "kept when folded into the committed base");
  history.append([change(9, "addLearner")]);
  assert.equal(history.selfRemovedAt(), null, "added back");
  history.reset(12 as LogIndex, { voters: [a, b], learners: [] });
  assert.equal(history.selfRemovedAt(), 12, "a snapshot without it");
  // A node that never was a member in its history is not "removed": it waits to be added.
  const fresh = new ConfigHistory(0 as LogIndex, { voters: [a, b], learners: [] }, self);
  fresh.reset(7 as LogIndex, { voters: [a, b], learners: [] });
  assert.equal(fresh.selfRemovedAt(), null);
});

Deno.test("a removed node added back leaves the removed state once its log shows it a member", () => {
  const cluster = new SimCluster({ seed: 14 });
  removeWhileCutOff(cluster);
  cluster.network.heal();
  settle(cluster, 40);
  assert.ok(cluster.raft("n3").status().removal !== null);
  const readd = cluster.raft("n1").proposeConfigChange({
    type: "addLearner",
    nodeId: nodeId("n3"),
  });
  settle(cluster, 10);
  const status = cluster.raft("n3").status();
  assert.ok(status.lastIndex >= readd.index);
  assert.equal(status.removal, null);
  assert.deepEqual(status.config.learners, ["n3"]);
});

Deno.test("a lagging member can't talk a newly added voter out of the cluster", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    config: { voters: ["n1", "n2", "n3"] },
    seed: 15,
  });
  cluster.electLeader("n1");
  cluster.propose("n1", "x");
  cluster.stabilize();
  // n3 lags: it never hears of n4.
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  const leader = cluster.raft("n1");
  leader.proposeConfigChange({ type: "addLearner", nodeId: nodeId("n4") });
  settle(cluster, 3);
  leader.proposeConfigChange({ type: "promote", nodeId: nodeId("n4") });
  settle(cluster, 3);
  assert.deepEqual(cluster.raft("n4").status().config.voters, ["n1", "n2", "n3", "n4"]);
  // The leader dies; n3 comes back without n4 in its view; n4 campaigns to it too.
  cluster.crash("n1");
  cluster.network.heal();
  cluster.network.clearLog();
  cluster.raft("n4").campaign();
  cluster.stabilize();
  settle(cluster, 80);
  const told = cluster.network.sent.filter((message) =>
    message.type === MessageType.Removed && message.to === "n4"
  );
  assert.ok(told.length > 0, "n3 did answer n4's campaign as a stranger's");
  assert.equal(cluster.raft("n4").status().removal, null, "n4 did not believe it");
  const leaderNow = cluster.leader();
  assert.ok(leaderNow === "n2" || leaderNow === "n4", `leader ${leaderNow}`);
  cluster.checkSafety();
});

Deno.test("a removal notice counts only from a voter of the committed config, about a later index", () => {
  const cluster = new SimCluster({ seed: 16 });
  cluster.electLeader("n1");
  cluster.propose("n1", "x");
  cluster.stabilize();
  const n3 = cluster.raft("n3");
  // While a leader talks to it, no verdict shows (see the next test): let n3's lease run out.
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  settle(cluster, 25);
  const { commit } = n3.status();
  const notice = (from: string, index: number): Message => ({
    type: MessageType.Removed,
    from: nodeId(from),
    to: nodeId("n3"),
    term: n3.status().term,
    logTerm: 0 as Term,
    index: index as LogIndex,
    entries: [],
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
  });
  n3.step(notice("stranger", commit + 10));
  assert.equal(n3.status().removal, null, "from a node outside the config");
  n3.step(notice("n2", commit));
  assert.equal(n3.status().removal, null, "about an index n3 has already seen");
  n3.step(notice("n2", commit + 10));
  assert.deepEqual(n3.status().removal, { index: commit + 10, by: "n2" });
});

Deno.test("a node added back with a fresh log is no removed node while it replays its id's removal", () => {
  // One entry per append, so the new n3 passes through every configuration of the old history.
  const cluster = new SimCluster({ seed: 17, node: { entriesPerMessageBytesMax: 1 } });
  removeWhileCutOff(cluster);
  cluster.crash("n3");
  const node = cluster.node("n3");
  // A joiner starts from the group's bootstrap configuration (main.ts asks a member for it).
  node.storage = new MemoryLogStorage({ config: { voters: [a, b, nodeId("n3")], learners: [] } });
  cluster.network.heal();
  cluster.restart("n3");
  const readd = cluster.raft("n1").proposeConfigChange({
    type: "addLearner",
    nodeId: nodeId("n3"),
  });
  let replayedRemoval = false;
  for (let round = 0; round < 400 && cluster.raft("n3").status().lastIndex < readd.index; round++) {
    if (round % 5 === 0) cluster.tickAll();
    cluster.deliver(1);
    cluster.processReadies();
    const status = cluster.raft("n3").status();
    // Its base configuration (the bootstrap one) lists n3; the old removal takes it out again.
    if (!status.config.voters.includes(nodeId("n3")) && status.lastIndex > 1) {
      replayedRemoval = true;
    }
    assert.equal(status.removal, null, `at ${status.lastIndex}`);
  }
  assert.ok(replayedRemoval, "the catch-up went through the old removal");
  settle(cluster, 5);
  assert.deepEqual(cluster.raft("n3").status().config.learners, ["n3"]);
  assert.equal(cluster.raft("n3").status().removal, null);
});

Deno.test("random removal notices from a learner, a stranger, or about a reached index are ignored", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3", "n4"],
    config: { voters: ["n1", "n2", "n3"], learners: ["n4"] },
    seed: 18,
  });
  cluster.electLeader("n1");
  cluster.propose("n1", "x");
  cluster.stabilize();
  const n3 = cluster.raft("n3");
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  settle(cluster, 25);
  const { commit } = n3.status();
  const count = (max: number) => fc.integer({ min: 0, max });
  const notices = fc.oneof(
    // Anyone but a voter of n3's committed configuration, about any index.
    fc.record({ from: fc.constantFrom("n4", "stranger", "n3x"), index: count(2 ** 52) }),
    // A voter, about an index n3's commit has reached.
    fc.record({ from: fc.constantFrom("n1", "n2"), index: count(commit) }),
  );
  fc.assert(
    fc.property(
      notices,
      count(2 ** 48),
      count(2 ** 48),
      fc.string(),
      (notice, term, other, context) => {
        n3.step({
          type: MessageType.Removed,
          from: nodeId(notice.from),
          to: nodeId("n3"),
          term: term as Term,
          logTerm: 0 as Term,
          index: notice.index as LogIndex,
          entries: [],
          commit: other as LogIndex,
          reject: other % 2 === 0,
          rejectHint: other as LogIndex,
          context,
        });
        assert.equal(n3.status().removal, null, JSON.stringify(notice));
      },
    ),
    { numRuns: 300, seed: 20260120 },
  );
  // Still a member that campaigns: cut off, it keeps starting elections.
  cluster.network.clearLog();
  settle(cluster, 60);
  assert.ok(cluster.network.sent.some((message) => message.from === "n3"), "n3 went quiet");
});

Deno.test("a learner removed while cut off learns it was removed, though it never campaigns", () => {
  // A node that may not campaign (a learner, a joining voter that has not reached its floor, a
  // distrusted log) sent nothing once its leader went silent, so it was never told: it waited
  // for a leader forever instead of saying it was removed (a node removed just after `--join`).
  const cluster = new SimCluster({
    seed: 5,
    ids: ["n1", "n2", "n3", "n4"],
    config: { voters: ["n1", "n2", "n3"], learners: ["n4"] },
  });
  cluster.electLeader("n1");
  cluster.propose("n1", "before");
  cluster.stabilize();
  cluster.network.isolate(nodeId("n4"), cluster.ids);
  const removal = cluster.raft("n1").proposeConfigChange({ type: "remove", nodeId: nodeId("n4") });
  settle(cluster, 3);
  cluster.network.heal();
  settle(cluster, 40);
  const status = cluster.raft("n4").status();
  assert.ok(status.removal !== null, "n4 learned of its removal");
  assert.ok(status.removal.index >= removal.index);
  assert.equal(cluster.sentOfType(MessageType.PreVote).filter((m) => m.from === "n4").length, 0);
  // The group is undisturbed: same leader, same term.
  const term = cluster.raft("n1").status().term;
  settle(cluster, 40);
  assert.equal(cluster.raft("n1").status().role, "leader");
  assert.equal(cluster.raft("n2").status().term, term);
  cluster.checkSafety();
});
