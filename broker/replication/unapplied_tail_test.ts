/**
 * A restart applies the log only up to the commit index on disk; the entries past it are read at
 * open and shown to `onUnapplied` (a node dials the members they record: `cluster/dial_hints.ts`),
 * not applied until they commit again.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../cluster/testing/mod.ts";
import { CommandType, encodeJson } from "../engine/mod.ts";

Deno.test("a restart shows the entries past the commit index on disk to onUnapplied, and applies none of them", async () => {
  const cluster = await TestCluster.start({
    ids: ["n1"],
    replica: {
      commitPersistIntervalMs: 1e9,
      commitPersistEntries: 1e9,
      commitPersistBytes: 1e12,
    },
  });
  try {
    const leader = await cluster.waitForLeader();
    const member = { id: "n2", peerAddress: "127.0.0.1:9200", clientUrl: "http://127.0.0.1:9201" };
    await cluster.replica(leader).propose(CommandType.SetMember, encodeJson(member));
    const lastIndex = cluster.replica(leader).status().lastIndex;
    const persisted = cluster.node(leader).log!.readHardState().commit;
    assert.ok(persisted < lastIndex, `the commit on disk (${persisted}) is behind ${lastIndex}`);
    cluster.crash(leader);
    const seen: { index: number; type: number }[] = [];
    await cluster.boot(leader, {
      onUnapplied: (entry) => seen.push({ index: entry.index, type: entry.type }),
    });
    assert.deepEqual(seen.map((entry) => entry.index), range(persisted + 1, lastIndex));
    assert.ok(seen.some((entry) => entry.type === CommandType.SetMember));
    assert.deepEqual(cluster.node(leader).machine.members(), []);
    await cluster.waitForLeader();
    await cluster.until(() => cluster.node(leader).machine.members().length === 1);
  } finally {
    await cluster.stopAll();
  }
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
