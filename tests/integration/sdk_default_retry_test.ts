/**
 * The raw client with its DEFAULT retry options (no `retry` given) against three real `main.ts`
 * processes while the leader is killed with SIGKILL: sends keep going through the kill and the
 * election, and every one resolves. The client knew the old leader: its next attempts there are
 * refused, the followers answer `503 NoLeader` until a new leader is elected, and the default
 * retry budget (10 s after a call's first failure) outlasts that. Each message carries a
 * `dedupId` (a send cut by the kill is safe to repeat), so the queue ends with one copy of each.
 * No timing assertion: the waits are bounded only so a broken build fails instead of hanging.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";
import { type BrokerProcess, clusterPorts, eventually, startBroker } from "./process.ts";

Deno.test({
  name: "sends with the default retry options ride through a kill -9 of the leader",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-sdk-default-retry-" });
    const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
    const processes = new Map<string, BrokerProcess>();
    const urls = specs.map((spec) => `http://127.0.0.1:${spec.port}`);
    // The client under test: nothing but the node list.
    const client = new CmqdClient({ baseUrl: urls });
    const probes = urls.map((url) => new CmqdClient({ baseUrl: url, followLeader: false }));
    const leader = () =>
      eventually("a leader", async () => {
        for (const [index, probe] of probes.entries()) {
          if (!processes.has(specs[index].id)) continue;
          const info = await probe.cluster().catch(() => undefined);
          if (info?.role === "leader" && await probe.ready().catch(() => false)) {
            return info.nodeId;
          }
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
      const first = await leader();
      await eventually("the queue", () => client.createQueue("orders").catch(() => undefined));
      await client.getQueue("orders"); // the client now sends straight to the leader
      assert.equal(client.leaderUrl, urls[specs.findIndex((spec) => spec.id === first)]);

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
      const victim = await leader();
      await processes.get(victim)!.kill();
      processes.delete(victim);
      const next = await leader();
      assert.notEqual(next, victim);
      elected = true;
      await Promise.all(senders);
      console.log(
        `killed ${victim}, ${next} elected; ${acked.size} sends acknowledged ` +
          `(${sendsAfterElection} after the election), rejected: ${rejected.join(" | ") || "none"}`,
      );
      assert.deepEqual(rejected, [], "every send made with the default retries resolved");
      assert.ok(sendsAfterElection >= 40);
      const queue = await client.getQueue("orders");
      assert.equal(queue.activeMessages, acked.size, "one copy of each message");
    } finally {
      client.close();
      for (const probe of probes) probe.close();
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});
