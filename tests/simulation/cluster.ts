/**
 * The simulated cluster: three nodes, each with its own simulated file system, segment log,
 * state machine, broker and Raft replica, on one `Scheduler` and one `SimNetwork`. Faults:
 * crashes (torn writes, or a power cut after N more writes), restarts with a new clock skew,
 * wall-clock jumps (days forward, hours back: the node's monotonic clock is the scheduler's, its
 * wall clock is that plus skew plus jumps), bit flips in a stopped node's committed records, exits
 * after a failed write or fsync (`exit`), and replaced disks (a node restarted on an empty file system under its id, as a voter).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createPrng, type Prng, randomInt } from "../../raft/mod.ts";
import { inspectRecord, newRecordHeader, SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import {
  EngineService,
  EngineTopicService,
  PushWorker,
  RaftReplica,
  StateMachine,
  syncSmallRoundsInlineWhileFollowing,
} from "../../broker/testing.ts";
import type { History } from "./checkers.ts";
import type { SimEndpoints } from "./endpoints.ts";
import type { SimNetwork } from "./network.ts";
import type { Scheduler } from "./scheduler.ts";

/** One simulated server. */
export interface SimNode {
  id: string;
  fs: SimFileSystem;
  skewMs: number;
  /** Sum of the wall-clock jumps this machine saw (kept across restarts, like a wrong clock). */
  jumpMs: number;
  log: SegmentLog | null;
  machine: StateMachine | null;
  replica: RaftReplica | null;
  broker: EngineService | null;
  topics: EngineTopicService | null;
  push: PushWorker | null;
  starts: number;
  /**
   * Started by `rejoin`: like a node whose command says `--join`, it starts so every time (an
   * empty log is not fresh, see `broker/replication/lost_state.ts`) until a wipe.
   */
  joining: boolean;
  warnings: string[];
}

const logDir = "/data/log";
/** The simulation's entries are small: a follower's rounds straddle this bound. */
const simInlineSyncBytesMax = 1024;
const snapshotsDir = "/data/snapshots";

/** Replica settings the simulation uses (small, so snapshots and segments roll often). */
export interface ClusterKnobs {
  snapshotEntriesInterval: number;
  segmentBytesMax: number;
  skewMsMax: number;
}

/** The cluster. */
export class SimCluster {
  readonly nodes = new Map<string, SimNode>();
  readonly ids: string[];
  /** Nodes taken out of the group (stopped, disk discarded) until they rejoin. */
  readonly removed = new Set<string>();
  /**
   * Snapshots installed from a leader (loaded after the node's start, not from its own disk), and
   * those of them in version 4: holding some queue's messages barred from rewinds.
   */
  snapshotInstalls = 0;
  barredInstalls = 0;
  readonly #scheduler: Scheduler;
  readonly #network: SimNetwork;
  readonly #history: History;
  readonly #endpoints: SimEndpoints;
  readonly #prng: Prng;
  readonly #knobs: ClusterKnobs;
  readonly #seed: number;

  constructor(
    parts: { scheduler: Scheduler; network: SimNetwork; history: History; endpoints: SimEndpoints },
    options: { seed: number; prng: Prng; knobs: ClusterKnobs; ids?: string[] },
  ) {
    this.#scheduler = parts.scheduler;
    this.#network = parts.network;
    this.#history = parts.history;
    this.#endpoints = parts.endpoints;
    this.#prng = options.prng;
    this.#knobs = options.knobs;
    this.#seed = options.seed;
    this.ids = options.ids ?? ["n1", "n2", "n3"];
    for (const id of this.ids) {
      this.nodes.set(id, {
        id,
        fs: new SimFileSystem(),
        skewMs: 0,
        jumpMs: 0,
        log: null,
        machine: null,
        replica: null,
        broker: null,
        topics: null,
        push: null,
        starts: 0,
        joining: false,
        warnings: [],
      });
    }
  }

  node(id: string): SimNode {
    return this.nodes.get(id)!;
  }

