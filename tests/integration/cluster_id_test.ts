/**
 * Two clusters whose nodes have the same names and the same key, on real processes: cluster B's
 * n1 is restarted with a `--peers` list that points at cluster A's n2 and n3. It keeps its stored
 * cluster id (and warns that `--peers` changed), A's members refuse it at the handshake naming its
 * address and both ids, and A keeps its leader, its term and its writes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  type BrokerProcess,
  clusterPorts,
  eventually,
  freePort,
  settled,
  spawnMain,
  startBroker,
  startBrokers,
} from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

/** The README's formula: SHA-256 over the sorted `id=host:port` lines, 16 hex digits. */
function derivedClusterId(peers: { id: string; peerAddress: string }[]): string {
  const lines = peers.toSorted((x, y) => x.id < y.id ? -1 : 1)
    .map((peer) => `${peer.id}=${peer.peerAddress}\n`).join("");
  return createHash("sha256").update(`cmqd-cluster-id/v1\n${lines}`).digest("hex").slice(0, 16);
}

interface View {
  leaderId: string | null;
  term: number;
  clusterId?: string;
}

async function view(url: string): Promise<View> {
  return await (await fetch(`${url}/v1/cluster`)).json() as View;
}

Deno.test({
  name: "a node of another cluster pointed at this one is refused while this one serves",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-cluster-id-" });
    const a = clusterPorts(["n1", "n2", "n3"]);
    const brokers: BrokerProcess[] = [];
    try {
      brokers.push(
        ...await startBrokers(a.specs.map((spec) => ({
          dataDir: `${root}/a-${spec.id}`,
          port: spec.port,
          args: ["--node-id", spec.id, "--peer-port", String(spec.peerPort), "--peers", a.peers],
        }))),
      );
      await settled(brokers.map((broker) => broker.url));
      const idOfA = derivedClusterId(
        a.specs.map((spec) => ({ id: spec.id, peerAddress: `127.0.0.1:${spec.peerPort}` })),
      );
      for (const broker of brokers) assert.equal((await view(broker.url)).clusterId, idOfA);
      const termOf = async (url: string) => {
        const { leaderId, term } = await view(url);
        return { leaderId, term };
      };
      const before = await termOf(brokers[0].url);

      // Cluster B: its n1 alone first (its own cluster, its own id) ...
      const bPeerPort = freePort();
      const bPort = freePort();
      const ownEntry = `n1=127.0.0.1:${bPeerPort}`;
      const bArgs = ["--node-id", "n1", "--peer-port", String(bPeerPort)];
      const first = await startBroker({
        dataDir: `${root}/b-n1`,
        port: bPort,
        args: [...bArgs, "--peers", ownEntry],
      });
      const idOfB = (await view(first.url)).clusterId!;
      assert.equal(idOfB, derivedClusterId([{ id: "n1", peerAddress: `127.0.0.1:${bPeerPort}` }]));
      assert.equal(await first.stop(), 0);
      // ... then restarted with a --peers list whose n2 and n3 are cluster A's.
      const crossed = [ownEntry, ...a.peers.split(",").slice(1)].join(",");
      const intruder = await startBroker({
        dataDir: `${root}/b-n1`,
        port: bPort,
        args: [...bArgs, "--peers", crossed],
      });
      brokers.push(intruder);
      assert.match(
        intruder.output(),
        new RegExp(
          `WARNING: --peers ${crossed} differs from .*\\(${ownEntry}\\): it keeps cluster id ${idOfB}`,
        ),
      );
      const refusal = new RegExp(
        `closing the connection from 127\\.0\\.0\\.1:\\d+: PeerRefusedError: n1 says it is in ` +
          `cluster ${idOfB}, this node is in ${idOfA}`,
      );
      await eventually(
        "A's n2 and n3 to refuse B's n1",
        () =>
          Promise.resolve(brokers.slice(1, 3).every((b) => refusal.test(b.output())) || undefined),
      );
      const metrics = await (await fetch(`${brokers[1].url}/metrics`)).text();
      const refused = Number(
        metrics.match(/cmqd_peer_refusals_total\{reason="other_cluster"\} (\d+)/)![1],
      );
      assert.ok(refused > 0, metrics);
      // B's n1 is told why, with both ids, and counts it.
      const told = new RegExp(
        `cannot reach n[23] at 127\\.0\\.0\\.1:\\d+: PeerRefusedError: n[23] refused this ` +
          `node: it is in cluster ${idOfA}, this node is in ${idOfB}`,
      );
      await eventually(
        "B's n1 to log why it was refused",
        () => Promise.resolve(told.test(intruder.output()) || undefined),
      );
      const intruderMetrics = await (await fetch(`${intruder.url}/metrics`)).text();
      assert.match(
        intruderMetrics,
        /cmqd_peer_refused_by_peer_total\{reason="other_cluster"\} [1-9]/,
      );

      // A never heard it: same leader, same term, and a write commits.
      assert.deepEqual(await termOf(brokers[0].url), before);
      const created = await fetch(`${brokers[0].url}/v1/queues/still-writable`, { method: "PUT" });
      assert.ok(created.status < 300, `a write still commits (${created.status})`);
      await created.body?.cancel();
      // B's n1 still leads its own cluster of one, under its own id.
      const b = await view(intruder.url);
      assert.deepEqual([b.leaderId, b.clusterId], ["n1", idOfB]);
    } finally {
      for (const broker of brokers) await broker.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "data directories from before cluster ids keep the empty id and still form their cluster",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voters: ["n1", "n2", "n3"] };
    await withCluster("cmqd-cluster-id-legacy-", options, async (cluster) => {
      const { root, specs, processes } = cluster;
      const urls = specs.map((spec) => cluster.url(spec.id));
      await cluster.startVoters("together");
      await settled(urls);
      // Created for sure (on a loaded machine a first write may meet a 503 and must be repeated).
      await eventually("the queue to be created", async () => {
        const response = await fetch(`${urls[0]}/v1/queues/kept`, { method: "PUT" });
        await response.body?.cancel();
        return response.status === 200 || response.status === 201 ? true : undefined;
      });
      for (const broker of processes.values()) assert.equal(await broker.stop(), 0);
      // As a release before cluster ids left them: a log, no cluster_id.
      for (const spec of specs) await Deno.remove(`${root}/${spec.id}/cluster_id`);
      await cluster.startVoters("together");
      await settled(urls);
      for (const url of urls) assert.equal((await view(url)).clusterId, "");
      const queues = await (await fetch(`${urls[0]}/v1/queues`)).text();
      assert.match(queues, /"kept"/);
      for (const spec of specs) {
        assert.equal(existsSync(`${root}/${spec.id}/cluster_id`), false, "no id was written");
      }
    });
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a data directory started under --cluster-id of another cluster exits 2, changing nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-cluster-id-flag-" });
    try {
      const lone = await startBroker({ dataDir: root, args: ["--cluster-id", "blue"] });
      assert.equal((await view(lone.url)).clusterId, "blue");
      assert.equal(await lone.stop(), 0);
      const before = await Deno.readFile(`${root}/cluster_id`);
      const answer = await spawnMain(root, ["--cluster-id", "red"]).output();
      const stderr = new TextDecoder().decode(answer.stderr);
      assert.equal(answer.code, 2, stderr);
      assert.match(
        stderr,
        /^cmqd: .* belongs to cluster blue \(its cluster_id file\), not --cluster-id red: a node can't take its data to another cluster/m,
      );
      assert.deepEqual(await Deno.readFile(`${root}/cluster_id`), before);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "a first start with a typo in --peers is undone by fixing the list (no log was written)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withCluster("cmqd-cluster-id-typo-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
      const { specs, peers } = cluster;
      // n2's peer port mistyped: n1 derives another id and reaches no one (term 0, no entry).
      const typo = peers.replace(`:${specs[1].peerPort}`, `:${specs[1].peerPort + 1}`);
      const addresses = (list: string) =>
        list.split(",").map((entry) => {
          const [id, peerAddress] = entry.split("=");
          return { id, peerAddress };
        });
      const first = await cluster.startVoter("n1", typo);
      assert.equal((await view(first.url)).clusterId, derivedClusterId(addresses(typo)));
      assert.equal(await first.stop(), 0);
      const fixed = await cluster.startVoter("n1", peers);
      assert.equal((await view(fixed.url)).clusterId, derivedClusterId(addresses(peers)));
      assert.equal(await fixed.stop(), 0);
    });
  },
});
