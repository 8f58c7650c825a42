import assert from "node:assert/strict";
import type { ClusterInfo } from "../protocol.ts";
import { clusterStatus } from "./format.ts";

const member: ClusterInfo = {
  nodeId: "n1",
  role: "follower",
  term: 3,
  leaderId: "n2",
  commitIndex: 40,
  appliedIndex: 40,
  canVote: true,
  removed: null,
  nodes: [{ id: "n1", url: "http://127.0.0.1:9876", role: "follower", matchIndex: 40, lag: 0 }],
};

Deno.test("cmqd cluster's summary says when the node was removed, and by whom", () => {
  // The summary showed a removed node as an ordinary follower with no leader: an operator had to
  // ask /readyz or read --json to learn why it serves nothing.
  const told = clusterStatus({
    ...member,
    leaderId: null,
    canVote: false,
    removed: { index: 52, by: "n2" },
  });
  assert.match(told.split("\n")[0], /, removed from the cluster at index 52 \(told by n2\)$/);
  const own = clusterStatus({
    ...member,
    leaderId: null,
    canVote: false,
    removed: { index: 52, by: null },
  });
  assert.match(own.split("\n")[0], /, removed from the cluster at index 52 \(by its own log\)$/);
});

Deno.test("cmqd cluster's summary says when a member may not vote, and says nothing more for a voter", () => {
  const distrusted = clusterStatus({ ...member, canVote: false });
  assert.match(distrusted.split("\n")[0], /, may not vote or campaign$/);
  const voter = clusterStatus(member);
  assert.equal(
    voter.split("\n")[0],
    "node n1 (follower), leader n2, term 3, commit 40, applied 40",
  );
  // A node older than these fields (absent) reads as before.
  const { canVote: _canVote, removed: _removed, ...older } = member;
  assert.equal(clusterStatus(older as ClusterInfo).split("\n")[0], voter.split("\n")[0]);
});
