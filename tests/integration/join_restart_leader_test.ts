/**
 * A node that joined with `--join` keeps the flag in its command, so every restart repeats its
 * join. When it leads by the time its repeated join is served (the whole cluster restarted and its
 * log is the longest), the member it asks forwards the join to the leader: to itself. It used to
 * refuse that (`400`, "node 'n3' is this node, the leader"), and the node took the refusal as
 * final and exited: a healthy voter, the leader, gone at its restart. Restarted while another node
 * leads, its repeated join is a no-op, as before.
 */
import assert from "node:assert/strict";
import { eventually } from "./process.ts";
import { clusterOf, voters, withJoinedCluster } from "./_joined_cluster.ts";

Deno.test({
  name: "a joined node restarted with --join that leads before its join is served keeps running",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voterIds: ["n1", "n2"], joinerId: "n3", joinThrough: "n1" };
    await withJoinedCluster("cmqd-join-restart-leader-", options, async (cluster) => {
      const { url, processes, startVoter, startJoiner } = cluster;
      await Promise.all(["n1", "n2"].map(startVoter));
      await eventually("a leader", async () => (await clusterOf(url("n1"))).leaderId ?? undefined);
      await startJoiner();
      await eventually("n3 a voter", async () => {
        const view = await clusterOf(url("n1"));
        return voters(view).join() === "n1,n2,n3" ? true : undefined;
      });

      // n1 misses a committed write (n2 and n3 hold it): n1 can't lead while n3 is up. Stopped,
      // not killed: a stop writes the commit index, so each replays the recorded addresses at its
      // restart (killed, each dials the ones past it: join_crash_restart_test.ts).
      assert.equal(await processes.get("n1")!.stop(), 0);
      await cluster.createQueue("q", "n2"); // a write with n1 down
      for (const id of ["n2", "n3"]) assert.equal(await processes.get(id)!.stop(), 0);

      // The whole cluster restarts, n2 last: n1 and n3 elect n3, whose join n1 forwards to it.
      await startVoter("n1");
      await startJoiner().catch((error) => {
        assert.fail(`n3 did not start again as the leader: ${error.message}`);
      });
      const led = await clusterOf(url("n3"));
      assert.equal(led.leaderId, "n3", JSON.stringify(led));
      assert.deepEqual(voters(led), ["n1", "n2", "n3"]);
      assert.doesNotMatch(processes.get("n3")!.output(), /join refused|is this node, the leader/);

      // Restarted while another node leads, its repeated join changes nothing and it serves.
      await startVoter("n2");
      await eventually("n2 follows n3", async () => {
        const view = await clusterOf(url("n2"));
        return view.leaderId === "n3" ? true : undefined;
      });
      await processes.get("n3")!.kill();
      const other = await eventually("n1 or n2 leads", async () => {
        const leader = (await clusterOf(url("n1"))).leaderId;
        return leader === "n1" || leader === "n2" ? leader : undefined;
      });
      await startJoiner();
      await eventually("n3 a voter following the leader", async () => {
        const view = await clusterOf(url("n3"));
        return view.leaderId !== null && view.canVote === true &&
            voters(view).join() === "n1,n2,n3"
          ? true
          : undefined;
      });
      const after = await clusterOf(url(other));
      assert.deepEqual(voters(after), ["n1", "n2", "n3"]);
    });
  },
});
