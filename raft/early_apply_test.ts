import assert from "node:assert/strict";
import { SimCluster } from "./testing/mod.ts";
import { MessageType } from "./types.ts";

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
    raft.takeCommittedEntries(indexOfA - 1),
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
