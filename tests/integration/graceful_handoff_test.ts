/**
 * A leader stopped with SIGTERM hands leadership to another voter before it exits, so a rolling
 * restart is not an election timeout of unavailability: three real `main.ts` processes.
 */
import assert from "node:assert/strict";
import { settled } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

async function clusterView(url: string): Promise<{ role: string; leaderId: string | null }> {
  const response = await fetch(`${url}/v1/cluster`);
  return await response.json();
}

Deno.test({
  name: "SIGTERM on a leader hands leadership to another voter before the process exits",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withCluster("cmqd-handoff-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
      const { processes } = cluster;
      await cluster.startVoters("in turn");
      // A leader that has written to the group (on a loaded machine a fresh leader may still
      // answer 503 or lose its term; then ask again).
      let leader: string | null = null;
      let lastAnswer = "";
      for (const deadline = Date.now() + 30_000; leader === null && Date.now() < deadline;) {
        for (const [id, process] of processes) {
          const view = await clusterView(process.url).catch(() => null);
          if (view?.role !== "leader") continue;
          const created = await fetch(`${process.url}/v1/queues/jobs`, { method: "PUT" });
          lastAnswer = `${created.status} ${await created.text()}`;
          if (created.status === 201 || created.status === 200) leader = id;
          break;
        }
        if (leader === null) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(leader !== null, `a leader was elected and wrote: ${lastAnswer}`);
      // Every node follows one leader and may vote: a node that started after the first commit
      // votes only once a new term was elected without it, and can't take the leadership before.
      leader = await settled([...processes.values()].map((process) => process.url));
      const old = processes.get(leader)!;

      assert.equal(await old.stop(), 0);
      processes.delete(leader);
      const handedTo = /handed leadership to (n\d)/.exec(old.output())?.[1];
      assert.ok(handedTo !== undefined && handedTo !== leader, old.output());
      // The hand-off line comes before the process stopped serving.
      assert.ok(old.output().indexOf("handed leadership") < old.output().indexOf("stopped"));
      const view = await clusterView(processes.get(handedTo)!.url);
      assert.equal(view.leaderId, handedTo);
    });
  },
});
