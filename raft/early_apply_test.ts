import assert from "node:assert/strict";
import { MemoryLogStorage } from "./log_storage.ts";
import { RaftNode } from "./node.ts";
import { createPrng } from "./prng.ts";
import { SimCluster, testMessage } from "./testing/mod.ts";
import { type Entry, type LogIndex, MessageType, nodeId, prevIndex, type Term } from "./types.ts";

const decoder = new TextDecoder();

Deno.test("a commit learned while a Ready is outstanding is handed out at once, and only once", () => {
  const cluster = new SimCluster({ seed: 31 });
  const leader = cluster.electLeader("n1");
  const raft = cluster.raft(leader);
  const leaderId = cluster.node(leader).id;
  cluster.network.hold(leaderId); // the followers' acks wait
  cluster.propose(leader, "a");
  cluster.stabilize();
  const indexOfA = raft.status().lastIndex;
  assert.ok(raft.status().commit < indexOfA, "no ack yet");
  assert.deepEqual(raft.takeCommittedEntries(indexOfA), [], "nothing outstanding");
  // The leader takes the next Ready (entry "b") and is busy persisting it...
  raft.propose(new TextEncoder().encode("b"));
  const outstanding = raft.ready();
  cluster.node(leader).storage.saveReady(outstanding);
  // ...when the acks for "a" arrive.
  const acks = cluster.network.pending(leaderId).filter((m) => m.type === MessageType.AppResp);
  assert.ok(acks.length > 0);
  for (const ack of acks) raft.step(ack);
  cluster.network.clear();
  cluster.network.release(leaderId);
  assert.equal(raft.status().commit, indexOfA);
  assert.deepEqual(
    raft.takeCommittedEntries(prevIndex(indexOfA)),
    [],
    "only what the caller holds durably",
  );
  const taken = raft.takeCommittedEntries(indexOfA);
  assert.deepEqual(taken.map((entry) => decoder.decode(entry.data)), ["a"]);
  assert.deepEqual(raft.takeCommittedEntries(indexOfA), [], "handed out once");
  raft.advance(outstanding);
  assert.equal(raft.status().applied, indexOfA);
  const next = raft.ready();
  assert.ok(next.committedEntries.every((entry) => entry.index > indexOfA), "not handed out again");
  raft.advance(next);
});

Deno.test("a leader that sent before persisting counts its own entry only after advance", () => {
  const cluster = new SimCluster({ seed: 33 });
  const leader = cluster.electLeader("n1");
  const raft = cluster.raft(leader);
  cluster.network.hold(cluster.node("n2").id); // only n3 can acknowledge
  raft.propose(new TextEncoder().encode("x"));
  const ready = raft.ready();
  const index = ready.entries.at(-1)!.index;
  cluster.network.send(ready.messages); // sent first (§10.2.1), the leader's fsync still running
  cluster.stabilize(); // n3 persists and acknowledges
  assert.ok(raft.status().commit < index, "n3's copy alone is not a majority");
  cluster.node(leader).storage.saveReady(ready);
  raft.advance(ready); // the leader's own write is durable now
  assert.equal(raft.status().commit, index);
});

