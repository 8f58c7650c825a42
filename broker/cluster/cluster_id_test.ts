/**
 * The cluster id: every initial voter derives the same one from `--peers`, a data directory keeps
 * the one it stored (durably, before the log), and a start that names another cluster is refused
 * before anything is written.
 */
import assert from "node:assert/strict";
import { SimFileSystem, writeSnapshotFile } from "../../storage/mod.ts";
import { snapshotFileName } from "../replication/mod.ts";
import {
  chooseClusterId,
  type ClusterIdError,
  clusterIdFileName,
  type ClusterIdInput,
  dataDirHeldLog,
  dataDirRanBefore,
  derivedClusterId,
  readClusterId,
  settleClusterId,
} from "./cluster_id.ts";

const clusterA = [
  { id: "n1", peerAddress: "10.0.0.1:9877" },
  { id: "n2", peerAddress: "10.0.0.2:9877" },
  { id: "n3", peerAddress: "10.0.0.3:9877" },
];
/** Another cluster whose nodes have the same names. */
const clusterB = [
  { id: "n1", peerAddress: "10.1.0.1:9877" },
  { id: "n2", peerAddress: "10.1.0.2:9877" },
  { id: "n3", peerAddress: "10.1.0.3:9877" },
];

/** A directory that ran before held a log unless `heldLog` says otherwise. */
function input(overrides: Partial<ClusterIdInput> = {}): ClusterIdInput {
  const ranBefore = overrides.ranBefore ?? false;
  return {
    dataDir: "/data",
    stored: null,
    ranBefore,
    heldLog: ranBefore,
    peers: [],
    joined: null,
    forceNewCluster: false,
    flag: null,
    ...overrides,
  };
}

Deno.test("every initial voter derives the same id from --peers, in any order", () => {
  const id = derivedClusterId(clusterA);
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.equal(derivedClusterId([...clusterA].reverse()), id);
  assert.equal(derivedClusterId([clusterA[1], clusterA[2], clusterA[0]]), id);
  // Pinned (sha256sum of the text gives it too): a change of the derivation would refuse a
  // node whose disk was replaced, started again with its cluster's --peers, after an upgrade.
  assert.equal(id, "2951df82bd50ce9f");
});

Deno.test("clusters with the same node ids but other addresses, or other ids, differ", () => {
  const ids = new Set([
    derivedClusterId(clusterA),
    derivedClusterId(clusterB),
    derivedClusterId(clusterA.slice(0, 2)),
    derivedClusterId([...clusterA.slice(0, 2), { id: "n4", peerAddress: "10.0.0.3:9877" }]),
    derivedClusterId([...clusterA.slice(0, 2), { id: "n3", peerAddress: "10.0.0.3:9878" }]),
  ]);
  assert.equal(ids.size, 5);
});

Deno.test("a new data directory: --peers derives, --join learns, a lone node draws", () => {
  const peers = chooseClusterId(input({ peers: clusterA }));
  assert.equal(peers.clusterId, derivedClusterId(clusterA));
  assert.deepEqual(peers.record, {
    clusterId: peers.clusterId,
    bootstrap: [...clusterA].sort((a, b) => a.id.localeCompare(b.id)),
  });
  const joined = chooseClusterId(
    input({ joined: { url: "http://m:1", clusterId: "abc" } }),
  );
  assert.deepEqual([joined.clusterId, joined.record], ["abc", { clusterId: "abc" }]);
  // A member of an older release answers no id: the cluster has none.
  const old = chooseClusterId(input({ joined: { url: "http://m:1", clusterId: undefined } }));
  assert.deepEqual([old.clusterId, old.record], ["", { clusterId: "" }]);
  const lone = chooseClusterId(input());
  const other = chooseClusterId(input());
  assert.match(lone.clusterId, /^[0-9a-f]{16}$/);
  assert.notEqual(lone.clusterId, other.clusterId);
  assert.deepEqual(lone.record, { clusterId: lone.clusterId });
  assert.equal(chooseClusterId(input({ peers: clusterA, flag: "prod-eu" })).clusterId, "prod-eu");
  assert.equal(chooseClusterId(input({ peers: clusterA, flag: "none" })).clusterId, "");
});

Deno.test("a stored id is kept; another --peers only warns, naming both lists", () => {
  const stored = { clusterId: "abc", bootstrap: clusterA };
  const same = chooseClusterId(input({ stored, ranBefore: true, peers: clusterA }));
  assert.deepEqual(same, { clusterId: "abc", record: null, renewal: null, notes: [] });
  const moved = chooseClusterId(input({ stored, ranBefore: true, peers: clusterB }));
  assert.equal(moved.clusterId, "abc");
  assert.equal(moved.record, null);
  assert.equal(moved.notes.length, 1);
  assert.match(
    moved.notes[0],
    /WARNING: --peers n1=10\.1\.0\.1:9877,.* differs from .*n1=10\.0\.0\.1:9877/,
  );
  assert.match(moved.notes[0], /keeps cluster id abc/);
  // Stored by --cluster-id: the same --peers is no difference.
  const named = { clusterId: "prod-eu", bootstrap: clusterA };
  assert.deepEqual(
    chooseClusterId(input({ stored: named, ranBefore: true, peers: clusterA })).notes,
    [],
  );
});

