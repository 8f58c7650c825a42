/**
 * A long poll parked on a node that loses leadership is answered at once with a retryable 503
 * naming the new leader, not left hanging until its wait runs out (issue: long polls and leader
 * changes). Three nodes in one process over the real TCP transport on loopback.
 */
import assert from "node:assert/strict";
import { startInProcessCluster, until } from "./_in_process_cluster.ts";

Deno.test({
  name: "a receive parked on a leader that hands over leadership is answered at once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { nodes, close } = await startInProcessCluster("cmqd-leader-change-");
    try {
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
      await close();
    }
  },
});
