/**
 * A join waits for its learner on the clock and timers it is given (the node's own), not on
 * `Date.now` and `setTimeout`: under a manual clock the wait gives up exactly when that clock
 * passes `catchUpMsMax`, however little real time went by.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { Membership } from "./member_changes.ts";
import { noPeers } from "./node.ts";
import { startOneNode, until } from "./testing/mod.ts";

Deno.test("a join gives up on a learner that never catches up when the given clock passes catchUpMsMax", async () => {
  const node = await startOneNode(new SimFileSystem());
  let nowMs = 0;
  const due: Array<{ at: number; callback: () => void }> = [];
  const membership = new Membership({
    nodeId: "n1",
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("the join answered as if the learner had caught up"),
    catchUpMsMax: 1_000,
    monotonic: { now: () => nowMs },
    timers: {
      setTimer: (delayMs, callback) => due.push({ at: nowMs + delayMs, callback }),
      clearTimer: () => {},
    },
  });
  try {
    let outcome: unknown = "pending";
    membership.join({ id: "n2", peerAddress: "127.0.0.1:1", clientUrl: "http://127.0.0.1:2" })
      .then(() => outcome = "joined", (error) => outcome = error);
    let waits = 0;
    while (outcome === "pending") {
      await until(() => due.length > 0 || outcome !== "pending", "the learner wait");
      if (outcome !== "pending") break;
      const next = due.shift()!;
      nowMs = next.at;
      waits++;
      next.callback();
    }
    assert.ok(outcome instanceof BrokerError, `joined: ${String(outcome)}`);
    assert.equal(outcome.code, "NotReady");
    assert.match(outcome.message, /has not caught up yet/);
    // Every 50 ms of the given clock until it passed 1,000: no real timer paced it.
    assert.equal(waits, 21);
    assert.ok(nowMs > 1_000);
    assert.deepEqual(node.replica.status().config.learners, ["n2"]);
  } finally {
    await node.close();
  }
});

Deno.test("a join naming the leader itself is refused at once and records nothing", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = new Membership({
    nodeId: "n1",
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("the join of the leader itself went through"),
  });
  try {
    const before = node.replica.status().lastIndex;
    await assert.rejects(
      membership.join({ id: "n1", peerAddress: "127.0.0.1:1", clientUrl: "http://127.0.0.1:2" }),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && /is this node/.test(error.message),
    );
    assert.equal(node.replica.status().lastIndex, before, "the join proposed something");
  } finally {
    await node.close();
  }
});
