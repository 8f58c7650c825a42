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
 * @module
 */
import { createPrng, type Prng, randomInt } from "../../raft/mod.ts";
import { CorruptLogError, scrubReadBytesMax, SimulatedIoError } from "../../storage/mod.ts";
import { type ClusterKnobs, SimCluster, type SimNode } from "./cluster.ts";
import { History, SimulationViolation } from "./checkers.ts";
import { AdminHistory } from "./admin_checkers.ts";
import { AdminClient, adminQueues } from "./admin_workload.ts";
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
import {
  Client,
  deleteMessage,
  isTransient,
  pickBroker,
  queues,
  redirect,
  type WorkloadParts,
} from "./workload.ts";

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
/** Chance per fault step of starting a remove → rejoin → promote cycle (when none runs). */
const membershipRate = 0.06;
/** Chance per fault step of a wall-clock jump on one node. */
const clockJumpRate = 0.03;
/** Chance per fault step of replacing a voter's disk (when no node is damaged or wiped). */
const wipeRate = 0.02;
/** Chance per fault step of arming I/O errors on one node. */
const ioErrorRate = 0.03;
/** What an armed I/O fault fails, and how many of its calls in a row (ENOSPC: until space returns). */
const ioFaultKinds = ["write", "sync", "dirSync", "snapshotWrite"] as const;

/** True when `error` (or one of its causes) is a simulated EIO/ENOSPC. */
function isSimulatedIoError(error: unknown): boolean {
  for (let at = error, depth = 0; at instanceof Error && depth < 8; depth++) {
    if (at instanceof SimulatedIoError) return true;
    at = at.cause;
  }
  return false;
}
const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

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

/** True while `node` has I/O errors armed or its log hides a failed writeback (`#ioFaulted`). */
function hidesLostWrites(node: SimNode, options: { armed?: boolean } = {}): boolean {
  const state = node.fs.ioFaultState;
  if (options.armed !== false && state.armed) return true;
  return state.lostIn.some((path) => path.endsWith(".log"));
}

/**
 * The stopped node's log holds a damage record naming an unsynced tail (a failed write or fsync
 * recorded before the exit), with no more I/O errors armed: its next start must cut every failed
 * writeback the page cache hides.
 */
function namesUnsyncedTail(node: SimNode): boolean {
  const path = "/data/log/damage";
  if (node.fs.ioFaultState.armed || !node.fs.exists(path)) return false;
  return new TextDecoder().decode(node.fs.fileBytes(path)).includes('"unsyncedFrom"');
}

/** A wiped node is whole again: it holds a log, recorded no loss, and may vote. */
function repairedAfterWipe(node: SimNode): boolean {
  const status = node.replica!.status();
  return node.log?.damage === null && status.canCampaign && status.lastIndex > 0;
}

