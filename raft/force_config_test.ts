/**
 * Forcing a survivor to be the sole voter (`--force-new-cluster`): the changes it appends, and a
 * group whose majority is gone for good that gets its survivor back to committing — with every
 * entry of its log, the ones past its old commit index included — across restarts and snapshots,
 * while an old member that comes back gets nothing from it.
 */
import assert from "node:assert/strict";
import { InvalidRequestError } from "./errors.ts";
import { soleVoterChanges, soleVoterTakeover } from "./force_config.ts";
import { applyConfigChange, decodeConfigChange } from "./membership.ts";
import { SimCluster } from "./testing/mod.ts";
import { EntryType, type LogIndex, MessageType, nodeId, type Term } from "./types.ts";

const [a, b, c, d] = [nodeId("a"), nodeId("b"), nodeId("c"), nodeId("d")];

Deno.test("the changes promote a learner survivor, then remove every other member", () => {
  assert.deepEqual(soleVoterChanges({ voters: [a, b, c], learners: [d] }, b), [
    { type: "remove", nodeId: a },
    { type: "remove", nodeId: c },
    { type: "remove", nodeId: d },
  ]);
  const fromLearner = soleVoterChanges({ voters: [a, b], learners: [c] }, c);
  assert.deepEqual(fromLearner, [
    { type: "promote", nodeId: c },
    { type: "remove", nodeId: a },
    { type: "remove", nodeId: b },
  ]);
  // Each one applies in turn (the single-server rules hold at every step).
  let config = { voters: [a, b], learners: [c] };
  for (const change of fromLearner) config = applyConfigChange(config, change);
  assert.deepEqual(config, { voters: [c], learners: [] });
  assert.deepEqual(soleVoterChanges({ voters: [a], learners: [] }, a), [], "already alone");
  assert.throws(
    () => soleVoterChanges({ voters: [a, b], learners: [c] }, d),
    (error: Error) =>
      error instanceof InvalidRequestError &&
      error.message === "d is not a member of its configuration (voters a, b, learners c)",
  );
});

Deno.test("the takeover is a new term voted for itself, then its entries at that term", () => {
  const takeover = soleVoterTakeover({
    self: b,
    config: { voters: [a, b, c], learners: [] },
    hardState: { term: 7 as Term, vote: a, commit: 40 as LogIndex },
    lastIndex: 45 as LogIndex,
    lastTerm: 6 as Term,
  }, { before: [{ type: 20, data: new Uint8Array([1]) }], timestamp: 1234 });
  assert.ok(takeover !== null);
  assert.deepEqual(takeover.hardState, { term: 8, vote: b, commit: 40 }, "commit unchanged");
  assert.deepEqual(takeover.removed, [a, c]);
  assert.deepEqual(takeover.entries.map((entry) => [entry.index, entry.term, entry.type]), [
    [46, 8, 20],
    [47, 8, EntryType.ConfigChange],
    [48, 8, EntryType.ConfigChange],
  ]);
  assert.ok(takeover.entries.every((entry) => entry.timestamp === 1234));
  assert.deepEqual(decodeConfigChange(takeover.entries[2].data), { type: "remove", nodeId: c });
  // A log whose last term is above the hard state's (never in a sound store) still gets a new term.
  const above = soleVoterTakeover({
    self: b,
    config: { voters: [a, b], learners: [] },
    hardState: { term: 3 as Term, vote: null, commit: 0 as LogIndex },
    lastIndex: 2 as LogIndex,
    lastTerm: 5 as Term,
  }, {});
  assert.equal(above?.hardState.term, 6);
  assert.equal(
    soleVoterTakeover({
      self: b,
      config: { voters: [b], learners: [] },
      hardState: { term: 8 as Term, vote: b, commit: 48 as LogIndex },
      lastIndex: 48 as LogIndex,
      lastTerm: 8 as Term,
    }, {}),
    null,
    "a sole voter has nothing to write (running it again is harmless)",
  );
});

/** n1 leads n1..n3; n2 ends up holding two entries past its commit index; n1 and n3 die. */
function survivorWithUncommittedTail(): SimCluster {
  const cluster = new SimCluster({ seed: 5 });
  cluster.electLeader("n1");
  for (const text of ["w1", "w2", "w3"]) cluster.propose("n1", text);
  cluster.stabilize();
  // n2 receives two more but its acknowledgements never arrive: nobody learns they committed.
  cluster.network.cut(nodeId("n1"), nodeId("n3"));
  cluster.network.hold(nodeId("n1"));
  cluster.propose("n1", "late1");
  cluster.propose("n1", "late2");
  cluster.stabilize();
  cluster.crash("n1");
  cluster.crash("n3");
  cluster.network.heal();
  cluster.network.clear();
  return cluster;
}

