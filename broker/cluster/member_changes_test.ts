/**
 * Membership changes on the leader. A join waits for its learner on the clock and timers it is given (the node's own), not on
 * `Date.now` and `setTimeout`: under a manual clock the wait gives up exactly when that clock
 * passes `catchUpMsMax`, however little real time went by.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { CommandType, encodeJson } from "../engine/mod.ts";
import { clusterInfo } from "./cluster_info.ts";
import { Membership } from "./member_changes.ts";
import { noPeers } from "./node.ts";
import { followerOf, settled, startOneNode, TestCluster, until } from "./testing/mod.ts";

/** A membership of one running node `n1` whose learners never catch up (nobody runs them). */
function neverCaughtUp(node: Awaited<ReturnType<typeof startOneNode>>, catchUpMsMax: number) {
  return new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("a learner that never runs caught up"),
    catchUpMsMax,
  });
}

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

Deno.test("the leader's own join, at its own addresses, is answered as done and records nothing; under its id at others it is refused", async () => {
  const node = await startOneNode(new SimFileSystem());
  const own = { id: "n1", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  let answered = 0;
  const membership = new Membership({
    nodeId: "n1",
    url: own.clientUrl,
    peerAddress: own.peerAddress,
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => {
      answered++;
      return clusterInfo(node.replica.status(), () => null);
    },
  });
  try {
    const before = node.replica.status().lastIndex;
    // Its repeated --join at a restart, forwarded back to it: it leads, so it is a voter.
    const info = await membership.join(own);
    assert.equal(answered, 1);
    assert.equal(info.leaderId, "n1");
    await membership.join({ ...own, emptyDataDir: false });
    // Another process under its id names other addresses: refused as before.
    for (
      const other of [{ peerAddress: "127.0.0.1:7002" }, { clientUrl: "http://127.0.0.1:7003" }]
    ) {
      await assert.rejects(
        membership.join({ ...own, ...other }),
        (error: BrokerError) =>
          error.code === "InvalidParameter" && /is this node, the leader/.test(error.message),
      );
    }
    assert.equal(node.replica.status().lastIndex, before, "the join proposed something");
  } finally {
    await node.close();
  }
});

Deno.test("a join first records the addresses of the members with none (an initial voter's), and refuses a new node at one of them", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:7000",
    peerAddress: "127.0.0.1:7001",
    replica: node.replica,
    machine: node.machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("a learner that never runs caught up"),
    catchUpMsMax: 0,
  });
  const n1 = { id: "n1", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7011", clientUrl: "http://127.0.0.1:7010" };
  try {
    const before = node.replica.status().lastIndex;
    await assert.rejects(
      membership.join({ ...n2, peerAddress: n1.peerAddress }),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && error.field === "peerAddress" &&
        /of member 'n1'/.test(error.message),
    );
    assert.equal(node.replica.status().lastIndex, before, "a refused join proposed something");
    assert.deepEqual(node.machine.members(), []);
    // n2 never runs: the join ends waiting for it, its addresses and n1's recorded.
    await assert.rejects(membership.join(n2), (error: BrokerError) => error.code === "NotReady");
    assert.deepEqual(node.machine.members(), [n1, n2]);
  } finally {
    await node.close();
  }
});

Deno.test("a join repeated with the same addresses carries on; other addresses for a member, or a member's addresses for a new node, are refused", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 0);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const refused = (field: string, pattern: RegExp) => (error: BrokerError) =>
    error.code === "InvalidParameter" && error.field === field && pattern.test(error.message);
  try {
    // n2 never runs: each join ends waiting for it, but the retry is not refused.
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(membership.join(n2), (error: BrokerError) => error.code === "NotReady");
    }
    const before = node.replica.status().lastIndex;
    await assert.rejects(
      membership.join({ ...n2, peerAddress: "127.0.0.1:9999" }),
      refused("id", /node 'n2' is already a member at 127\.0\.0\.1:7001 .*remove it first/),
    );
    await assert.rejects(
      membership.join({ ...n2, clientUrl: "http://127.0.0.1:9999" }),
      refused("id", /already a member/),
    );
    await assert.rejects(
      membership.join({ ...n2, id: "n3", clientUrl: "http://127.0.0.1:7002" }),
      refused("peerAddress", /of member 'n2'/),
    );
    await assert.rejects(
      membership.join({ ...n2, id: "n3", peerAddress: "127.0.0.1:7003" }),
      refused("clientUrl", /of member 'n2'/),
    );
    await assert.rejects(
      membership.join({ id: "n3", peerAddress: "127.0.0.1:7003", clientUrl: "http://127.0.0.1:1" }),
      refused("clientUrl", /of member 'n1'/),
    );
    assert.equal(node.replica.status().lastIndex, before, "a refused join proposed something");
    assert.deepEqual(node.machine.members(), [n2]);
  } finally {
    await node.close();
  }
});

