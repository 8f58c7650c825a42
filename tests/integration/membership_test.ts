/**
 * Membership on real processes: a fourth node joins a running three-node cluster with `--join`,
 * catches up and votes; a node is removed with `DELETE /v1/cluster/nodes/{id}`; the group keeps
 * every acknowledged message and still has a quorum when one more original node dies.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { type BrokerProcess, eventually, freePort, startBroker } from "./process.ts";

Deno.test({
  name: "a node joins a running cluster, another is removed, and no message is lost",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-members-" });
    const ids = ["n1", "n2", "n3", "n4"];
    const ports = new Map(ids.map((id) => [id, { port: freePort(), peer: freePort() }]));
    const peers = ids.slice(0, 3).map((id) => `${id}=127.0.0.1:${ports.get(id)!.peer}`).join(",");
    const processes = new Map<string, BrokerProcess>();
    const clientOf = (id: string) =>
      new CmqdClient({ baseUrl: `http://127.0.0.1:${ports.get(id)!.port}`, timeoutMs: 5000 });
    const start = async (id: string, extra: string[]) => {
      processes.set(
        id,
        await startBroker({
          dataDir: `${root}/${id}`,
          port: ports.get(id)!.port,
          args: ["--node-id", id, "--peer-port", String(ports.get(id)!.peer), ...extra],
        }),
      );
    };
    try {
      await Promise.all(ids.slice(0, 3).map((id) => start(id, ["--peers", peers])));
      const n1 = clientOf("n1");
      await eventually("a leader", async () => (await n1.cluster()).leaderId ?? undefined);
      await n1.createQueue("q", {});
      const sent = await n1.sendMessages("q", [{ body: "one" }, { body: "two" }]);

      await start("n4", ["--join", `http://127.0.0.1:${ports.get("n2")!.port}`]);
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
      await eventually("removal", async () => {
        const response = await fetch(
          `http://127.0.0.1:${ports.get(leader)!.port}/v1/cluster/nodes/${removed}`,
          { method: "DELETE" },
        );
        await response.body?.cancel();
        return response.status === 204 ? true : undefined;
      });
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
    } finally {
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});
