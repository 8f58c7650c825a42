/**
 * A small in-process Raft cluster for the replica's unit tests: each node has its own simulated
 * file system, segment log, state machine, broker and `RaftReplica`; one `ManualClock` drives
 * every timer; messages travel through microtasks unless a link is cut. (The seeded, faulty
 * whole-cluster simulation lives in `tests/simulation/`.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { createPrng, type Message, type NodeId } from "../../../raft/mod.ts";
import { SegmentLog, SimFileSystem } from "../../../storage/mod.ts";
import { ManualClock } from "../../replication/testing/mod.ts";
import {
  type PeerAddress,
  RaftReplica,
  type RaftReplicaOptions,
  type Transport,
} from "../../replication/mod.ts";
import { EngineService } from "../../service/mod.ts";
import { BrokerError, StateMachine } from "../../engine/mod.ts";

/** Runs every queued microtask (and what they queue) to completion. */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** One node of a `TestCluster`. */
export interface TestNode {
  id: string;
  fs: SimFileSystem;
  log: SegmentLog | null;
  machine: StateMachine;
  replica: RaftReplica | null;
  broker: EngineService | null;
  warnings: string[];
}

/**
 * A transport inside one process (tests, simulations): subclasses say how `send` travels; peers
 * need no addresses, and nothing is ever reported unreachable.
 */
export abstract class LocalTransport implements Transport {
  handler: ((message: Message) => void) | null = null;
  closed = false;
  abstract send(messages: Message[]): void;
  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
  }
  onUnreachable(_handler: (peer: NodeId) => void): void {}
  setPeer(_peer: PeerAddress): void {}
  removePeer(_id: NodeId): void {}
  clientUrl(_id: NodeId): string | null {
    return null;
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

class TestTransport extends LocalTransport {
  constructor(readonly cluster: TestCluster, readonly from: string) {
    super();
  }
  send(messages: Message[]): void {
    for (const message of messages) {
      if (!this.cluster.linked(this.from, message.to)) continue;
      const copy = structuredClone(message);
      queueMicrotask(() => this.cluster.deliver(copy));
    }
  }
}

/**
 * The cluster.
 *
 * @example
 * ```ts
 * const cluster = await TestCluster.start({ ids: ["n1", "n2", "n3"] });
 * const leader = await cluster.waitForLeader();
 * ```
 */
export class TestCluster {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly nodes = new Map<string, TestNode>();
  readonly #transports = new Map<string, TestTransport>();
  readonly #cut = new Set<string>();
  readonly #options: Partial<RaftReplicaOptions>;
  readonly #voters: string[];
  #seed = 1;

  private constructor(ids: string[], options: Partial<RaftReplicaOptions>) {
    this.#voters = ids;
    this.#options = options;
  }

  /** Starts a cluster of `ids` (all voters) with extra replica options. */
  static async start(
    options: { ids?: string[]; replica?: Partial<RaftReplicaOptions> } = {},
  ): Promise<TestCluster> {
    const ids = options.ids ?? ["n1", "n2", "n3"];
    const cluster = new TestCluster(ids, options.replica ?? {});
    for (const id of ids) {
      cluster.nodes.set(id, {
        id,
        fs: new SimFileSystem(),
        log: null,
        machine: new StateMachine(),
        replica: null,
        broker: null,
        warnings: [],
      });
      await cluster.boot(id);
    }
    return cluster;
  }

  node(id: string): TestNode {
    const node = this.nodes.get(id);
    assert.ok(node !== undefined, `no node ${id}`);
    return node;
  }

  replica(id: string): RaftReplica {
    const replica = this.node(id).replica;
    assert.ok(replica !== null, `${id} is down`);
    return replica;
  }

  broker(id: string): EngineService {
    const broker = this.node(id).broker;
    assert.ok(broker !== null, `${id} is down`);
    return broker;
  }

  /** Opens the node's log and replica from its file system (`extra` over the cluster's options). */
  async boot(id: string, extra: Partial<RaftReplicaOptions> = {}): Promise<void> {
    const node = this.node(id);
    node.log = await SegmentLog.open("/data/log", { fs: node.fs, segmentBytesMax: 4096 });
    node.machine = new StateMachine();
    const transport = new TestTransport(this, id);
    this.#transports.set(id, transport);
    node.replica = await RaftReplica.open({
      nodeId: id,
      log: node.log,
      machine: node.machine,
      transport,
      clock: this.clock,
      timers: this.clock,
      prng: createPrng(this.#seed++),
      fs: node.fs,
      snapshotsDir: "/data/snapshots",
      initialVoters: this.#voters,
      warn: (message) => node.warnings.push(message),
      ...this.#options,
      ...extra,
    });
    let salt = 1;
    node.broker = new EngineService({
      proposer: node.replica,
      machine: node.machine,
      log: node.replica,
      timers: this.clock,
      randomSalt: () => salt++,
    });
  }

  /** Kills the node: unsynced bytes are lost (with a torn tail when `random` is given). */
  crash(id: string, random?: () => number): void {
    const node = this.node(id);
    node.replica?.abandon();
    node.broker?.close();
    node.replica = null;
    node.broker = null;
    node.log = null;
    this.#transports.delete(id);
    node.fs.crash({ random, tornWrites: random !== undefined });
  }

  /** Stops the node cleanly (final hard state, log closed). */
  async stop(id: string): Promise<void> {
    const node = this.node(id);
    node.broker?.close();
    await node.replica?.close();
    await node.log?.close();
    node.replica = null;
    node.broker = null;
    node.log = null;
    this.#transports.delete(id);
  }

  /** Stops every node. */
  async stopAll(): Promise<void> {
    for (const id of this.nodes.keys()) await this.stop(id);
  }

  linked(from: string, to: string): boolean {
    return !this.#cut.has(`${from}>${to}`);
  }

  /** Cuts the link from `from` to `to` (one way: messages back still arrive). */
  cut(from: string, to: string): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.#cut.add(`${id}>${other}`);
      this.#cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  deliver(message: Message): void {
    if (!this.linked(message.from, message.to)) return;
    this.#transports.get(message.to)?.handler?.(message);
  }

  /** Advances time by `ms` in 10 ms steps, letting all I/O and messages settle in between. */
  async run(ms: number): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += 10) {
      this.clock.advance(10);
      await drainMicrotasks();
    }
  }

  /** Runs until a live node leads (and has applied its no-op); returns its id. */
  async waitForLeader(timeMsMax = 20_000): Promise<string> {
    for (let waited = 0; waited <= timeMsMax; waited += 100) {
      for (const node of this.nodes.values()) {
        const replica = node.replica;
        if (replica?.isLeader && replica.appliedIndex >= replica.status().commit) {
          const status = replica.status();
          if (status.commit > 0 && status.applied === status.commit) return node.id;
        }
      }
      await this.run(100);
    }
    assert.fail("no leader elected");
  }

  /** Runs until `predicate` holds. */
  async until(predicate: () => boolean, timeMsMax = 20_000): Promise<void> {
    for (let waited = 0; waited <= timeMsMax; waited += 50) {
      if (predicate()) return;
      await this.run(50);
    }
    assert.fail("condition not reached");
  }
}

