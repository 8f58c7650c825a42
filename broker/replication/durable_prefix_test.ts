/**
 * A Ready's committed entries that are durable here are applied before its own write is
 * (`durable_prefix.ts`). A follower whose log's tail another leader overwrites holds, at the
 * first overwritten index, a durable entry of an earlier term; the committed entry of that index
 * is in the Ready's write. It must wait for that write's flush like the rest of it.
 */
import assert from "node:assert/strict";
import { settled, TestCluster } from "../cluster/testing/mod.ts";

Deno.test("a follower applies a committed entry that overwrites its log's tail only once it is durable", async () => {
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  const cluster = await TestCluster.start({ ids });
  const leader = await cluster.waitForLeader();
  const [follower, ...others] = ids.filter((id) => id !== leader);
  // The follower starts again, watching each entry it applies against its own log.
  await cluster.stop(follower);
  const early: string[] = [];
  await cluster.boot(follower, {
    onApplied: (entry) => {
      const log = cluster.node(follower).log!;
      const term = entry.index <= log.lastIndex ? log.term(entry.index) : undefined;
      if (entry.index > log.durableIndex || term !== entry.term) {
        early.push(
          `${entry.index} (term ${entry.term}; log: term ${term}, durable to ` +
            `${log.durableIndex})`,
        );
      }
    },
  });
  await settled(cluster, cluster.broker(leader).createQueue("jobs", {}));
  const commit = cluster.replica(leader).status().commit;
  await cluster.until(() => cluster.replica(follower).appliedIndex >= commit);

  // The leader's next entry reaches the follower alone, whose acknowledgement is lost: it is
  // durable there and never committed.
  for (const other of others) cluster.cut(leader, other);
  cluster.cut(follower, leader);
  const index = cluster.node(follower).log!.lastIndex + 1;
  cluster.broker(leader).sendMessages("jobs", [{ body: "never committed" }]).catch(() => {});
  await cluster.until(() => cluster.node(follower).log!.durableIndex >= index);
  const staleTerm = cluster.node(follower).log!.term(index);

  // The three others elect a leader of a later term, which commits its own entry at that index,
  // then reaches the follower: one append overwrites its tail and commits that entry.
  cluster.isolate(leader);
  cluster.isolate(follower);
  await cluster.until(() =>
    others.some((id) =>
      cluster.replica(id).isLeader && cluster.replica(id).status().commit >= index
    )
  );
  cluster.heal();
  cluster.isolate(leader);
  await cluster.until(() => cluster.replica(follower).appliedIndex >= index);
  assert.notEqual(cluster.node(follower).log!.term(index), staleTerm, "the tail was overwritten");
  assert.deepEqual(early, [], "entries applied before they were durable in the follower's log");
  await cluster.stopAll();
});
