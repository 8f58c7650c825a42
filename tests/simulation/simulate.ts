/**
 * One seeded run of the whole-cluster simulation: a fault phase (crashes, power cuts after N
 * writes, partitions, message loss/duplication/reordering, clock skew, bit flips in a stopped
 * node's persisted records, committed or not, wall-clock jumps (days forward, hours back),
 * leadership transfers, disk I/O errors (EIO, ENOSPC) in a running node's writes, fsyncs and
 * directory fsyncs, a voter removed and later
 * rejoining with an empty disk, a voter's disk replaced under it) under client load, then a healing phase that drains every queue
 * and checks the history (see `checkers.ts`). A topic workload (`topic_workload.ts`) publishes
 * alongside, fanning out to queues and to simulated HTTP endpoints that fail, hang and lag; its
 * deliveries are checked after healing too. An admin workload (`admin_workload.ts`) rewinds,
 * purges, redrives and updates attributes on queues of its own, with dead letters by receive count
 * and (in a soak after healing) by TTL; `admin_checkers.ts` checks its history.
 *
 * This file drives the phases; `faults.ts` injects the faults and restarts the nodes they hit,
 * and `drains.ts` holds the operations on the leader and the healing phase's drains.
 *
 * @module
 */
import { createPrng, type Prng, randomInt } from "../../raft/mod.ts";
import { type ClusterKnobs, SimCluster } from "./cluster.ts";
import { History, SimulationViolation } from "./checkers.ts";
import { AdminHistory } from "./admin_checkers.ts";
import { AdminClient, adminQueues } from "./admin_workload.ts";
import { Drains } from "./drains.ts";
import { Faults } from "./faults.ts";
import { MembershipDriver } from "./membership.ts";
import { type NetworkKnobs, SimNetwork } from "./network.ts";
import { Scheduler } from "./scheduler.ts";
import { SimEndpoints } from "./endpoints.ts";
import {
  checkTopicDeliveries,
  configureEndpoints,
  Publisher,
  subscriptionSpecs,
  topicQueues,
  topicSpecs,
} from "./topic_workload.ts";
import { Client, queues, type WorkloadParts } from "./workload.ts";

/** Options of one run. */
export interface SimulationOptions {
  seed: number;
  /** Fault steps of 500 ms simulated time each. */
  steps: number;
  clients?: number;
  /** Inject bit flips into a stopped node's persisted records. true. */
  bitFlips?: boolean;
  /** Remove a voter and have it rejoin with an empty disk. true. */
  membership?: boolean;
  /** Replace a voter's disk: it restarts empty under its id with its usual options. true. */
  wipes?: boolean;
  /** Run the topic workload (publishes, queue fan-out, HTTP pushes). true. */
  topics?: boolean;
  /** Make nodes' wall clocks jump (days forward, hours back). true. */
  clockJumps?: boolean;
  /** Chance per fault step of a wall-clock jump on one node. 0.03. */
  clockJumpRate?: number;
  /** Fail a running node's disk calls (EIO, ENOSPC): it must exit and recover. false. */
  ioErrors?: boolean;
  /** Chance per fault step of arming I/O errors on one node. 0.03. */
  ioErrorRate?: number;
  /**
   * Run the admin workload (rewinds, purges, redrives, attribute updates, dead letters) on queues
   * of its own, from a PRNG of its own. true.
   */
  admin?: boolean;
  /**
   * Simulated ms the admin clients go on (slowly, on the healed cluster) after the other checks,
   * before theirs: past 300 s, the least dead-letter TTL, messages dead-letter by TTL. 0.
   */
  adminSoakMs?: number;
}

/** What a passing run did. */
export interface SimulationReport {
  seed: number;
  events: number;
  operations: number;
  applied: number;
  acknowledgedSends: number;
  drained: number;
  crashes: number;
  flips: number;
  /** Disks replaced. */
  wipes: number;
  /** Wall-clock jumps injected. */
  clockJumps: number;
  /** I/O errors armed, and exits after a failed disk call. */
  ioFaults: number;
  ioExits: number;
  /** Committed configuration changes (remove, add learner, promote). */
  membershipChanges: number;
  /** Messages published (acknowledged or not), queue copies drained, 2xx pushes. */
  published: number;
  queueCopies: number;
  pushes: number;
  /** Admin writes applied or maybe applied, by kind; deliveries of dead-lettered messages. */
  admin: Record<string, number>;
  /** Snapshots installed from a leader, and those holding barred rewinds (version 4). */
  snapshotInstalls: number;
  barredInstalls: number;
  simulatedMs: number;
}

const stepMs = 500;

function knobsFor(prng: Prng): { network: NetworkKnobs; cluster: ClusterKnobs } {
  const pick = <T>(values: T[]): T => values[randomInt(prng, values.length)];
  return {
    network: {
      lossRate: pick([0, 0.01, 0.05]),
      duplicateRate: pick([0, 0.02]),
      delayMsMin: 1,
      delayMsMax: pick([5, 20, 80]),
    },
    cluster: {
      snapshotEntriesInterval: pick([20, 60, 400]),
      segmentBytesMax: pick([1024, 4096, 65536]),
      skewMsMax: pick([0, 500, 5000]),
    },
  };
}

