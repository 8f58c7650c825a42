/**
 * Membership changes that overlap on one leader: a removal of a node whose join is under way
 * wins (the join stops, answering a refusal its joining node does not retry, and adds nothing
 * back), and a second join of that id at other addresses is refused while the first runs.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { CommandType } from "../engine/mod.ts";
import { type RaftReplica, ReplicationError } from "../replication/mod.ts";
import { Membership } from "./member_changes.ts";
import { noPeers } from "./node.ts";
import { startOneNode, until } from "./testing/mod.ts";

type OneNode = Awaited<ReturnType<typeof startOneNode>>;

const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };

const removedWhileJoining = (error: BrokerError) =>
  error.code === "InvalidParameter" && error.field === "id" &&
  error.message ===
    "id: node 'n2' is being removed (DELETE /v1/cluster/nodes/n2): its join, under way, " +
      "stopped; to add it, join it again";

/**
 * A membership on `n1` whose learners never catch up (nobody runs them); `afterPropose` runs
 * once a proposal of the given type has settled, before its proposer goes on.
 */
function membershipOn(
  node: OneNode,
  options: { catchUpMsMax: number; afterPropose?: (type: number) => Promise<void> },
) {
  const replica = node.replica;
  const watched = new Proxy(replica, {
    get(target, property) {
      if (property === "propose") {
        return async (type: number, payload: Uint8Array) => {
          const result = await target.propose(type, payload);
          await options.afterPropose?.(type);
          return result;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as RaftReplica;
  return new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: watched,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("a learner that never runs caught up"),
    catchUpMsMax: options.catchUpMsMax,
  });
}

/** Settles `promise` into its value or error, to be looked at without awaiting it. */
function outcomeOf(promise: Promise<unknown>): { value: unknown } {
  const outcome: { value: unknown } = { value: "pending" };
  promise.then((value) => outcome.value = value, (error) => outcome.value = error);
  return outcome;
}

Deno.test("a removal made before a join's addresses are recorded wins: the join stops and adds no learner", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = membershipOn(node, { catchUpMsMax: 60_000 });
  try {
    const join = outcomeOf(membership.join(n2)); // its SetMember is proposed, not applied yet
    // Was 404 NotFound (nothing recorded yet), and the join went on to add the learner.
    await membership.remove("n2");
    await until(
      () => join.value !== "pending" || node.replica.status().config.learners.length > 0,
      "the join's answer or its learner",
    );
    assert.deepEqual(node.replica.status().config.learners, []);
    assert.ok(join.value instanceof BrokerError, `the join answered ${String(join.value)}`);
    assert.ok(removedWhileJoining(join.value), join.value.message);
    assert.deepEqual(node.machine.members(), [], "the join's addresses are forgotten");
  } finally {
    await node.close();
  }
});

Deno.test("a removal made between a join's recording and its learner wins: the join adds no learner", async () => {
  const node = await startOneNode(new SimFileSystem());
  let removal: { value: unknown } | null = null;
  const membership: Membership = membershipOn(node, {
    catchUpMsMax: 60_000,
    afterPropose: async (type) => {
      if (type !== CommandType.SetMember || removal !== null) return;
      // The join's addresses are recorded; it has not proposed its learner yet.
      assert.deepEqual(node.machine.members(), [n2]);
      removal = outcomeOf(membership.remove("n2"));
      await until(() => removal!.value !== "pending", "the removal");
    },
  });
  try {
    const join = outcomeOf(membership.join(n2));
    await until(
      () => join.value !== "pending" || node.replica.status().config.learners.length > 0,
      "the join's answer or its learner",
    );
    assert.equal(removal!.value, undefined, "the removal went through");
    // Was: the learner n2 was added after its addresses were forgotten.
    assert.deepEqual(node.replica.status().config.learners, []);
    assert.ok(join.value instanceof BrokerError, `the join answered ${String(join.value)}`);
    assert.ok(removedWhileJoining(join.value), join.value.message);
    assert.deepEqual(node.machine.members(), []);
  } finally {
    await node.close();
  }
});

Deno.test("a removal made while a join waits for its learner ends the join with a refusal, not a retryable 503", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = membershipOn(node, { catchUpMsMax: 500 });
  try {
    const join = outcomeOf(membership.join(n2));
    await until(() => node.replica.status().config.learners.length > 0, "the learner");
    await membership.remove("n2");
    await until(() => join.value !== "pending", "the join's answer");
    // Was NotReady "has not caught up yet; join again" (503): the joining node's retry (its
    // join client retries a 5xx) would add it back.
    assert.ok(join.value instanceof BrokerError, `the join answered ${String(join.value)}`);
    assert.ok(removedWhileJoining(join.value), join.value.message);
    assert.deepEqual(node.replica.status().config, { voters: ["n1"], learners: [] });
    assert.deepEqual(node.machine.members(), []);
  } finally {
    await node.close();
  }
});

Deno.test("a join of an id whose join is under way, at other addresses, is refused and changes nothing", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = membershipOn(node, { catchUpMsMax: 60_000 });
  try {
    const first = outcomeOf(membership.join(n2)); // its SetMember is proposed, not applied yet
    const other = { ...n2, peerAddress: "127.0.0.1:7003", clientUrl: "http://127.0.0.1:7002" };
    const second = outcomeOf(membership.join(other));
    const overwritten = () =>
      node.machine.members().some((member) => member.peerAddress === other.peerAddress);
    // Was: accepted, and its SetMember overwrote the first join's addresses.
    await until(() => second.value !== "pending" || overwritten(), "the second join's answer");
    assert.ok(!overwritten(), "the second join recorded its addresses");
    assert.ok(second.value instanceof BrokerError, `the second join answered ${second.value}`);
    assert.equal(second.value.code, "InvalidParameter");
    assert.equal(second.value.field, "id");
    assert.equal(
      second.value.message,
      "id: node 'n2' is joining at 127.0.0.1:7001 (http://127.0.0.1:7000); to give it other " +
        "addresses, remove it first (DELETE /v1/cluster/nodes/n2)",
    );
    await until(() => node.replica.status().config.learners.length > 0, "the first's learner");
    assert.deepEqual(node.machine.members(), [n2]);
    assert.equal(String(first.value), "pending", "the first join waits for its learner");
    // The same addresses (a retry) carry on, as before.
    const retry = outcomeOf(membership.join(n2));
    await membership.remove("n2");
    await until(() => first.value !== "pending" && retry.value !== "pending", "both joins");
    assert.ok(removedWhileJoining(first.value as BrokerError));
    assert.ok(removedWhileJoining(retry.value as BrokerError));
  } finally {
    await node.close();
  }
});

