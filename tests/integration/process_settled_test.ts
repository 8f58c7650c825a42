/**
 * `settled` (process.ts) takes a cluster for settled only when no node can still find out that
 * it is a fresh node that missed the first leader's entries (and then stop voting).
 */
import assert from "node:assert/strict";
import { settledLeader } from "./process.ts";

Deno.test("settledLeader: every node names one leader, has heard of a commit and may vote", () => {
  const node = (leaderId: string | null, commitIndex: number, canVote?: boolean) => ({
    leaderId,
    commitIndex,
    ...(canVote === undefined ? {} : { canVote }),
  });
  assert.equal(settledLeader([node("n1", 3, true), node("n1", 3, true), node("n1", 2)]), "n1");
  assert.equal(
    settledLeader([node("n1", 3, true), node("n2", 3, true), node("n1", 3, true)]),
    undefined,
  );
  assert.equal(settledLeader([node(null, 0, true), node(null, 0, true)]), undefined);
  assert.equal(settledLeader([node("n1", 3, true), node("n1", 3, false)]), undefined);
  // A node started after the first leader committed: the leader's first heartbeat (commit 0,
  // nothing matched yet) names the leader while the node still says it may vote; the next
  // append shows it the log and it may not vote until a leader of a newer term repaired it.
  assert.equal(
    settledLeader([node("n1", 1, true), node("n1", 1, true), node("n1", 0, true)]),
    undefined,
  );
});
