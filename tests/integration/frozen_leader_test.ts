/**
 * A request a follower forwarded to a leader that then froze (SIGSTOP) is answered as soon as a
 * new leader is elected — a retryable 503 naming it — not when the client gives up. Three real
 * `main.ts` processes on loopback.
 */
import assert from "node:assert/strict";
import { settled } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

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
    await withCluster("cmqd-frozen-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
      const { processes } = cluster;
      await cluster.startVoters("in turn");
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
      // Resumed before it is killed, at the end (`withCluster`).
      processes.get(leader)!.child.kill("SIGSTOP");
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
      const frozenPort = cluster.spec(leader).port;
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
    });
  },
});