/** Runs one seed; throws a `SimulationViolation` (or a bug's error) on failure. */
export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const prng = createPrng(options.seed);
  const scheduler = new Scheduler(1_700_000_000_000);
  const knobs = knobsFor(prng);
  const network = new SimNetwork(scheduler, createPrng(options.seed * 31 + 7), {
    ...knobs.network,
  });
  const history = new History();
  const endpoints = new SimEndpoints(scheduler, createPrng(options.seed * 131 + 3));
  configureEndpoints(endpoints);
  const cluster = new SimCluster({ scheduler, network, history, endpoints }, {
    seed: options.seed,
    prng,
    knobs: knobs.cluster,
  });
  const parts: WorkloadParts = { cluster, scheduler, history, prng };
  const run = new Run(parts, { network, endpoints }, options);
  try {
    return await run.execute(knobs);
  } catch (error) {
    if (error instanceof Error) {
      const warnings = [...cluster.nodes.values()].flatMap((node) =>
        node.warnings.slice(-5).map((warning) => `${node.id} ${warning}`)
      );
      const statuses = cluster.up().map((node) => JSON.stringify(node.replica!.status()));
      error.message += `\n  membership: ${run.membershipPhase}; ${statuses.join("\n    ")}` +
        `\n  at simulated time ${scheduler.now}; last warnings:\n    ` +
        warnings.join("\n    ");
    }
    throw error;
  }
}

class Run {
  readonly #parts: WorkloadParts;
  readonly #network: SimNetwork;
  readonly #endpoints: SimEndpoints;
  readonly #options: SimulationOptions;
  readonly #errors: unknown[] = [];
  readonly #membership: MembershipDriver;
  readonly #adminHistory = new AdminHistory();
  readonly #faults: Faults;
  readonly #drains: Drains;

  get membershipPhase(): string {
    return this.#membership.phase;
  }

  constructor(
    parts: WorkloadParts,
    io: { network: SimNetwork; endpoints: SimEndpoints },
    options: SimulationOptions,
  ) {
    this.#parts = parts;
    this.#network = io.network;
    this.#endpoints = io.endpoints;
    this.#options = options;
    this.#membership = new MembershipDriver(parts);
    this.#faults = new Faults(parts, io.network, options, this.#membership, this.#errors);
    this.#drains = new Drains(parts);
  }

