/**
 * `/metrics` of the nodes of a three-voter group (README, "Operations"): each node's role, the
 * leader's view of each follower (lag, silence, connection), a follower's silence of its leader,
 * and the leader-change and election counters across a hand-over. Three real nodes in one process, on simulated disks, over an
 * in-memory network whose links the test cuts.
 */
import assert from "node:assert/strict";
import { parsePrometheusText } from "../http/testing/mod.ts";
import type { CmqdNode } from "./node.ts";
import { NodeNetwork, startNodeGroup } from "./_node_group.ts";
import { until } from "./testing/mod.ts";

async function scrape(node: CmqdNode): Promise<Map<string, number>> {
  return parsePrometheusText(await (await node.app.request("/metrics")).text());
}

async function startGroup(network: NodeNetwork, ids: string[]): Promise<Map<string, CmqdNode>> {
  const nodes = await startNodeGroup(network, ids, { handOffMsMax: 500 });
  return new Map(nodes.map((node, index) => [ids[index], node]));
}

Deno.test("/metrics of a three-voter group: roles, follower lag, silence and connections, leader changes", async () => {
  const network = new NodeNetwork();
  const nodes = await startGroup(network, ["n1", "n2", "n3"]);
  const leaderOf = () => [...nodes.values()].find((node) => node.replica.isLeader);
  try {
    await until(async () => {
      for (const node of nodes.values()) {
        if ((await scrape(node)).get("cmqd_raft_leader_known") !== 1) return false;
      }
      return leaderOf() !== undefined;
    }, "every node to know a leader");
    const leader = leaderOf()!;
    const leaderId = leader.replica.id;
    const [lagging, other] = [...nodes.keys()].filter((id) => id !== leaderId);
    for (const [id, node] of nodes) {
      const samples = await scrape(node);
      const role = id === leaderId ? "leader" : "follower";
      assert.equal(samples.get(`cmqd_raft_role{role="${role}"}`), 1, `${id} is ${role}`);
      assert.equal(samples.get("cmqd_raft_voters"), 3);
      const followerSeries = [...samples.keys()].filter((name) =>
        name.startsWith("cmqd_raft_follower_")
      );
      assert.equal(followerSeries.length, id === leaderId ? 4 : 0, "the leader's view only");
    }
    // A follower counts the API requests it did not serve as leader (here the in-memory
    // transport knows no client URLs, so the leader's is unknown: answered here, NoLeader).
    const relayed = await nodes.get(other)!.handler(new Request("http://me/v1/queues"));
    assert.equal(relayed.status, 503);
    await relayed.body?.cancel();
    const followerSamples = await scrape(nodes.get(other)!);
    assert.equal(
      followerSamples.get('cmqd_forwarded_requests_total{outcome="no_leader"}'),
      1,
    );
    assert.equal(followerSamples.get("cmqd_forwards_in_flight"), 0);
    let samples = await scrape(leader);
    for (const id of [lagging, other]) {
      assert.equal(samples.get(`cmqd_peer_connected{node="${id}"}`), 1);
      assert.ok(samples.has(`cmqd_raft_follower_lag_entries{node="${id}"}`));
    }

    // One follower drops off the network while the leader goes on committing with the other.
    network.cut.add(lagging);
    await leader.broker.createQueue("jobs", {});
    await leader.broker.sendMessages("jobs", [{ body: "1" }, { body: "2" }]);
    const lag = (samples: Map<string, number>, id: string) =>
      samples.get(`cmqd_raft_follower_lag_entries{node="${id}"}`)!;
    const silence = (samples: Map<string, number>, id: string) =>
      samples.get(`cmqd_raft_follower_last_contact_seconds{node="${id}"}`)!;
    await until(async () => lag(await scrape(leader), other) === 0, "the other follower caught up");
    samples = await scrape(leader);
    assert.ok(lag(samples, lagging) >= 2, "the cut follower misses the queue and the send");
    assert.equal(samples.get(`cmqd_peer_connected{node="${lagging}"}`), 0);
    assert.equal(samples.get(`cmqd_peer_connected{node="${other}"}`), 1);
    const silent = silence(samples, lagging);
    await until(async () => silence(await scrape(leader), lagging) > silent, "the silence to grow");

    const healedAt = Date.now(); // the nodes' clock
    network.cut.delete(lagging);
    await until(async () => {
      const samples = await scrape(leader);
      const heardSinceHeal = silence(samples, lagging) * 1000 <= Date.now() - healedAt;
      return lag(samples, lagging) === 0 && heardSinceHeal;
    }, "the follower to catch up and be heard again");
    assert.equal((await scrape(leader)).get(`cmqd_peer_connected{node="${lagging}"}`), 1);

    // A hand-over: the roles flip, and both nodes count one more leader and the new one an election.
    const successor = nodes.get(other)!;
    const before = { leader: await scrape(leader), successor: await scrape(successor) };
    leader.replica.transferLeadership(other);
    await until(async () => {
      const samples = await scrape(leader);
      return successor.replica.isLeader && samples.get("cmqd_raft_leader_known") === 1 &&
        samples.get('cmqd_raft_role{role="follower"}') === 1;
    }, "the hand-over");
    const after = { leader: await scrape(leader), successor: await scrape(successor) };
    assert.equal(after.leader.get('cmqd_raft_role{role="leader"}'), 0);
    assert.equal(after.successor.get('cmqd_raft_role{role="leader"}'), 1);
    assert.equal(after.successor.get('cmqd_raft_role{role="follower"}'), 0);
    for (const side of ["leader", "successor"] as const) {
      assert.equal(
        after[side].get("cmqd_raft_leader_changes_total"),
        before[side].get("cmqd_raft_leader_changes_total")! + 1,
        side,
      );
      assert.ok(after[side].get("cmqd_raft_term")! > before[side].get("cmqd_raft_term")!, side);
    }
    assert.equal(
      after.successor.get("cmqd_raft_elections_started_total"),
      before.successor.get("cmqd_raft_elections_started_total")! + 1,
    );
    assert.equal(
      after.leader.get("cmqd_raft_elections_started_total"),
      before.leader.get("cmqd_raft_elections_started_total"),
    );
    assert.ok(after.successor.has(`cmqd_raft_follower_lag_entries{node="${leaderId}"}`));
    assert.ok(!after.leader.has(`cmqd_raft_follower_lag_entries{node="${other}"}`));
  } finally {
    for (const node of nodes.values()) await node.close();
  }
});

