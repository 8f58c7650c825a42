/**
 * Every metric family of `/metrics`, as three real nodes emit them after the events that give
 * each a sample (a follower's forward, dead-lettering, pushes that succeed and fail, the disk
 * guard's reading, peers, a served certificate): each node's scrape passes the strict text-format reader, every family
 * has a sample on some node, and the README's table of families names exactly these, with their
 * types and label names, both ways.
 */
import assert from "node:assert/strict";
import type { NodeId } from "../../raft/mod.ts";
import { SimFileSystem } from "../../storage/mod.ts";
import { parsePrometheusStrict, type StrictFamily } from "../http/testing/mod.ts";
import type { PeerRefusals } from "../replication/mod.ts";
import { NodeNetwork, NodeWire } from "./_node_group.ts";
import { type CmqdNode, startNode } from "./node.ts";
import { realClock, realTimers } from "./real_time.ts";
import { fixtureCertificatePem, until } from "./testing/mod.ts";

/** A wire that also has client URLs (`http://<id>.test`) and refusal counters, as TCP does. */
class FullWire extends NodeWire {
  override clientUrl(id: NodeId): string | null {
    return `http://${id}.test`;
  }

  peerRefusals(): PeerRefusals {
    return {
      otherCluster: 0,
      ownNodeId: 0,
      nodeIdConflicts: 0,
      byPeer: { otherCluster: 0, unproven: 0 },
    };
  }
}

interface ReadmeFamily {
  type: string;
  labels: string[];
}

/** The README's table of families: name to type and label names. */
async function readmeFamilies(): Promise<Map<string, ReadmeFamily>> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const start = readme.indexOf("- Every family `/metrics` emits");
  assert.ok(start >= 0, "the README's table of families");
  const lines = readme.slice(start).split("\n");
  const first = lines.findIndex((line) => line.trim().startsWith("| `"));
  const families = new Map<string, ReadmeFamily>();
  for (const line of lines.slice(first)) {
    if (!line.trim().startsWith("|")) break;
    const [name, type, labels] = line.split("|").slice(1, 4).map((cell) => cell.trim());
    const unquote = (text: string) => text.replaceAll("`", "");
    assert.ok(!families.has(unquote(name)), `${name} twice in the README`);
    families.set(unquote(name), {
      type,
      labels: labels === "" ? [] : labels.split(",").map((label) => unquote(label.trim())).sort(),
    });
  }
  return families;
}

async function startGroup(network: NodeNetwork, ids: string[]): Promise<CmqdNode[]> {
  const nodes: CmqdNode[] = [];
  let pushes = 0;
  const memberFetch = ((input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const target = nodes.find((node) => `${node.replica.id}.test` === new URL(request.url).host);
    return target === undefined
      ? Promise.reject(new TypeError("unreachable"))
      : target.handler(request);
  }) as typeof fetch;
  for (const [index, id] of ids.entries()) {
    nodes.push(
      await startNode({
        nodeId: id,
        dataDir: "/d",
        fs: new SimFileSystem(),
        clock: realClock,
        timers: realTimers,
        transport: new FullWire(network, id),
        initialVoters: ids,
        url: `http://127.0.0.1:${index + 1}`,
        tickMs: 5,
        report: () => {},
        memberFetch,
        pushFetch: () => Promise.resolve({ status: pushes++ % 2 === 0 ? 200 : 500 }),
        minFreeDiskBytes: 1,
        freeDiskBytes: () => 1e12,
        // One node serves TLS on both listeners (the expiry gauge's series).
        servedCertificates: index > 0 ? [] : [
          { listener: "client", path: "/c.pem", pem: fixtureCertificatePem },
          { listener: "peer", path: "/c.pem", pem: fixtureCertificatePem },
        ],
      }),
    );
  }
  return nodes;
}

Deno.test("every /metrics family is well formed, has a sample after its events, and is the README's", async () => {
  const network = new NodeNetwork();
  const nodes = await startGroup(network, ["n1", "n2", "n3"]);
  try {
    await until(() => nodes.some((node) => node.replica.isLeader), "a leader");
    const leader = nodes.find((node) => node.replica.isLeader)!;
    const follower = nodes.find((node) => node !== leader)!;
    await until(() => follower.replica.leaderId === leader.replica.id, "the follower knows it");

    await leader.broker.createQueue("dlq", {});
    await leader.broker.createQueue("jobs", { deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
    await leader.broker.sendMessages("jobs", [{ body: "1" }]);
    // Received once, the message moves to the dead-letter queue at the receive after it shows.
    await leader.broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 1 });
    await until(async () => {
      await leader.broker.receiveMessages("jobs", { visibilityTimeoutSeconds: 1 });
      return (await leader.broker.receiveMessages("dlq", {})).messages.length > 0;
    }, "the message dead-lettered");
    await leader.topics.createTopic("payments", {});
    await leader.topics.subscribe("payments", "hook", {
      endpoint: { url: "http://127.0.0.1:9/notify" },
    });
    await leader.topics.publish("payments", [{ body: "a" }, { body: "b" }]);
    // A follower relays an API request to the leader.
    const relayed = await follower.handler(
      new Request(`http://${follower.replica.id}.test/v1/queues`),
    );
    assert.equal(relayed.status, 200);
    await relayed.body?.cancel();

    const scrapes = new Map<string, Map<string, StrictFamily>>();
    await until(async () => {
      for (const node of nodes) {
        const text = await (await node.app.request("/metrics")).text();
        scrapes.set(node.replica.id, parsePrometheusStrict(text));
      }
      const leaderFamilies = scrapes.get(leader.replica.id)!;
      const pushed = leaderFamilies.get("cmqd_push_latency_seconds")!.samples.length > 0;
      const failed = leaderFamilies.get("cmqd_push_failures_total")!.samples.some((s) => s.value);
      const dead = [...scrapes.values()].every((families) =>
        families.get("cmqd_messages_dead_lettered_total")!.samples.length > 0
      );
      return pushed && failed && dead;
    }, "a push answered, one failed, the dead-lettering applied everywhere");

    const readme = await readmeFamilies();
    const emitted = new Map<string, { type: string; labels: Set<string>; samples: number }>();
    for (const [id, families] of scrapes) {
      assert.deepEqual([...families.keys()].sort(), [...readme.keys()].sort(), `${id}: the README`);
      for (const family of families.values()) {
        const entry = emitted.get(family.name) ??
          { type: family.type, labels: new Set<string>(), samples: 0 };
        assert.equal(entry.type, family.type, `${family.name}: one type on every node`);
        for (const sample of family.samples) {
          for (const [label] of sample.labels) if (label !== "le") entry.labels.add(label);
        }
        entry.samples += family.samples.length;
        emitted.set(family.name, entry);
      }
    }
    for (const [name, entry] of emitted) {
      assert.ok(entry.samples > 0, `${name}: a sample on some node`);
      const documented = readme.get(name)!;
      assert.equal(entry.type, documented.type, `${name}: the README's type`);
      assert.deepEqual([...entry.labels].sort(), documented.labels, `${name}: the README's labels`);
    }
  } finally {
    for (const node of nodes) await node.close();
  }
});