  async execute(knobs: { network: NetworkKnobs }): Promise<SimulationReport> {
    const { cluster, scheduler, history } = this.#parts;
    for (const id of cluster.ids) await cluster.start(id);
    await this.#advance(3000);
    await this.#createQueues();
    const withTopics = this.#options.topics !== false;
    if (withTopics) await this.#createTopics();
    const admins = await this.#startAdmin();
    const clients = Array.from(
      { length: this.#options.clients ?? 3 },
      (_, i) => new Client(this.#parts, `c${i}`),
    );
    const publisher = new Publisher(this.#parts);
    publisher.stopped = !withTopics;
    const loops = [...clients, publisher].map((client) =>
      client.run().catch((error) => this.#errors.push(error))
    );
    const adminLoops = admins.map((client) =>
      client.run().catch((error) => this.#errors.push(error))
    );
    for (let step = 0; step < this.#options.steps; step++) {
      this.#faults.injectFaults();
      await this.#advance(stepMs);
    }
    for (const client of clients) client.stopped = true;
    publisher.stopped = true;
    for (const admin of admins) admin.slow = true;
    await this.#heal(knobs.network);
    await this.#runUntil(() => Promise.all(loops), 60_000);
    await this.#converge();
    await this.#advance(15_000); // every lock (≤ 8 s) and visibility change (≤ 5 s) expires
    const deletedBefore = new Set(history.deleted.keys());
    const drained = await this.#runUntil(() => this.#drains.drain(), 120_000);
    history.checkDeliveries();
    history.checkDurability(drained, deletedBefore);
    let topicTotals = { queueCopies: 0, pushes: 0 };
    if (withTopics) {
      await this.#runUntil(() => this.#drains.pushesSettled(), 300_000);
      const received = await this.#runUntil(() => this.#drains.drainTopicQueues(), 120_000);
      topicTotals = checkTopicDeliveries(publisher, received, this.#endpoints);
    }
    if (admins.length > 0) {
      await this.#advance(this.#options.adminSoakMs ?? 0);
      for (const admin of admins) admin.stopped = true;
      await this.#runUntil(() => Promise.all(adminLoops), 60_000);
      this.#adminHistory.check();
    }
    await this.#converge();
    this.#drains.checkReplicasEqual();
    await cluster.stopAll();
    const adminTotals = {
      ...this.#adminHistory.counts(),
      operations: admins.reduce((sum, client) => sum + client.operations, 0),
      deliveries: this.#adminHistory.deliveries.length,
      deadLettered: this.#adminHistory.deadLettered(),
      deadLetteredLate: this.#adminHistory.deadLetteredLate(),
    };
    return {
      seed: this.#options.seed,
      events: scheduler.eventsRun,
      operations: clients.reduce((sum, client) => sum + client.operations, 0),
      applied: history.applied,
      acknowledgedSends: history.sent.size,
      drained: drained.size,
      crashes: this.#faults.crashes,
      flips: this.#faults.flips,
      wipes: this.#faults.wipes,
      clockJumps: this.#faults.clockJumps,
      ioFaults: this.#faults.ioFaults,
      ioExits: this.#faults.ioExits,
      membershipChanges: this.#membership.changes,
      published: publisher.published.size,
      ...topicTotals,
      admin: adminTotals,
      snapshotInstalls: cluster.snapshotInstalls,
      barredInstalls: cluster.barredInstalls,
      simulatedMs: scheduler.now - 1_700_000_000_000,
    };
  }

  /** Runs simulated time, surfacing errors of background work and checking node health. */
  async #advance(ms: number): Promise<void> {
    const { scheduler } = this.#parts;
    for (let elapsed = 0; elapsed < ms; elapsed += 100) {
      await scheduler.runFor(Math.min(100, ms - elapsed));
      this.#faults.watchNodes();
      if (this.#errors.length > 0) throw this.#errors[0];
    }
  }

  /** Runs the simulation while `work` (which needs it) completes. */
  async #runUntil<T>(work: () => Promise<T>, timeMsMax: number): Promise<T> {
    let done = false;
    const promise = work().finally(() => {
      done = true;
    });
    promise.catch(() => {});
    for (let waited = 0; !done; waited += 100) {
      if (waited > timeMsMax) {
        throw new SimulationViolation("liveness", `not done within ${timeMsMax} ms after healing`);
      }
      await this.#advance(100);
    }
    return await promise;
  }

  async #heal(network: NetworkKnobs): Promise<void> {
    const { cluster } = this.#parts;
    this.#network.heal();
    this.#network.knobs = { ...network, lossRate: 0, duplicateRate: 0 };
    this.#endpoints.heal();
    for (const node of cluster.nodes.values()) {
      // Disarm power cuts that have not fired yet.
      if (!node.fs.down) node.fs.crashAfter(Number.MAX_SAFE_INTEGER);
      for (const kind of ["write", "sync", "dirSync"] as const) node.fs.failNext(kind, 0);
    }
    await this.#advance(5_000);
    for (const id of cluster.ids) {
      const node = cluster.node(id);
      if (node.replica === null && !cluster.removed.has(id)) await cluster.start(id);
    }
    // Back to every configured node a voter before convergence and the drain are checked.
    await this.#runUntil(() => this.#membership.finish(), 60_000);
  }

  async #createQueues(): Promise<void> {
    const target = { id: this.#parts.cluster.ids[0] };
    for (const queue of queues) {
      await this.#runUntil(
        () =>
          this.#drains.retry(
            target,
            (broker) => broker.createQueue(queue.name, { fifo: queue.fifo }),
          ),
        60_000,
      );
    }
  }

  /**
   * Creates the admin queues (dead-letter queues first) and its two clients, which draw from a
   * PRNG of their own: none when `admin` is false, and then no draw either.
   */
  async #startAdmin(): Promise<AdminClient[]> {
    if (this.#options.admin === false) return [];
    for (const spec of adminQueues) {
      await this.#runUntil(
        () => this.#drains.onLeader((node) => node.broker!.createQueue(spec.name, spec.attributes)),
        60_000,
      );
    }
    const parts = { ...this.#parts, prng: createPrng(this.#options.seed * 613 + 11) };
    return ["a0", "a1"].map((name) => new AdminClient(parts, this.#adminHistory, name));
  }

  async #createTopics(): Promise<void> {
    for (const queue of topicQueues) {
      await this.#runUntil(
        () => this.#drains.onLeader((node) => node.broker!.createQueue(queue, {})),
        60_000,
      );
    }
    for (const topic of topicSpecs) {
      await this.#runUntil(
        () =>
          this.#drains.onLeader((node) =>
            node.topics!.createTopic(topic.name, { filterType: topic.filterType })
          ),
        60_000,
      );
    }
    for (const spec of subscriptionSpecs) {
      await this.#runUntil(
        () =>
          this.#drains.onLeader((node) =>
            node.topics!.subscribe(spec.topic, spec.name, spec.attributes)
          ),
        60_000,
      );
    }
  }

  /** Waits until one leader leads and every node applied its commit index. */
  async #converge(): Promise<void> {
    const { cluster } = this.#parts;
    const converged = () => {
      const up = cluster.up();
      if (up.length !== cluster.ids.length) return false;
      const leader = up.find((node) => node.replica!.isLeader);
      if (leader === undefined) return false;
      const commit = leader.replica!.status().commit;
      return up.every((node) => node.replica!.appliedIndex === commit);
    };
    await this.#runUntil(async () => {
      while (!converged()) await this.#parts.scheduler.sleep(100);
    }, 60_000);
  }
}