Deno.test("/metrics of a follower: seconds since the leader was last heard, growing while cut off", async () => {
  const network = new NodeNetwork();
  network.cut.add("n3"); // n3 never hears from a leader until the cut heals
  const nodes = await startGroup(network, ["n1", "n2", "n3"]);
  const contact = async (id: string) =>
    (await scrape(nodes.get(id)!)).get("cmqd_raft_leader_last_contact_seconds");
  const leaderId = () => ["n1", "n2"].find((id) => nodes.get(id)!.replica.isLeader);
  const otherOf = (id: string) => id === "n1" ? "n2" : "n1";
  try {
    await until(() => leaderId() !== undefined, "n1 or n2 to lead");
    await until(async () => (await contact(otherOf(leaderId()!))) !== undefined, "the follower");
    let leader = leaderId()!;
    assert.ok((await contact(otherOf(leader)))! < 1, "heartbeats arrive every few ms");
    assert.equal(await contact(leader), undefined, "not on the leader");
    assert.equal(await contact("n3"), undefined, "n3 never heard from a leader");

    network.cut.delete("n3");
    await until(async () => (await contact("n3")) !== undefined, "n3 to hear from the leader");
    assert.ok((await contact("n3"))! < 1);
    // n3 missed the first leader's entries: once an append shows it the log (the first heartbeat
    // carries commit 0) it takes itself for a node whose disk was replaced and may not campaign
    // until a leader of a newer term has repaired it (README, "Replacing a node's disk"); cut off
    // before that, it would keep its leader and never campaign.
    await until(() => {
      const status = nodes.get("n3")!.replica.status();
      return status.commit > 0 && status.canCampaign;
    }, "n3 to know the log and be trusted to campaign");

    // Cut off, n3 loses its leader and campaigns in vain: the silence keeps growing.
    network.cut.add("n3");
    // How soon n3 gives up on its leader depends on its ticks, which a loaded machine delays:
    // wait for both, rather than assume the first comes by the time the second does.
    await until(async () => {
      const metrics = await scrape(nodes.get("n3")!);
      return metrics.get("cmqd_raft_leader_known") === 0 &&
        metrics.get("cmqd_raft_leader_last_contact_seconds")! >= 0.5;
    }, "n3 to campaign, knowing no leader, with its silence past 0.5 s");
    const cutOff = await scrape(nodes.get("n3")!);
    assert.ok(cutOff.get("cmqd_raft_leader_last_contact_seconds")! >= 0.5, "and still growing");
    leader = leaderId()!;
    assert.ok((await contact(otherOf(leader)))! < 1, "the connected follower still hears it");

    const healedAt = Date.now(); // the nodes' clock
    network.cut.delete("n3");
    await until(async () => {
      const seconds = await contact("n3");
      return seconds !== undefined && seconds * 1000 <= Date.now() - healedAt;
    }, "n3 to hear from a leader again");
  } finally {
    for (const node of nodes.values()) await node.close();
  }
});
