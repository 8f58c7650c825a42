/**
 * The fault phase of a simulation run (see `simulate.ts`): crashes, power cuts after N writes,
 * bit flips in a stopped node's persisted records, partitions, leadership transfers, wall-clock
 * jumps, replaced disks, disk I/O errors (EIO, ENOSPC), and how a node ends and restarts after
 * each (as `main.ts` and its supervisor do). It keeps the count of each kind injected and the
 * rule that at most one node's disk is lost at a time.
 *
 * @module
 */
import { randomInt } from "../../raft/mod.ts";
import { CorruptLogError, scrubReadBytesMax, SimulatedIoError } from "../../storage/mod.ts";
import type { SimNode } from "./cluster.ts";
import { SimulationViolation } from "./checkers.ts";
import type { MembershipDriver } from "./membership.ts";
import type { SimNetwork } from "./network.ts";
import type { SimulationOptions } from "./simulate.ts";
import { isTransient, type WorkloadParts } from "./workload.ts";

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

/** Injects the faults of each step and watches the nodes they hit. */
export class Faults {
  readonly #parts: WorkloadParts;
  readonly #network: SimNetwork;
  readonly #options: SimulationOptions;
  readonly #errors: unknown[];
  readonly #membership: MembershipDriver;
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

  /** `errors` collects the errors of background work (the run throws the first). */
  constructor(
    parts: WorkloadParts,
    network: SimNetwork,
    options: SimulationOptions,
    membership: MembershipDriver,
    errors: unknown[],
  ) {
    this.#parts = parts;
    this.#network = network;
    this.#options = options;
    this.#membership = membership;
    this.#errors = errors;
  }

  watchNodes(): void {
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

  injectFaults(): void {
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
}
