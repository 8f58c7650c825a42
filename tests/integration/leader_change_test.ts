/**
 * A long poll parked on a node that loses leadership is answered at once with a retryable 503
 * naming the new leader, not left hanging until its wait runs out (issue: long polls and leader
 * changes). Three nodes in one process over the real TCP transport on loopback.
 */
import assert from "node:assert/strict";
import { type CmqdNode, realTimers, startNode, TcpTransport } from "../../broker/mod.ts";
import type { NodeId } from "../../raft/mod.ts";
import { RealFileSystem } from "../../storage/mod.ts";
import { freePort, testClusterKeyText } from "./process.ts";

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test({
  name: "a receive parked on a leader that hands over leadership is answered at once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-leader-change-" });
    const ids = ["n1", "n2", "n3"];
    const ports = ids.map(() => freePort());
    const nodes: CmqdNode[] = [];
    try {
      for (const [i, id] of ids.entries()) {
        const transport = await TcpTransport.start({
          nodeId: id as NodeId,
          listen: { hostname: "127.0.0.1", port: ports[i] },
          clientUrl: `http://127.0.0.1:${ports[i]}`,
          peers: ids.map((peer, j) => ({
            id: peer as NodeId,
            peerAddress: `127.0.0.1:${ports[j]}`,
          })).filter((peer) => peer.id !== id),
          clusterKey: new TextEncoder().encode(testClusterKeyText),
        });
        nodes.push(
          await startNode({
            nodeId: id,
            dataDir: `${root}/${id}`,
            fs: new RealFileSystem(),
            clock: { now: () => Date.now() },
            timers: realTimers,
            transport,
            initialVoters: ids,
            url: `http://127.0.0.1:${ports[i]}`,
            tickMs: 20,
          }),
        );
      }
      await until("a leader", () => nodes.some((node) => node.replica.isLeader));
      const leader = nodes.find((node) => node.replica.isLeader)!;
      await leader.broker.createQueue("jobs", {});
      const parked = leader.broker.receiveMessages("jobs", { waitSeconds: 20 });
      await until("the receive to park", () => leader.broker.parkedReceivers === 1);
      const target = nodes.find((node) => node !== leader)!;
      leader.replica.transferLeadership(target.replica.id);
      // Without the hand-over answer the receive would re-park and resolve empty at 20 s.
      await assert.rejects(parked, (error: { code?: string }) => error.code === "NoLeader");
    } finally {
      for (const node of nodes) await node.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});
