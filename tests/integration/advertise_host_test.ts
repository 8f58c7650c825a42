/**
 * `--advertise-host`: the name members and clients reach a node by, when the address it listens
 * on is not one they can dial (a wildcard such as 0.0.0.0). Three real `main.ts` processes listen
 * on 127.0.0.1 and advertise `localhost`; the cluster view, the leader hint and forwarding must
 * all use the advertised name (a broken flag shows 127.0.0.1 instead).
 */
import assert from "node:assert/strict";
import { withCluster } from "./_cluster_start.ts";

interface ClusterView {
  role: string;
  leaderId: string | null;
  nodes: { id: string; url: string | null }[];
}

Deno.test({
  name: "members advertise --advertise-host in the cluster view, leader hints and forwarding",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voters: ["n1", "n2", "n3"], advertiseHost: "localhost" };
    await withCluster("cmqd-advertise-", options, async (cluster) => {
      const { specs } = cluster;
      await cluster.startVoters("together");
      // In the order of `specs` (the map holds them in the order they came up).
      const processes = specs.map((spec) => cluster.processes.get(spec.id)!);
      assert.ok(processes.every((p) => p.url.startsWith("http://localhost:")));
      let view: ClusterView | null = null;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        const answer = await fetch(`${processes[0].url}/v1/cluster`);
        view = await answer.json() as ClusterView;
        if (view.leaderId !== null && view.nodes.every((node) => node.url !== null)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(view !== null && view.leaderId !== null, "a leader was elected");
      for (const node of view.nodes) {
        const spec = specs.find((s) => s.id === node.id)!;
        assert.equal(node.url, `http://localhost:${spec.port}`, JSON.stringify(view));
      }
      // A write through a follower is forwarded to the leader's advertised URL.
      const follower = processes[specs.findIndex((s) => s.id !== view!.leaderId)];
      let created: Response | null = null;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        created = await fetch(`${follower.url}/v1/queues/jobs`, { method: "PUT" });
        await created.body?.cancel();
        if (created.status === 201) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(created?.status, 201);
      const leaderSpec = specs.find((s) => s.id === view!.leaderId)!;
      assert.equal(created!.headers.get("x-cmqd-leader"), `http://localhost:${leaderSpec.port}`);
    });
  },
});
