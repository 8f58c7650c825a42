/**
 * The SDK's `Producer` and `Consumer`, with the client's default retries, against three real
 * `main.ts` processes while the leader is killed with SIGKILL: every send resolves (each message
 * carries a dedup id, so a batch whose answer was lost is sent again without enqueueing twice),
 * the consumer goes on with the new leader and handles every acknowledged message, and a handler
 * that runs past its lock keeps it through the election (renewals go to the new leader; no second
 * delivery, no abort). The raw client under the same faults: `cluster_faults_test.ts`.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError, Consumer, type ConsumerClient, Producer } from "../../sdk/mod.ts";
import { type BrokerProcess, clusterPorts, eventually, startBroker } from "./process.ts";

/** Three nodes, a client of all three, and a way to find and kill the leader. */
async function withCluster(
  test: (cluster: {
    client: CmqdClient;
    killLeader(): Promise<string>;
  }) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "cmqd-sdk-helpers-" });
  const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
  const processes = new Map<string, BrokerProcess>();
  const urls = specs.map((spec) => `http://127.0.0.1:${spec.port}`);
  const client = new CmqdClient({ baseUrl: urls });
  const probes = urls.map((url) => new CmqdClient({ baseUrl: url, followLeader: false }));
  const leader = () =>
    eventually("a leader", async () => {
      for (const [index, probe] of probes.entries()) {
        if (!processes.has(specs[index].id)) continue;
        const info = await probe.cluster().catch(() => undefined);
        if (info?.role === "leader" && await probe.ready().catch(() => false)) return info.nodeId;
      }
      return undefined;
    }, 30_000);
  try {
    const started = await Promise.all(specs.map((spec) =>
      startBroker({
        dataDir: `${root}/${spec.id}`,
        port: spec.port,
        args: ["--node-id", spec.id, "--peer-port", String(spec.peerPort), "--peers", peers],
      })
    ));
    specs.forEach((spec, index) => processes.set(spec.id, started[index]));
    await leader();
    await test({
      client,
      async killLeader() {
        const victim = await leader();
        await processes.get(victim)!.kill();
        processes.delete(victim);
        const next = await leader();
        assert.notEqual(next, victim);
        return victim;
      },
    });
  } finally {
    client.close();
    for (const probe of probes) probe.close();
    for (const process of processes.values()) await process.kill();
    await Deno.remove(root, { recursive: true });
  }
}

function describe(error: unknown): string {
  return error instanceof CmqdError ? `${error.code}: ${error.message}` : String(error);
}

Deno.test({
  name:
    "Producer and Consumer ride through a kill -9 of the leader: every send resolves and is handled",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withCluster(async ({ client, killLeader }) => {
      await eventually("the queue", () => client.createQueue("jobs").catch(() => undefined));
      const total = 600;
      const acked = new Set<string>();
      const rejected: string[] = [];
      const handled = new Map<string, number>();
      const consumerErrors: string[] = [];
      let receives = 0;
      const counting: ConsumerClient = {
        receiveMessages: (...args) => {
          receives++;
          return client.receiveMessages(...args);
        },
        deleteMessages: (...args) => client.deleteMessages(...args),
        changeVisibility: (...args) => client.changeVisibility(...args),
        timeoutMs: client.timeoutMs,
        headTimeoutMs: client.headTimeoutMs,
      };
      const producer = new Producer(client, "jobs", {
        batchSize: 16,
        lingerMs: 2,
        autoDedupId: true,
      });
      const consumer = new Consumer(counting, "jobs", {
        concurrency: 8,
        visibilityTimeoutSeconds: 3,
        waitSeconds: 2,
        handleMessage: async (message) => {
          handled.set(message.body, (handled.get(message.body) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 5));
        },
        onError: (error) => consumerErrors.push(describe(error)),
      });
      consumer.start();
      const sending = (async () => {
        for (let index = 0; index < total; index += 10) {
          await Promise.all(Array.from({ length: 10 }, (_, offset) => {
            const body = `job ${index + offset}`;
            return producer.send(body).then(
              () => acked.add(body),
              (error) => rejected.push(`${body}: ${describe(error)}`),
            );
          }));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await eventually("a third handled", () => Promise.resolve(handled.size >= 200 || undefined));
      const victim = await killLeader();
      const atKill = { handled: handled.size, receives };
      await sending;
      await producer.close();
      await eventually(
        "every acknowledged send handled",
        () => Promise.resolve([...acked].every((body) => handled.has(body)) || undefined),
        60_000,
      );
      await consumer.stop();
      const twice = [...handled.values()].filter((count) => count > 1).length;
      console.log(
        `killed ${victim} at ${atKill.handled} handled (${atKill.receives} receives); ` +
          `acked ${acked.size}, handled ${handled.size} (${twice} more than once), ` +
          `receives ${receives}, consumer errors: ${consumerErrors.join(" | ") || "none"}`,
      );
      assert.deepEqual(rejected, [], "every send resolved");
      assert.equal(acked.size, total);
      assert.ok(handled.size > atKill.handled, "the consumer handled on after the kill");
      // Each receive error is followed by a back-off: a handful, not a spin.
      assert.ok(consumerErrors.length <= 20, `${consumerErrors.length} consumer errors`);
      assert.equal(consumer.stats.locksLost, 0);
      const left = await client.getQueue("jobs");
      assert.equal(left.activeMessages + left.inflightMessages + left.delayedMessages, 0);
    }),
});

Deno.test({
  name:
    "a handler running past its lock keeps it through a kill -9 of the leader: one delivery, no abort",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withCluster(async ({ client, killLeader }) => {
      await eventually("the queue", () => client.createQueue("slow").catch(() => undefined));
      const bodies = Array.from({ length: 8 }, (_, index) => `s${index}`);
      await client.sendMessages("slow", bodies.map((body) => ({ body, dedupId: body })));
      const deliveries: string[] = [];
      const aborted: string[] = [];
      const errors: string[] = [];
      let killed = false;
      const consumer = new Consumer(client, "slow", {
        concurrency: 8,
        visibilityTimeoutSeconds: 2,
        waitSeconds: 1,
        handleMessage: async (message, { signal }) => {
          deliveries.push(`${message.body}#${message.receiveCount}`);
          signal.addEventListener("abort", () => aborted.push(message.body), { once: true });
          // Three locks long, whatever the election takes: still running when the kill is over.
          await new Promise((resolve) => setTimeout(resolve, 6_000));
          while (!killed) await new Promise((resolve) => setTimeout(resolve, 100));
        },
        onError: (error) => errors.push(describe(error)),
      });
      consumer.start();
      await eventually("every handler running", () => {
        return Promise.resolve(consumer.stats.inflight === bodies.length || undefined);
      });
      await killLeader();
      killed = true;
      await eventually("all handled", () => {
        return Promise.resolve(consumer.stats.handled === bodies.length || undefined);
      }, 60_000);
      await consumer.stop();
      console.log(`renewed ${consumer.stats.renewed}; errors: ${errors.join(" | ") || "none"}`);
      assert.deepEqual(deliveries.sort(), bodies.map((body) => `${body}#1`), "one delivery each");
      assert.deepEqual(aborted, []);
      assert.equal(consumer.stats.locksLost, 0);
      assert.ok(
        errors.every((error) => /^(Timeout|NetworkError|NoLeader|NotReady)/.test(error)),
        errors.join(" | "),
      );
      assert.equal(consumer.stats.deleted, bodies.length);
    }),
});
