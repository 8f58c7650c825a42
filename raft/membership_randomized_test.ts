/**
 * Randomized membership churn: voters removed (also while cut off or down), added back under the
 * same id (with their old log, or a wiped one once no configuration lists it), learners promoted
 * before they caught up, leadership transfers, snapshots, mixed
 * with partitions, crashes (also in the middle of a write), drops and reordering. Besides the safety checks of `SimCluster`, it
 * checks what the removed-node rules must never cost: after healing, no member of the final
 * configuration believes it was removed, every voter of it can campaign and win, and a majority
 * of it elects a leader without the others.
 */
import assert from "node:assert/strict";
import { MemoryLogStorage } from "./log_storage.ts";
import { createPrng, randomInt } from "./prng.ts";
import { SimCluster } from "./testing/mod.ts";
import { ignoreRefusals, shuffle, withLeader } from "./testing/random_actions.ts";
import type { NodeId, Prng } from "./types.ts";

const initialVoters = ["n1", "n2", "n3"];

function runSeed(seed: number, stepsMax: number): void {
  const prng = createPrng(seed);
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  const cluster = new SimCluster({
    ids,
    config: { voters: initialVoters },
    seed,
    stampTimes: true,
    node: {
      electionTicks: 5,
      snapshotChunkBytes: 64,
      entriesPerMessageBytesMax: 128,
      inflightMessagesMax: 4,
      preVote: seed % 4 !== 0,
      checkQuorum: seed % 4 !== 0,
    },
  });
  const dropRate = [0, 0.05, 0.2][seed % 3];
  cluster.network.faults = { dropRate, duplicateRate: 0.05, reorder: true };
  for (let step = 0; step < stepsMax; step++) randomAction(cluster, prng, ids);
  settle(cluster, prng, ids);
}

const trace = Deno.env.get("RAFT_CHURN_TRACE") !== undefined;
function log(...args: unknown[]): void {
  if (trace) console.log(...args);
}

function dump(cluster: SimCluster, ids: string[]): string {
  return ids.map((id) => {
    const status = cluster.node(id).raft?.status();
    if (status === undefined) return `${id}:down`;
    return `${id}:${
      status.role[0]
    }${status.term} c${status.commit} l${status.lastIndex} v[${status.config.voters}] L[${status.config.learners}]${
      status.removal ? " R" + status.removal.index + status.removal.by : ""
    }`;
  }).join(" | ");
}

function randomAction(cluster: SimCluster, prng: Prng, ids: string[]): void {
  const roll = prng.next();
  if (trace) log("--", roll.toFixed(3), dump(cluster, ids));
  const pick = () => ids[randomInt(prng, ids.length)];
  if (roll < 0.2) {
    cluster.tickAll();
  } else if (roll < 0.47) {
    cluster.deliver(1 + randomInt(prng, 30));
  } else if (roll < 0.5) {
    // A node dies during its next write (a vote, an election won, an append, an ack, a
    // membership change...): only what that Ready lets leave first (a leader's appends) is out,
    // nothing of it is durable.
    const id = pick();
    const down = ids.filter((other) => cluster.node(other).raft === null).length;
    if (cluster.node(id).raft !== null && down < 2) {
      cluster.crashDuringWrite = id as NodeId;
      log("crash during the next write", id);
    }
  } else if (roll < 0.62) {
    const leader = cluster.leader();
    if (leader !== null) ignoreRefusals(() => cluster.propose(leader));
  } else if (roll < 0.66) {
    const id = pick();
    const down = ids.filter((other) => cluster.node(other).raft === null).length;
    if (cluster.node(id).raft !== null && down < 2) cluster.crash(id), log("crash", id);
  } else if (roll < 0.72) {
    const id = pick();
    if (cluster.node(id).raft === null) cluster.restart(id), log("restart", id);
  } else if (roll < 0.74) {
    const groupSize = 1 + randomInt(prng, ids.length - 1);
    const shuffled = shuffle(prng, ids.map((id) => id as NodeId));
    cluster.network.heal();
    cluster.network.partition([shuffled.slice(0, groupSize), shuffled.slice(groupSize)]);
    log("partition", shuffled.slice(0, groupSize), shuffled.slice(groupSize));
  } else if (roll < 0.79) {
    cluster.network.heal();
    log("heal");
  } else if (roll < 0.81) {
    cluster.compact(pick());
  } else if (roll < 0.83) {
    withLeader(cluster, (leader) => cluster.raft(leader).transferLeadership(pick() as NodeId));
  } else if (roll < 0.85) {
    wipe(cluster, pick());
  } else {
    withLeader(cluster, (leader) => changeMembership(cluster, prng, leader, ids));
  }
  cluster.processReadies();
}

/**
 * A node no configuration lists any more starts over on an empty data directory. Only then: a
 * node that still lists it (one down or cut off through the changes) could count the wiped
 * node's vote or acknowledgement as its old incarnation's, and the group would split (an id that
 * comes back on an empty disk forgets its promises). Not for initial voters either: a joiner
 * starts from the initial voters, so two of them could elect each other (a documented hazard).
 */
