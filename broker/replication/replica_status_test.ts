import assert from "node:assert/strict";
import {
  answerWindowMs,
  electionTimeoutMs,
  type RaftReplicaOptions,
  replicaSettings,
} from "./replica_status.ts";

const options = (more: Partial<RaftReplicaOptions>) => more as RaftReplicaOptions;

Deno.test("the answer window is 300 ms in ticks of the replica's tick", () => {
  assert.equal(answerWindowMs, 300);
  assert.equal(replicaSettings(options({})).core.answerTicksMax, 3); // 100 ms ticks
  assert.equal(replicaSettings(options({ tickMs: 5 })).core.answerTicksMax, 60);
  assert.equal(replicaSettings(options({ tickMs: 20 })).core.answerTicksMax, 15);
  assert.equal(replicaSettings(options({ tickMs: 7 })).core.answerTicksMax, 43);
});

Deno.test("the answer window is never shorter than a heartbeat interval and two ticks", () => {
  // 300 ms would be under one tick: a voter answering every heartbeat would look silent.
  assert.equal(replicaSettings(options({ tickMs: 500 })).core.answerTicksMax, 3);
  const slowHeartbeats = options({ tickMs: 50, raft: { heartbeatTicks: 5 } });
  assert.equal(replicaSettings(slowHeartbeats).core.answerTicksMax, 7);
});

Deno.test("the Raft options of the replica keep what the caller set", () => {
  const core = replicaSettings(options({
    tickMs: 5,
    electionTicks: 30,
    raft: { answerTicksMax: 9, inflightMessagesMax: 8 },
  })).core;
  assert.equal(core.answerTicksMax, 9);
  assert.equal(core.electionTicks, 30);
  assert.equal(core.inflightMessagesMax, 8);
  assert.equal(replicaSettings(options({ raft: { electionTicks: 12 } })).core.electionTicks, 12);
});

Deno.test("electionTimeoutMs is the replica's election ticks at its tick, defaults included", () => {
  assert.equal(electionTimeoutMs({}), 1000);
  assert.equal(electionTimeoutMs({ tickMs: 5 }), 50);
  assert.equal(electionTimeoutMs({ tickMs: 20, electionTicks: 15 }), 300);
  assert.equal(electionTimeoutMs({ raft: { electionTicks: 30 } }), 3000);
});
