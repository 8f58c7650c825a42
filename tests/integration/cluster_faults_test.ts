/**
 * Three real `main.ts` processes on loopback under load through the SDK, while the leader and a
 * follower are killed with SIGKILL and restarted, a node is frozen with SIGSTOP, and finally all
 * three are killed at once. At the end every acknowledged send was received, no deleted message
 * came back, and no message was handed out twice within one lock (the README's promises promises 1–3, 7).
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";
import { type BrokerProcess, freePort, startBroker } from "./process.ts";

const queue = "ledger";
const lockSeconds = 2;

interface NodeSpec {
  id: string;
  port: number;
  peerPort: number;
  dataDir: string;
}

class Cluster {
  readonly specs: NodeSpec[];
  readonly processes = new Map<string, BrokerProcess>();
  readonly clients: CmqdClient[];

  constructor(root: string) {
    this.specs = ["n1", "n2", "n3"].map((id) => ({
      id,
      port: freePort(),
      peerPort: freePort(),
      dataDir: `${root}/${id}`,
    }));
    this.clients = this.specs.map((spec) =>
      new CmqdClient({
        baseUrl: `http://127.0.0.1:${spec.port}`,
        retry: { attemptsMax: 2, backoffMsMin: 50, backoffMsMax: 200 },
        timeoutMs: 5000,
      })
    );
  }

  async start(id: string): Promise<void> {
    const spec = this.specs.find((s) => s.id === id)!;
    const peers = this.specs.map((s) => `${s.id}=127.0.0.1:${s.peerPort}`).join(",");
    this.processes.set(
      id,
      await startBroker({
        dataDir: spec.dataDir,
        port: spec.port,
        args: ["--node-id", id, "--peer-port", String(spec.peerPort), "--peers", peers],
      }),
    );
  }

  async kill(id: string): Promise<void> {
    await this.processes.get(id)?.kill();
    this.processes.delete(id);
  }

  signal(id: string, signal: Deno.Signal): void {
    this.processes.get(id)?.child.kill(signal);
  }

  /** The leader's id as some live node reports it, waiting (bounded) for an election. */
  async leader(deadlineMs = 30_000): Promise<string> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      for (const [index, spec] of this.specs.entries()) {
        if (!this.processes.has(spec.id)) continue;
        try {
          const info = await this.clients[index].cluster();
          if (info.role === "leader") return info.nodeId;
        } catch { /* down or frozen: ask the next */ }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("no leader within the deadline");
  }

  /** Runs `call` against the nodes in turn until one answers (bounded attempts). */
  async any<T>(call: (client: CmqdClient) => Promise<T>, attempts = 40): Promise<T> {
    let last: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const client = this.clients[attempt % this.clients.length];
      try {
        return await call(client);
      } catch (error) {
        last = error;
        if (error instanceof CmqdError && error.status >= 400 && error.status < 500) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw last;
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.processes.keys()]) {
      this.signal(id, "SIGCONT");
      await this.kill(id);
    }
  }
}

interface Delivery {
  /** Leader time the lock was taken (visibleAt − lock). */
  lockedAt: number;
  visibleAt: number;
}

class Ledger {
  /** id → body of every acknowledged send. */
  readonly acked = new Map<string, string>();
  /** id → client time at which its delete was acknowledged. */
  readonly deletedAt = new Map<string, number>();
  readonly deliveries = new Map<string, Delivery[]>();
  readonly violations: string[] = [];

  deliver(id: string, visibleAt: number, requestStartedAt: number): void {
    const deletedAt = this.deletedAt.get(id);
    if (deletedAt !== undefined && requestStartedAt > deletedAt) {
      this.violations.push(`message ${id} delivered after its delete was acknowledged`);
    }
    const delivery = { lockedAt: visibleAt - lockSeconds * 1000, visibleAt };
    const earlier = this.deliveries.get(id) ?? [];
    for (const previous of earlier) {
      if (delivery.lockedAt < previous.visibleAt && delivery.visibleAt > previous.lockedAt) {
        this.violations.push(`message ${id} handed out twice within one lock`);
      }
    }
    earlier.push(delivery);
    this.deliveries.set(id, earlier);
  }
}

async function produce(cluster: Cluster, ledger: Ledger, producer: number, stop: () => boolean) {
  for (let batch = 0; !stop(); batch++) {
    const bodies = Array.from({ length: 8 }, (_, i) => `p${producer}-b${batch}-m${i}`);
    try {
      const result = await cluster.any((client) =>
        client.sendMessages(queue, bodies.map((body) => ({ body })))
      );
      result.messages.forEach((message, i) => ledger.acked.set(message.id, bodies[i]));
    } catch { /* unacknowledged: may or may not exist */ }
  }
}

