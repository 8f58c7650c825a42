/**
 * A joined node's peer address lives only in the replicated `SetMember` entries, and a restart
 * applies the log only up to the commit index on disk, which is written every few seconds (and at
 * a clean stop). Killed, all at once, before it was written past the join, no initial voter knew
 * the joined node's address and the joined node (no `--peers`) knew none: restarted, a majority
 * that includes it never elected a leader. Every node now dials the members its log records past
 * that index (dial hints only: nothing is applied before it commits).
 *
 * The kill is made to land in that window for sure: each node's commit index on disk is set back
 * to the one it had before the join, as a kill just before the next write of it leaves it.
 */
import assert from "node:assert/strict";
import { RealFileSystem } from "../../storage/mod.ts";
import { loadHardState, storeHardState } from "../../storage/hard_state.ts";
import { eventually } from "./process.ts";
import { clusterOf, voters, withJoinedCluster } from "./_joined_cluster.ts";

Deno.test({
  name: "a cluster killed right after a join elects a leader again with the joined node",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voterIds: ["n1", "n2"], joinerId: "n3", joinThrough: "n1" };
    await withJoinedCluster("cmqd-join-crash-restart-", options, async (cluster) => {
      const { root, url, processes, startVoter, startJoiner } = cluster;
      const write = (name: string) => cluster.createQueue(name, "n1");
      await Promise.all(["n1", "n2"].map(startVoter));
      await write("before");
      // Every entry of the join comes after this index (a follower's own may be lower).
      const beforeJoin = Math.min(
        ...await Promise.all(
          ["n1", "n2"].map(async (id) => (await clusterOf(url(id))).commitIndex),
        ),
      );
      await startJoiner();
      await eventually("n3 a voter", async () => {
        const view = await clusterOf(url("n1"));
        return voters(view).join() === "n1,n2,n3" ? true : undefined;
      });
      await write("after");
      await cluster.killAll();
      processes.clear();
      const fs = new RealFileSystem();
      for (const id of ["n1", "n2", "n3"]) {
        const dir = `${root}/${id}/log`;
        const hard = loadHardState(fs, dir);
        await storeHardState(fs, dir, { ...hard, commit: Math.min(hard.commit, beforeJoin) });
      }

      // A majority restarts: the initial voter n1 and the joined n3 (n2 stays down).
      await startVoter("n1");
      await startJoiner().catch((error) => {
        assert.fail(`n3 did not start again (its repeated join found no leader): ${error.message}`);
      });
      const leader = await eventually("a leader of n1 and n3", async () => {
        const view = await clusterOf(url("n3"));
        return view.leaderId === "n1" || view.leaderId === "n3" ? view.leaderId : undefined;
      });
      const view = await clusterOf(url(leader));
      assert.deepEqual(voters(view), ["n1", "n2", "n3"]);
      await write("restarted");
    });
  },
});
