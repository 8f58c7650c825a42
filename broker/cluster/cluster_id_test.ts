/**
 * The cluster id: every initial voter derives the same one from `--peers`, a data directory keeps
 * the one it stored (durably, before the log), and a start that names another cluster is refused
 * before anything is written.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import {
  chooseClusterId,
  type ClusterIdError,
  clusterIdFileName,
  type ClusterIdInput,
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

function input(overrides: Partial<ClusterIdInput> = {}): ClusterIdInput {
  return {
    dataDir: "/data",
    stored: null,
    ranBefore: false,
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
  assert.deepEqual(chooseClusterId(input({ stored: named, peers: clusterA })).notes, []);
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
    { stored, joined: { url: "http://m:1", clusterId: "def" } },
    /\/data belongs to cluster abc .*but http:\/\/m:1 is a member of cluster def/,
  );
  refused({ stored, flag: "def" }, /belongs to cluster abc .*not --cluster-id def/);
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
  // The next start, with another --peers, keeps it.
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