function wipe(cluster: SimCluster, id: string): void {
  if (initialVoters.includes(id)) return;
  const others = cluster.ids.filter((other) => other !== id);
  for (const other of others) {
    const status = cluster.node(other).raft?.status();
    if (status === undefined || status.commit < status.lastIndex) return;
    if ([...status.config.voters, ...status.config.learners].includes(id as NodeId)) return;
  }
  const node = cluster.node(id);
  if (node.raft !== null) cluster.crash(id);
  log("wipe", id);
  // A joiner starts from the group's bootstrap configuration.
  node.storage = new MemoryLogStorage({
    config: { voters: initialVoters.map((voter) => voter as NodeId), learners: [] },
  });
  cluster.restart(id);
}

/** Adds an outsider as a learner, promotes a learner (caught up or not), or removes a member. */
function changeMembership(cluster: SimCluster, prng: Prng, leader: string, ids: string[]): void {
  const raft = cluster.raft(leader);
  const config = raft.status().config;
  const outsiders = ids.filter((id) =>
    ![...config.voters, ...config.learners].includes(id as NodeId)
  );
  const roll = prng.next();
  if (roll < 0.35 && outsiders.length > 0) {
    const id = outsiders[randomInt(prng, outsiders.length)] as NodeId;
    raft.proposeConfigChange({ type: "addLearner", nodeId: id });
    log("addLearner", id);
  } else if (roll < 0.65 && config.learners.length > 0) {
    const id = config.learners[randomInt(prng, config.learners.length)];
    raft.proposeConfigChange({ type: "promote", nodeId: id });
    log("promote", id);
  } else {
    const members = [...config.voters, ...config.learners].filter((id) => id !== leader);
    if (members.length === 0) return;
    const id = members[randomInt(prng, members.length)];
    if (config.voters.includes(id) && config.voters.length <= 2) return;
    raft.proposeConfigChange({ type: "remove", nodeId: id });
    log("remove", id);
  }
}

function run(cluster: SimCluster, ticks: number): void {
  for (let tick = 0; tick < ticks; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

/** The live leader of the highest term whose configuration lists it as a voter. */
function memberLeader(cluster: SimCluster): NodeId | null {
  const leader = cluster.leader();
  if (leader === null) return null;
  return cluster.raft(leader).status().config.voters.includes(leader) ? leader : null;
}

function waitForLeader(cluster: SimCluster, ticksMax: number, what: string): NodeId {
  for (let tick = 0; tick < ticksMax; tick++) {
    const leader = memberLeader(cluster);
    if (leader !== null && cluster.raft(leader).status().leadTransferee === null) return leader;
    cluster.tickAll();
    cluster.stabilize();
  }
  assert.fail(`no leader ${what} within ${ticksMax} ticks`);
}

function settle(cluster: SimCluster, prng: Prng, ids: string[]): void {
  cluster.crashDuringWrite = null;
  cluster.network.heal();
  cluster.network.faults = { dropRate: 0, duplicateRate: 0, reorder: false };
  for (const id of ids) if (cluster.node(id).raft === null) cluster.restart(id);
  let leader = waitForLeader(cluster, 400, "after healing");
  const finalApplied = () => [...cluster.committed.values()].some((key) => key.endsWith(":final"));
  const proposedIn = new Set<number>();
  for (let tick = 0; tick < 600 && !finalApplied(); tick++) {
    leader = memberLeader(cluster) ?? leader;
    const status = cluster.node(leader).raft?.status();
    if (status?.role === "leader" && !proposedIn.has(status.term)) {
      ignoreRefusals(() => {
        cluster.propose(leader, "final");
        proposedIn.add(status.term);
      });
    }
    run(cluster, 1);
  }
  assert.ok(finalApplied(), "the final proposal was applied");
  run(cluster, 40);
  log("settled", dump(cluster, ids));
  cluster.checkSafety();
  leader = waitForLeader(cluster, 200, "after the final proposal");
  const config = cluster.raft(leader).status().config;
  const members = [...config.voters, ...config.learners];
  for (const id of members) {
    const status = cluster.raft(id).status();
    assert.ok(
      cluster.node(id).state.some((key) => key.endsWith(":final")),
      `${id} applied the final proposal`,
    );
    assert.deepEqual(status.config, config, `${id} has the final configuration`);
    assert.equal(status.removal, null, `${id}, a member, believes it was removed`);
  }
  // Every voter can take over.
  for (const id of shuffle(prng, [...config.voters])) {
    const current = waitForLeader(cluster, 200, `before handing over to ${id}`);
    if (current !== id) cluster.raft(current).transferLeadership(id);
    run(cluster, 15);
    assert.equal(memberLeader(cluster), id, `${id} took over`);
  }
  // A bare majority elects a leader without the others, whoever of them is cut off.
  const down = shuffle(prng, [...config.voters]).slice(
    0,
    Math.floor((config.voters.length - 1) / 2),
  );
  for (const id of down) cluster.crash(id);
  const lastLeader = waitForLeader(cluster, 300, `with ${down.join(", ") || "none"} down`);
  assert.ok(!down.includes(lastLeader));
  cluster.propose(lastLeader, "after");
  run(cluster, 20);
  cluster.checkSafety();
}

Deno.test("membership churn with faults keeps safety and lets every member campaign", () => {
  const from = Number(Deno.env.get("RAFT_CHURN_FROM") ?? 1);
  const count = Number(Deno.env.get("RAFT_CHURN_SEEDS") ?? 100);
  for (let seed = from; seed < from + count; seed++) {
    try {
      runSeed(seed, Number(Deno.env.get("RAFT_CHURN_STEPS") ?? 2000));
    } catch (error) {
      throw new Error(`seed ${seed} failed: ${(error as Error).message}`, { cause: error });
    }
  }
});