class Run {
  readonly #parts: WorkloadParts;
  readonly #network: SimNetwork;
  readonly #endpoints: SimEndpoints;
  readonly #options: SimulationOptions;
  readonly #errors: unknown[] = [];
  readonly #membership: MembershipDriver;
  readonly #adminHistory = new AdminHistory();
  /** The node with a bit flip not yet repaired (only one at a time: a minority). */
  #damaged: string | null = null;
  /**
   * The node whose disk was replaced, until it trusts its log again. A wipe is a lost disk, like
   * a damaged one: the promise (no acknowledged write lost) holds while a majority keeps its disks,
   * so at most one node is damaged or wiped at a time.
   */
  #wiped: string | null = null;
  /**
   * The node with I/O errors armed or a failed writeback in its log that the page cache hides: a
   * damaged disk in the making. When the damage record of the failure could not be written either
   * (the disk refused it too), the next start trusts the page cache, and a power cut then turns the
   * failed bytes into zeros amid the log (see `README.md`, "A failed write or fsync ends the
   * process"). Like a flipped bit, so one at a time, and `#damaged` after such a power cut.
   */
  #ioFaulted: string | null = null;
  /**
   * Nodes seen holding a log they trust (entries, no damage record, may campaign) since they last
   * started without one. A node that never held one counts as a lost disk too: one that starts
   * after its cluster's first leader committed an entry looks exactly like a wiped one to the
   * product, which distrusts it until a leader of a newer term repaired it (README, "Replacing a
   * node's disk"). No other disk is lost meanwhile: a bit flip on the first leader then leaves no
   * voter that may elect a leader (seed 101853: the late node's requests for a new term came
   * while network faults cut the leader off from the third node).
   */
  readonly #proven = new Set<string>();
  /** Nodes ending like `main.ts` after a read found damage: record it durably, then exit. */
  readonly #exiting = new Set<string>();
  /** Nodes whose log a scrub is reading now (`#scrub`). */
  readonly #scrubbing = new Set<string>();
  crashes = 0;
  flips = 0;
  wipes = 0;
  clockJumps = 0;
  ioFaults = 0;
  ioExits = 0;

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
      this.#injectFaults();
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
    const drained = await this.#runUntil(() => this.#drain(), 120_000);
    history.checkDeliveries();
    history.checkDurability(drained, deletedBefore);
    let topicTotals = { queueCopies: 0, pushes: 0 };
    if (withTopics) {
      await this.#runUntil(() => this.#pushesSettled(), 300_000);
      const received = await this.#runUntil(() => this.#drainTopicQueues(), 120_000);
      topicTotals = checkTopicDeliveries(publisher, received, this.#endpoints);
    }
    if (admins.length > 0) {
      await this.#advance(this.#options.adminSoakMs ?? 0);
      for (const admin of admins) admin.stopped = true;
      await this.#runUntil(() => Promise.all(adminLoops), 60_000);
      this.#adminHistory.check();
    }
    await this.#converge();
    this.#checkReplicasEqual();
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
      crashes: this.crashes,
      flips: this.flips,
      wipes: this.wipes,
      clockJumps: this.clockJumps,
      ioFaults: this.ioFaults,
      ioExits: this.ioExits,
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
      this.#watchNodes();
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

  #watchNodes(): void {
    const { cluster } = this.#parts;
    for (const node of cluster.nodes.values()) {
      if (node.replica === null) continue;
      if (node.fs.down) {
        this.#crash(node.id); // the armed power cut fired inside a write
        continue;
      }
      const failure = node.replica.failure;
      if (failure instanceof CorruptLogError) {
        // A read found a bit flip that the open did not (a segment trusted by its persisted
        // index): the log recorded the damage, and the process exits once it is durable
        // (status 74); its supervisor restarts it, and that open scans and cuts the log.
        this.#exitAfterDamage(node);
        continue;
      }
      if (failure !== null && isSimulatedIoError(failure)) {
        this.#exitAfterIoError(node); // `main.ts` exits with status 74; its supervisor restarts it
        continue;
      }
      if (failure !== null) throw failure; // not a simulated fault: a bug
      if (repairedAfterWipe(node)) {
        this.#proven.add(node.id);
        if (this.#wiped === node.id) this.#wiped = null;
      }
      if (this.#ioFaulted === node.id && !hidesLostWrites(node)) this.#ioFaulted = null;
      // Not while it exits after a damage a scrub found: a second scrub would then find the
      // damaged segment distrusted already, call the log clean and allow a flip on another node.
      const exiting = this.#exiting.has(node.id);
      if (this.#damaged === node.id && !exiting && node.replica.status().canCampaign) {
        this.#scrub(node);
      }
    }
  }

  /**
   * The damaged node trusts its log again, but a flipped bit in a sealed segment whose index the
   * open trusted is not read until something needs it: the damage is over only once the node's
   * scrubber (as `main.ts` runs it) has read every such segment. Damage found exits the node as
   * the scrub's fatal report does in the product; it restarts distrusting and is repaired.
   */
  #scrub(node: SimNode): void {
    const log = node.log;
    if (log === null || this.#scrubbing.has(node.id)) return;
    this.#scrubbing.add(node.id);
    const scrubber = log.scrubber();
    const run = async () => {
      for (;;) {
        const step = await scrubber.step(scrubReadBytesMax);
        if (node.log !== log) return; // crashed meanwhile: the next start scrubs again
        if (step.damage !== null) return this.#exitAfterDamage(node);
        if (step.done) {
          if (this.#damaged === node.id) this.#damaged = null;
          return;
        }
      }
    };
    run().catch(() => {}).finally(() => this.#scrubbing.delete(node.id));
  }

  #exitAfterDamage(node: SimNode): void {
    if (this.#exiting.has(node.id)) return;
    this.#exiting.add(node.id);
    const closed = node.log?.close() ?? Promise.resolve();
    closed.catch(() => {}).finally(() => {
      this.#exiting.delete(node.id);
      if (node.replica !== null) this.#crash(node.id);
    });
  }

  /**
   * As `main.ts` after a failed write or fsync: wait (at most 2 s) for the log to record the
   * damage, then exit — no power cut, so the page cache, failed writebacks included, stays.
   */
  #exitAfterIoError(node: SimNode): void {
    if (this.#exiting.has(node.id)) return;
    this.#exiting.add(node.id);
    const { cluster, scheduler, prng } = this.#parts;
    const log = node.log;
    const closed = log?.close().catch(() => {}) ?? Promise.resolve();
    Promise.race([closed, scheduler.sleep(2_000)]).finally(() => {
      this.#exiting.delete(node.id);
      if (node.replica === null || node.log !== log) return; // crashed meanwhile
      if (node.fs.down) return this.#crash(node.id); // an armed power cut fired while it exited
      cluster.exit(node.id);
      this.ioExits++;
      this.#scheduleRestart(node.id, 200 + randomInt(prng, 2000));
    });
  }

  #crash(id: string): void {
    const { cluster, prng } = this.#parts;
    if (this.#ioFaulted === id && hidesLostWrites(cluster.node(id), { armed: false })) {
      this.#damaged = id; // the power cut turns the failed writeback into zeros: repaired as a flip
    }
    cluster.crash(id);
    this.crashes++;
    this.#scheduleRestart(id, 500 + randomInt(prng, 3500));
  }

  #scheduleRestart(id: string, delayMs: number): void {
    const { cluster, scheduler } = this.#parts;
    scheduler.schedule(delayMs, () => {
      if (cluster.node(id).replica !== null || cluster.removed.has(id)) return;
      const named = this.#ioFaulted === id && namesUnsyncedTail(cluster.node(id));
      cluster.start(id).then(() => {
        const node = cluster.node(id);
        if (named && node.replica !== null && hidesLostWrites(node, { armed: false })) {
          const files = node.fs.ioFaultState.lostIn.join(", ");
          throw new SimulationViolation(
            "a failed writeback is never trusted",
            `${id} started trusting bytes its damage record names unsynced (${files})`,
          );
        }
      }).catch((error) => {
        // A power cut armed before an exit (which, unlike a crash, does not disarm it) fired.
        if (cluster.node(id).fs.down) return this.#crash(id);
        if (!isSimulatedIoError(error)) return this.#errors.push(error);
        // The disk failed the start too (still full): exit and be restarted again.
        cluster.exit(id);
        this.ioExits++;
        this.#scheduleRestart(id, 500 + randomInt(this.#parts.prng, 2000));
      });
    });
  }

  #injectFaults(): void {
    const { cluster, prng } = this.#parts;
    const ids = cluster.ids;
    const id = ids[randomInt(prng, ids.length)];
    const node = cluster.node(id);
    const roll = prng.next();
    if (roll < 0.05 && node.replica !== null) {
      this.#crash(id);
    } else if (roll < 0.08 && node.replica !== null) {
      cluster.crashAfter(id, randomInt(prng, 40));
    } else if (
      roll < 0.11 && node.replica !== null && !this.#diskLost() && !this.#membership.busy &&
      this.#options.bitFlips !== false
    ) {
      cluster.crash(id);
      this.crashes++;
      if (cluster.flipPersistedBit(id)) {
        this.flips++;
        this.#damaged = id;
      }
      this.#scheduleRestart(id, 500 + randomInt(prng, 2000));
    } else if (roll < 0.15) {
      this.#network.isolate(id, ids);
    } else if (roll < 0.18) {
      this.#network.cut(id, ids[randomInt(prng, ids.length)]);
    } else if (roll < 0.30 && this.#network.partitioned) {
      this.#network.heal();
    } else if (roll < 0.32 && node.replica?.isLeader) {
      const others = node.replica.status().config.voters.filter((other) => other !== id);
      if (others.length === 0) return;
      try {
        node.replica.transferLeadership(others[randomInt(prng, others.length)]);
      } catch (error) {
        if (!isTransient(error)) throw error;
      }
    }
    const jumpRate = this.#options.clockJumpRate ?? clockJumpRate;
    if (prng.next() < jumpRate && this.#options.clockJumps !== false) {
      // Past the default retention (4 days) forward, so early expiry would lose messages; hours
      // back, so a frozen cluster time would keep locks and delays from ending.
      cluster.jumpClock(id, prng.next() < 0.5 ? 5 * dayMs : -6 * hourMs);
      this.clockJumps++;
    }
    // A separate draw, so membership changes overlap every other kind of fault. Not while a
    // node's log is damaged, and no bit flips during a cycle: with two voters a damaged
    // (distrusted) log is a majority, not a minority. The damaged voter may not vote until a
    // leader repairs it, and the only other voter can't become leader without that vote.
    const draw = prng.next();
    const lost = this.#diskLost();
    if (draw < membershipRate && !lost && this.#options.membership !== false) {
      this.#membership.maybeStart((error) => this.#errors.push(error));
    }
    // A separate draw too; not during a membership cycle (with two voters a wiped one is half).
    const wipe = prng.next() < wipeRate && this.#options.wipes !== false;
    if (wipe && !lost && !this.#membership.busy && node.replica !== null) {
      cluster.wipe(id);
      this.crashes++;
      this.wipes++;
      this.#wiped = id;
      this.#proven.delete(id);
      this.#scheduleRestart(id, 500 + randomInt(prng, 3500));
    }
    // Drawn only when on, so runs without them take the paths they always took. One damaged
    // disk at a time, and not during a membership cycle (with two voters one is half).
    if (this.#options.ioErrors !== true) return;
    const io = prng.next() < (this.#options.ioErrorRate ?? ioErrorRate);
    if (io && !this.#diskLost() && !this.#membership.busy && node.replica !== null) {
      this.#armIoFault(id);
    }
  }

  /** True while a node's disk is damaged, wiped, failing, or never held a trusted log. */
  #diskLost(): boolean {
    if (this.#damaged !== null || this.#wiped !== null || this.#ioFaulted !== null) return true;
    const { cluster } = this.#parts;
    return cluster.ids.some((id) => !cluster.removed.has(id) && !this.#proven.has(id));
  }

  /** The next few writes, fsyncs, directory fsyncs or snapshot writes of `id` fail. */
  #armIoFault(id: string): void {
    const { cluster, prng } = this.#parts;
    const kind = ioFaultKinds[randomInt(prng, ioFaultKinds.length)];
    const code = prng.next() < 0.5 ? "EIO" : "ENOSPC";
    // A full disk fails a few calls in a row, then space returns.
    const count = code === "ENOSPC" ? 1 + randomInt(prng, 6) : 1 + randomInt(prng, 2);
    const landedFraction = prng.next() < 0.5 ? 0 : prng.next();
    const fs = cluster.node(id).fs;
    if (kind === "snapshotWrite") {
      fs.failNext("write", count, { code, landedFraction, under: "/data/snapshots" });
    } else fs.failNext(kind, count, { code, landedFraction });
    this.ioFaults++;
    this.#ioFaulted = id;
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
        () => this.#retry(target, (broker) => broker.createQueue(queue.name, { fifo: queue.fifo })),
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
        () => this.#onLeader((node) => node.broker!.createQueue(spec.name, spec.attributes)),
        60_000,
      );
    }
    const parts = { ...this.#parts, prng: createPrng(this.#options.seed * 613 + 11) };
    return ["a0", "a1"].map((name) => new AdminClient(parts, this.#adminHistory, name));
  }

  async #createTopics(): Promise<void> {
    for (const queue of topicQueues) {
      await this.#runUntil(
        () => this.#onLeader((node) => node.broker!.createQueue(queue, {})),
        60_000,
      );
    }
    for (const topic of topicSpecs) {
      await this.#runUntil(
        () =>
          this.#onLeader((node) =>
            node.topics!.createTopic(topic.name, { filterType: topic.filterType })
          ),
        60_000,
      );
    }
    for (const spec of subscriptionSpecs) {
      await this.#runUntil(
        () =>
          this.#onLeader((node) => node.topics!.subscribe(spec.topic, spec.name, spec.attributes)),
        60_000,
      );
    }
  }

  /** Runs `action` on the node that leads (its state is the newest) until it succeeds. */
  async #onLeader<T>(action: (node: SimNode) => Promise<T>): Promise<T> {
    for (;;) {
      const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
      if (leader !== undefined) {
        try {
          return await action(leader);
        } catch (error) {
          if (!isTransient(error)) throw error;
        }
      }
      await this.#parts.scheduler.sleep(200);
    }
  }

  /** Waits until the leader holds no pending push; every one went through or a check fails. */
  async #pushesSettled(): Promise<void> {
    for (;;) {
      const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
      const machine = leader?.machine;
      if (machine !== undefined && machine !== null) {
        const views = machine.topics.pushTargets().map((target) =>
          machine.topics.getSubscription(target.topic, target.subscription)!
        );
        for (const view of views) {
          if (view.push!.dropped > 0 || view.push!.expired > 0) {
            throw new SimulationViolation(
              "no push is given up on",
              `${view.topic}/${view.name}: ${JSON.stringify(view.push)}`,
            );
          }
        }
        if (views.every((view) => view.pendingMessages === 0)) return;
      }
      await this.#parts.scheduler.sleep(500);
    }
  }

  /** Receives and deletes everything in the topic queues: queue → body → message ids. */
  async #drainTopicQueues(): Promise<Map<string, Map<string, Set<string>>>> {
    const received = new Map<string, Map<string, Set<string>>>();
    const target = { id: this.#parts.cluster.ids[0] };
    for (const queue of topicQueues) {
      const bodies = new Map<string, Set<string>>();
      received.set(queue, bodies);
      while (!this.#empty(queue)) {
        const { broker, answer } = await this.#retry(
          target,
          (broker) =>
            broker.receiveMessages(queue, { maxMessages: 16, visibilityTimeoutSeconds: 30 })
              .then((answer) => ({ broker, answer })),
        );
        if (answer.messages.length === 0) await this.#parts.scheduler.sleep(1_000);
        for (const message of answer.messages) {
          const ids = bodies.get(message.body) ?? new Set();
          ids.add(message.id);
          bodies.set(message.body, ids);
          await broker.deleteMessages(queue, [message.receiptHandle]).catch((error) => {
            if (!isTransient(error)) throw error;
          });
        }
      }
    }
    return received;
  }

  /** Retries `action` on whichever node leads until it succeeds. */
  async #retry<T>(
    target: { id: string },
    action: (broker: NonNullable<ReturnType<typeof pickBroker>>) => Promise<T>,
  ): Promise<T> {
    for (;;) {
      const broker = pickBroker(this.#parts, target);
      if (broker !== null) {
        try {
          return await action(broker);
        } catch (error) {
          if (!isTransient(error)) throw error;
          redirect(this.#parts, target, error);
        }
      }
      await this.#parts.scheduler.sleep(200);
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

  /** Receives and deletes everything left; returns the ids received. */
  async #drain(): Promise<Set<string>> {
    const drained = new Set<string>();
    const target = { id: this.#parts.cluster.ids[0] };
    for (const queue of queues) {
      while (!this.#empty(queue.name)) {
        const requestedAt = this.#parts.scheduler.now;
        const response = await this.#retry(target, (broker) =>
          broker.receiveMessages(queue.name, {
            maxMessages: 16,
            visibilityTimeoutSeconds: 5,
            waitSeconds: 0,
          }).then((answer) => ({ broker, answer })));
        const { broker, answer } = response;
        // Nothing visible yet (locks, or a leader whose clock is behind the log's time): wait.
        if (answer.messages.length === 0) await this.#parts.scheduler.sleep(1_000);
        for (const message of answer.messages) {
          this.#parts.history.delivered(queue.name, message, {
            visibilitySeconds: 5,
            requestedAt,
            answeredAt: this.#parts.scheduler.now,
          });
          drained.add(message.id);
          try {
            await deleteMessage(this.#parts, { broker, queue: queue.name, message });
          } catch (error) {
            if (!isTransient(error)) throw error;
          }
        }
      }
    }
    return drained;
  }

  /** True when the leader's state holds no undeleted message in `queue`. */
  #empty(queue: string): boolean {
    const leader = this.#parts.cluster.up().find((node) => node.replica!.isLeader);
    if (leader === undefined || leader.machine === null) return false;
    const view = leader.machine.getQueue(queue, this.#parts.scheduler.now);
    if (view === undefined) return false;
    return view.activeMessages + view.inflightMessages + view.delayedMessages === 0;
  }

  #checkReplicasEqual(): void {
    const images = this.#parts.cluster.up().map((node) => ({
      id: node.id,
      applied: node.machine!.appliedIndex,
      image: node.machine!.snapshot(),
    }));
    for (const other of images.slice(1)) {
      if (other.applied !== images[0].applied) continue;
      const same = other.image.length === images[0].image.length &&
        other.image.every((byte, index) => byte === images[0].image[index]);
      if (!same) {
        throw new SimulationViolation(
          "replicas agree",
          `${other.id} and ${images[0].id} differ at ${other.applied}`,
        );
      }
    }
  }
}
