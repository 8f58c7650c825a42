import assert from "node:assert/strict";
import { SimCluster } from "./testing/mod.ts";
import { MessageType, prevIndex } from "./types.ts";

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
