import assert from "node:assert/strict";
import { NotLeaderError, ProposalDroppedError } from "./errors.ts";
import { SimCluster } from "./testing/mod.ts";
import {
  EntryType,
  type LogIndex,
  type Message,
  MessageType,
  nextIndex,
  type NodeId,
  type Ready,
  type Term,
} from "./types.ts";

const encoder = new TextEncoder();

function appsTo(cluster: SimCluster, id: string): Message[] {
  return cluster.network.pending(id as NodeId).filter((m) => m.type === MessageType.App);
}

Deno.test("a new leader appends a no-op entry of its term first", () => {
  const cluster = new SimCluster({ seed: 1 });
  cluster.electLeader("n2");
  const node = cluster.node("n2");
  const last = node.storage.entries(1 as LogIndex, nextIndex(node.storage.lastIndex()), Infinity)
    .at(-1)!;
  assert.equal(last.type, EntryType.Noop);
  assert.equal(last.term, cluster.raft("n2").status().term);
  assert.equal(cluster.raft("n2").status().commit, last.index, "the no-op commits");
});

Deno.test("proposals replicate to every node and apply in the same order", () => {
  const cluster = new SimCluster({ ids: ["a", "b", "c", "d", "e"], seed: 2 });
  const leader = cluster.electLeader("c");
  for (let round = 0; round < 20; round++) {
    cluster.propose(leader);
    if (round % 3 === 0) cluster.stabilize();
  }
  cluster.stabilize();
  cluster.tickAll(); // a heartbeat carries the final commit index to everyone
  cluster.stabilize();
  const states = cluster.ids.map((id) => cluster.node(id).state);
  for (const state of states) assert.deepEqual(state, states[0]);
  assert.equal(states[0].length, 21);
  cluster.checkSafety();
});

Deno.test("a follower refuses proposals and names the leader", () => {
  const cluster = new SimCluster({ seed: 3 });
  cluster.electLeader("n1");
  assert.throws(
    () => cluster.raft("n2").propose(encoder.encode("x")),
    (error) => error instanceof NotLeaderError && error.leaderId === "n1",
  );
});

Deno.test("proposals made between two Readies leave in one append per follower", () => {
  const cluster = new SimCluster({ seed: 4 });
  const leader = cluster.electLeader("n1");
  cluster.network.clearLog();
  const raft = cluster.raft(leader);
  for (let count = 0; count < 10; count++) raft.propose(encoder.encode(`single ${count}`));
  const batch = raft.proposeBatch(
    Array.from({ length: 50 }, (_, count) => ({ data: encoder.encode(`batch ${count}`) })),
  );
  assert.equal(batch.lastIndex - batch.firstIndex, 49);
  cluster.processReadies();
  const apps = cluster.sentOfType(MessageType.App);
  assert.equal(apps.length, 2, "one append per follower");
  for (const app of apps) assert.equal(app.entries.length, 60);
  cluster.stabilize();
  assert.equal(cluster.raft("n3").status().lastIndex, 61);
});

Deno.test("appends are pipelined up to inflightMessagesMax per follower", () => {
  const cluster = new SimCluster({ seed: 5, node: { inflightMessagesMax: 4 } });
  const leader = cluster.electLeader("n1");
  cluster.network.hold(cluster.node("n2").id);
  for (let count = 0; count < 10; count++) {
    cluster.propose(leader);
    cluster.processReadies();
    assert.ok(appsTo(cluster, "n2").length <= 4, "never more than four appends in flight");
  }
  assert.equal(appsTo(cluster, "n2").length, 4, "the window was used fully");
  assert.equal(cluster.raft(leader).status().progress["n2"].inflight, 4);
  cluster.network.release(cluster.node("n2").id);
  cluster.stabilize();
  assert.equal(cluster.raft("n2").status().lastIndex, 11, "the rest follows once acked");
});