/** Runs the cluster until `promise` settles (at most `ms` of cluster time); its outcome. */
export async function settled<T>(cluster: TestCluster, promise: Promise<T>, ms = 3000): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  tracked.catch(() => {});
  for (let waited = 0; waited < ms && !done; waited += 10) await cluster.run(10);
  return await tracked;
}

/** Sends each body as its own message to queue "jobs", one after the other. */
export async function sendBodies(
  cluster: TestCluster,
  broker: EngineService,
  bodies: string[],
): Promise<void> {
  for (const body of bodies) {
    await settled(cluster, broker.sendMessages("jobs", [{ body }]));
  }
}

/** Receives up to 16 messages of queue "jobs"; their bodies, sorted. */
export async function receiveAll(cluster: TestCluster, broker: EngineService): Promise<string[]> {
  const response = await settled(
    cluster,
    broker.receiveMessages("jobs", { maxMessages: 16, waitSeconds: 0 }),
  );
  return response.messages.map((message) => message.body).sort();
}

/**
 * Receives up to 16 messages of queue "jobs" from whichever node leads, as a client does: a
 * refusal that took nothing (`NoLeader`, or `NotReady` without `outcomeUnknown`, such as a
 * proposal refused while the leader hands its leadership on) is retried after its
 * `retryAfterSeconds` on the leader found then, up to `attemptsMax` times. Bodies, sorted.
 */
export async function receiveAllFromLeader(
  cluster: TestCluster,
  attemptsMax = 5,
): Promise<string[]> {
  for (let attempt = 1;; attempt++) {
    const leader = await cluster.waitForLeader();
    try {
      return await receiveAll(cluster, cluster.broker(leader));
    } catch (error) {
      const refused = error instanceof BrokerError && error.outcomeUnknown !== true &&
        (error.code === "NoLeader" || error.code === "NotReady");
      if (!refused || attempt >= attemptsMax) throw error;
      await cluster.run((error.retryAfterSeconds ?? 1) * 1000);
    }
  }
}

/** Some node other than `leader`. */
export function followerOf(cluster: TestCluster, leader: string): string {
  return [...cluster.nodes.keys()].find((id) => id !== leader)!;
}
