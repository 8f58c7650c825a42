import assert from "node:assert/strict";
import { Nodes } from "./nodes.ts";

const a = "http://a:1";
const b = "http://b:1";
const c = "http://c:1";

Deno.test("the leader hint wins unless it is suspect; suspicion ends after its time or an answer", () => {
  let now = 0;
  const nodes = new Nodes([a, b, c], () => now, 10_000);
  assert.equal(nodes.target(), a);
  nodes.leaderUrl = c;
  assert.equal(nodes.target(), c);
  nodes.suspect(c);
  assert.equal(nodes.target(), a, "a suspect leader is passed over for the listed nodes");
  assert.ok(nodes.hasOther(a));
  nodes.suspect(a);
  assert.equal(nodes.target(), b, "suspect listed nodes are skipped");
  assert.equal(nodes.nodeUrl, b);
  assert.ok(!nodes.hasOther(b), "a and c are suspect");
  nodes.answered(c);
  assert.equal(nodes.target(), c);
  now = 10_001;
  assert.ok(!nodes.isSuspect(a), "suspicion lasts its time only");
});

Deno.test("when every node is suspect the choice is made as if none were", () => {
  const nodes = new Nodes([a, b], () => 0);
  nodes.suspect(a);
  nodes.suspect(b);
  assert.equal(nodes.target(), a);
  nodes.leaderUrl = b;
  assert.equal(nodes.target(), b);
});

Deno.test("moveOn forgets a failed leader and steps past a failed listed node", () => {
  const nodes = new Nodes([a, b], () => 0);
  nodes.leaderUrl = a;
  assert.equal(nodes.moveOn(a), true);
  assert.equal(nodes.leaderUrl, undefined);
  assert.equal(nodes.target(), b, "the leader was also the listed node: both are left");
  assert.equal(nodes.moveOn(c), false, "a node that is neither changes nothing");
  const single = new Nodes([a], () => 0);
  assert.equal(single.moveOn(a), false);
  assert.ok(!single.hasOther(a));
});

Deno.test("strike: a node silent past a call's own shorter deadline is suspect only the second time in a row", () => {
  let now = 0;
  const nodes = new Nodes([a, b], () => now, 10_000);
  nodes.strike(a);
  assert.ok(!nodes.isSuspect(a), "once is no sign of a frozen node");
  nodes.answered(a);
  nodes.strike(a);
  assert.ok(!nodes.isSuspect(a), "an answer between clears the first strike");
  now = 10_001;
  nodes.strike(a);
  assert.ok(!nodes.isSuspect(a), "a strike counts for suspectMs only");
  nodes.strike(a);
  assert.ok(nodes.isSuspect(a));
  assert.equal(nodes.target(), b);
});
