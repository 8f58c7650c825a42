/**
 * Known-tricky Raft scenarios (the dissertation's and etcd-raft's) that the other test files do
 * not already pin down, each checked against the core through the simulated cluster.
 */

import assert from "node:assert/strict";
import { InvalidRequestError } from "./errors.ts";
import { MemoryLogStorage } from "./log_storage.ts";
import { RaftNode } from "./node.ts";
import { createPrng } from "./prng.ts";
import { Progress } from "./progress.ts";
import { SimCluster, testMessage } from "./testing/mod.ts";
import { type LogIndex, MessageType, nextIndex, nodeId, type Term } from "./types.ts";

const message = testMessage;

function settle(cluster: SimCluster, ticks: number): void {
  for (let tick = 0; tick < ticks; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

Deno.test("a deposed leader that a minority still follows never answers a read", () => {
  const ids = ["n1", "n2", "n3", "n4", "n5"];
  // No check-quorum: the old leader keeps believing it leads (the worst case for reads).
  const cluster = new SimCluster({ ids, seed: 21, node: { checkQuorum: false } });
  const id = (name: string) => cluster.node(name).id;
  cluster.electLeader("n1");
  cluster.propose("n1", "before");
  cluster.stabilize();
  cluster.network.partition([[id("n1"), id("n2")], [id("n3"), id("n4"), id("n5")]]);
  cluster.electLeader("n3");
  cluster.propose("n3", "after");
  cluster.stabilize();
  assert.equal(cluster.raft("n1").status().role, "leader", "n1 does not know it was deposed");
  cluster.readIndex("n1", "stale?");
  settle(cluster, 30);
  assert.deepEqual(cluster.node("n1").readStates, [], "n2 alone confirms nothing");
  cluster.network.heal();
  settle(cluster, 5);
  assert.equal(cluster.raft("n1").status().role, "follower");
  assert.deepEqual(cluster.node("n1").readStates, [], "the read died with the leadership");
  cluster.checkSafety();
});

Deno.test("a read forwarded to a leader that was replaced meanwhile is never answered", () => {
  const cluster = new SimCluster({ seed: 22, node: { checkQuorum: false } });
  const [n1, n2, n3] = cluster.ids;
  cluster.electLeader("n1");
  cluster.network.hold(n1); // n3's request sits in n1's mailbox
  cluster.readIndex("n3", "forwarded");
  cluster.processReadies();
  cluster.network.isolate(n1, cluster.ids);
  cluster.network.release(n1);
  cluster.electLeader("n2");
  cluster.propose("n2", "newer");
  cluster.stabilize();
  // n1 now takes the request in its old term, at its old commit index, and asks for acks.
  cluster.network.heal();
  cluster.network.hold(n2);
  cluster.network.hold(n3);
  cluster.raft("n1").step(message({
    type: MessageType.ReadIndex,
    from: n3,
    to: n1,
    term: 1 as Term,
    context: "forwarded",
  }));
  cluster.processReadies();
  cluster.network.release(n2);
  cluster.network.release(n3);
  settle(cluster, 5);
  assert.equal(cluster.raft("n1").status().role, "follower", "the answers deposed n1");
  assert.deepEqual(cluster.node("n3").readStates, [], "no answer from the old leader");
  // Asked again, the new leader answers at an index that covers the newer write.
  cluster.readIndex("n3", "again");
  settle(cluster, 2);
  const commit = cluster.raft("n2").status().commit;
  assert.deepEqual(cluster.node("n3").readStates, [{ requestId: "again", index: commit }]);
  cluster.checkSafety();
});

Deno.test("an append answer from an older term moves neither match nor commit", () => {
  const cluster = new SimCluster({ seed: 23, node: { checkQuorum: false } });
  const [n1, , n3] = cluster.ids;
  cluster.electLeader("n1");
  cluster.electLeader("n2");
  cluster.electLeader("n1");
  const term = cluster.raft("n1").status().term;
  assert.equal(term, 3);
  cluster.network.hold(n3);
  cluster.crash("n2");
  cluster.propose("n1", "needs n3");
  cluster.processReadies();
  const before = cluster.raft("n1").status();
  assert.ok(before.progress["n3"].match < before.lastIndex);
  // n3 acknowledged the whole log to the leader of term 2: no vouching for term 3's entries.
  cluster.raft("n1").step(message({
    type: MessageType.AppResp,
    from: n3,
    to: n1,
    term: 2 as Term,
    index: before.lastIndex,
  }));
  cluster.processReadies();
  const after = cluster.raft("n1").status();
  assert.equal(after.progress["n3"].match, before.progress["n3"].match);
  assert.equal(after.commit, before.commit, "nothing commits on a stale answer");
  assert.equal(after.term, term);
});

Deno.test("a rejection's hint never moves a probe forward, and one below the snapshot sends it", () => {
  const limits = { messagesMax: 4, bytesMax: 1024 };
  const progress = new Progress(11 as LogIndex, limits);
  // A hint past the rejected index (no correct follower sends one) steps back by one only.
  assert.ok(progress.maybeDecrTo(10 as LogIndex, 50 as LogIndex));
  assert.equal(progress.next, 10);
  // A hint below the leader's first index: the next append finds no term there (a snapshot).
  const cluster = new SimCluster({ seed: 24, node: { snapshotChunkBytes: 256 } });
  cluster.electLeader("n1");
  cluster.network.hold(cluster.node("n3").id);
  for (let count = 0; count < 20; count++) cluster.propose("n1", `entry ${count}`);
  cluster.stabilize();
  cluster.compact("n1");
  cluster.network.clear();
  cluster.network.release(cluster.node("n3").id);
  cluster.network.clearLog();
  settle(cluster, 6);
  const rejection = cluster.sentOfType(MessageType.AppResp).find((m) => m.reject);
  assert.ok(rejection !== undefined, "n3 rejected the probe past its log");
  assert.ok(rejection.rejectHint < cluster.node("n1").storage.firstIndex(), "hint below it");
  assert.ok(cluster.sentOfType(MessageType.Snap).length > 0, "the leader sent its snapshot");
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  cluster.checkSafety();
});

Deno.test("a snapshot older than the follower's commit is answered with its commit, not installed", () => {
  const [n1, n2] = [nodeId("n1"), nodeId("n2")];
  const storage = new MemoryLogStorage({ config: { voters: [n1, n2], learners: [] } });
  const node = new RaftNode({ id: n2, storage, prng: createPrng(1) });
  const entries = [1, 2, 3, 4, 5].map((index) => ({
    index: index as LogIndex,
    term: 1 as Term,
    type: 16,
    data: new Uint8Array([index]),
  }));
  node.step(message({ type: MessageType.App, from: n1, to: n2, entries, commit: 5 as LogIndex }));
  node.advance(node.ready());
  assert.equal(node.status().commit, 5);
  node.step(message({
    type: MessageType.Snap,
    from: n1,
    to: n2,
    snapshot: {
      index: 3 as LogIndex,
      term: 1 as Term,
      config: { voters: [n1, n2], learners: [] },
      offset: 0,
      totalBytes: 2,
      data: new Uint8Array([1, 2]),
    },
  }));
  const ready = node.ready();
  assert.equal(ready.snapshot, undefined);
  assert.deepEqual(
    ready.messages.map((m) => [m.type, m.index, m.reject]),
    [[MessageType.AppResp, 5, false]],
  );
  node.advance(ready);
  assert.equal(node.status().lastIndex, 5, "the log is kept whole");
});

Deno.test("a snapshot sent while appends are still in flight leaves the follower consistent", () => {
  for (const seed of [25, 26, 27, 28]) {
    const cluster = new SimCluster({ seed, node: { snapshotChunkBytes: 128 } });
    const n3 = cluster.node("n3").id;
    cluster.electLeader("n1");
    cluster.network.hold(n3);
    for (let count = 0; count < 6; count++) cluster.propose("n1", `lost ${count}`);
    cluster.stabilize();
    cluster.network.clear(); // n3 never gets these...
    for (let count = 0; count < 6; count++) cluster.propose("n1", `entry ${count}`);
    cluster.stabilize(); // ...and these are in flight to it, past a gap
    cluster.compact("n1"); // ...past what n3 holds
    cluster.raft("n1").reportUnreachable(n3); // the leader falls back to probing: a snapshot
    cluster.network.faults = { dropRate: 0, duplicateRate: 0.2, reorder: true };
    cluster.network.release(n3);
    cluster.network.clearLog();
    settle(cluster, 8);
    assert.ok(cluster.sentOfType(MessageType.Snap).length > 0, `seed ${seed}: a snapshot went`);
    cluster.network.faults = { dropRate: 0, duplicateRate: 0, reorder: false };
    cluster.propose("n1", "after");
    settle(cluster, 8);
    assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state, `seed ${seed}`);
    assert.equal(cluster.raft("n1").status().progress["n3"].state, "replicate");
    cluster.checkSafety();
  }
});

Deno.test("votes from nodes that are not voters do not count", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2", "n3"],
    config: { voters: ["n1", "n2"], learners: ["n3"] },
    seed: 29,
  });
  const [n1, , n3] = cluster.ids;
  cluster.crash("n2");
  cluster.raft("n1").campaign();
  cluster.processReadies();
  assert.equal(cluster.raft("n1").status().role, "preCandidate");
  const term = cluster.raft("n1").status().term;
  // The learner (and a stranger) grant the pre-vote and then the vote: neither counts.
  for (const from of [n3, nodeId("n9")]) {
    cluster.raft("n1").step(message({
      type: MessageType.PreVoteResp,
      from,
      to: n1,
      term: (term + 1) as Term,
    }));
  }
  assert.equal(cluster.raft("n1").status().role, "preCandidate");
  assert.equal(cluster.raft("n1").status().term, term);
});