Deno.test("a voter joining again from an empty data directory is refused; a new node from one is not", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 0);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  try {
    // A new node starts on an empty data directory: it is added as a learner.
    await assert.rejects(
      membership.join({ ...n2, emptyDataDir: true }),
      (error: BrokerError) => error.code === "NotReady",
    );
    assert.deepEqual(node.machine.members(), [n2], "the flag is not recorded");
    // n2 becomes a voter (the promotion can't commit without n2, but takes effect on append).
    node.replica.proposeConfigChange({ type: "promote", nodeId: "n2" }).catch(() => {});
    await until(() => node.replica.status().config.voters.includes("n2" as never), "promotion");
    const before = node.replica.status().lastIndex;
    await assert.rejects(
      membership.join({ ...n2, emptyDataDir: true }),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && error.field === "id" &&
        error.message.includes(
          "n2 is a voter of this cluster with its data; a node with an empty data directory " +
            "can't take its place: remove it first (DELETE /v1/cluster/nodes/n2), then join",
        ),
    );
    assert.equal(node.replica.status().lastIndex, before, "a refused join proposed something");
  } finally {
    await node.close();
  }
});

Deno.test("a join naming an initial voter is refused: its addresses come from --peers", async () => {
  const cluster = await TestCluster.start();
  try {
    const leader = await cluster.waitForLeader();
    const follower = followerOf(cluster, leader);
    const membership = membershipOn(cluster, leader);
    const before = cluster.replica(leader).status().lastIndex;
    await assert.rejects(
      settled(
        cluster,
        membership.join({ id: follower, peerAddress: "10.9.9.9:1", clientUrl: "http://x:1" }),
      ),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && /an initial voter/.test(error.message),
    );
    assert.equal(cluster.replica(leader).status().lastIndex, before);
    assert.deepEqual(cluster.node(leader).machine.members(), []);
  } finally {
    await cluster.stopAll();
  }
});

