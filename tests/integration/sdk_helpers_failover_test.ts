/**
 * The SDK's `Producer` and `Consumer`, with the client's default retries, against three real
 * `main.ts` processes while the leader is killed with SIGKILL: every send resolves (each message
 * carries a dedup id, so a batch whose answer was lost is sent again without enqueueing twice),
 * the consumer goes on with the new leader and handles every acknowledged message, and a handler
 * that runs past its lock keeps it through the election (renewals go to the new leader; no second
 * delivery, no abort). With no leader at all (two of three killed), then no node, the consumer
 * backs off: its requests are counted. The raw client under the same faults: `cluster_faults_test.ts`.
 */
import assert from "node:assert/strict";
import {
  CmqdClient,
  CmqdError,
  Consumer,
  type ConsumerClient,
  defaultTransport,
  type HttpTransport,
  Producer,
} from "../../sdk/mod.ts";
import { type BrokerProcess, clusterPorts, eventually, startBroker } from "./process.ts";

/** Three nodes, a client of all three, and a way to find and kill the leader. */
async function withCluster(
  test: (cluster: {
    client: CmqdClient;
    /** Kills the leader and waits for another to be elected. */
    killLeader(): Promise<string>;
    /** Kills the leader and a follower: the one node left can elect no leader. */
    killQuorum(): Promise<void>;
    /** Kills every node still running. */
    killAll(): Promise<void>;
  }) => Promise<void>,
  options: { transport?: HttpTransport } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "cmqd-sdk-helpers-" });
  const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
  const processes = new Map<string, BrokerProcess>();
  const urls = specs.map((spec) => `http://127.0.0.1:${spec.port}`);
  const client = new CmqdClient({ baseUrl: urls, transport: options.transport });
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
      async killAll() {
        for (const [id, process] of [...processes]) {
          await process.kill();
          processes.delete(id);
        }
      },
      async killQuorum() {
        const victim = await leader();
        const follower = specs.find((spec) => spec.id !== victim)!.id;
        for (const id of [victim, follower]) {
          await processes.get(id)!.kill();
          processes.delete(id);
        }
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

Deno.test({
  name: "with no leader to be had the consumer backs off: a bounded number of requests, not a spin",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const inner = defaultTransport();
    let requests = 0;
    const transport: HttpTransport = {
      settlesOnAbort: inner.settlesOnAbort,
      request: (request) => {
        requests++;
        return inner.request(request);
      },
      close: () => inner.close?.(),
    };
    await withCluster(async ({ client, killQuorum, killAll }) => {
      await eventually("the queue", () => client.createQueue("stranded").catch(() => undefined));
      await client.sendMessages("stranded", [{ body: "held", dedupId: "held" }]);
      const errors: string[] = [];
      let finish!: () => void;
      const held = new Promise<void>((resolve) => finish = resolve);
      const consumer = new Consumer(client, "stranded", {
        concurrency: 4,
        visibilityTimeoutSeconds: 4,
        waitSeconds: 2,
        handleMessage: () => held, // its lock is renewed, or tried, all along
        onError: (error) => errors.push(describe(error)),
      });
      consumer.start();
      await eventually("the message held", () => {
        return Promise.resolve(consumer.stats.inflight === 1 || undefined);
      });
      /** Requests made in 6 s from now. */
      const requestsIn6s = async () => {
        const before = requests;
        await new Promise((resolve) => setTimeout(resolve, 6_000));
        return requests - before;
      };
      // A spin would make thousands of requests in each while. The one node left answers
      // NoLeader with a Retry-After, which paces the client. With every node down each call
      // retries for the client's budget (10 s) before it fails: a round of three refused
      // connections, then the client's back-off (from 50 ms, doubling up to 2 s); a lock renewal
      // given up at half its lock's time left starts the next with a fresh back-off. About 150
      // requests in the 6 s (before the budget each call gave up after 4 attempts and the
      // consumer's own back-off paced it, under 100): bounded, still far from a spin.
      await killQuorum();
      const noLeader = await requestsIn6s();
      await killAll();
      const noNode = await requestsIn6s();
      finish();
      await consumer.stop();
      console.log(
        `requests in 6 s: ${noLeader} with no leader, ${noNode} with no node; ` +
          `${errors.length} errors reported`,
      );
      assert.ok(noLeader <= 100, `${noLeader} requests with no leader`);
      assert.ok(noNode <= 300, `${noNode} requests with no node`);
      assert.ok(errors.length >= 1, "the outage is reported");
      assert.ok(errors.length <= 40, `${errors.length} errors: ${errors.join(" | ")}`);
      assert.equal(consumer.stats.locksLost, 0, "no answer ever said the lock was lost");
    }, { transport });
  },
});

// The raw client with its DEFAULT retry options (no `retry` given) against three real `main.ts`
// processes while the leader is killed with SIGKILL: sends keep going through the kill and the
// election, and every one resolves. The client knew the old leader: its next attempts there are
// refused, the followers answer `503 NoLeader` until a new leader is elected, and the default
// retry budget (10 s after a call's first failure) outlasts that. Each message carries a
// `dedupId` (a send cut by the kill is safe to repeat), so the queue ends with one copy of each.
// No timing assertion: the waits are bounded only so a broken build fails instead of hanging.
Deno.test({
  name: "the raw client with its DEFAULT retry options: sends ride through a kill -9 of the leader",
  sanitizeResources: false,
  sanitizeOps: false,
  // The client under test is `withCluster`'s: nothing but the node list.
  fn: () =>
    withCluster(async ({ client, killLeader }) => {
      await eventually("the queue", () => client.createQueue("orders").catch(() => undefined));
      await client.getQueue("orders"); // the client now sends straight to the leader
      const acked = new Set<string>();
      const rejected: string[] = [];
      let sendsAfterElection = 0;
      let elected = false;
      let sent = 0;
      // Four senders, one send in flight each, until each has sent a few after the election.
      const senders = Array.from({ length: 4 }, async (_, worker) => {
        // Bounded: a run that never sees the election end fails on the assertions below.
        for (let afterElection = 0; afterElection < 10 && sent < 20_000;) {
          const dedupId = `w${worker}-${sent++}`;
          try {
            await client.sendMessages("orders", [{ body: dedupId, dedupId }]);
            acked.add(dedupId);
          } catch (error) {
            const why = error instanceof CmqdError ? `${error.code}: ${error.message}` : error;
            rejected.push(`${dedupId}: ${why}`);
          }
          if (elected) {
            afterElection++;
            sendsAfterElection++;
          }
        }
      });
      await eventually("some sends", () => Promise.resolve(acked.size >= 40 || undefined));
      const victim = await killLeader();
      elected = true;
      await Promise.all(senders);
      console.log(
        `killed ${victim}, another elected; ${acked.size} sends acknowledged ` +
          `(${sendsAfterElection} after the election), rejected: ${rejected.join(" | ") || "none"}`,
      );
      assert.deepEqual(rejected, [], "every send made with the default retries resolved");
      assert.ok(sendsAfterElection >= 40);
      const queue = await client.getQueue("orders");
      assert.equal(queue.activeMessages, acked.size, "one copy of each message");
    }),
});
