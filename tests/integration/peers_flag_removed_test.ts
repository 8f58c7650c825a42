/**
 * A member restarted with a `--peers` list that still names an initial voter removed since (unit
 * files are not edited at every removal), at its old address or another, does not dial it once
 * its log shows the removal: `--peers` is dialled once the log is open, and not for an initial
 * voter the configuration no longer lists. It used to dial every `--peers` address from its
 * start, before its log was open, and, when its replay at start held the removal, for as long as
 * it ran (only a removal applied after the start closed that link).
 */
import assert from "node:assert/strict";
import { eventually, freePort } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

interface ClusterView {
  leaderId?: string | null;
  commitIndex?: number;
  nodes?: { id: string }[];
}

async function cluster(url: string): Promise<ClusterView> {
  const response = await fetch(`${url}/v1/cluster`);
  return await response.json();
}

Deno.test({
  name: "a member restarted with --peers naming a removed initial voter does not dial it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Where the restarted member's --peers says the removed node listens: counts the dials.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    let dials = 0;
    const accepting = (async () => {
      for await (const conn of listener) {
        dials++;
        conn.close();
      }
    })();
    await withCluster("cmqd-peers-removed-", { voters: ["n1", "n2", "n3"] }, async (nodes) => {
      const { specs, processes, url } = nodes;
      await nodes.startVoters("together");
      const leader = await nodes.leaderVia("n1");
      const [removed, restarted] = ["n1", "n2", "n3"].filter((id) => id !== leader);
      await nodes.removeNode(removed, leader);
      await processes.get(removed)!.kill();
      // Writes after the removal, applied on the member, then a graceful stop, which writes its
      // commit index: its replay at start holds the removal.
      for (const queue of ["a", "b", "c"]) {
        const created = await fetch(`${url(leader)}/v1/queues/${queue}`, { method: "PUT" });
        await created.body?.cancel();
        assert.ok(created.status < 300, `queue ${queue}: ${created.status}`);
      }
      const target = (await cluster(url(leader))).commitIndex!;
      await eventually(`${restarted} applied the writes`, async () => {
        const view = await cluster(url(restarted));
        return view.commitIndex! >= target ? true : undefined;
      });
      assert.equal(await processes.get(restarted)!.stop(), 0);

      const stale = specs.map((spec) =>
        `${spec.id}=127.0.0.1:${spec.id === removed ? listener.addr.port : spec.peerPort}`
      ).join(",");
      await nodes.startVoter(restarted, stale);
      await eventually(`${restarted} knows a leader`, async () => {
        return (await cluster(url(restarted))).leaderId ?? undefined;
      }).catch((error) => {
        throw new Error(`${error.message}:\n${processes.get(restarted)!.output()}`);
      });
      // Several of its redial periods (at most 0.5 s each) after it serves and follows.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(dials, 0, `${restarted} dialled the removed ${removed}'s --peers address`);
    }).finally(async () => {
      listener.close();
      await accepting.catch(() => {});
    });
  },
});
