/**
 * HTTP push through a leader failure, with real processes: three `main.ts` nodes on loopback, a
 * local HTTP sink (a real server started here) that answers 500 to the first two attempts of
 * every message, and a kill -9 of the leader while the retries are pending. The new leader must
 * resume from the replicated push state: every published message is pushed (2xx) at least once.
 * Duplicates are allowed (at-least-once) and reported in the output.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";
import { settled } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

const failFirstAttempts = 2;
const messageCount = 40;

/** The sink: counts attempts per message id and records the ones it answered with a 2xx. */
function startSink() {
  const attempts = new Map<string, number>();
  const accepted = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const id = request.headers.get("x-cmq-message-id") ?? "?";
    await request.arrayBuffer();
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    if (attempt <= failFirstAttempts) return new Response("try again", { status: 500 });
    accepted.set(id, (accepted.get(id) ?? 0) + 1);
    return new Response("ok");
  });
  return { attempts, accepted, server, url: `http://127.0.0.1:${server.addr.port}/notify` };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test({
  name: "pushes pending on a leader killed with SIGKILL are all delivered by the next leader",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sink = startSink();
    await withCluster("cmqd-push-failover-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
      const { specs, processes } = cluster;
      const clients = specs.map((spec) =>
        new CmqdClient({
          baseUrl: `http://127.0.0.1:${spec.port}`,
          retry: { attemptsMax: 3, backoffMsMin: 100, backoffMsMax: 500 },
          timeoutMs: 5_000,
          followLeader: false,
        })
      );
      const leaderId = () =>
        until("a leader", async () => {
          for (const [index, spec] of specs.entries()) {
            if (!processes.has(spec.id)) continue;
            try {
              const info = await clients[index].cluster();
              if (info.role === "leader") return info.nodeId;
            } catch { /* down: ask the next */ }
          }
          return undefined;
        });
      const clientOf = (id: string) => clients[specs.findIndex((spec) => spec.id === id)];
      await cluster.startVoters("in turn");
      await settled(specs.map((spec) => `http://127.0.0.1:${spec.port}`));
      const first = await leaderId();
      const client = clientOf(first);
      await client.createTopic("payments");
      await client.subscribe("payments", "merchant", {
        endpoint: { url: sink.url },
        retryPolicy: "exponentialDecay",
      });
      const ids: string[] = [];
      for (let batch = 0; batch < messageCount / 8; batch++) {
        const messages = Array.from({ length: 8 }, (_, index) => ({
          body: `payment ${batch * 8 + index}`,
          tags: ["paid"],
        }));
        const published = await client.publish("payments", messages);
        ids.push(...published.messages.map((message) => message.id));
      }
      // Every message needs three attempts (1 s and 2 s apart): none can be done yet.
      const before = await client.getSubscription("payments", "merchant");
      assert.ok(before.pendingMessages! > 0, "pushes are pending when the leader dies");
      await until("first attempts to fail", () => (sink.attempts.size > 0 ? true : undefined));
      await processes.get(first)!.kill();
      processes.delete(first);
      const acceptedAtKill = sink.accepted.size;

      const second = await leaderId();
      assert.notEqual(second, first);
      await until(
        "every message pushed",
        () => (ids.every((id) => sink.accepted.has(id)) ? true : undefined),
      );
      const view = await until("the outcomes to be applied", async () => {
        try {
          const subscription = await clientOf(second).getSubscription("payments", "merchant");
          return subscription.pendingMessages === 0 ? subscription : undefined;
        } catch (error) {
          if (error instanceof CmqdError && error.status === 503) return undefined;
          throw error;
        }
      });
      assert.equal(view.deliveredMessages, messageCount);
      assert.equal(view.failedMessages, 0);
      const duplicates = [...sink.accepted.values()].filter((count) => count > 1).length;
      console.log(
        `push failover: ${messageCount} messages, ${acceptedAtKill} pushed before the kill, ` +
          `all pushed after it; ${duplicates} pushed more than once (at-least-once), ` +
          `${[...sink.attempts.values()].reduce((sum, n) => sum + n, 0)} requests in all`,
      );
    }).finally(() => sink.server.shutdown());
  },
});