Deno.test("a data directory from before cluster ids keeps the empty id and writes nothing", () => {
  const legacy = chooseClusterId(input({ ranBefore: true, peers: clusterA }));
  assert.deepEqual(legacy, { clusterId: "", record: null, renewal: null, notes: [] });
  const joined = chooseClusterId(
    input({ ranBefore: true, joined: { url: "http://m:1", clusterId: undefined } }),
  );
  assert.equal(joined.clusterId, "");
  assert.equal(chooseClusterId(input({ ranBefore: true, flag: "none" })).clusterId, "");
});

Deno.test("--join or --cluster-id naming another cluster than the data's is refused", () => {
  const refused = (overrides: Partial<ClusterIdInput>, pattern: RegExp) =>
    assert.throws(() => chooseClusterId(input(overrides)), (error: ClusterIdError) => {
      assert.equal(error.name, "ClusterIdError");
      assert.match(error.message, pattern);
      return true;
    });
  const stored = { clusterId: "abc" };
  refused(
    { stored, ranBefore: true, flag: "def" },
    /belongs to cluster abc .*not --cluster-id def/,
  );
  refused(
    { stored, ranBefore: true, joined: { url: "http://m:1", clusterId: "def" } },
    /\/data belongs to cluster abc .*but http:\/\/m:1 is a member of cluster def/,
  );
  refused(
    { ranBefore: true, joined: { url: "http://m:1", clusterId: "def" } },
    /from before cluster ids .*has none, but http:\/\/m:1 is a member of cluster def/,
  );
  refused({ ranBefore: true, flag: "def" }, /has none, not --cluster-id def/);
  refused(
    { joined: { url: "http://m:1", clusterId: "def" }, flag: "abc" },
    /http:\/\/m:1 is a member of cluster def, not --cluster-id abc/,
  );
});

Deno.test("--force-new-cluster takes a new id, recorded only after the forced start", () => {
  const stored = { clusterId: "abc", bootstrap: clusterA };
  const forced = chooseClusterId(input({ stored, ranBefore: true, forceNewCluster: true }));
  assert.notEqual(forced.clusterId, "abc");
  assert.match(forced.clusterId, /^[0-9a-f]{16}$/);
  assert.equal(forced.record, null);
  assert.deepEqual(forced.renewal, { clusterId: forced.clusterId });
  assert.match(forced.notes[0], /cluster id becomes [0-9a-f]{16} \(it was abc\)/);
  const legacy = chooseClusterId(input({ ranBefore: true, forceNewCluster: true }));
  assert.match(legacy.notes[0], /it was none \(started before cluster ids\)/);
});

Deno.test("settleClusterId stores a new id durably before the log; a crash keeps it", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data");
  const choice = await settleClusterId(fs, {
    dataDir: "/data",
    peers: clusterA,
    joined: null,
    forceNewCluster: false,
    flag: null,
  });
  fs.crash();
  assert.deepEqual(readClusterId(fs, "/data"), choice.record);
  // The log opened after it; the next start, with another --peers, keeps it.
  fs.mkdirp("/data/log");
  fs.open("/data/log/00000000000000000001.log", { create: true }).close();
  const again = await settleClusterId(fs, {
    dataDir: "/data",
    peers: clusterB,
    joined: null,
    forceNewCluster: false,
    flag: null,
  });
  assert.equal(again.clusterId, derivedClusterId(clusterA));
  assert.equal(again.notes.length, 1);
});

Deno.test("a refused start writes nothing; a damaged record stops the start", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data/log");
  const segment = fs.open("/data/log/00000000000000000001.log", { create: true });
  segment.writeSync(new Uint8Array([1]));
  segment.close();
  assert.equal(dataDirRanBefore(fs, "/data"), true);
  await assert.rejects(
    settleClusterId(fs, {
      dataDir: "/data",
      peers: [],
      joined: { url: "http://m:1", clusterId: "def" },
      forceNewCluster: false,
      flag: null,
    }),
    /has none, but http:\/\/m:1 is a member of cluster def/,
  );
  assert.equal(fs.exists(`/data/${clusterIdFileName}`), false);
  const file = fs.open(`/data/${clusterIdFileName}`, { create: true });
  file.writeSync(new TextEncoder().encode("abc\n"));
  file.close();
  assert.throws(() => readClusterId(fs, "/data"), /cluster_id is damaged/);
});

Deno.test("an empty data directory (lock and node-id only) has not run before", () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data");
  assert.equal(dataDirRanBefore(fs, "/data"), false);
  fs.mkdirp("/data/snapshots");
  assert.equal(dataDirRanBefore(fs, "/data"), false);
  fs.open("/data/snapshots/00000000000000000000.snap", { create: true }).close();
  assert.equal(dataDirRanBefore(fs, "/data"), true);
});

