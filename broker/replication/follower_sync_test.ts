/** A follower's log syncs small rounds inline; a leader's never does, across elections. */
import assert from "node:assert/strict";
import { TestCluster } from "../cluster/testing/mod.ts";
import { syncSmallRoundsInlineWhileFollowing } from "./follower_sync.ts";

Deno.test("only followers sync small rounds inline, and it follows leadership", async () => {
  const cluster = await TestCluster.start();
  const bytesMax = 4096;
  for (const id of cluster.nodes.keys()) {
    syncSmallRoundsInlineWhileFollowing(cluster.replica(id), cluster.node(id).log!, bytesMax);
  }
  const inline = () =>
    new Map([...cluster.nodes.keys()].map((id) => [id, cluster.node(id).log!.inlineSyncBytesMax]));
  const leader = await cluster.waitForLeader();
  await cluster.until(() => inline().get(leader) === 0);
  for (const [id, value] of inline()) assert.equal(value, id === leader ? 0 : bytesMax, id);
  // The leader cut off: another takes over, and the old one, following again, syncs inline.
  cluster.isolate(leader);
  const others = [...cluster.nodes.keys()].filter((id) => id !== leader);
  await cluster.until(() => others.some((id) => cluster.replica(id).isLeader));
  const next = others.find((id) => cluster.replica(id).isLeader)!;
  cluster.heal();
  await cluster.until(() => !cluster.replica(leader).isLeader);
  for (const [id, value] of inline()) assert.equal(value, id === next ? 0 : bytesMax, id);
  await cluster.stopAll();
});
