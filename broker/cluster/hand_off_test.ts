import assert from "node:assert/strict";
import type { PeerStatus, RaftReplica } from "../replication/mod.ts";
import { transferCandidates } from "./hand_off.ts";

/** A leader `n1` of voters n1..n4 (and learner n5) whose status lists `peers`. */
function leaderWith(peers: Partial<PeerStatus>[]): RaftReplica {
  const status = {
    id: "n1",
    role: "leader",
    config: { voters: ["n1", "n2", "n3", "n4"], learners: ["n5"] },
    peers: peers.map((peer) => ({
      match: 0,
      lag: 0,
      state: "replicate",
      silentTicks: 0,
      answering: true,
      refusedLead: false,
      ...peer,
    })),
  };
  return { id: "n1", status: () => status } as unknown as RaftReplica;
}

Deno.test("hand-off targets: voters that may campaign first, each group most caught-up first", () => {
  const replica = leaderWith([
    { id: "n2", match: 10, refusedLead: true }, // the most caught-up, but it can't campaign
    { id: "n3", match: 8 },
    { id: "n4", match: 9 },
    { id: "n5", match: 10 }, // a learner
  ]);
  assert.deepEqual(transferCandidates(replica), ["n4", "n3", "n2"]);
});

Deno.test("hand-off targets: voters that all refused lately are still listed, by match", () => {
  const replica = leaderWith([
    { id: "n2", match: 7, refusedLead: true },
    { id: "n3", match: 9, refusedLead: true },
  ]);
  assert.deepEqual(transferCandidates(replica), ["n3", "n2"]);
});

Deno.test("hand-off targets: voters the leader has not heard from lately come after the others", () => {
  const replica = leaderWith([
    { id: "n2", match: 10, silentTicks: 40, answering: false }, // the most caught-up, but down
    { id: "n3", match: 8, silentTicks: 1 },
    { id: "n4", match: 9, silentTicks: null, answering: false }, // not heard from since it leads
  ]);
  assert.deepEqual(transferCandidates(replica), ["n3", "n2", "n4"]);
});

Deno.test("hand-off targets: a silent voter comes after one that answers but refused lately", () => {
  // The one that refused answers the transfer at once and its leader moves on; a silent one
  // holds the transfer until its timeout.
  const replica = leaderWith([
    { id: "n2", match: 10, silentTicks: 0, refusedLead: true },
    { id: "n3", match: 10, silentTicks: 50, answering: false },
    { id: "n4", match: 9, silentTicks: 3 }, // a heartbeat answer or two late: still answering
  ]);
  assert.deepEqual(transferCandidates(replica), ["n4", "n2", "n3"]);
});

Deno.test("hand-off targets: whether a voter answers is Raft's judgement, whatever the tick", () => {
  // At a 5 ms tick the 300 ms window is 60 ticks: 20 silent ticks still answer, 70 don't.
  const replica = leaderWith([
    { id: "n2", match: 10, silentTicks: 70, answering: false },
    { id: "n3", match: 8, silentTicks: 20, answering: true },
  ]);
  assert.deepEqual(transferCandidates(replica), ["n3", "n2"]);
});