Deno.test("a join repeated by a voter at its recorded addresses proposes nothing and is answered at once, unless initial voters' addresses are left to record", async () => {
  const cluster = await TestCluster.start();
  try {
    const leader = await cluster.waitForLeader();
    const voter = followerOf(cluster, leader);
    const replica = cluster.replica(leader);
    const machine = cluster.node(leader).machine;
    // The voter joined: its addresses are recorded, and it restarts with --join in its command.
    const joined = { id: voter, peerAddress: "127.0.0.1:7011", clientUrl: "http://127.0.0.1:7010" };
    await settled(cluster, replica.propose(CommandType.SetMember, encodeJson(joined)));
    let answered = 0;
    const on = (own?: { url: string; peerAddress: string }) =>
      new Membership({
        nodeId: leader,
        ...own,
        replica,
        machine,
        transport: noPeers(),
        clusterInfo: () => {
          answered++;
          return clusterInfo(replica.status(), () => null);
        },
        monotonic: cluster.clock,
        timers: cluster.clock,
      });
    const before = replica.status().lastIndex;
    // Was: a SetMember with the same addresses, and the answer only after the catch-up wait.
    const info = await on().join({ ...joined, emptyDataDir: false });
    assert.equal(answered, 1);
    assert.equal(info.leaderId, leader);
    assert.equal(replica.status().lastIndex, before, "the repeated join proposed something");
    // Other addresses are still refused.
    await assert.rejects(
      on().join({ ...joined, peerAddress: "127.0.0.1:7099" }),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && /already a member/.test(error.message),
    );
    assert.equal(replica.status().lastIndex, before, "a refused join proposed something");
    // The leader's own addresses (an initial voter's) are not recorded yet: the repeated join
    // records them, and only them.
    const own = { id: leader, peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
    await settled(cluster, on({ url: own.clientUrl, peerAddress: own.peerAddress }).join(joined));
    assert.equal(answered, 2);
    assert.equal(replica.status().lastIndex, before + 1, "more than the leader's record proposed");
    assert.deepEqual(
      machine.members().map(({ id, peerAddress, clientUrl }) => ({ id, peerAddress, clientUrl }))
        .sort((a, b) => a.id.localeCompare(b.id)),
      [own, joined].sort((a, b) => a.id.localeCompare(b.id)),
    );
  } finally {
    await cluster.stopAll();
  }
});

Deno.test("removing the leader while the voter it hands over to is cut off: a retry hands over to another", async () => {
  const cluster = await TestCluster.start();
  try {
    const leader = await cluster.waitForLeader();
    const voters: string[] = cluster.replica(leader).status().config.voters;
    // The first choice (equal match indexes: the first other voter) can't take over.
    const unreachable = voters.find((id) => id !== leader)!;
    cluster.isolate(unreachable);
    const membership = membershipOn(cluster, leader);
    for (let attempt = 1; cluster.replica(leader).isLeader; attempt++) {
      assert.ok(attempt <= 3, "leadership never moved off the node being removed");
      await assert.rejects(
        membership.remove(leader),
        (error: BrokerError) => error.code === "NoLeader",
      );
      await cluster.run(3_000);
    }
    const next = voters.find((id) => id !== leader && id !== unreachable)!;
    await cluster.until(() => cluster.replica(next).isLeader);
    // The new configuration {unreachable, next} needs both to commit.
    cluster.heal();
    await settled(cluster, membershipOn(cluster, next).remove(leader));
    assert.deepEqual(
      cluster.replica(next).status().config.voters.sort(),
      [unreachable, next].sort(),
    );
  } finally {
    await cluster.stopAll();
  }
});

Deno.test("removing a voter is refused while a majority of the voters left is not up; removing the down one goes through", async () => {
  const cluster = await TestCluster.start();
  try {
    const leader = await cluster.waitForLeader();
    const [alive, down] = cluster.replica(leader).status().config.voters.filter((id) =>
      id !== leader
    );
    await cluster.stop(down);
    await cluster.run(3_000); // the leader's check-quorum rounds notice it is gone
    const membership = membershipOn(cluster, leader);
    // Was accepted: the leader appended {leader, down}, which only the two of them can commit,
    // and the group had no leader until the down voter came back (seen on real processes).
    await assert.rejects(
      settled(cluster, membership.remove(alive)),
      (error: BrokerError) =>
        error.code === "NotReady" &&
        error.message ===
          `removing '${alive}' would leave the voters ${[leader, down].sort().join(", ")}, of ` +
            `which only ${leader} answers the leader: the removal commits only with a majority ` +
            `(2) of them; start the others again first, or remove one that is down first`,
    );
    assert.deepEqual(
      cluster.replica(leader).status().config.voters.sort(),
      [leader, alive, down].sort(),
      "nothing was proposed",
    );
    // Removing the voter that is down leaves two that answer: it goes through, and writes go on.
    await settled(cluster, membership.remove(down));
    assert.deepEqual(
      cluster.replica(leader).status().config.voters.sort(),
      [leader, alive].sort(),
    );
    assert.ok(cluster.replica(leader).isLeader);
  } finally {
    await cluster.stopAll();
  }
});

Deno.test("a voter removed while cut off shows in GET /v1/cluster that it was removed, and by whom, and that it may not vote", async () => {
  const cluster = await TestCluster.start();
  const urls = (id: string) => `http://${id}:9876`;
  try {
    const leader = await cluster.waitForLeader();
    const [stays, removed] = cluster.replica(leader).status().config.voters.filter((id) =>
      id !== leader
    );
    assert.equal(clusterInfo(cluster.replica(removed).status(), urls).removed, null);
    cluster.isolate(removed);
    await settled(
      cluster,
      cluster.replica(leader).proposeConfigChange({ type: "remove", nodeId: removed }),
    );
    const removalIndex = cluster.replica(leader).status().commit;
    cluster.heal(); // it campaigns; a voter that removed it answers Removed
    await cluster.until(() => cluster.replica(removed).removal !== null);
    const info = clusterInfo(cluster.replica(removed).status(), urls);
    // Was: its old view with `canVote: true` and no sign of the removal its /readyz reports.
    assert.equal(info.canVote, false);
    assert.equal(info.leaderId, null);
    assert.ok(info.removed !== null && info.removed !== undefined, "removed is set");
    assert.ok([leader, stays].includes(info.removed.by!), `told by ${info.removed.by}`);
    assert.ok(info.removed.index >= removalIndex, `${info.removed.index} >= ${removalIndex}`);
    assert.deepEqual(info.removed, cluster.replica(removed).removal);
    // The members' own answers say nothing of the kind.
    for (const id of [leader, stays]) {
      const member = clusterInfo(cluster.replica(id).status(), urls);
      assert.equal(member.removed, null);
      assert.equal(member.canVote, true);
    }
  } finally {
    await cluster.stopAll();
  }
});

function membershipOn(cluster: TestCluster, id: string): Membership {
  return new Membership({
    nodeId: id,
    replica: cluster.replica(id),
    machine: cluster.node(id).machine,
    transport: noPeers(),
    clusterInfo: () => assert.fail("no join gets this far"),
    monotonic: cluster.clock,
    timers: cluster.clock,
  });
}

Deno.test("a join waiting for its learner ends when its leader closes", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 5_000);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const joining = membership.join(n2); // n2 never runs: the join waits for it to catch up
  joining.catch(() => {});
  try {
    await until(() => node.replica.status().config.learners.includes("n2" as never), "learner");
  } finally {
    await node.close(); // a one-voter group: nobody to hand leadership to, it still leads
  }
  // Before, the wait went on polling the closed node until `catchUpMsMax` passed.
  await assert.rejects(
    joining,
    (error: BrokerError) => error.code === "NotReady" && error.message === "node is shutting down",
  );
});

