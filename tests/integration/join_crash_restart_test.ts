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
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

interface ClusterView {
  leaderId: string | null;
  commitIndex: number;
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
  name: "a cluster killed right after a join elects a leader again with the joined node",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-join-crash-restart-" });
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
    const write = async (name: string) => {
      await eventually(`queue ${name} created`, async () => {
        const leader = (await clusterOf(url("n1"))).leaderId;
        if (leader === null) return undefined;
        const response = await fetch(`${url(leader)}/v1/queues/${name}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        await response.body?.cancel();
        return response.ok ? true : undefined;
      });
    };
    try {
      await Promise.all(specs.map((spec) => startVoter(spec.id)));
      await write("before");
      // Every entry of the join comes after this index (a follower's own may be lower).
      const beforeJoin = Math.min(
        ...await Promise.all(
          specs.map(async (spec) => (await clusterOf(url(spec.id))).commitIndex),
        ),
      );
      await startJoiner();
      await eventually("n3 a voter", async () => {
        const view = await clusterOf(url("n1"));
        return voters(view).join() === "n1,n2,n3" ? true : undefined;
      });
      await write("after");
      for (const process of processes.values()) await process.kill();
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
    } finally {
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