Deno.test("a learner promoted before it caught up holds commits back, and loses nothing", () => {
  const cluster = new SimCluster({
    ids: ["n1", "n2"],
    config: { voters: ["n1"], learners: ["n2"] },
    seed: 30,
  });
  const n2 = cluster.node("n2").id;
  cluster.electLeader("n1");
  cluster.network.hold(n2);
  for (let count = 0; count < 5; count++) cluster.propose("n1");
  cluster.stabilize();
  const committed = cluster.raft("n1").status().commit;
  assert.equal(committed, cluster.raft("n1").status().lastIndex, "the lone voter commits");
  const promote = cluster.raft("n1").proposeConfigChange({ type: "promote", nodeId: n2 });
  cluster.propose("n1", "after promote");
  settle(cluster, 3);
  assert.equal(cluster.raft("n1").status().commit, committed, "two voters: n2 must hold it");
  cluster.network.release(n2);
  settle(cluster, 3);
  const status = cluster.raft("n1").status();
  assert.ok(status.commit > promote.index);
  assert.deepEqual(status.config.voters, ["n1", "n2"]);
  assert.deepEqual(cluster.node("n2").state, cluster.node("n1").state);
  cluster.checkSafety();
});

Deno.test("leadership is never handed to a removed node, even before its removal commits", () => {
  const cluster = new SimCluster({ seed: 31 });
  const n3 = cluster.node("n3").id;
  cluster.electLeader("n1");
  const leader = cluster.raft("n1");
  leader.proposeConfigChange({ type: "remove", nodeId: n3 });
  // Appended, not yet committed: n3 is out of the configuration already.
  assert.throws(() => leader.transferLeadership(n3), InvalidRequestError);
  cluster.stabilize();
  assert.throws(() => leader.transferLeadership(n3), InvalidRequestError);
  assert.equal(leader.status().leadTransferee, null);
  cluster.propose("n1", "still accepted");
  cluster.stabilize();
  assert.equal(cluster.leader(), "n1");
});