Deno.test("in-flight bytes to a follower stay within inflightBytesMax plus one message", () => {
  const limit = 3000;
  const cluster = new SimCluster({ seed: 6, node: { inflightBytesMax: limit } });
  const leader = cluster.electLeader("n1");
  cluster.network.hold(cluster.node("n2").id);
  for (let count = 0; count < 10; count++) {
    cluster.raft(leader).propose(new Uint8Array(1000));
    cluster.processReadies();
    const bytes = appsTo(cluster, "n2")
      .flatMap((m) => m.entries)
      .reduce((sum, entry) => sum + entry.data.byteLength + 32, 0);
    assert.ok(bytes <= limit + 1032, `${bytes} bytes in flight`);
  }
  assert.equal(appsTo(cluster, "n2").length, 3);
});

Deno.test("a follower in probe state gets one append at a time", () => {
  const cluster = new SimCluster({ seed: 7 });
  const leader = cluster.electLeader("n1");
  cluster.network.hold(cluster.node("n2").id);
  cluster.raft(leader).reportUnreachable(cluster.node("n2").id);
  assert.equal(cluster.raft(leader).status().progress["n2"].state, "probe");
  for (let count = 0; count < 5; count++) {
    cluster.propose(leader);
    cluster.processReadies();
  }
  assert.equal(appsTo(cluster, "n2").length, 1);
  cluster.network.release(cluster.node("n2").id);
  cluster.stabilize();
  assert.equal(cluster.raft(leader).status().progress["n2"].state, "replicate");
  assert.equal(cluster.raft("n2").status().lastIndex, 6);
});

Deno.test("a leader refuses proposals beyond uncommittedBytesMax until they commit", () => {
  const cluster = new SimCluster({ seed: 8, node: { uncommittedBytesMax: 2500 } });
  const leader = cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  const raft = cluster.raft(leader);
  raft.propose(new Uint8Array(1000));
  raft.propose(new Uint8Array(1000));
  assert.throws(
    () => raft.propose(new Uint8Array(1000)),
    (error) => error instanceof ProposalDroppedError && error.reason === "uncommitted-bytes-limit",
  );
  cluster.network.heal();
  cluster.stabilize();
  raft.propose(new Uint8Array(1000));
});

Deno.test("a divergent follower's log is truncated and replaced with few round trips", () => {
  const cluster = new SimCluster({ seed: 9, node: { checkQuorum: false } });
  cluster.electLeader("n1");
  cluster.network.isolate(cluster.node("n1").id, cluster.ids);
  for (let count = 0; count < 30; count++) cluster.propose("n1", `stale ${count}`);
  cluster.stabilize();
  cluster.electLeader("n2");
  for (let count = 0; count < 5; count++) cluster.propose("n2", `fresh ${count}`);
  cluster.stabilize();
  let truncatedAt: number | undefined;
  cluster.onReady = (id: NodeId, ready: Ready) => {
    if (id === "n1" && ready.truncateFrom !== undefined) truncatedAt = ready.truncateFrom;
  };
  cluster.network.heal();
  cluster.network.clearLog();
  cluster.tickAll();
  cluster.stabilize();
  cluster.tickAll();
  cluster.stabilize();
  assert.equal(truncatedAt, 2, "n1 dropped its stale suffix after the common prefix");
  const rejections = cluster.sentOfType(MessageType.AppResp).filter((m) => m.reject);
  assert.ok(rejections.length <= 2, `${rejections.length} rejections`);
  assert.deepEqual(cluster.node("n1").state, cluster.node("n2").state);
  cluster.checkSafety();
});