Deno.test("a removal retried after its config change committed forgets the member's address", async () => {
  const node = await startOneNode(new SimFileSystem());
  const removedPeers: string[] = [];
  const membership = new Membership({
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    replica: node.replica,
    machine: node.machine,
    transport: { ...noPeers(), removePeer: (id) => void removedPeers.push(id) },
    clusterInfo: () => assert.fail("a learner that never runs caught up"),
    catchUpMsMax: 0,
  });
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  try {
    await assert.rejects(membership.join(n2), (error: BrokerError) => error.code === "NotReady");
    // The first half of a removal whose leader lost the lead before its second half (forgetting
    // the address) was proposed: n2 is out of the configuration, its address still recorded.
    await node.replica.proposeConfigChange({ type: "remove", nodeId: "n2" });
    assert.deepEqual(node.machine.members(), [n2]);
    await membership.remove("n2"); // the client's retry
    assert.deepEqual(node.machine.members(), [], "every node would keep dialling n2");
    assert.deepEqual(removedPeers, ["n2"]);
    await assert.rejects(
      membership.remove("n2"),
      (error: BrokerError) =>
        error.code === "NotFound" && error.message === "node 'n2' is not a member",
    );
  } finally {
    await node.close();
  }
});

Deno.test("a join at the addresses of a node whose join is under way is refused, also before its first step commits", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 60_000);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const refused = (field: string, pattern: RegExp) => (error: BrokerError) =>
    error.code === "InvalidParameter" && error.field === field && pattern.test(error.message);
  const underWay = /of node 'n2', whose join is under way .*DELETE \/v1\/cluster\/nodes\/n2/;
  try {
    // n2 never runs: its join waits for it. The second join comes before n2's address commits.
    const first = membership.join(n2);
    first.catch(() => {});
    // Was: both passed, and n2 and n3 were both recorded (and learners) at one peer address.
    await assert.rejects(
      membership.join({ ...n2, id: "n3", clientUrl: "http://127.0.0.1:7002" }),
      refused("peerAddress", underWay),
    );
    await assert.rejects(
      membership.join({ ...n2, id: "n3", peerAddress: "127.0.0.1:7003" }),
      refused("clientUrl", underWay),
    );
    await until(() => node.replica.status().config.learners.includes("n2" as never), "learner");
    assert.deepEqual(node.machine.members(), [n2]);
    assert.deepEqual(node.replica.status().config.learners, ["n2"]);
    // Done or not, the same refusal for a member's address as before.
    await assert.rejects(
      membership.join({ ...n2, id: "n3", clientUrl: "http://127.0.0.1:7002" }),
      refused("peerAddress", /of member 'n2'/),
    );
  } finally {
    await node.close();
  }
});

