/**
 * Membership on real processes: a fourth node joins a running three-node cluster with `--join`,
 * catches up and votes; a node is removed with `DELETE /v1/cluster/nodes/{id}`; the group keeps
 * every acknowledged message and still has a quorum when one more original node dies.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { eventually } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

Deno.test({
  name: "a node joins a running cluster, another is removed, and no message is lost",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ids = ["n1", "n2", "n3", "n4"];
    const options = { voters: ids.slice(0, 3), others: ["n4"] };
    await withCluster("cmqd-members-", options, async (cluster) => {
      const { processes, url } = cluster;
      const clientOf = (id: string) => new CmqdClient({ baseUrl: url(id), timeoutMs: 5000 });
      await cluster.startVoters("together");
      await cluster.leaderVia("n1");
      const n1 = clientOf("n1");
      await n1.createQueue("q", {});
      const sent = await n1.sendMessages("q", [{ body: "one" }, { body: "two" }]);

      await cluster.start("n4", ["--join", url("n2")]);
      const n4 = clientOf("n4");
      await eventually("n4 a voter", async () => {
        const info = await n1.cluster();
        return info.nodes.find((node) => node.id === "n4" && node.role !== "learner");
      });
      const viewOfN4 = await n4.cluster();
      assert.deepEqual(viewOfN4.nodes.map((node) => node.id).sort(), ids, "n4 knows every member");

      // Remove a follower (not the leader), then kill another original node: n4 keeps the quorum.
      const leader = (await n1.cluster()).leaderId!;
      const [removed, killed] = ["n1", "n2", "n3"].filter((id) => id !== leader);
      await cluster.removeNode(removed, leader);
      await processes.get(removed)!.kill();
      await processes.get(killed)!.kill();
      const survivor = clientOf(leader);
      const members = (await survivor.cluster()).nodes.map((node) => node.id).sort();
      assert.deepEqual(members, [leader, "n4"].concat(killed).sort());

      const received = await eventually("a receive with quorum", async () => {
        const result = await n4.receiveMessages("q", { maxMessages: 10 });
        return result.messages.length > 0 ? result : undefined;
      });
      assert.deepEqual(
        received.messages.map((message) => message.id).sort(),
        sent.messages.map((message) => message.id).sort(),
      );
    });
  },
});
