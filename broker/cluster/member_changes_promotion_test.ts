/**
 * A join is answered done only once its node's promotion to voter has committed: a leader whose
 * log holds the promotion uncommitted (a new leader's inherited entry, or another join of the
 * node still waiting for it) makes the join wait for it, and answers `503 NotReady` if it does
 * not commit in time, instead of telling the joining node it is a voter already.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { CommandType, encodeJson } from "../engine/mod.ts";
import type { RaftReplica } from "../replication/mod.ts";
import { Membership } from "./member_changes.ts";
import { noPeers } from "./node.ts";
import { startOneNode, until } from "./testing/mod.ts";

type OneNode = Awaited<ReturnType<typeof startOneNode>>;

/**
 * Slow ticks: `n1` keeps leading although `n2`, a voter once promoted, never answers (a leader
 * steps down after an election timeout without a majority).
 */
const steadyLeader = { tickMs: 1_000 };

const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };

/** Settles `promise` into its value or error, to be looked at without awaiting it. */
function outcomeOf(promise: Promise<unknown>): { value: unknown } {
  const outcome: { value: unknown } = { value: "pending" };
  promise.then((value) => outcome.value = value, (error) => outcome.value = error);
  return outcome;
}

/**
 * A membership on `n1` timed by a manual clock: `fire()` runs the earliest timer due and moves
 * the clock to it. Its `n2` counts as caught up once `caughtUp.value` is set (nobody runs it:
 * its promotion never commits, a majority of `n1` and `n2` needing it).
 */
function manualMembership(node: OneNode) {
  let nowMs = 0;
  const due: Array<{ at: number; callback: () => void }> = [];
  const caughtUp = { value: false };
  const replica = node.replica;
  const watched = new Proxy(replica, {
    get(target, property) {
      if (property === "status") {
        return () => {
          const status = target.status();
          if (!caughtUp.value) return status;
          const peer = {
            id: "n2",
            match: status.lastIndex,
            lag: 0,
            state: "replicate",
            silentTicks: 0,
            answering: true,
            refusedLead: false,
          };
          const others = status.peers.filter((other) => other.id !== "n2");
          return { ...status, peers: [...others, peer] };
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as RaftReplica;
  let answers = 0;
  const membership = new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: watched,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => {
      answers++;
      return { answered: answers } as never;
    },
    monotonic: { now: () => nowMs },
    timers: {
      setTimer: (delayMs, callback) => due.push({ at: nowMs + delayMs, callback }),
      clearTimer: () => {},
    },
  });
  const fire = () => {
    due.sort((a, b) => a.at - b.at);
    const next = due.shift()!;
    nowMs = Math.max(nowMs, next.at);
    next.callback();
  };
  return { membership, due, fire, caughtUp, answers: () => answers, now: () => nowMs };
}

/** Runs timers until `outcome` settles (each wait polls on the manual clock). */
async function driveUntilSettled(
  harness: ReturnType<typeof manualMembership>,
  outcome: { value: unknown },
): Promise<void> {
  for (let fired = 0; outcome.value === "pending"; fired++) {
    assert.ok(fired < 1_000, "the join never settled");
    await until(() => harness.due.length > 0 || outcome.value !== "pending", "a wait");
    if (outcome.value === "pending") harness.fire();
  }
}

const promotionPending = (outcome: { value: unknown }) => {
  const error = outcome.value;
  assert.ok(error instanceof BrokerError, `the join answered ${JSON.stringify(error)}`);
  assert.equal(error.code, "NotReady");
  assert.equal(error.retryAfterSeconds, 1);
  assert.equal(
    error.message,
    "node 'n2' is a voter only in a configuration change not committed yet (its promotion); " +
      "join again",
  );
};

Deno.test("a join repeated while the node's promotion is in the leader's log, uncommitted, is not answered done", async () => {
  const node = await startOneNode(new SimFileSystem(), steadyLeader);
  const harness = manualMembership(node);
  try {
    // The node joined up to its promotion, which a leader appended before it lost the lead: the
    // new leader (this one) holds it uncommitted.
    await node.replica.propose(CommandType.SetMember, encodeJson(n2));
    await node.replica.proposeConfigChange({ type: "addLearner", nodeId: "n2" });
    node.replica.proposeConfigChange({ type: "promote", nodeId: "n2" }).catch(() => {});
    await until(() => node.replica.status().config.voters.includes("n2" as never), "promotion");
    const before = node.replica.status().lastIndex;
    assert.ok(node.replica.status().commit < before, "the promotion committed");
    // Its restart repeats its join. Was: answered done at once, the promotion uncommitted (the
    // joining node then logs that it joined, and may be left out of the group after all).
    const join = outcomeOf(harness.membership.join(n2));
    await driveUntilSettled(harness, join);
    assert.equal(harness.answers(), 0, "the join was answered done");
    promotionPending(join);
    assert.ok(harness.now() >= 2_000, `gave up after ${harness.now()} ms`);
    assert.equal(node.replica.status().lastIndex, before, "the repeated join proposed something");
  } finally {
    await node.close();
  }
});

Deno.test("a join repeated while the node's first join waits for its promotion to commit is not answered done", async () => {
  const node = await startOneNode(new SimFileSystem(), steadyLeader);
  const harness = manualMembership(node);
  try {
    const first = outcomeOf(harness.membership.join(n2));
    await until(() => node.replica.status().config.learners.includes("n2" as never), "learner");
    await until(() => harness.due.length === 1, "the first join's catch-up wait");
    harness.caughtUp.value = true;
    harness.fire();
    // The first join promotes its node; the promotion waits for a majority of n1 and n2.
    await until(() => node.replica.status().config.voters.includes("n2" as never), "promotion");
    assert.equal(harness.due.length, 0);
    assert.equal(first.value, "pending");
    // Another join of the id, under way on this leader, with n2 a voter in the log's last
    // configuration: it carries on (it does not take the node for a voter already).
    const second = outcomeOf(harness.membership.join(n2));
    await new Promise((resolve) => setTimeout(resolve, 200));
    while (harness.due.length > 0) harness.fire();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(harness.answers(), 0, "a join was answered done");
    assert.equal(second.value, "pending", `the second join answered ${String(second.value)}`);
    assert.equal(first.value, "pending", `the first join answered ${String(first.value)}`);
  } finally {
    await node.close();
  }
});

Deno.test("a join that finds its node promoted by another join of it, uncommitted, waits for that promotion", async () => {
  const node = await startOneNode(new SimFileSystem(), steadyLeader);
  const harness = manualMembership(node);
  try {
    const first = outcomeOf(harness.membership.join(n2));
    await until(() => harness.due.length === 1, "the first join's catch-up wait");
    const second = outcomeOf(harness.membership.join(n2));
    await until(() => harness.due.length === 2, "the second join's catch-up wait");
    harness.caughtUp.value = true;
    harness.fire(); // the first join's: it promotes n2 (uncommitted: n2 never runs)
    await until(() => node.replica.status().config.voters.includes("n2" as never), "promotion");
    // The second one's: its node is a voter in the log's last configuration, so it promotes
    // nothing. Was: answered done at once, the promotion uncommitted.
    await driveUntilSettled(harness, second);
    assert.equal(harness.answers(), 0, "the second join was answered done");
    promotionPending(second);
    assert.equal(first.value, "pending", `the first join answered ${String(first.value)}`);
  } finally {
    await node.close();
  }
});
