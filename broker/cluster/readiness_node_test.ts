/**
 * What `/readyz` answers in each state a load balancer meets (README, "Readiness"): 200 on the
 * leader and on a follower that hears it (it relays every API request to it), also while the disk
 * guard refuses sends; 503 on a node that knows no leader, and on one whose leader has been
 * silent for two election timeouts — also a node that may not campaign (a joiner still catching
 * up, a distrusted log), which would otherwise keep naming its lost leader forever. Real nodes in
 * one process, on simulated disks, over an in-memory network whose links the test cuts.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { NodeNetwork, NodeWire, startNodeGroup } from "./_node_group.ts";
import type { CmqdNode } from "./node.ts";
import { startNode } from "./node.ts";
import { realClock, realTimers } from "./real_time.ts";
import { startOneNode, until } from "./testing/mod.ts";

async function readiness(node: CmqdNode): Promise<{ status: number; message: string }> {
  const response = await node.app.request("/readyz");
  const body = await response.json();
  return { status: response.status, message: body.error?.message ?? body.status };
}

async function metric(node: CmqdNode, name: string): Promise<string | undefined> {
  const text = await (await node.app.request("/metrics")).text();
  return new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
}

Deno.test("/readyz: the leader and a follower that hears it are ready; cut off, a voter is not", async () => {
  const network = new NodeNetwork();
  const nodes = await startNodeGroup(network, ["n1", "n2", "n3"]);
  try {
    // Polled: with the test's 5 ms tick a follower's bound on its leader's silence is 100 ms, which
    // a loaded machine may exceed now and then.
    await until(async () => {
      for (const node of nodes) {
        const answer = await readiness(node);
        if (answer.status !== 200) return false;
        assert.equal(answer.message, "ready");
      }
      return true;
    }, "every node ready, the followers too");
    const leader = nodes.find((node) => node.replica.isLeader)!;
    const follower = nodes.find((node) => node !== leader)!;

    network.cut.add(follower.replica.id);
    await until(async () => (await readiness(follower)).status === 503, "the cut voter unready");
    const answer = await readiness(follower);
    assert.match(answer.message, /no leader|not heard from its leader/);
    network.cut.delete(follower.replica.id);
    await until(async () => (await readiness(follower)).status === 200, "ready again");
  } finally {
    for (const node of nodes) await node.close();
  }
});

Deno.test("/readyz: a node that may not campaign, cut off from its leader, stops calling itself ready", async () => {
  const network = new NodeNetwork();
  const voters = ["n1", "n2", "n3"];
  const nodes = await startNodeGroup(network, ["n1", "n2"], { initialVoters: voters });
  // n3 starts under a join point far above any log here: below it, it neither votes nor
  // campaigns (as a joiner catching up), so nothing makes it drop the leader it heard.
  const joiner = await startNode({
    nodeId: "n3",
    dataDir: "/d",
    fs: new SimFileSystem(),
    clock: realClock,
    timers: realTimers,
    transport: new NodeWire(network, "n3"),
    initialVoters: voters,
    url: "http://127.0.0.1:3",
    tickMs: 5,
    report: () => {},
    joinedAt: { term: 1, commit: 1_000_000 },
  });
  nodes.push(joiner);
  try {
    await until(async () => (await readiness(joiner)).status === 200, "the joiner ready");
    const leaderId = joiner.replica.leaderId;
    assert.ok(leaderId !== null);

    network.cut.add("n3");
    await until(async () => (await readiness(joiner)).status === 503, "the cut joiner unready");
    const answer = await readiness(joiner);
    assert.match(answer.message, new RegExp(`not heard from its leader ${leaderId} for `));
    assert.equal(joiner.replica.leaderId, leaderId, "it still names the leader it lost");
    // The gauge an alert on "no leader" reads agrees with /readyz: the leader it names is lost.
    await until(
      async () =>
        (await readiness(joiner)).status === 503 &&
        await metric(joiner, "cmqd_raft_leader_known") === "0",
      "the gauge says no leader too",
    );

    network.cut.delete("n3");
    await until(async () => (await readiness(joiner)).status === 200, "ready again");
    await until(
      async () => await metric(joiner, "cmqd_raft_leader_known") === "1",
      "the gauge knows the leader again",
    );
  } finally {
    for (const node of nodes) await node.close();
  }
});

Deno.test("/readyz: a leader handing its leadership over is not ready (it refuses writes meanwhile)", async () => {
  const network = new NodeNetwork();
  const nodes = await startNodeGroup(network, ["n1", "n2", "n3"]);
  try {
    await until(async () => {
      for (const node of nodes) if ((await readiness(node)).status !== 200) return false;
      return true;
    }, "every node ready");
    const leader = nodes.find((node) => node.replica.isLeader)!;
    const follower = nodes.find((node) => node !== leader)!;
    // Cut off, the transferee never takes over: the transfer runs until the leader abandons it
    // after an election timeout. It starts at once (no tick needed) and the probe is answered in
    // the same turn of the event loop.
    network.cut.add(follower.replica.id);
    leader.replica.transferLeadership(follower.replica.id);
    const response = await leader.app.request("/readyz");
    const body = await response.json();
    assert.equal(response.status, 503);
    assert.equal(body.error.code, "NotReady");
    assert.match(body.error.message, /handing leadership over to /);
    assert.equal(response.headers.get("retry-after"), "1");
    // Still the leader, it names itself: the gauge stays 1 while /readyz answers 503, and its
    // HELP says so (a dashboard reading it as "ready" would be wrong for the handover).
    const scrape = await (await leader.app.request("/metrics")).text();
    assert.equal(/^cmqd_raft_leader_known (\S+)$/m.exec(scrape)?.[1], "1");
    const help = /^# HELP cmqd_raft_leader_known (.*)$/m.exec(scrape)?.[1] ?? "";
    assert.match(help, /handing its leadership over/);
    network.cut.delete(follower.replica.id);
    await until(async () =>
      (await readiness(leader)).status === 200 ||
      !leader.replica.isLeader, "the transfer over, one way or the other");
  } finally {
    for (const node of nodes) await node.close();
  }
});

Deno.test("/readyz stays 200 while the disk guard refuses sends: the node still serves receives and deletes", async () => {
  let free = 500;
  const node = await startOneNode(new SimFileSystem(), {
    minFreeDiskBytes: 100,
    freeDiskBytes: () => free,
    report: () => {},
  });
  try {
    await node.broker.createQueue("jobs", {});
    await node.broker.sendMessages("jobs", [{ body: "1" }]);
    free = 99;
    await until(async () => (await metric(node, "cmqd_disk_alarm")) === "1", "the alarm");
    assert.deepEqual(await readiness(node), { status: 200, message: "ready" });
    await assert.rejects(node.broker.sendMessages("jobs", [{ body: "2" }]), /free/i);
    const { messages } = await node.broker.receiveMessages("jobs", {});
    assert.equal(messages.length, 1, "receives go on");
  } finally {
    await node.close();
  }
});

Deno.test("/readyz: a lone voter that distrusts its log knows no leader and is not ready", async () => {
  const fs = new SimFileSystem();
  const first = await startOneNode(fs, { snapshotEntriesInterval: 1000 });
  await first.broker.createQueue("jobs", {});
  await first.close();
  const segment = fs.readDir("/d/log").filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`/d/log/${segment}`, 40);
  const node = await startNode({
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: realClock,
    timers: realTimers,
    transport: new NodeWire(new NodeNetwork(), "n1"),
    initialVoters: ["n1"],
    url: "http://127.0.0.1:1",
    tickMs: 5,
    report: () => {},
  });
  try {
    assert.equal(await metric(node, "cmqd_log_distrusted"), "1");
    const answer = await readiness(node);
    assert.equal(answer.status, 503);
    assert.match(answer.message, /no leader/);
  } finally {
    await node.close();
  }
});