Deno.test("a removal that meets the join's own configuration change uncommitted waits for it to commit, then removes the node", async () => {
  const fs = new SimFileSystem();
  const node = await startOneNode(fs);
  const membership = membershipOn(node, {
    catchUpMsMax: 60_000,
    afterPropose: (type) => {
      // The join's addresses are recorded; its learner, proposed next, stays uncommitted.
      if (type === CommandType.SetMember) fs.pauseSyncs();
      return Promise.resolve();
    },
  });
  try {
    const join = outcomeOf(membership.join(n2));
    await until(() => node.replica.status().config.learners.includes("n2" as never), "learner");
    assert.ok(node.replica.status().commit < node.replica.status().lastIndex, "committed");
    const removal = outcomeOf(membership.remove("n2"));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the removal meets the change
    // Was: 503 NotReady "proposal dropped (config-change-pending)" at once, the join stopped,
    // and n2 stayed a learner until the removal was sent again.
    assert.equal(removal.value, "pending", `the removal answered ${String(removal.value)}`);
    fs.resumeSyncs();
    await until(() => removal.value !== "pending" && join.value !== "pending", "both answers");
    assert.equal(removal.value, undefined, `the removal answered ${String(removal.value)}`);
    assert.ok(join.value instanceof BrokerError, `the join answered ${String(join.value)}`);
    assert.ok(removedWhileJoining(join.value), join.value.message);
    assert.deepEqual(node.replica.status().config, { voters: ["n1"], learners: [] });
    assert.deepEqual(node.machine.members(), []);
  } finally {
    fs.resumeSyncs();
    await node.close();
  }
});

Deno.test("a removal whose wait for an uncommitted configuration change runs out answers 503 with Retry-After and changes nothing", async () => {
  const fs = new SimFileSystem();
  const node = await startOneNode(fs);
  let nowMs = 0;
  const membership = new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("no join here"),
    monotonic: { now: () => nowMs },
    // Each wait passes its time on the given clock at once.
    timers: {
      setTimer: (delayMs, callback) => (nowMs += delayMs, setTimeout(callback, 0)),
      clearTimer: () => {},
    },
  });
  try {
    fs.pauseSyncs();
    const added = node.replica.proposeConfigChange({ type: "addLearner", nodeId: "n2" });
    added.catch(() => {});
    await assert.rejects(
      membership.remove("n2"),
      (error: BrokerError) =>
        error.code === "NotReady" && error.retryAfterSeconds === 1 &&
        error.message ===
          "removing 'n2' waited 2000 ms for the configuration change before it to commit (one " +
            "commits at a time), in vain; retry",
    );
    assert.ok(nowMs >= 2_000);
    fs.resumeSyncs();
    await added;
    assert.deepEqual(node.replica.status().config, { voters: ["n1"], learners: ["n2"] });
  } finally {
    fs.resumeSyncs();
    await node.close();
  }
});

Deno.test("a removal knows Raft's refusal of a second configuration change by its reason, whatever its text", async () => {
  const fs = new SimFileSystem();
  const node = await startOneNode(fs);
  const replica = node.replica;
  let reworded = 0;
  // The refusals reach the membership with another text: only their reason is left to go by.
  const rewording = new Proxy(replica, {
    get(target, property) {
      if (property === "proposeConfigChange") {
        return async (change: Parameters<RaftReplica["proposeConfigChange"]>[0]) => {
          try {
            return await target.proposeConfigChange(change);
          } catch (error) {
            if (!(error instanceof ReplicationError)) throw error;
            reworded++;
            throw new ReplicationError(error.code, "refused for now", {
              retryAfterSeconds: error.retryAfterSeconds,
              dropReason: error.dropReason,
            });
          }
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as RaftReplica;
  const membership = new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: rewording,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("no join here"),
  });
  try {
    fs.pauseSyncs();
    const added = replica.proposeConfigChange({ type: "addLearner", nodeId: "n2" });
    added.catch(() => {});
    const removal = outcomeOf(membership.remove("n2"));
    await until(() => reworded > 0, "the removal met the uncommitted change");
    assert.equal(removal.value, "pending", `the removal answered ${String(removal.value)}`);
    fs.resumeSyncs();
    await added;
    await until(() => removal.value !== "pending", "the removal");
    assert.equal(removal.value, undefined, `the removal answered ${String(removal.value)}`);
    assert.deepEqual(replica.status().config, { voters: ["n1"], learners: [] });
  } finally {
    fs.resumeSyncs();
    await node.close();
  }
});
