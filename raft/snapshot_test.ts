import assert from "node:assert/strict";
import { SimCluster, testMessage } from "./testing/mod.ts";
import { type LogIndex, MessageType, nodeId } from "./types.ts";

function laggingCluster(seed: number, node = {}): SimCluster {
  const cluster = new SimCluster({ seed, node: { snapshotChunkBytes: 256, ...node } });
  cluster.electLeader("n1");
  cluster.crash("n3");
  for (let count = 0; count < 40; count++) {
    cluster.propose("n1", `entry ${count} ${"x".repeat(40)}`);
  }
  cluster.stabilize();
  cluster.compact("n1");
  assert.ok(cluster.node("n1").storage.firstIndex() > 40, "the leader compacted its log");
  cluster.restart("n3");
  return cluster;
}

function settle(cluster: SimCluster, ticks = 10): void {
  for (let tick = 0; tick < ticks; tick++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

Deno.test("a lagging follower is caught up with a chunked snapshot, then appends", () => {
  const cluster = laggingCluster(1);
  cluster.network.clearLog();
  settle(cluster);
  const chunks = cluster.sentOfType(MessageType.Snap);
  const totalBytes = chunks[0].snapshot!.totalBytes;
  assert.ok(chunks.length >= Math.ceil(totalBytes / 256), "sent in 256-byte chunks");
  assert.ok(chunks.every((message) => message.snapshot!.data.byteLength <= 256));
  assert.equal(cluster.node("n3").storage.firstIndex(), cluster.node("n1").storage.firstIndex());
  cluster.propose("n1", "after snapshot");
  settle(cluster, 2);
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  assert.equal(cluster.raft("n1").status().progress["n3"].state, "replicate");
  cluster.checkSafety();
});

Deno.test("lost snapshot chunks are resent from the last acknowledged offset", () => {
  const cluster = laggingCluster(2);
  const n3 = cluster.node("n3").id;
  const snapPending = () =>
    cluster.network.pending(n3).some((message) => message.type === MessageType.Snap);
  cluster.tickAll();
  assert.ok(cluster.deliverUntil(snapPending), "a snapshot transfer started");
  cluster.network.clear(); // the chunks in flight are lost
  cluster.network.clearLog();
  settle(cluster, 10);
  const offsets = cluster.sentOfType(MessageType.Snap).map((message) => message.snapshot!.offset);
  assert.equal(offsets[0], 0, "nothing was acknowledged, so the resend starts at offset 0");
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
});

Deno.test("snapshot chunks delivered out of order or twice still assemble correctly", () => {
  const cluster = laggingCluster(3, { snapshotChunksInflightMax: 8 });
  cluster.network.faults = { dropRate: 0, duplicateRate: 0.3, reorder: true };
  settle(cluster, 30);
  cluster.network.faults = { dropRate: 0, duplicateRate: 0, reorder: false };
  settle(cluster, 3);
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  cluster.checkSafety();
});

Deno.test("a follower whose log already holds the snapshot's last entry keeps its log", () => {
  const cluster = new SimCluster({ seed: 4 });
  cluster.electLeader("n1");
  for (let count = 0; count < 5; count++) cluster.propose("n1");
  cluster.stabilize();
  const follower = cluster.raft("n2");
  let installed = false;
  cluster.onReady = (id, ready) => {
    if (id === "n2" && ready.snapshot !== undefined) installed = true;
  };
  const term = cluster.raft("n1").status().term;
  follower.step(testMessage({
    type: MessageType.Snap,
    from: nodeId("n1"),
    to: nodeId("n2"),
    term,
    snapshot: {
      index: 6 as LogIndex,
      term,
      config: cluster.raft("n1").status().config,
      offset: 0,
      totalBytes: 3,
      data: new Uint8Array([1, 2, 3]),
    },
  }));
  cluster.stabilize();
  assert.equal(installed, false);
  assert.equal(follower.status().lastIndex, 6);
});

Deno.test("a node restarted from a snapshot resumes at its index with its membership", () => {
  const cluster = new SimCluster({ seed: 5 });
  cluster.electLeader("n1");
  for (let count = 0; count < 10; count++) cluster.propose("n1");
  cluster.stabilize();
  settle(cluster, 1);
  cluster.compact("n2");
  const before = [...cluster.node("n2").state];
  cluster.crash("n2");
  cluster.restart("n2");
  const status = cluster.raft("n2").status();
  assert.equal(status.applied, 11);
  assert.deepEqual(status.config.voters, ["n1", "n2", "n3"]);
  cluster.propose("n1", "later");
  settle(cluster, 2);
  assert.deepEqual(cluster.node("n2").state, [...before, cluster.node("n1").state.at(-1)]);
});

Deno.test("a leader reads a snapshot chunk by chunk, never past the window the follower acknowledged", () => {
  const window = 2;
  const chunkBytes = 256;
  const cluster = laggingCluster(6, { snapshotChunksInflightMax: window });
  const storage = cluster.node("n1").storage;
  let acknowledged = 0;
  let reads = 0;
  const stored = storage.snapshot.bind(storage);
  storage.snapshot = () => {
    const snapshot = stored()!;
    const source = {
      byteLength: snapshot.source.byteLength,
      read(offset: number, length: number): Uint8Array {
        reads++;
        assert.ok(length <= chunkBytes, `asked for ${length} bytes at once`);
        assert.ok(
          offset + length <= acknowledged + window * chunkBytes,
          `read [${offset}, ${offset + length}) with ${acknowledged} acknowledged`,
        );
        return snapshot.source.read(offset, length);
      },
    };
    return { ...snapshot, source };
  };
  cluster.onReady = (id, ready) => {
    if (id !== "n3") return;
    for (const message of ready.messages) {
      if (message.type === MessageType.SnapResp) acknowledged = message.rejectHint;
    }
  };
  settle(cluster);
  const totalBytes = storage.snapshot()!.source.byteLength;
  assert.ok(
    totalBytes > 4 * window * chunkBytes,
    `a snapshot of ${totalBytes} bytes spans windows`,
  );
  assert.ok(reads >= Math.ceil(totalBytes / chunkBytes), "every chunk was read on demand");
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  cluster.checkSafety();
});

Deno.test("snapshot bytes the follower's sink refuses are never installed; the leader starts over", () => {
  let verifications = 0;
  const cluster = new SimCluster({
    seed: 7,
    node: { snapshotChunkBytes: 256 },
    // The first complete transfer is "damaged": the sink refuses it.
    snapshotVerify: () => ++verifications > 1,
  });
  cluster.electLeader("n1");
  cluster.crash("n3");
  for (let count = 0; count < 40; count++) {
    cluster.propose("n1", `entry ${count} ${"x".repeat(40)}`);
  }
  cluster.stabilize();
  cluster.compact("n1");
  cluster.restart("n3");
  const installs: number[] = [];
  cluster.onReady = (id, ready) => {
    if (id === "n3" && ready.snapshot !== undefined) installs.push(verifications);
  };
  cluster.network.clearLog();
  settle(cluster, 20);
  assert.deepEqual(installs, [2], "only the second, sound transfer was installed");
  const offsets = cluster.sentOfType(MessageType.Snap).map((message) => message.snapshot!.offset);
  const restart = offsets.indexOf(0, 1);
  assert.ok(restart > 0, "after the refusal the leader resent from offset 0");
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  cluster.checkSafety();
});

/**
 * While a received snapshot waits for its install, the time of its point is not known here (the
 * log holds no entry there yet, and storage still has the old one): an append right after it
 * whose entries carry time stamps cannot be checked (`timestampsFollow`), and one going back
 * from that point would stop the node where the log stores it. Such an append is dropped,
 * unanswered; the leader sends it again once the snapshot is installed.
 */
Deno.test("an append with time stamps right after a snapshot awaiting install is dropped", () => {
  const cluster = laggingCluster(7);
  const n3 = nodeId("n3");
  let stepped = 0;
  cluster.onReady = (id, ready) => {
    if (id !== n3 || ready.snapshot === undefined || stepped > 0) return;
    stepped++;
    const { index, term } = ready.snapshot;
    const status = cluster.raft("n3").status();
    cluster.raft("n3").step(testMessage({
      type: MessageType.App,
      from: nodeId("n1"),
      to: n3,
      term: status.term,
      logTerm: term,
      index,
      entries: [{ term: status.term, index: (index + 1) as LogIndex, type: 16, timestamp: 1 }]
        .map((entry) => ({ ...entry, data: new Uint8Array([1]) })),
      commit: index,
    }));
    assert.equal(cluster.raft("n3").status().lastIndex, index, "nothing appended after it");
  };
  settle(cluster);
  assert.equal(stepped, 1, "an append arrived while the snapshot awaited its install");
  cluster.onReady = null;
  cluster.propose("n1", "after snapshot");
  settle(cluster, 2);
  assert.deepEqual(cluster.node("n3").state, cluster.node("n1").state);
  cluster.checkSafety();
});

/**
 * A snapshot carries the time of its point (`MemoryLogStorage.snapshotTimestamp`, from the state
 * it holds): a node that installed one holds no entry there, and stamps what follows from it. Had
 * it kept its older tail's time, elected next (its log as long as the others'), its first entry
 * would go back from the point, and the nodes holding the point's entry would drop its appends.
 */
Deno.test("a node that installed a snapshot stamps after its point, also as the next leader", () => {
  const cluster = new SimCluster({ seed: 5, stampTimes: true });
  cluster.electLeader("n1");
  cluster.crash("n3");
  for (let count = 0; count < 10; count++) {
    cluster.tickAll();
    cluster.propose("n1", `entry ${count}`);
    cluster.stabilize();
  }
  cluster.compact("n1");
  const point = cluster.node("n1").storage.firstIndex() - 1;
  assert.equal(point, cluster.raft("n1").status().lastIndex, "nothing follows the point");
  const pointTime = cluster.node("n1").storage.snapshotTimestamp();
  assert.ok(pointTime !== undefined && pointTime > 0, "the point's time is known");
  cluster.restart("n3");
  settle(cluster, 3);
  const n3 = cluster.node("n3");
  assert.equal(n3.storage.firstIndex(), point + 1, "n3 installed the snapshot");
  assert.equal(n3.storage.snapshotTimestamp(), pointTime, "with its point's time");
  cluster.raft("n1").transferLeadership(n3.id);
  settle(cluster, 1);
  assert.equal(cluster.leader(), "n3", "n3 leads");
  assert.equal(
    cluster.raft("n3").status().lastIndex,
    point + 1,
    "its first entry follows the point",
  );
  cluster.propose("n3", "after");
  settle(cluster, 3);
  for (const id of cluster.ids) {
    assert.equal(cluster.node(id).state.at(-1)?.split(":").at(-1), "after", `${id} applied it`);
    assert.ok(cluster.committedStamps.get(point + 1)! >= pointTime, "n3's first entry follows");
  }
  cluster.checkSafety();
});