Deno.test("a leader re-elected while its Ready was out persists its new term and vote before sending", () => {
  const [n1, n2, n9] = [nodeId("n1"), nodeId("n2"), nodeId("n9")];
  const storage = new MemoryLogStorage({ config: { voters: [n1], learners: [n2] } });
  const node = new RaftNode({ id: n1, storage, prng: createPrng(1) });
  node.campaign();
  while (node.hasReady()) {
    const ready = node.ready();
    storage.saveReady(ready);
    node.advance(ready);
  }
  assert.equal(node.status().role, "leader");
  node.propose(new TextEncoder().encode("x"));
  const steady = node.ready();
  assert.equal(steady.sendFirst, true, "a leader that stays leader may send before its write");
  // While that write is out, a leader of term 5 the node does not know deposes it (an old
  // member's, say), and it wins term 6 alone: all before the write finishes.
  node.step(testMessage({ type: MessageType.App, from: n9, to: n1, term: 5 as Term }));
  for (let tick = 0; tick < 100 && node.status().role !== "leader"; tick++) node.tick();
  assert.equal(node.status().role, "leader");
  assert.equal(node.status().term, 6);
  storage.saveReady(steady);
  node.advance(steady);
  const next = node.ready();
  // The role alone does not show it: leader then, leader now.
  assert.equal(next.softState, undefined);
  assert.deepEqual(next.hardState, { term: 6, vote: "n1", commit: next.hardState?.commit });
  assert.ok(next.messages.some((m) => m.type === MessageType.App && m.to === n2 && m.term === 6));
  // Its appends to the learner vouch for term 6 and this vote: sent before they are durable, a
  // crash would bring the node back in term 1, free to lead term 6 again with other entries at
  // the same indexes, which the learner would then take for matching ones.
  assert.equal(next.sendFirst, undefined, "persist first");
  storage.saveReady(next);
  node.advance(next);
  node.propose(new TextEncoder().encode("y"));
  assert.equal(node.ready().sendFirst, true, "from the next Ready on, the new term is durable");
});

Deno.test("entries a later append put in place of persisted ones are not handed out mid-Ready", () => {
  const [n1, n2, n3] = [nodeId("n1"), nodeId("n2"), nodeId("n3")];
  const storage = new MemoryLogStorage({ config: { voters: [n1, n2, n3], learners: [] } });
  const node = new RaftNode({ id: n1, storage, prng: createPrng(1) });
  const handleAll = () => {
    while (node.hasReady()) {
      const ready = node.ready();
      storage.saveReady(ready);
      node.advance(ready);
    }
  };
  const entry = (index: number, term: number, text: string): Entry => ({
    index: index as LogIndex,
    term: term as Term,
    type: 16,
    data: new TextEncoder().encode(text),
  });
  // n2 leads term 1: entries 1..3 reach n1's disk, only 1 is committed.
  node.step(testMessage({
    type: MessageType.App,
    from: n2,
    to: n1,
    term: 1 as Term,
    entries: [entry(1, 1, "one"), entry(2, 1, "old two"), entry(3, 1, "old three")],
    commit: 1 as LogIndex,
  }));
  handleAll();
  const durableIndex = 3 as LogIndex; // the caller's log: 1..3 of term 1, durable
  // n3 leads term 2 (without n1's vote); its heartbeat's Ready (the new term) is being written...
  node.step(testMessage({
    type: MessageType.App,
    from: n3,
    to: n1,
    term: 2 as Term,
    index: 1 as LogIndex,
    logTerm: 1 as Term,
    commit: 1 as LogIndex,
  }));
  const outstanding = node.ready();
  assert.equal(outstanding.hardState?.term, 2);
  // ...when its append replaces entry 2 and commits it: the new entry 2 is in no write yet.
  node.step(testMessage({
    type: MessageType.App,
    from: n3,
    to: n1,
    term: 2 as Term,
    index: 1 as LogIndex,
    logTerm: 1 as Term,
    entries: [entry(2, 2, "new two")],
    commit: 2 as LogIndex,
  }));
  assert.equal(node.status().commit, 2);
  // The caller's disk still holds "old two" at index 2 (durable up to 3): not handed out.
  assert.deepEqual(node.takeCommittedEntries(durableIndex), [], "an entry no write holds");
  storage.saveReady(outstanding);
  node.advance(outstanding);
  const next = node.ready();
  assert.deepEqual(next.entries.map((e) => decoder.decode(e.data)), ["new two"]);
  assert.deepEqual(next.committedEntries.map((e) => decoder.decode(e.data)), ["new two"]);
  storage.saveReady(next);
  node.advance(next);
});