  /** Live nodes. */
  up(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.replica !== null);
  }

  /** Moves the node's wall clock by `ms` (its monotonic clock does not move). */
  jumpClock(id: string, ms: number): void {
    this.node(id).jumpMs += ms;
  }

  /** Opens a node from its disk with a fresh clock skew. */
  start(id: string): Promise<void> {
    assert.ok(!this.removed.has(id), `${id} is out of the group`);
    return this.#open(id);
  }

  async #open(id: string): Promise<void> {
    const node = this.node(id);
    node.starts++;
    const skewMax = this.#knobs.skewMsMax;
    node.skewMs = skewMax === 0 ? 0 : randomInt(this.#prng, 2 * skewMax + 1) - skewMax;
    const scheduler = this.#scheduler;
    const clock = { now: () => scheduler.now + node.skewMs + node.jumpMs };
    // This start's own view of the disk: once it crashes, what it left running (a flush, a
    // failure being recorded) can't write to the disk the next start uses, as in a real crash.
    const fs = node.fs.session();
    const log = await SegmentLog.open(logDir, {
      fs,
      segmentBytesMax: this.#knobs.segmentBytesMax,
      mmap: false,
      now: () => scheduler.now, // flush rounds timed in simulated time: a run stays reproducible
    });
    const machine = new StateMachine();
    const history = this.#history;
    const replica = await RaftReplica.open({
      nodeId: id,
      log,
      machine,
      transport: this.#network.attach(id),
      clock,
      monotonic: { now: () => scheduler.now },
      timers: scheduler.timers(),
      prng: createPrng(this.#seed * 977 + node.starts * 31 + this.ids.indexOf(id)),
      fs,
      snapshotsDir,
      initialVoters: this.ids,
      joining: node.joining,
      snapshotEntriesInterval: this.#knobs.snapshotEntriesInterval,
      proposalTimeoutMs: 5_000,
      commitPersistIntervalMs: 1_000,
      warn: (message) => node.warnings.push(`${scheduler.now}: ${message}`),
      onApplied: (entry) => {
        history.apply(id, entry);
        history.appliedDurable(id, entry, log);
        if (entry.index % 4 === 0) history.machineState(id, entry.index, machine.snapshot());
      },
    });
    // Every load from now on is a snapshot a leader sent (the start loaded the node's own).
    const load = machine.loadSnapshot.bind(machine);
    machine.loadSnapshot = (bytes) => {
      load(bytes);
      this.snapshotInstalls++;
      if (bytes[4] === 4) this.barredInstalls++;
    };
    // Small enough here that followers sync some rounds inline and others async, as in production.
    syncSmallRoundsInlineWhileFollowing(replica, log, simInlineSyncBytesMax);
    replica.onRoleChange((change) => {
      if (change.role === "leader") history.leader(change.term, id);
      node.broker?.wakeAll();
      if (change.role === "leader") node.push?.start();
      else node.push?.stop();
    });
    let salt = this.#seed;
    node.log = log;
    node.machine = machine;
    node.replica = replica;
    node.broker = new EngineService({
      proposer: replica,
      machine,
      log: replica,
      timers: scheduler.timers(),
      randomSalt: () => (salt = (salt * 1_103_515_245 + 12_345) >>> 0),
    });
    node.topics = new EngineTopicService({ proposer: replica, machine, log: replica });
    node.push = new PushWorker({
      source: node.topics,
      fetch: this.#endpoints.fetch,
      clock: { now: () => replica.now() }, // next attempts are stamped in cluster time
      timers: scheduler.timers(),
      limits: { requestTimeoutMs: 3_000 },
      logError: (message, error) => node.warnings.push(`${scheduler.now}: ${message}: ${error}`),
    });
  }

  /** Power cut now: unsynced bytes are lost, a random prefix of them may survive (torn). */
  crash(id: string): void {
    const node = this.#takeDown(id);
    const random = () => this.#prng.next();
    node.fs.crash({ random, tornWrites: true });
  }

  /**
   * Power cut, and the machine's disk is replaced: the node's next start (`start`) finds an empty
   * file system. It starts as one of the initial voters (`--peers`), not as a joining node: a
   * wiped voter restarted with `--join` is refused by the join (not simulated here).
   */
  wipe(id: string): void {
    this.crash(id);
    this.node(id).fs = new SimFileSystem();
    this.node(id).joining = false;
  }

  /**
   * The process exits (as `main.ts` does after a failed write or fsync), no power cut: the page
   * cache, the bytes of failed writebacks included, stays for the next start to read.
   */
  exit(id: string): void {
    this.#takeDown(id);
    this.node(id).fs.endProcess();
  }

  /** Stops a node the group removed; it stays down until `rejoin`. */
  remove(id: string): void {
    this.#takeDown(id);
    this.removed.add(id);
  }

  /** Stops the node at once, as a killed process would, and forgets its running parts. */
  #takeDown(id: string) {
    const node = this.node(id);
    node.push?.stop();
    node.replica?.abandon();
    node.broker?.close();
    this.#network.detach(id);
    node.replica = null;
    node.broker = null;
    node.topics = null;
    node.push = null;
    node.log = null;
    node.machine = null;
    return node;
  }

  /**
   * Starts a removed node again like a new joining server: an empty data directory, and the
   * group's bootstrap voters as its initial membership (the log's changes bring it up to date).
   */
  async rejoin(id: string): Promise<void> {
    this.node(id).fs = new SimFileSystem();
    // Still marked removed while opening, so a restart scheduled before the removal can't race.
    this.node(id).joining = true;
    await this.#open(id);
    this.removed.delete(id);
  }

  /** Arms a power cut after `operations` more mutating file calls. */
  crashAfter(id: string, operations: number): void {
    this.node(id).fs.crashAfter(operations);
  }

  /**
   * Flips one bit inside a record of the stopped node's log — committed or not; the commit index
   * it persisted is lazy, so either may hold a write it acknowledged. Recovery must notice. The
   * one place where damage is indistinguishable from a torn write is left alone: the length
   * field of the very last record (see `storage/recovery.ts`). False when the log is empty.
   */
  flipPersistedBit(id: string): boolean {
    const fs = this.node(id).fs;
    const records: { path: string; offset: number; bytes: number; last: boolean }[] = [];
    const header = newRecordHeader();
    const names = fs.readDir(logDir).filter((name) => name.endsWith(".log")).sort();
    for (const name of names) {
      const path = `${logDir}/${name}`;
      const bytes = fs.fileBytes(path);
      for (let offset = 0; offset < bytes.length;) {
        if (inspectRecord(bytes, offset, { header, verify: false }) !== "ok") break;
        records.push({ path, offset, bytes: header.bytes, last: false });
        offset += header.bytes;
      }
    }
    if (records.length === 0) return false;
    records[records.length - 1].last = true;
    const record = records[randomInt(this.#prng, records.length)];
    const from = record.last ? 4 : 0;
    fs.flipBit(
      record.path,
      record.offset + from + randomInt(this.#prng, record.bytes - from),
      randomInt(this.#prng, 8),
    );
    return true;
  }

  /** Clean stop of every live node (final hard state written, logs closed). */
  async stopAll(): Promise<void> {
    for (const node of this.nodes.values()) {
      node.push?.stop();
      node.broker?.close();
      await node.replica?.close();
      await node.log?.close();
      this.#network.detach(node.id);
      node.replica = null;
      node.broker = null;
      node.topics = null;
      node.push = null;
      node.log = null;
    }
  }
}
