/**
 * A node that joined with `--join` keeps the flag in its command, so every restart repeats its
 * join. When it leads by the time its repeated join is served (the whole cluster restarted and its
 * log is the longest), the member it asks forwards the join to the leader: to itself. It used to
 * refuse that (`400`, "node 'n3' is this node, the leader"), and the node took the refusal as
 * final and exited: a healthy voter, the leader, gone at its restart. Restarted while another node
 * leads, its repeated join is a no-op, as before.
 */
import assert from "node:assert/strict";
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

interface ClusterView {
  leaderId: string | null;
  canVote?: boolean;
  nodes: { id: string; role: string }[];
}

async function clusterOf(url: string): Promise<ClusterView> {
  const response = await fetch(`${url}/v1/cluster`);
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return await response.json() as ClusterView;
}

const voters = (view: ClusterView) =>
  view.nodes.filter((node) => node.role !== "learner").map((node) => node.id).sort();

Deno.test({
  name: "a joined node restarted with --join that leads before its join is served keeps running",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-join-restart-leader-" });
    const { specs, peers } = clusterPorts(["n1", "n2"]);
    const joiner = { id: "n3", port: freePort(), peerPort: freePort() };
    const url = (id: string) =>
      `http://127.0.0.1:${[...specs, joiner].find((spec) => spec.id === id)!.port}`;
    const processes = new Map<string, BrokerProcess>();
    const startVoter = async (id: string) => {
      const spec = specs.find((spec) => spec.id === id)!;
      processes.set(
        id,
        await startBroker({
          dataDir: `${root}/${id}`,
          port: spec.port,
          args: ["--node-id", id, "--peer-port", String(spec.peerPort), "--peers", peers],
        }),
      );
    };
    // Always the same command, as in a unit file.
    const startJoiner = async () => {
      processes.set(
        joiner.id,
        await startBroker({
          dataDir: `${root}/${joiner.id}`,
          port: joiner.port,
          args: [
            "--node-id",
            joiner.id,
            "--peer-port",
            String(joiner.peerPort),
            "--join",
            url("n1"),
          ],
        }),
      );
    };
    try {
      await Promise.all(specs.map((spec) => startVoter(spec.id)));
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
      await eventually("a write with n1 down", async () => {
        const leader = (await clusterOf(url("n2"))).leaderId;
        if (leader === null) return undefined;
        const response = await fetch(`${url(leader)}/v1/queues/q`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        await response.body?.cancel();
        return response.ok ? true : undefined;
      });
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
    } finally {
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
