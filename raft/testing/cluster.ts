/**
 * A whole Raft group in one process for tests and simulators: N `RaftNode`s over
 * `MemoryLogStorage`, a `SimNetwork`, a toy state machine (the list of applied entries), crash
 * and restart, and safety checkers that throw on the first violation.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MemoryLogStorage, MemorySnapshotSink } from "../log_storage.ts";
import { applyConfigChange, cloneConfig, decodeConfigChange } from "../membership.ts";
import { RaftNode, type RaftNodeOptions } from "../node.ts";
import { createPrng } from "../prng.ts";
import {
  type ConfigState,
  type Entry,
  EntryType,
  type LogIndex,
  logIndex,
  maxIndex,
  type Message,
  minIndex,
  nextIndex,
  type NodeId,
  nodeId,
  type ReadState,
  type Ready,
} from "../types.ts";
import { SimNetwork } from "./network.ts";

/** Options of a `SimCluster`. */
export interface SimClusterOptions {
  /** Node ids (default n1, n2, n3). Nodes outside `config` start empty and wait to be added. */
  ids?: string[];
  /** Initial membership (default: every id a voter). */
  config?: { voters: string[]; learners?: string[] };
  seed?: number;
  /** Options given to every node. */
  node?: Partial<Omit<RaftNodeOptions, "id" | "storage" | "prng" | "snapshotSink">>;
  /** Decides whether a node installs the snapshot bytes it received (default: always). */
  snapshotVerify?: (data: Uint8Array) => boolean;
  /** Start a node whose storage is empty `fresh`, as the application does (see `fresh.ts`). */
  freshWhenEmpty?: boolean;
  /**
   * Stamp entries with cluster time as the broker's replica does: `propose` stamps with the
   * later of the node's clock (the simulated time, skewed per node) and the time its log has
   * reached; an entry Raft makes itself takes its predecessor's when stored. The state records
   * the time of its last applied entry and a snapshot carries it, so a node that installed one
   * knows the time of its point. Checked: no node applies an entry stamped before its state's
   * time (also right after an installed snapshot), and every node applies the same stamps.
   */
  stampTimes?: boolean;
}

/** One simulated server: its durable storage survives crashes, the rest does not. */
export interface SimNode {
  id: NodeId;
  storage: MemoryLogStorage;
  /** Null while crashed. */
  raft: RaftNode | null;
  /** Where the running node receives snapshots (volatile: a new one at every boot). */
  sink: MemorySnapshotSink;
  /** The toy state machine: one key per applied entry, so `state[i]` is entry `i + 1`. */
  state: string[];
  /** The state's time: its last applied entry's stamp (`stampTimes`), or the snapshot's. */
  stateTime?: number;
  /** The time its log has reached, as the node tracks it (volatile; `stampTimes`). */
  time: number;
  appliedConfig: ConfigState;
  readStates: ReadState[];
  /** Request ids of forwarded reads the leader refused (`Ready.refusedReads`). */
  refusedReads: string[];
  restarts: number;
  /** The node's `voteFloor` at every boot (durable, as the application keeps it). */
  voteFloor?: LogIndex;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The text of an application entry proposed with `SimCluster.propose`. */
export function entryText(entry: Entry): string {
  return decoder.decode(entry.data);
}

/**
 * A simulated Raft group.
 *
 * @example
 * ```ts
 * const cluster = new SimCluster({ seed: 1 });
 * const leader = cluster.electLeader();
 * cluster.propose(leader, "hello");
 * cluster.stabilize();
 * cluster.checkSafety();
 * ```
 */
export class SimCluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: SimNetwork;
  readonly #nodeOptions: SimClusterOptions["node"];
  readonly #snapshotVerify: SimClusterOptions["snapshotVerify"];
  readonly #freshWhenEmpty: boolean;
  readonly #bootstrap: ConfigState;
  readonly #seed: number;
  readonly #stampTimes: boolean;
  /** Simulated time (ms): a tick is 100 ms. */
  #now = 1_000_000;
  /** The stamp applied at each index by anyone (`stampTimes`: every node applies the same). */
  readonly committedStamps = new Map<number, number | undefined>();
  /** Which node led each term (election safety). */
  readonly leadersByTerm = new Map<number, NodeId>();
  /** The key applied at each index by anyone (state machine safety). */
  readonly committed = new Map<number, string>();
  #proposalCounter = 0;
  #highestApplied = 0;
  /** For each read asked, the highest index applied anywhere at that moment. */
  readonly #readFloors = new Map<string, number>();
  /** Called with every Ready before it is handled (to observe truncations, messages...). */
  onReady: ((id: NodeId, ready: Ready) => void) | null = null;
  /**
   * A node that crashes while writing its next Ready: what that Ready lets leave before its write
   * (`sendFirst`, a leader's parallel write) is on the wire, none of the Ready is durable.
   */
  crashDuringWrite: NodeId | null = null;

