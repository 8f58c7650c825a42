/**
 * A follower that installs a snapshot sent by its leader tells its dial hints (`dial_hints.ts`):
 * those at or below the snapshot's index settle then, not at the next entry applied.
 */
import assert from "node:assert/strict";
import { CommandType, encodeJson } from "../engine/mod.ts";
import { DialHints } from "./dial_hints.ts";
import { followerOf, sendBodies, settled, TestCluster } from "./testing/mod.ts";

const hint = (index: number, id: string, port: number) => ({
  term: 1,
  index,
  timestamp: 0,
  type: CommandType.SetMember,
  payload: encodeJson({
    id,
    peerAddress: `127.0.0.1:${port}`,
    clientUrl: `http://127.0.0.1:${port + 1}`,
  }),
});

Deno.test("a follower installing its leader's snapshot settles the dial hints at or below its index", async () => {
  const hints = new DialHints();
  const installed: number[] = [];
  // Only the snapshot path settles them here (no `onApplied`): the one under test.
  const cluster = await TestCluster.start({
    replica: {
      snapshotEntriesInterval: 4,
      raft: { snapshotChunkBytes: 512 },
      onSnapshotInstalled: (snapshot) => {
        installed.push(snapshot.index);
        hints.snapshotLoaded(snapshot);
      },
    },
  });
  try {
    const leader = await cluster.waitForLeader();
    const lagging = followerOf(cluster, leader);
    hints.read(hint(3, "n9", 9900));
    hints.read(hint(1_000_000, "n8", 9800));
    const settles: string[][] = [];
    hints.onSettled((ids) => settles.push(ids));
    await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
    await cluster.run(300);
    assert.deepEqual(installed, [], "a snapshot was installed before the follower lagged");
    cluster.isolate(lagging);
    for (let i = 0; i < 12; i++) {
      await sendBodies(cluster, cluster.broker(leader), [`${i}:${"b".repeat(300)}`]);
    }
    assert.ok(cluster.replica(leader).status().snapshotIndex > 4, "the leader compacted");
    cluster.heal();
    await cluster.until(() => installed.length > 0);
    assert.ok(installed[0] >= 3, `installed at ${installed[0]}`);
    assert.deepEqual(settles, [["n9"]]);
    assert.deepEqual(hints.members().map((member) => member.id), ["n8"]);
  } finally {
    await cluster.stopAll();
  }
});
