import assert from "node:assert/strict";
import type { LostState } from "./fresh.ts";
import { SimCluster } from "./testing/mod.ts";
import { type NodeId, nodeId } from "./types.ts";

/**
 * What the application does with a node's lost state (`broker/replication/recovery.ts`): the
 * node votes again once its commit index holds an entry of a leader's term newer than the loss;
 * caught up under the same term, it asks the leader for a new one.
 */
class Repairs {
  readonly goals = new Map<NodeId, LostState>();

  check(cluster: SimCluster): void {
    for (const node of cluster.nodes.values()) {
      const raft = node.raft;
      if (raft === null) continue;
      const lost = raft.takeLostState();
      if (lost !== null) this.goals.set(node.id, lost);
      const goal = this.goals.get(node.id);
      if (goal === undefined) continue;
      const status = raft.status();
      if (status.leaderId === null || status.commit < goal.commit) continue;
      if (node.storage.term(status.commit) !== status.term) continue;
      if (status.term > goal.term) {
        raft.setCanCampaign(true);
        this.goals.delete(node.id);
      } else {
        raft.requestNewTerm();
      }
    }
    cluster.processReadies();
  }

  /** Ticks and delivers `ticks` times, checking repairs in between. */
  run(cluster: SimCluster, ticks: number): void {
    for (let tick = 0; tick < ticks; tick++) {
      cluster.tickAll();
      cluster.stabilize();
      this.check(cluster);
      cluster.stabilize();
    }
  }
}

function leaderAmong(cluster: SimCluster, ids: string[]): string | null {
  return ids.find((id) => cluster.node(id).raft?.status().role === "leader") ?? null;
}

/**
 * n1 leads; entries are committed on n1 and n2 while n3 lags; n2's disk is replaced and it is
 * restarted under its id; n1 goes down (its disk kept). Returns the texts n1 and n2 acknowledged.
 */
function wipeTheUpToDateFollower(cluster: SimCluster): string[] {
  const ids = cluster.ids;
  cluster.electLeader("n1");
  const written: string[] = [];
  for (let count = 0; count < 5; count++) written.push(cluster.propose("n1"));
  cluster.stabilize();
  cluster.network.isolate(nodeId("n3"), ids);
  for (let count = 0; count < 10; count++) written.push(cluster.propose("n1"));
  cluster.stabilize();
  const leaderStatus = cluster.raft("n1").status();
  assert.equal(leaderStatus.commit, leaderStatus.lastIndex, "n1 and n2 committed everything");
  assert.ok(cluster.raft("n3").status().lastIndex < leaderStatus.commit, "n3 lags");
  cluster.crash("n2");
  cluster.wipe("n2");
  cluster.crash("n1");
  cluster.network.heal();
  return written;
}

Deno.test("a voter restarted on an empty disk does not help elect a leader lacking writes it acknowledged", () => {
  const cluster = new SimCluster({ seed: 41, freshWhenEmpty: true });
  const repairs = new Repairs();
  const written = wipeTheUpToDateFollower(cluster);
  // Without the fresh rule n2 votes for n3, and the harness's leader-completeness check fails.
  repairs.run(cluster, 200);
  assert.equal(leaderAmong(cluster, ["n2", "n3"]), null, "n2 grants no vote to n3's shorter log");
  cluster.restart("n1");
  repairs.run(cluster, 100);
  const leader = cluster.leader();
  assert.ok(leader !== null);
  cluster.checkSafety();
  const applied = cluster.node(leader).state.map((key) => key.split(":").slice(2).join(":"));
  for (const text of written) assert.ok(applied.includes(text), `${text} survived`);
});

Deno.test("a wiped voter stops voting when a leader reaches it, and votes again after a newer-term leader commits", () => {
  const cluster = new SimCluster({ seed: 42, freshWhenEmpty: true });
  const repairs = new Repairs();
  wipeTheUpToDateFollower(cluster);
  cluster.restart("n1");
  // n3 votes for n1; n2 refuses (n1 has a log), and n1 refuses both others' shorter logs.
  assert.equal(cluster.waitForLeader(), "n1");
  const lostTerm = cluster.raft("n1").status().term;
  const lost = cluster.raft("n2").takeLostState();
  assert.ok(lost !== null, "n1's append told n2 it had lost a log");
  assert.equal(lost.term, lostTerm);
  assert.equal(cluster.raft("n2").status().canCampaign, false);
  repairs.goals.set(nodeId("n2"), lost);
  // Caught up under n1's term, n2 asks for a new term; n1 hands over to n3.
  repairs.run(cluster, 60);
  const status = cluster.raft("n2").status();
  assert.ok(status.term > lostTerm, "a newer term came");
  assert.notEqual(status.leaderId, "n2");
  assert.equal(status.canCampaign, true, "n2 votes again");
  assert.equal(status.lastIndex, cluster.raft(status.leaderId!).status().lastIndex);
  // Now n2's vote counts: with the leader down, n2 and the other node elect one of them.
  const leader = status.leaderId!;
  cluster.crash(leader);
  repairs.run(cluster, 100);
  assert.ok(leaderAmong(cluster, cluster.ids.filter((id) => id !== leader)) !== null);
  cluster.checkSafety();
});

Deno.test("a new cluster of empty nodes elects a leader and nobody distrusts its log", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const cluster = new SimCluster({ seed, freshWhenEmpty: true });
    const leader = cluster.waitForLeader();
    cluster.propose(leader);
    cluster.stabilize();
    for (const id of cluster.ids) {
      const raft = cluster.raft(id);
      assert.equal(raft.takeLostState(), null, `seed ${seed}: ${id} lost nothing`);
      assert.equal(raft.status().canCampaign, true);
      assert.equal(raft.status().commit, 2);
    }
  }
});

Deno.test("a new cluster whose first leader crashed after appending its no-op still elects", () => {
  const cluster = new SimCluster({ seed: 43, freshWhenEmpty: true });
  cluster.raft("n1").campaign();
  cluster.deliverUntil(() => cluster.raft("n1").status().role === "leader");
  cluster.network.clear(); // its appends never left
  cluster.crash("n1");
  cluster.restart("n1"); // its log ends at 1; n2 and n3 are still empty
  assert.equal(cluster.raft("n1").status().lastIndex, 1);
  const leader = cluster.waitForLeader();
  cluster.propose(leader);
  cluster.stabilize();
  for (const id of cluster.ids) assert.equal(cluster.raft(id).status().canCampaign, true);
  cluster.checkSafety();
});

Deno.test("a node of a new cluster that starts after the first commit is treated as wiped", () => {
  const cluster = new SimCluster({ seed: 44, freshWhenEmpty: true });
  const repairs = new Repairs();
  cluster.network.isolate(nodeId("n3"), cluster.ids);
  const leader = cluster.electLeader("n1");
  cluster.propose(leader);
  cluster.stabilize();
  cluster.network.heal();
  cluster.tickAll();
  cluster.stabilize();
  const lost = cluster.raft("n3").takeLostState();
  assert.ok(lost !== null, "n3 can't tell it from a wiped node");
  assert.equal(cluster.raft("n3").status().canCampaign, false);
  repairs.goals.set(nodeId("n3"), lost);
  repairs.run(cluster, 60);
  assert.equal(cluster.raft("n3").status().canCampaign, true);
  cluster.checkSafety();
});
