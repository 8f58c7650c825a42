/**
 * A request a follower forwarded to a leader that then froze (SIGSTOP) is answered as soon as a
 * new leader is elected — a retryable 503 naming it — not when the client gives up. Three real
 * `main.ts` processes on loopback.
 */
import assert from "node:assert/strict";
import { type BrokerProcess, clusterPorts, settled, startBroker } from "./process.ts";

async function view(url: string): Promise<{ role: string; leaderId: string | null } | null> {
  try {
    const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(1000) });
    return await response.json();
  } catch {
    return null;
  }
}

Deno.test({
  name: "a request forwarded to a SIGSTOPped leader is answered 503 naming the new leader",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-frozen-" });
    const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
    const processes = new Map<string, BrokerProcess>();
    let frozen: BrokerProcess | null = null;
    try {
      for (const spec of specs) {
        processes.set(
          spec.id,
          await startBroker({
            dataDir: `${root}/${spec.id}`,
            port: spec.port,
            args: ["--node-id", spec.id, "--peer-port", String(spec.peerPort), "--peers", peers],
          }),
        );
      }
      // Every node follows one leader and may vote: a node started after the first leader
      // committed is repaired first (taken for a wiped one), and until then the other two could
      // not elect a new leader without the frozen one (README, "Replacing a node's disk").
      const leader = await settled([...processes.values()].map((process) => process.url));
      const follower = [...processes.keys()].find((id) => id !== leader)!;
      const followerUrl = processes.get(follower)!.url;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        if ((await view(followerUrl))?.leaderId === leader) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      frozen = processes.get(leader)!;
      frozen.child.kill("SIGSTOP");
      const started = Date.now();
      const clientTimeoutMs = 30_000;
      const signal = AbortSignal.timeout(clientTimeoutMs);
      let response: Response;
      let body;
      for (;;) {
        response = await fetch(`${followerUrl}/v1/queues/jobs`, { method: "PUT", signal });
        body = await response.json();
        // On a loaded machine the follower may have lost track of any leader for a moment; it
        // says so at once (as a client would, ask again). Not the case under test.
        if (!(response.status === 503 && /no leader is known yet/.test(body.error?.message))) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const frozenPort = specs.find((s) => s.id === leader)!.port;
      const named = response.headers.get("x-cmqd-leader");
      assert.ok(
        named !== null && !named.endsWith(`:${frozenPort}`),
        `named ${named}: ${response.status} ${JSON.stringify(body)}`,
      );
      if (response.status !== 201) {
        // The usual case: forwarded to the frozen leader, answered once a new one was known.
        // (When the election won the race, the request went to the new leader and succeeded.)
        assert.equal(response.status, 503, JSON.stringify(body));
        assert.equal(body.error.code, "NoLeader");
        assert.match(body.error.message, /leader changed/);
      }
      assert.ok(Date.now() - started < clientTimeoutMs, "answered before the client gave up");
    } finally {
      frozen?.child.kill("SIGCONT");
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});