/** What `--force-new-cluster` does to a stopped node's storage (the broker: force_new_cluster.ts). */
function forceSoleVoter(cluster: SimCluster, id: string): string[] {
  const node = cluster.node(id);
  const config = cluster.raft(id).status().config; // as of the log's last entry
  cluster.crash(id);
  const storage = node.storage;
  const lastIndex = storage.lastIndex();
  const takeover = soleVoterTakeover({
    self: node.id,
    config,
    hardState: storage.initialState().hardState,
    lastIndex,
    lastTerm: storage.term(lastIndex)!,
  }, {});
  assert.ok(takeover !== null);
  storage.setHardState(takeover.hardState);
  storage.append(takeover.entries);
  cluster.restart(id);
  return takeover.removed;
}

Deno.test("a survivor forced to sole voter commits its whole log and keeps the configuration", () => {
  const cluster = survivorWithUncommittedTail();
  const n2 = cluster.node("n2");
  const before = cluster.raft("n2").status();
  assert.ok(before.lastIndex > before.commit, "n2 holds entries past its commit index");
  for (let tick = 0; tick < 100; tick++) cluster.tickAll();
  assert.equal(cluster.raft("n2").status().role !== "leader", true, "stranded: no majority");

  assert.deepEqual(forceSoleVoter(cluster, "n2"), ["n1", "n3"]);
  const started = cluster.raft("n2").status();
  assert.deepEqual(started.config, { voters: ["n2"], learners: [] }, "at start, from the log");
  cluster.raft("n2").campaign();
  cluster.stabilize();
  const led = cluster.raft("n2").status();
  assert.equal(led.role, "leader");
  assert.equal(led.commit, led.lastIndex, "everything in the log committed");
  const applied = n2.state.map((key) => key.split(":").slice(2).join(":"));
  for (const text of ["w1", "w2", "w3", "late1", "late2"]) assert.ok(applied.includes(text), text);
  assert.deepEqual(n2.appliedConfig, { voters: ["n2"], learners: [] }, "what a snapshot records");
  cluster.propose("n2", "after");
  cluster.stabilize();
  assert.equal(n2.state.at(-1)!.split(":").at(-1), "after", "a new write commits alone");

  // A restart without forcing keeps it (from the log), and so does one from a snapshot.
  cluster.crash("n2");
  cluster.restart("n2");
  assert.deepEqual(cluster.raft("n2").status().config, { voters: ["n2"], learners: [] });
  cluster.raft("n2").campaign();
  cluster.stabilize();
  cluster.compact("n2");
  cluster.crash("n2");
  cluster.restart("n2");
  assert.deepEqual(n2.storage.initialState().config, { voters: ["n2"], learners: [] });
  cluster.raft("n2").campaign();
  cluster.stabilize();
  assert.equal(cluster.raft("n2").status().role, "leader");
  cluster.checkSafety();
});

Deno.test("an old member that comes back gets no vote and no entry from the forced survivor", () => {
  const cluster = survivorWithUncommittedTail();
  forceSoleVoter(cluster, "n2");
  cluster.raft("n2").campaign();
  cluster.stabilize();
  const led = cluster.raft("n2").status();
  // n1 returns with its old data and a term far beyond n2's (as if its side had gone on electing).
  const n1 = cluster.node("n1");
  n1.storage.setHardState({ ...n1.storage.initialState().hardState, term: 50 as Term });
  cluster.restart("n1");
  cluster.network.clearLog();
  for (let tick = 0; tick < 300; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
  const after = cluster.raft("n2").status();
  assert.equal(after.role, "leader", "n2 still leads");
  assert.equal(after.term, led.term, "n1's campaigns did not move n2's term");
  assert.notEqual(cluster.raft("n1").status().role, "leader", "n1 has no majority");
  const fromN2 = cluster.network.sent.filter((message) => message.from === "n2");
  assert.ok(fromN2.length > 0, "n2 answered n1's campaigns");
  assert.ok(
    fromN2.every((message) => message.type === MessageType.Removed && message.entries.length === 0),
    "n2 sends n1 no vote and no entry, only Removed: it is not a member",
  );
  const asked = cluster.network.sent.filter((message) => message.to === "n2");
  assert.ok(asked.some((message) => message.type === MessageType.PreVote), "n1 did ask");
  cluster.checkSafety();
});