Deno.test("entries of an earlier term commit only with one of the current term (Figure 8)", () => {
  const ids = ["s1", "s2", "s3", "s4", "s5"];
  const cluster = new SimCluster({
    ids,
    seed: 10,
    node: { preVote: false, checkQuorum: false, entriesPerMessageBytesMax: 1 },
  });
  const id = (name: string) => cluster.node(name).id;
  // (a) s1 leads term 1 and gets entry 2 only onto s2.
  cluster.electLeader("s1");
  cluster.network.partition([[id("s1"), id("s2")], [id("s3"), id("s4"), id("s5")]]);
  cluster.propose("s1", "a");
  cluster.stabilize();
  assert.equal(cluster.raft("s2").status().lastIndex, 2);
  // (b) s1 crashes; s5 wins term 2 with s3 and s4, appends entry 2 and 3 locally, crashes.
  cluster.crash("s1");
  cluster.network.heal();
  cluster.raft("s5").campaign();
  cluster.deliverUntil(() => cluster.raft("s5").status().role === "leader");
  cluster.network.isolate(id("s5"), ids.map(id));
  cluster.propose("s5", "b");
  cluster.stabilize();
  cluster.crash("s5");
  cluster.network.heal();
  cluster.network.clear();
  // (c) s1 restarts and leads term 3; entry 2 (term 1) reaches s3, a majority with s1 and s2.
  cluster.restart("s1");
  cluster.network.hold(id("s4"));
  while (cluster.raft("s1").status().role !== "leader") {
    cluster.raft("s1").campaign();
    cluster.deliverUntil(() => cluster.raft("s1").status().role === "leader", 100);
  }
  assert.equal(cluster.raft("s1").status().term, 3);
  assert.ok(cluster.deliverUntil(() => cluster.raft("s1").status().progress["s3"]?.match === 2));
  assert.equal(cluster.raft("s1").status().commit, 1, "entry 2 of term 1 is not committed");
  // (d) s1 crashes before entry 3 spreads; s5 wins term 4 and overwrites entry 2 everywhere.
  cluster.crash("s1");
  cluster.network.heal();
  cluster.network.clear();
  cluster.restart("s5");
  while (cluster.raft("s5").status().role !== "leader") {
    cluster.raft("s5").campaign();
    cluster.deliverUntil(() => cluster.raft("s5").status().role === "leader", 200);
  }
  cluster.stabilize();
  cluster.restart("s1");
  cluster.tickAll();
  cluster.stabilize();
  for (const name of ids) {
    assert.equal(cluster.node(name).storage.term(2 as LogIndex), 2, `${name} holds s5's entry 2`);
  }
  cluster.checkSafety();
});

Deno.test("a follower that lost acknowledged entries is re-sent them instead of re-probed forever", () => {
  const cluster = new SimCluster({ seed: 11, node: { checkQuorum: false } });
  const leader = cluster.electLeader("n1");
  for (let count = 0; count < 8; count++) cluster.propose(leader);
  cluster.stabilize();
  assert.equal(cluster.raft(leader).status().progress["n3"].match, 9);
  // n3's disk loses entries 5..9, which it had acknowledged; the leader still believes match 9.
  cluster.crash("n3");
  const storage = cluster.node("n3").storage;
  storage.append(storage.entries(4 as LogIndex, 5 as LogIndex, Infinity));
  storage.setHardState({ ...storage.initialState().hardState, commit: 4 as LogIndex });
  cluster.restart("n3");
  cluster.network.clearLog();
  cluster.propose(leader); // n3 rejects it, and then the probe at its old match
  cluster.stabilize(2_000);
  const rejections = cluster.sentOfType(MessageType.AppResp).filter((m) => m.reject);
  assert.ok(rejections.length <= 3, `${rejections.length} rejections`);
  assert.equal(cluster.raft("n3").status().lastIndex, 10, "n3 holds every entry again");
  assert.equal(cluster.raft(leader).status().progress["n3"].match, 10);
  cluster.checkLogMatching();
});

Deno.test("an append whose time stamps go back along the log is dropped, not stored", () => {
  const cluster = new SimCluster({ seed: 41 });
  const leader = cluster.electLeader("n1");
  cluster.raft(leader).propose(new Uint8Array([1]), { timestamp: 1_000 });
  cluster.stabilize();
  const follower = cluster.raft("n2");
  const before = follower.status();
  const entry = (offset: number, timestamp: number) => ({
    term: before.term,
    index: (before.lastIndex + offset) as LogIndex,
    type: EntryType.ApplicationMin,
    data: new Uint8Array([offset]),
    timestamp,
  });
  const stamps: Record<string, ReturnType<typeof entry>[]> = {
    "before the last entry's": [entry(1, 999)],
    "within the append": [entry(1, 2_000), entry(2, 1_500)],
  };
  for (const entries of Object.values(stamps)) {
    // What a faulty (or forged) leader of the current term could send.
    follower.step({
      type: MessageType.App,
      from: cluster.node(leader).id,
      to: cluster.node("n2").id,
      term: before.term,
      logTerm: before.term,
      index: before.lastIndex,
      entries,
      commit: before.commit,
      reject: false,
      rejectHint: 0,
      context: "",
    } as never);
    cluster.processReadies();
    assert.equal(follower.status().lastIndex, before.lastIndex, "nothing was appended");
  }
  cluster.raft(leader).propose(new Uint8Array([2]), { timestamp: 1_000 });
  cluster.stabilize();
  assert.equal(follower.status().lastIndex, before.lastIndex + 1, "a sound append still lands");
});

