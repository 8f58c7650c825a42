import assert from "node:assert/strict";
import { MemoryLogStorage } from "./log_storage.ts";
import { RaftNode } from "./node.ts";
import { createPrng } from "./prng.ts";
import { testMessage } from "./testing/mod.ts";
import { type Entry, type LogIndex, MessageType, type NodeId, nodeId, type Term } from "./types.ts";

const [n1, n2, n3] = [nodeId("n1"), nodeId("n2"), nodeId("n3")];
const config = { voters: [n1, n2, n3], learners: [] };

function follower(id: NodeId = n2): { node: RaftNode; storage: MemoryLogStorage } {
  const storage = new MemoryLogStorage({ config });
  return { node: new RaftNode({ id, storage, prng: createPrng(1) }), storage };
}

const message = testMessage;

function entry(index: number, term: number, text = ""): Entry {
  return {
    index: index as LogIndex,
    term: term as Term,
    type: 16,
    data: new TextEncoder().encode(text),
  };
}

Deno.test("a vote is granted in the same Ready that persists it", () => {
  const { node } = follower();
  node.step(message({ type: MessageType.Vote, from: n1, to: n2, term: 1 as Term }));
  const ready = node.ready();
  assert.deepEqual(ready.hardState, { term: 1, vote: "n1", commit: 0 });
  assert.equal(ready.messages.length, 1);
  assert.equal(ready.messages[0].type, MessageType.VoteResp);
  assert.equal(ready.messages[0].reject, false);
});

Deno.test("hasReady is false while a Ready is out, and a second ready() is refused", () => {
  const { node } = follower();
  node.step(message({ type: MessageType.Heartbeat, from: n1, to: n2 }));
  assert.ok(node.hasReady());
  const ready = node.ready();
  assert.equal(node.hasReady(), false);
  assert.throws(() => node.ready());
  node.advance(ready);
  assert.equal(node.hasReady(), false);
});

Deno.test("entries appended while a Ready is out go into the next one", () => {
  const { node, storage } = follower();
  node.step(message({ type: MessageType.App, from: n1, to: n2, entries: [entry(1, 1, "a")] }));
  const first = node.ready();
  node.step(
    message({
      type: MessageType.App,
      from: n1,
      to: n2,
      index: 1 as LogIndex,
      logTerm: 1 as Term,
      entries: [entry(2, 1, "b")],
      commit: 2 as LogIndex,
    }),
  );
  storage.saveReady(first);
  node.advance(first);
  const second = node.ready();
  assert.deepEqual(second.entries.map((e) => e.index), [2]);
  assert.deepEqual(second.committedEntries.map((e) => e.index), [1, 2], "commit covers both");
  assert.equal(second.messages.at(-1)!.index, 2, "acked only in the Ready that persists it");
});

Deno.test("entries replaced while their Ready was out are written again, with a truncation", () => {
  const { node, storage } = follower();
  node.step(
    message({
      type: MessageType.App,
      from: n1,
      to: n2,
      entries: [entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")],
    }),
  );
  const first = node.ready();
  // A new leader of term 2 overwrites index 2 onwards before the first write finished.
  node.step(
    message({
      type: MessageType.App,
      from: n3,
      to: n2,
      term: 2 as Term,
      index: 1 as LogIndex,
      logTerm: 1 as Term,
      entries: [entry(2, 2, "B")],
    }),
  );
  storage.saveReady(first);
  node.advance(first);
  const second = node.ready();
  assert.equal(second.truncateFrom, 1, "everything from the first unconfirmed entry again");
  assert.deepEqual(second.entries.map((e) => `${e.index}/${e.term}`), ["1/1", "2/2"]);
  storage.saveReady(second);
  node.advance(second);
  assert.equal(storage.lastIndex(), 2);
  assert.equal(storage.term(2 as LogIndex), 2);
});

Deno.test("a rejected append hints the last index whose term could match", () => {
  const { node, storage } = follower();
  node.step(
    message({
      type: MessageType.App,
      from: n1,
      to: n2,
      entries: [entry(1, 1), entry(2, 1), entry(3, 1)],
    }),
  );
  const ready = node.ready();
  storage.saveReady(ready);
  node.advance(ready);
  node.step(
    message({
      type: MessageType.App,
      from: n1,
      to: n2,
      term: 3 as Term,
      index: 7 as LogIndex,
      logTerm: 3 as Term,
    }),
  );
  const response = node.ready().messages.at(-1)!;
  assert.equal(response.reject, true);
  assert.equal(response.index, 7);
  assert.equal(response.rejectHint, 3, "its last index");
  assert.equal(response.logTerm, 1);
});

Deno.test("soft state reports role and leader changes", () => {
  const { node } = follower();
  node.step(message({ type: MessageType.Heartbeat, from: n1, to: n2 }));
  const ready = node.ready();
  assert.deepEqual(ready.softState, { leaderId: "n1", role: "follower" });
});

Deno.test("a restarted node resumes from its persisted hard state and log", () => {
  const { node, storage } = follower();
  node.step(
    message({
      type: MessageType.App,
      from: n1,
      to: n2,
      term: 4 as Term,
      entries: [entry(1, 4), entry(2, 4)],
      commit: 1 as LogIndex,
    }),
  );
  const ready = node.ready();
  storage.saveReady(ready);
  node.advance(ready);
  const restarted = new RaftNode({
    id: n2,
    storage,
    prng: createPrng(2),
    appliedIndex: 0 as LogIndex,
  });
  const status = restarted.status();
  assert.equal(status.term, 4);
  assert.equal(status.commit, 1);
  assert.equal(status.lastIndex, 2);
  assert.deepEqual(restarted.ready().committedEntries.map((e) => e.index), [1]);
});

Deno.test("a candidate's vote requests come in the Ready that persists its term and own vote", () => {
  const storage = new MemoryLogStorage({ config });
  const node = new RaftNode({ id: n1, storage, prng: createPrng(1), preVote: false });
  node.campaign();
  const ready = node.ready();
  assert.deepEqual(ready.hardState, { term: 1, vote: "n1", commit: 0 });
  assert.deepEqual(ready.messages.map((m) => [m.type, m.to, m.term]), [
    [MessageType.Vote, n2, 1],
    [MessageType.Vote, n3, 1],
  ]);
  assert.equal(ready.sendFirst, undefined, "sent only once the vote is durable");
  storage.saveReady(ready);
  node.advance(ready);
  // Elected: the first leader Ready (its no-op) still goes out after its write...
  node.step(message({ type: MessageType.VoteResp, from: n2, to: n1 }));
  const elected = node.ready();
  assert.equal(elected.softState?.role, "leader");
  assert.equal(elected.sendFirst, undefined);
  storage.saveReady(elected);
  node.advance(elected);
  // ...and from then on, in the same term, appends may leave before the write.
  node.propose(new TextEncoder().encode("x"));
  assert.equal(node.ready().sendFirst, true);
});
