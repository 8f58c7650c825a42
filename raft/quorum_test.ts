import assert from "node:assert/strict";
import { committedIndex, hasQuorum, majority, voteResult } from "./quorum.ts";
import { logIndex, nodeId } from "./types.ts";

const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(nodeId);

Deno.test("a majority is more than half of the voters", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
});

Deno.test("the committed index is the highest one a majority has reached", () => {
  const matches = new Map([[a, 5], [b, 3], [c, 9], [d, 1], [e, 4]]);
  assert.equal(committedIndex([a, b, c, d, e], (id) => logIndex(matches.get(id)!)), 4);
  assert.equal(committedIndex([a, b], (id) => logIndex(matches.get(id)!)), 3);
  assert.equal(committedIndex([], () => logIndex(7)), 0);
});

Deno.test("an election is won, lost or pending by counting only voters", () => {
  const votes = new Map([[a, true], [b, true], [e, true]]);
  assert.equal(voteResult([a, b, c], votes), "won");
  assert.equal(voteResult([a, b, c, d], votes), "pending", "e is not a voter");
  const rejected = new Map([[a, true], [b, false], [c, false]]);
  assert.equal(voteResult([a, b, c], rejected), "lost");
});

Deno.test("a quorum needs a majority of voters to satisfy the predicate", () => {
  assert.equal(hasQuorum([a, b, c], (id) => id !== c), true);
  assert.equal(hasQuorum([a, b, c, d], (id) => id === a || id === b), false);
  assert.equal(hasQuorum([], () => true), false);
});