Deno.test("a proposal keeps its type, data and time, and a type outside 16..255 is refused", () => {
  const cluster = new SimCluster({ seed: 43 });
  const leader = cluster.electLeader("n1");
  const raft = cluster.raft(leader);
  for (const type of [EntryType.ApplicationMin - 1, EntryType.ApplicationMax + 1, 16.5]) {
    const before = raft.status().lastIndex;
    assert.throws(() => raft.propose(new Uint8Array([1]), { type }), /within 16\.\.255/);
    assert.throws(() => raft.proposeBatch([{ data: new Uint8Array([1]), type }]), /16\.\.255/);
    assert.equal(raft.status().lastIndex, before, "nothing appended");
  }
  const proposal = raft.propose(encoder.encode("x"), { type: 42, timestamp: 5_000 });
  assert.equal(proposal.term, raft.status().term);
  const plain = raft.propose(encoder.encode("y"));
  assert.equal(plain.index, proposal.index + 1);
  cluster.stabilize();
  const stored = cluster.node(leader).storage.entries(
    proposal.index,
    nextIndex(plain.index),
    Infinity,
  );
  assert.deepEqual(
    stored.map(({ type, data, timestamp }) => ({ type, data: [...data], timestamp })),
    [
      { type: 42, data: [...encoder.encode("x")], timestamp: 5_000 },
      // Raft leaves an entry without a time as it is (the replica's log writer stamps it).
      { type: EntryType.ApplicationMin, data: [...encoder.encode("y")], timestamp: undefined },
    ],
  );
});

Deno.test("an append whose entries don't follow its position in terms and indexes is dropped, not stored", () => {
  const cluster = new SimCluster({ seed: 43 });
  cluster.electLeader("n1");
  cluster.raft("n1").transferLeadership(cluster.node("n2").id);
  cluster.stabilize();
  const leader = cluster.leader()!;
  assert.equal(leader, "n2");
  cluster.propose(leader, "a");
  cluster.stabilize();
  const follower = cluster.raft("n3");
  const before = follower.status();
  assert.ok(before.term >= 2, "room for a term below the current one");
  const entry = (offset: number, term: number) => ({
    term: term as Term,
    index: (before.lastIndex + offset) as LogIndex,
    type: EntryType.ApplicationMin,
    data: new Uint8Array([offset]),
  });
  const now = before.term;
  const malformed: Record<string, ReturnType<typeof entry>[]> = {
    "a term going down within the append": [entry(1, now), entry(2, now - 1)],
    "a term below the preceding entry's": [entry(1, now - 1)],
    "a term above the message's": [entry(1, now + 1)],
    "an index gap": [entry(1, now), entry(3, now)],
    "a first index past the preceding entry's successor": [entry(2, now)],
  };
  for (const [name, entries] of Object.entries(malformed)) {
    cluster.network.clearLog();
    // What a faulty (or forged) leader of the current term could send over any transport.
    follower.step({
      type: MessageType.App,
      from: cluster.node(leader).id,
      to: cluster.node("n3").id,
      term: now,
      logTerm: now,
      index: before.lastIndex,
      entries,
      commit: before.commit,
      reject: false,
      rejectHint: 0,
      context: "",
    } as never);
    cluster.processReadies();
    assert.equal(follower.status().lastIndex, before.lastIndex, `${name}: nothing was appended`);
    assert.deepEqual(cluster.sentOfType(MessageType.AppResp), [], `${name}: not answered`);
  }
  cluster.propose(leader, "b");
  cluster.stabilize();
  assert.equal(follower.status().lastIndex, before.lastIndex + 1, "a sound append still lands");
  cluster.checkSafety();
});