Deno.test("a join at the addresses of a node recorded but out of the configuration is refused until it is removed", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 0);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const n3 = { ...n2, id: "n3", clientUrl: "http://127.0.0.1:7002" };
  try {
    await assert.rejects(membership.join(n2), (error: BrokerError) => error.code === "NotReady");
    // A removal cut short after its first step: n2 is out of the configuration, still recorded.
    await node.replica.proposeConfigChange({ type: "remove", nodeId: "n2" });
    await assert.rejects(
      membership.join(n3),
      (error: BrokerError) =>
        error.code === "InvalidParameter" && error.field === "peerAddress" &&
        error.message ===
          "peerAddress: is the peer address of node 'n2', whose join is under way (if it was " +
            "cut short, remove it: DELETE /v1/cluster/nodes/n2)",
    );
    assert.deepEqual(node.machine.members(), [n2]);
    await membership.remove("n2");
    await assert.rejects(membership.join(n3), (error: BrokerError) => error.code === "NotReady");
    assert.deepEqual(node.machine.members(), [n3]);
  } finally {
    await node.close();
  }
});

Deno.test("a join cut short after its addresses were recorded: the same addresses carry on, others are refused until it is removed", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 0);
  const n2 = { id: "n2", peerAddress: "127.0.0.1:7001", clientUrl: "http://127.0.0.1:7000" };
  const moved = { ...n2, peerAddress: "127.0.0.1:7005", clientUrl: "http://127.0.0.1:7004" };
  try {
    // The join's first step committed, then it stopped (its leader lost the lead, say): n2 is
    // recorded, out of the configuration.
    await node.replica.propose(CommandType.SetMember, encodeJson(n2));
    assert.deepEqual(node.replica.status().config.learners, []);
    const before = node.replica.status().lastIndex;
    for (const other of [moved, { ...n2, peerAddress: moved.peerAddress }]) {
      // Was: accepted, overwriting n2's recorded addresses (as a member's or a running join's
      // are not).
      await assert.rejects(
        membership.join(other),
        (error: BrokerError) =>
          error.code === "InvalidParameter" && error.field === "id" &&
          error.message ===
            "id: node 'n2' is recorded at 127.0.0.1:7001 (http://127.0.0.1:7000), out of the " +
              "configuration (a join or a removal cut short); to give it other addresses, " +
              "remove it first (DELETE /v1/cluster/nodes/n2)",
      );
    }
    assert.equal(node.replica.status().lastIndex, before, "the refused join proposed something");
    assert.deepEqual(node.machine.members(), [n2]);
    // The same addresses: the join carries on (n2 never runs, so it ends waiting for it).
    await assert.rejects(membership.join(n2), (error: BrokerError) => error.code === "NotReady");
    assert.deepEqual(node.replica.status().config.learners, ["n2"]);
    await membership.remove("n2");
    await assert.rejects(membership.join(moved), (error: BrokerError) => error.code === "NotReady");
    assert.deepEqual(node.machine.members(), [moved]);
  } finally {
    await node.close();
  }
});

Deno.test("a join whose peerAddress is not a string is refused and records nothing", async () => {
  const node = await startOneNode(new SimFileSystem());
  const membership = neverCaughtUp(node, 0);
  const before = node.replica.status().lastIndex;
  try {
    // JSON the door parsed: `String(["127.0.0.1:7001"])` would read as host:port.
    for (const peerAddress of [["127.0.0.1:7001"], { toString: () => "127.0.0.1:7001" }, 7001]) {
      await assert.rejects(
        membership.join({
          id: "n2",
          peerAddress: peerAddress as unknown as string,
          clientUrl: "http://127.0.0.1:7000",
        }),
        (error: BrokerError) =>
          error.code === "InvalidParameter" && error.field === "peerAddress" &&
          /host:port/.test(error.message),
      );
    }
    assert.equal(node.replica.status().lastIndex, before, "a refused join proposed something");
    assert.deepEqual(node.replica.status().config.learners, []);
    assert.deepEqual(node.machine.members(), []);
  } finally {
    await node.close();
  }
});