Deno.test("a directory that never held a log chooses again when the flags name another id", () => {
  // First started with a typo in --peers (B): it stored B's id, reached no one, wrote no entry.
  const typo = { clusterId: derivedClusterId(clusterB), bootstrap: clusterB };
  const never = { stored: typo, ranBefore: true, heldLog: false };
  const fixed = chooseClusterId(input({ ...never, peers: clusterA }));
  assert.equal(fixed.clusterId, derivedClusterId(clusterA));
  assert.deepEqual(fixed.record, { clusterId: fixed.clusterId, bootstrap: clusterA });
  assert.match(
    fixed.notes[0],
    /never held a log: its cluster id becomes 2951df82bd50ce9f \(it was/,
  );
  // With a log: kept, with the warning (as before).
  const held = chooseClusterId(input({ stored: typo, ranBefore: true, peers: clusterA }));
  assert.equal(held.clusterId, typo.clusterId);
  assert.equal(held.record, null);
  assert.match(held.notes[0], /WARNING: --peers/);
  // --cluster-id and --join naming another id choose as on an empty directory.
  assert.deepEqual(chooseClusterId(input({ ...never, peers: clusterA, flag: "prod" })).record, {
    clusterId: "prod",
    bootstrap: clusterA,
  });
  const joined = chooseClusterId(
    input({ ...never, joined: { url: "http://m:1", clusterId: "d" } }),
  );
  assert.deepEqual(joined.record, { clusterId: "d" });
  // Nothing names another id: kept, nothing written. The same list; an id given by --cluster-id
  // when only the list changed (it was not derived from the list); a lone node's random id.
  const same = chooseClusterId(input({ ...never, peers: clusterB }));
  assert.deepEqual(same, { clusterId: typo.clusterId, record: null, renewal: null, notes: [] });
  const named = { clusterId: "prod-eu", bootstrap: clusterB };
  const renamed = chooseClusterId(input({ ...never, stored: named, peers: clusterA }));
  assert.equal(renamed.clusterId, "prod-eu");
  assert.equal(renamed.record, null);
  const lone = chooseClusterId(input({ ...never, stored: { clusterId: "r" } }));
  assert.deepEqual(lone, { clusterId: "r", record: null, renewal: null, notes: [] });
});

Deno.test("a directory held a log once it has an entry, a snapshot past 0 or a term", async () => {
  const hardState = (term: number) =>
    new TextEncoder().encode(JSON.stringify({ term, vote: null, commit: 0 }));
  const fresh = async () => {
    // What a start whose --peers reached no one leaves: term 0 and the empty snapshot.
    const fs = new SimFileSystem();
    fs.mkdirp("/data/log");
    fs.mkdirp("/data/snapshots");
    await writeSnapshotFile(fs, "/data/log", "hard_state", hardState(0));
    fs.open(`/data/snapshots/${snapshotFileName(0)}`, { create: true }).close();
    return fs;
  };
  const empty = new SimFileSystem();
  empty.mkdirp("/data");
  assert.equal(dataDirHeldLog(empty, "/data"), false);
  assert.equal(dataDirHeldLog(await fresh(), "/data"), false);
  const voted = await fresh();
  await writeSnapshotFile(voted, "/data/log", "hard_state", hardState(1));
  assert.equal(dataDirHeldLog(voted, "/data"), true);
  for (
    const file of [
      "log/00000000000000000001.log",
      "log/log_start",
      `snapshots/${snapshotFileName(7)}`,
    ]
  ) {
    const fs = await fresh();
    fs.open(`/data/${file}`, { create: true }).close();
    assert.equal(dataDirHeldLog(fs, "/data"), true, file);
  }
  const damaged = await fresh();
  const file = damaged.open("/data/log/hard_state");
  file.truncate(3);
  file.close();
  assert.equal(dataDirHeldLog(damaged, "/data"), true, "an unreadable hard state counts");
});

Deno.test("settleClusterId records the chosen id again on a directory that never held a log", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data");
  const start = (peers: typeof clusterA) =>
    settleClusterId(fs, {
      dataDir: "/data",
      peers,
      joined: null,
      forceNewCluster: false,
      flag: null,
    });
  await start(clusterB); // the typo
  fs.mkdirp("/data/snapshots");
  fs.open(`/data/snapshots/${snapshotFileName(0)}`, { create: true }).close();
  assert.equal((await start(clusterA)).clusterId, derivedClusterId(clusterA));
  fs.crash();
  assert.deepEqual(readClusterId(fs, "/data"), {
    clusterId: derivedClusterId(clusterA),
    bootstrap: clusterA,
  });
  // Once it holds a log, the id is kept whatever --peers says.
  fs.mkdirp("/data/log");
  fs.open("/data/log/00000000000000000001.log", { create: true }).close();
  const kept = await start(clusterB);
  assert.equal(kept.clusterId, derivedClusterId(clusterA));
  assert.match(kept.notes[0], /WARNING/);
});