async function consume(cluster: Cluster, ledger: Ledger, stop: () => boolean) {
  for (let round = 0; !stop(); round++) {
    const startedAt = Date.now();
    try {
      const { messages } = await cluster.any((client) =>
        client.receiveMessages(queue, { maxMessages: 8, visibilityTimeoutSeconds: lockSeconds })
      );
      for (const message of messages) ledger.deliver(message.id, message.visibleAt, startedAt);
      // Delete most; leave every fourth round's messages to expire and be delivered again.
      if (round % 4 === 3 || messages.length === 0) continue;
      const result = await cluster.any((client) =>
        client.deleteMessages(queue, messages.map((message) => message.receiptHandle))
      );
      const failed = new Set(result.failures.map((failure) => failure.receiptHandle));
      const now = Date.now();
      for (const message of messages) {
        if (!failed.has(message.receiptHandle)) ledger.deletedAt.set(message.id, now);
      }
    } catch { /* retry next round */ }
  }
}

async function faults(cluster: Cluster): Promise<string[]> {
  const log: string[] = [];
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let round = 0; round < 2; round++) {
    const leader = await cluster.leader();
    await cluster.kill(leader);
    log.push(`kill -9 leader ${leader}`);
    await pause(1500);
    await cluster.start(leader);
    const follower = cluster.specs.map((s) => s.id).find((id) => id !== leader)!;
    await pause(1000);
    const current = await cluster.leader();
    const victim = current === follower
      ? cluster.specs.find((s) => s.id !== current)!.id
      : follower;
    await cluster.kill(victim);
    log.push(`kill -9 follower ${victim}`);
    await pause(1000);
    await cluster.start(victim);
    const frozen = await cluster.leader();
    cluster.signal(frozen, "SIGSTOP");
    log.push(`SIGSTOP leader ${frozen}`);
    await pause(3000);
    cluster.signal(frozen, "SIGCONT");
    await pause(1000);
  }
  return log;
}

async function drain(cluster: Cluster, ledger: Ledger): Promise<Set<string>> {
  const seen = new Set<string>();
  let empty = 0;
  while (empty < 3) {
    const startedAt = Date.now();
    const { messages } = await cluster.any((client) =>
      client.receiveMessages(queue, { maxMessages: 64, visibilityTimeoutSeconds: lockSeconds })
    );
    for (const message of messages) {
      ledger.deliver(message.id, message.visibleAt, startedAt);
      seen.add(message.id);
    }
    if (messages.length > 0) {
      await cluster.any((client) =>
        client.deleteMessages(queue, messages.map((message) => message.receiptHandle))
      );
      const now = Date.now();
      for (const message of messages) ledger.deletedAt.set(message.id, now);
      empty = 0;
    } else {
      empty++;
      // Messages locked by consumers that stopped come back when their lock ends.
      await new Promise((resolve) => setTimeout(resolve, lockSeconds * 1000));
    }
  }
  return seen;
}

Deno.test({
  name: "a three-node cluster loses no acknowledged message through kills, freezes and restarts",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-cluster-" });
    const cluster = new Cluster(root);
    try {
      await Promise.all(cluster.specs.map((spec) => cluster.start(spec.id)));
      await cluster.leader();
      await cluster.any((client) => client.createQueue(queue, {}));
      const ledger = new Ledger();
      let stopped = false;
      const workers = [
        produce(cluster, ledger, 0, () => stopped),
        produce(cluster, ledger, 1, () => stopped),
        consume(cluster, ledger, () => stopped),
        consume(cluster, ledger, () => stopped),
      ];
      const faultLog = await faults(cluster);
      stopped = true;
      await Promise.all(workers);

      // All three at once: nothing acknowledged may be lost.
      await Promise.all(cluster.specs.map((spec) => cluster.kill(spec.id)));
      await Promise.all(cluster.specs.map((spec) => cluster.start(spec.id)));
      await cluster.leader();

      const seenAtEnd = await drain(cluster, ledger);
      const everDelivered = new Set(ledger.deliveries.keys());
      const lost = [...ledger.acked.keys()].filter((id) => !everDelivered.has(id));
      console.log(
        `faults: ${faultLog.join("; ")}; then kill -9 of all three. ` +
          `acknowledged ${ledger.acked.size}, deleted ${ledger.deletedAt.size}, ` +
          `delivered ${everDelivered.size} (drained at the end ${seenAtEnd.size}), ` +
          `lost ${lost.length}, violations ${ledger.violations.length}`,
      );
      assert.ok(ledger.acked.size > 100, "the load ran");
      assert.deepEqual(ledger.violations, []);
      assert.deepEqual(lost, [], "every acknowledged message was received");
    } finally {
      await cluster.stopAll();
      await Deno.remove(root, { recursive: true });
    }
  },
});