Deno.test("a follower whose log is longer but of an older term is cut back to the leader's", () => {
  const cluster = new SimCluster({ seed: 32, node: { checkQuorum: false } });
  const [n1] = cluster.ids;
  cluster.electLeader("n1");
  cluster.network.isolate(n1, cluster.ids);
  for (let count = 0; count < 10; count++) cluster.propose("n1", `old ${count}`);
  cluster.stabilize();
  cluster.electLeader("n2");
  cluster.propose("n2", "new");
  cluster.stabilize();
  const n1Last = cluster.raft("n1").status().lastIndex;
  assert.ok(n1Last > cluster.raft("n2").status().lastIndex, "n1's log is the longer one");
  cluster.network.heal();
  settle(cluster, 3);
  assert.equal(cluster.raft("n1").status().leaderId, "n2");
  const last = cluster.raft("n2").status().lastIndex;
  assert.equal(cluster.raft("n1").status().lastIndex, last);
  const storage = cluster.node("n1").storage;
  assert.equal(storage.term(last), cluster.node("n2").storage.term(last));
  assert.equal(storage.term(nextIndex(last)), undefined);
  cluster.checkSafety();
});

Deno.test("fast back-off finds where random divergent logs meet in a few rejections", () => {
  const encoder = new TextEncoder();
  for (let seed = 1; seed <= 40; seed++) {
    const prng = createPrng(seed);
    const pick = (count: number) => Math.floor(prng.next() * count);
    // A shared committed prefix, then suffixes in disjoint terms (the follower's odd, the
    // leader's even, interleaved, all above the prefix), the leader's last term the higher.
    const prefixLength = 1 + pick(5);
    const suffix = (length: number, parity: number, label: string) => {
      let term = 10 + parity;
      return Array.from({ length }, (_, position) => {
        if (pick(3) === 0) term += 2;
        return { term, text: `${label}${position}` };
      });
    };
    const followerSuffix = suffix(pick(12), 1, "f");
    const leaderSuffix = suffix(1 + pick(12), 0, "l");
    const leaderLast = leaderSuffix.at(-1)!.term;
    const followerLast = followerSuffix.at(-1)?.term ?? 0;
    if (leaderLast < followerLast) leaderSuffix.push({ term: followerLast + 1, text: "top" });
    const prefix = Array.from({ length: prefixLength }, (_, position) => ({
      term: 1 + Math.floor(position / 2),
      text: `c${position}`,
    }));
    const cluster = new SimCluster({ seed, node: { checkQuorum: false } });
    const [, n2, n3] = cluster.ids;
    const logs: Record<string, { term: number; text: string }[]> = {
      n1: [...prefix, ...leaderSuffix],
      n2: [...prefix, ...followerSuffix],
      n3: [],
    };
    for (const name of cluster.ids) {
      cluster.crash(name);
      const storage = cluster.node(name).storage;
      const entries = logs[name].map((item, position) => ({
        index: (position + 1) as LogIndex,
        term: item.term as Term,
        type: 16,
        data: encoder.encode(item.text),
      }));
      if (entries.length > 0) storage.append(entries);
      const term = Math.max(0, ...logs[name].map((item) => item.term)) as Term;
      const commit = (name === "n3" ? 0 : prefixLength) as LogIndex;
      storage.setHardState({ term, vote: null, commit });
      cluster.restart(name);
    }
    cluster.network.hold(n2);
    cluster.electLeader("n1"); // with n3's vote
    cluster.network.release(n2);
    cluster.network.clearLog();
    settle(cluster, 3);
    const rejections = cluster.sentOfType(MessageType.AppResp)
      .filter((m) => m.from === n2 && m.reject).length;
    const terms = new Set([...followerSuffix, ...leaderSuffix].map((item) => item.term)).size;
    assert.ok(rejections <= terms + 1, `seed ${seed}: ${rejections} rejections, ${terms} terms`);
    const leaderLog = cluster.node("n1").storage;
    const followerLog = cluster.node("n2").storage;
    assert.equal(followerLog.lastIndex(), leaderLog.lastIndex(), `seed ${seed}`);
    assert.deepEqual(
      followerLog.entries(1 as LogIndex, nextIndex(leaderLog.lastIndex()), Infinity),
      leaderLog.entries(1 as LogIndex, nextIndex(leaderLog.lastIndex()), Infinity),
      `seed ${seed}: n2 holds the leader's log`,
    );
    assert.equal(cluster.node(n3).state.length, cluster.node("n1").state.length);
    cluster.checkSafety();
  }
});

Deno.test("a follower whose whole window of appends was lost is caught up, not stalled", () => {
  const cluster = new SimCluster({
    seed: 33,
    node: { inflightMessagesMax: 2, entriesPerMessageBytesMax: 1 },
  });
  const n3 = cluster.node("n3").id;
  cluster.electLeader("n1");
  assert.equal(cluster.raft("n1").status().progress["n3"].state, "replicate");
  cluster.network.hold(n3);
  for (let count = 0; count < 5; count++) cluster.propose("n1");
  cluster.stabilize();
  const window = cluster.raft("n1").status().progress["n3"];
  assert.equal(window.inflight, 2, "the window is full");
  cluster.network.clear(); // ...and every append in it is lost
  cluster.network.release(n3);
  settle(cluster, 4);
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  assert.equal(
    cluster.raft("n1").status().progress["n3"].match,
    cluster.raft("n1").status().lastIndex,
  );
  cluster.checkSafety();
});
