/**
 * A node that joined with `--join` keeps its links to the initial voters while every one of them
 * is down: it knows their peer addresses (the leader records them when a node joins) and dials
 * them again when they are back. It used to know them only from dialling them back, dropped every
 * link once all of them were down, and waited for them to dial it again: removed meanwhile, it
 * was never told (it answered `503 NotReady` for ever instead of `NodeRemoved`).
 */
import assert from "node:assert/strict";
import { eventually } from "./process.ts";
import { withJoinedCluster } from "./_joined_cluster.ts";

interface ClusterView {
  leaderId?: string | null;
  canVote?: boolean;
  removed?: { index: number; by: string | null } | null;
  nodes?: { id: string; role: string }[];
  error?: { code: string; message: string };
}

async function json(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: ClusterView | null }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

Deno.test({
  name:
    "a joined node removed while frozen, then every initial voter restarted, is told it was removed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voterIds: ["n1", "n2", "n3"], joinerId: "n4", joinThrough: "n2" };
    await withJoinedCluster("cmqd-joined-links-", options, async (cluster) => {
      const { url, processes, startVoter } = cluster;
      const initialVoters = ["n1", "n2", "n3"];
      await Promise.all(initialVoters.map(startVoter));
      await eventually(
        "a leader",
        async () => (await json(`${url("n1")}/v1/cluster`)).body?.leaderId ?? undefined,
      );
      await cluster.startJoiner();
      const leader = await eventually("n4 a voter", async () => {
        const info = (await json(`${url("n1")}/v1/cluster`)).body;
        const n4 = info?.nodes?.find((node) => node.id === "n4");
        return n4 !== undefined && n4.role !== "learner" ? info?.leaderId ?? undefined : undefined;
      });
      // n4 hears of its promotion (it knows the leader) before it is cut off.
      await eventually("n4 follows", async () => {
        const info = (await json(`${url("n4")}/v1/cluster`)).body;
        return info?.leaderId === leader && info.canVote === true ? true : undefined;
      });

      // Removed while frozen: it never sees the entry, and the members forget its address.
      Deno.kill(processes.get("n4")!.pid, "SIGSTOP");
      await eventually("the removal of n4", async () => {
        const answer = await json(`${url(leader)}/v1/cluster/nodes/n4`, { method: "DELETE" });
        return answer.status === 204 ? true : undefined;
      });
      // Every initial voter down at once, while n4 runs again: its dials to them all fail.
      for (const id of initialVoters) await processes.get(id)!.kill();
      Deno.kill(processes.get("n4")!.pid, "SIGCONT");
      // Well past its links' redial and liveness tick (a link only dialled back ended here).
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      await Promise.all(initialVoters.map(startVoter));

      // Nobody dials n4 (no member records it): it learns only by dialling them itself.
      const answer = await eventually("n4 answers NodeRemoved", async () => {
        const response = await json(`${url("n4")}/v1/queues`);
        return response.body?.error?.code === "NodeRemoved" ? response : undefined;
      }, 30_000);
      assert.equal(answer.status, 503);
      const own = (await json(`${url("n4")}/v1/cluster`)).body!;
      assert.equal(own.canVote, false);
      assert.ok(["n1", "n2", "n3"].includes(own.removed?.by ?? ""), JSON.stringify(own.removed));
    });
  },
});