  constructor(options: SimClusterOptions = {}) {
    const ids = (options.ids ?? ["n1", "n2", "n3"]).map(nodeId);
    const config: ConfigState = {
      voters: (options.config?.voters ?? ids).map(nodeId),
      learners: (options.config?.learners ?? []).map(nodeId),
    };
    this.#seed = options.seed ?? 1;
    this.#nodeOptions = options.node;
    this.#snapshotVerify = options.snapshotVerify;
    this.#freshWhenEmpty = options.freshWhenEmpty ?? false;
    this.#stampTimes = options.stampTimes ?? false;
    this.#bootstrap = config;
    this.network = new SimNetwork(createPrng(this.#seed * 7919 + 13));
    for (const id of ids) {
      const storage = new MemoryLogStorage({ config });
      const node: SimNode = {
        id,
        storage,
        raft: null,
        sink: new MemorySnapshotSink(),
        state: [],
        time: 0,
        appliedConfig: cloneConfig(config),
        readStates: [],
        refusedReads: [],
        restarts: 0,
      };
      this.nodes.set(id, node);
      this.#boot(node);
    }
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: string): SimNode {
    const found = this.nodes.get(id as NodeId);
    assert.ok(found !== undefined, `no node ${id}`);
    return found;
  }

  /** The live RaftNode of `id` (asserts it is up). */
  raft(id: string): RaftNode {
    const raft = this.node(id).raft;
    assert.ok(raft !== null, `${id} is down`);
    return raft;
  }

  #boot(node: SimNode): void {
    const data = node.storage.snapshotData();
    ({ keys: node.state, time: node.stateTime } = data === null
      ? { keys: [], time: undefined }
      : decodeState(data));
    // A restarted node's time is its log's (its clock says nothing about the time it was down).
    if (this.#stampTimes) node.time = node.storage.timestampAt(node.storage.lastIndex()) ?? 0;
    node.sink = new MemorySnapshotSink({ verify: this.#snapshotVerify });
    // Storage's config is the snapshot's, or the bootstrap membership when there is none.
    node.appliedConfig = cloneConfig(node.storage.initialState().config);
    node.readStates = [];
    node.refusedReads = [];
    const index = [...this.nodes.keys()].indexOf(node.id);
    node.raft = new RaftNode({
      ...this.#nodeOptions,
      id: node.id,
      storage: node.storage,
      snapshotSink: node.sink,
      prng: createPrng(this.#seed * 1000 + index * 31 + node.restarts * 7),
      appliedIndex: logIndex(node.state.length),
      fresh: this.#freshWhenEmpty && node.storage.lastIndex() === 0,
      voteFloor: node.voteFloor,
    });
  }

  /** Stops `id` abruptly: anything not yet persisted is gone. */
  crash(id: string): void {
    this.node(id).raft = null;
  }

  /** Rebuilds `id` from its storage, as a restarted process would. */
  restart(id: string): void {
    const node = this.node(id);
    assert.equal(node.raft, null, `${id} is running`);
    node.restarts++;
    this.#boot(node);
  }

  /**
   * Restarts the crashed `id` on an empty disk (a replaced one): no log, no term, no vote, the
   * bootstrap membership — as an operator's unchanged start command would.
   */
  wipe(id: string): void {
    const node = this.node(id);
    assert.equal(node.raft, null, `${id} is running`);
    node.storage = new MemoryLogStorage({ config: this.#bootstrap });
    node.restarts++;
    this.#boot(node);
  }

  /** Ticks every live node once and handles what it produced. */
  tickAll(): void {
    this.#now += 100;
    for (const node of this.nodes.values()) node.raft?.tick();
    this.processReadies();
  }

  /** Handles every pending Ready of every live node. */
  processReadies(): boolean {
    let any = false;
    for (const node of this.nodes.values()) {
      while (node.raft !== null && node.raft.hasReady()) {
        this.#handleReady(node, node.raft.ready());
        any = true;
      }
    }
    return any;
  }

  /** Delivers up to `count` messages (handling Readies after each); returns how many. */
  deliver(count = Number.POSITIVE_INFINITY): number {
    let delivered = 0;
    while (delivered < count) {
      const message = this.network.take();
      if (message === undefined) break;
      delivered++;
      const target = this.nodes.get(message.to)?.raft;
      if (target === null || target === undefined) continue;
      target.step(message);
      this.processReadies();
    }
    return delivered;
  }

  /** Delivers messages one at a time until `predicate` holds; false if the network ran dry. */
  deliverUntil(predicate: () => boolean, messagesMax = 10_000): boolean {
    for (let count = 0; count < messagesMax; count++) {
      this.processReadies();
      if (predicate()) return true;
      if (this.deliver(1) === 0) return predicate();
    }
    assert.fail(`condition not reached within ${messagesMax} messages`);
  }

  /** Handles Readies and delivers messages until the cluster is quiet. */
  stabilize(roundsMax = 100_000): void {
    for (let round = 0; round < roundsMax; round++) {
      const handled = this.processReadies();
      const delivered = this.deliver(1);
      if (!handled && delivered === 0) return;
    }
    assert.fail(`cluster did not stabilize within ${roundsMax} rounds`);
  }

  /** Ticks until some node leads, stabilizing in between; returns its id. */
  waitForLeader(ticksMax = 500): NodeId {
    for (let tick = 0; tick < ticksMax; tick++) {
      const leader = this.leader();
      if (leader !== null) return leader;
      this.tickAll();
      this.stabilize();
    }
    assert.fail(`no leader after ${ticksMax} ticks`);
  }

  /** Makes `id` (default the first node) campaign now and settles the election. */
  electLeader(id?: string): NodeId {
    const candidate = id ?? this.ids[0];
    this.raft(candidate).campaign();
    this.stabilize();
    assert.equal(this.raft(candidate).status().role, "leader", `${candidate} won`);
    return candidate as NodeId;
  }

  /** The live leader with the highest term, or null. */
  leader(): NodeId | null {
    let best: { id: NodeId; term: number } | null = null;
    for (const node of this.nodes.values()) {
      const status = node.raft?.status();
      if (status?.role !== "leader") continue;
      if (best === null || status.term > best.term) best = { id: node.id, term: status.term };
    }
    return best?.id ?? null;
  }

  /** Proposes a uniquely tagged text on `id` (which must lead); returns the text. */
  propose(id: string, text?: string): string {
    const value = text ?? `p${++this.#proposalCounter}`;
    if (!this.#stampTimes) {
      this.raft(id).propose(encoder.encode(value));
      return value;
    }
    const node = this.node(id);
    const timestamp = Math.max(node.time, this.#clock(node));
    this.raft(id).propose(encoder.encode(value), { timestamp });
    node.time = timestamp;
    return value;
  }

  /** `node`'s wall clock: the simulated time, off by up to ±2 s (fixed per node and seed). */
  #clock(node: SimNode): number {
    const position = [...this.nodes.keys()].indexOf(node.id);
    return this.#now + (((this.#seed * 7 + position * 13) % 9) - 4) * 500;
  }

  /** Asks `id` for a linearizable read point, remembering what it must at least see. */
  readIndex(id: string, requestId: string): void {
    this.#readFloors.set(requestId, this.#highestApplied);
    this.raft(id).readIndex(requestId);
  }

  /** Snapshots `id`'s applied state and compacts its log up to the applied index. */
  compact(id: string): void {
    const node = this.node(id);
    const applied = logIndex(node.state.length);
    if (applied < node.storage.firstIndex()) return;
    node.storage.createSnapshot(applied, {
      config: node.appliedConfig,
      data: encodeState(node.state, node.stateTime),
    });
    if (this.#stampTimes) {
      assert.equal(
        node.storage.snapshotTimestamp(),
        node.stateTime,
        "the state's time is its point's",
      );
    }
  }

  #handleReady(node: SimNode, ready: Ready): void {
    this.onReady?.(node.id, ready);
    if (this.crashDuringWrite === node.id) {
      this.crashDuringWrite = null;
      if (ready.sendFirst === true) this.network.send(ready.messages);
      this.crash(node.id);
      return;
    }
    const data = ready.snapshot === undefined ? undefined : node.sink.take(ready.snapshot.index);
    const installed = data === undefined ? undefined : decodeState(data);
    if (this.#stampTimes) stampEntries(node.storage, ready, installed?.time);
    node.storage.saveReady(ready, data, installed?.time);
    // A follower's time follows its log, even down (a new leader's entries replaced its tail).
    if (this.#stampTimes) node.time = node.storage.timestampAt(node.storage.lastIndex()) ?? 0;
    if (installed !== undefined) {
      ({ keys: node.state, time: node.stateTime } = installed);
      assert.equal(node.state.length, ready.snapshot!.index, "snapshot state covers its index");
      node.appliedConfig = cloneConfig(ready.snapshot!.config);
    }
    this.#recordLeadership(node, ready);
    this.network.send(ready.messages);
    for (const entry of ready.committedEntries) this.#apply(node, entry);
    for (const read of ready.readStates) {
      assert.ok(read.index <= node.state.length, "a read is served only after its index applied");
      // Linearizability: a read sees every write applied anywhere before it was asked.
      const floor = this.#readFloors.get(read.requestId);
      assert.ok(floor === undefined || read.index >= floor, `read ${read.requestId} is stale`);
      node.readStates.push(read);
    }
    node.refusedReads.push(...ready.refusedReads ?? []);
    node.raft!.advance(ready);
  }

  #recordLeadership(node: SimNode, ready: Ready): void {
    if (ready.softState?.role !== "leader") return;
    const term = node.raft!.status().term;
    const previous = this.leadersByTerm.get(term);
    assert.ok(
      previous === undefined || previous === node.id,
      `election safety: ${previous} and ${node.id} both led term ${term}`,
    );
    this.leadersByTerm.set(term, node.id);
    // Leader completeness: every entry committed so far is in the new leader's log.
    const storage = node.storage;
    for (const [index, key] of this.committed) {
      if (index < storage.firstIndex()) continue;
      const term = storage.term(logIndex(index));
      assert.equal(
        term !== undefined ? `${term}` : undefined,
        key.split(":")[0],
        `leader completeness: ${node.id} misses committed entry ${index}`,
      );
    }
  }

  #apply(node: SimNode, entry: Entry): void {
    assert.equal(entry.index, node.state.length + 1, `${node.id} applies in order`);
    const key = `${entry.term}:${entry.type}:${decoder.decode(entry.data)}`;
    const earlier = this.committed.get(entry.index);
    assert.ok(
      earlier === undefined || earlier === key,
      `state machine safety: entry ${entry.index} applied as ${earlier} and ${key}`,
    );
    this.committed.set(entry.index, key);
    if (this.#stampTimes) this.#applyTime(node, entry);
    this.#highestApplied = Math.max(this.#highestApplied, entry.index);
    node.state.push(key);
    if (entry.type === EntryType.ConfigChange) {
      node.appliedConfig = applyConfigChange(node.appliedConfig, decodeConfigChange(entry.data));
    }
  }

  /**
   * The stamps a node applies never go back from its state's time, which right after an installed
   * snapshot is the snapshot point's; and every node applies the same stamp at an index.
   */
  #applyTime(node: SimNode, entry: Entry): void {
    const { index, timestamp } = entry;
    assert.ok(timestamp !== undefined, `${node.id}: entry ${index} was applied unstamped`);
    if (node.stateTime !== undefined && !(timestamp >= node.stateTime)) {
      assert.fail(
        `${node.id}: entry ${index} at ${timestamp} goes back from the state's ${node.stateTime}`,
      );
    }
    const earlier = this.committedStamps.get(index);
    if (this.committedStamps.has(index) && earlier !== timestamp) {
      assert.fail(`${node.id}: entry ${index} applied at ${timestamp}, elsewhere at ${earlier}`);
    }
    this.committedStamps.set(index, timestamp);
    node.stateTime = timestamp;
  }

  /** Checks log matching across every pair of nodes' stored logs. */
  checkLogMatching(): void {
    const nodes = [...this.nodes.values()];
    for (let left = 0; left < nodes.length; left++) {
      for (let right = left + 1; right < nodes.length; right++) {
        checkPair(nodes[left].storage, nodes[right].storage);
      }
    }
  }

  /** Every safety check that can be run on the current state. */
  checkSafety(): void {
    this.checkLogMatching();
    for (const node of this.nodes.values()) {
      node.state.forEach((key, position) => {
        assert.equal(this.committed.get(position + 1), key, `${node.id} state diverges`);
      });
    }
  }

  /** Messages sent so far of the given type. */
  sentOfType(type: Message["type"]): Message[] {
    return this.network.sent.filter((message) => message.type === type);
  }
}

/** If two logs agree on an entry's term, they agree on everything up to it (§5.3). */
function checkPair(left: MemoryLogStorage, right: MemoryLogStorage): void {
  const first = maxIndex(left.firstIndex(), right.firstIndex());
  const last = minIndex(left.lastIndex(), right.lastIndex());
  let highestMatch = 0 as LogIndex;
  for (let index = last; index >= first; index--) {
    if (left.term(index) === right.term(index)) {
      highestMatch = index;
      break;
    }
  }
  if (highestMatch < first) return;
  const leftEntries = left.entries(first, nextIndex(highestMatch), Number.POSITIVE_INFINITY);
  const rightEntries = right.entries(first, nextIndex(highestMatch), Number.POSITIVE_INFINITY);
  leftEntries.forEach((entry, position) => {
    const other = rightEntries[position];
    assert.equal(entry.term, other.term, `log matching: terms differ at ${entry.index}`);
    assert.deepEqual(entry.data, other.data, `log matching: data differs at ${entry.index}`);
    assert.equal(entry.timestamp, other.timestamp, `log matching: stamps differ at ${entry.index}`);
  });
}

/**
 * Stamps the entries of `ready` that carry no time with their predecessor's, as the broker's log
 * writer does before storing them (in place: a leader's appends leave stamped). `installed` is
 * the time of the snapshot `ready` installs, which the first of them may follow.
 */
function stampEntries(storage: MemoryLogStorage, ready: Ready, installed?: number): void {
  if (ready.entries.length === 0) return;
  const before = (ready.entries[0].index - 1) as LogIndex;
  let previous = ready.snapshot?.index === before ? installed : storage.timestampAt(before);
  for (const entry of ready.entries) {
    entry.timestamp ??= previous;
    previous = entry.timestamp;
  }
}

/** A snapshot's bytes: the applied keys, and the state's time when it has one. */
function encodeState(state: string[], time?: number): Uint8Array {
  return encoder.encode(JSON.stringify(time === undefined ? state : { keys: state, time }));
}

function decodeState(data: Uint8Array): { keys: string[]; time: number | undefined } {
  if (data.byteLength === 0) return { keys: [], time: undefined };
  const decoded = JSON.parse(decoder.decode(data));
  return Array.isArray(decoded) ? { keys: decoded, time: undefined } : decoded;
}
