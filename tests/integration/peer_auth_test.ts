/**
 * The peer port against forgers, end to end: a forged hello and a heartbeat with term 2^53−1 —
 * the frame that once froze a cluster for good — and a forged append are refused before Raft
 * sees them, the node's term is unchanged and elections still succeed; a key holder's
 * impossible term is dropped by validation; a node with another key can neither join nor
 * disturb a running cluster. Real sockets throughout; three nodes in one process for the first
 * tests, real `main.ts` processes for the last.
 */
import assert from "node:assert/strict";
import {
  closedByPeer,
  type CmqdNode,
  CommandType,
  encodeHelloFrame,
  encodeMessagesFrame,
  encodeProofFrame,
  newNonce,
  rawConnect,
  rawHandshake,
  signClusterRequest,
  tagBytes,
} from "../../broker/testing.ts";
import {
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  type Term,
} from "../../raft/mod.ts";
import {
  type BrokerProcess,
  freePort,
  settled,
  startBroker,
  startBrokers,
  testClusterKeyText,
} from "./process.ts";
import { startInProcessCluster, until } from "./_in_process_cluster.ts";

const clusterKey = new TextEncoder().encode(testClusterKeyText);

function raftMessage(overrides: Partial<Message>): Message {
  return {
    type: MessageType.Heartbeat,
    from: "n1" as NodeId,
    to: "n2" as NodeId,
    term: 0 as Term,
    logTerm: 0 as Term,
    index: 0 as LogIndex,
    entries: [],
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
    ...overrides,
  };
}

/** Elects `target` and proves the new leader commits: the cluster is not frozen. */
async function electionSucceeds(nodes: CmqdNode[], target: CmqdNode): Promise<void> {
  const leader = nodes.find((node) => node.replica.isLeader)!;
  const termBefore = leader.replica.status().term;
  if (leader !== target) leader.replica.transferLeadership(target.replica.id);
  await until("the new leader", () => target.replica.isLeader);
  assert.ok(target.replica.status().term > termBefore || leader === target);
  await target.broker.createQueue(`after-${target.replica.status().term}`, {});
}

Deno.test({
  name: "forged frames without the key never reach Raft: term unchanged, elections still work",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await startInProcessCluster("cmqd-peer-auth-");
    const { nodes, transports, peerPorts } = cluster;
    try {
      await until("a leader", () => nodes.some((node) => node.replica.isLeader));
      const leader = nodes.find((node) => node.replica.isLeader)!;
      const followerIndex = nodes.findIndex((node) => node !== leader);
      const follower = nodes[followerIndex];
      await leader.broker.createQueue("jobs", {});
      await until("the follower to apply", () => follower.machine.appliedIndex >= 2);
      const termBefore = follower.replica.status().term;
      const lastIndexBefore = follower.replica.status().lastIndex;
      const leaderId = leader.replica.id as NodeId;
      const to = follower.replica.id as NodeId;
      const hugeHeartbeat = raftMessage({
        from: leaderId,
        to,
        term: Number.MAX_SAFE_INTEGER as Term,
      });
      const forgedAppend = raftMessage({
        type: MessageType.App,
        from: leaderId,
        to,
        term: (termBefore + 1) as Term,
        logTerm: termBefore as Term,
        index: lastIndexBefore as LogIndex,
        commit: (lastIndexBefore + 1) as LogIndex,
        entries: [{
          term: (termBefore + 1) as Term,
          index: (lastIndexBefore + 1) as LogIndex,
          type: 16,
          data: new Uint8Array([1, 2, 3]),
          timestamp: Date.now(),
        }],
      });
      const hello = encodeHelloFrame({
        nodeId: leaderId,
        clientUrl: "http://attacker.invalid",
        nonce: newNonce(),
      });
      for (const forged of [hugeHeartbeat, forgedAppend]) {
        const raw = await rawConnect(peerPorts[followerIndex]);
        await raw.write(hello);
        await raw.write(encodeProofFrame(newNonce()));
        await raw.write(encodeMessagesFrame([forged], tagBytes)).catch(() => 0);
        assert.equal(await closedByPeer(raw), true);
      }
      // A key holder is authenticated, but a term no election could follow is still dropped.
      // (It takes an id of its own: one of a member's would displace that member's connection.)
      const insiderId = "n9" as NodeId;
      const insider = await rawHandshake(peerPorts[followerIndex], {
        key: clusterKey,
        nodeId: insiderId,
        peer: to,
      });
      await insider.send([{ ...hugeHeartbeat, from: insiderId }]);
      await until(
        "the insider's message to be refused",
        () => transports[followerIndex].stats().messagesRefused >= 1,
      );
      insider.conn.close();
      assert.ok(transports[followerIndex].stats().handshakesFailed >= 2);

      const status = follower.replica.status();
      assert.equal(status.term, termBefore, "the forged terms were not adopted");
      assert.ok(status.lastIndex >= lastIndexBefore);
      assert.equal(follower.replica.failure, null);
      assert.notEqual(follower.replica.leaderId, null);
      await electionSucceeds(nodes, follower);
      for (const node of nodes) {
        assert.ok(node.replica.status().term < 2 ** 48, "no node took a poisoned term");
      }
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "the client URL a member's peer hello announces wins over a differing recorded one",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await startInProcessCluster("cmqd-peer-auth-");
    const { nodes, peerPorts } = cluster;
    try {
      await until("a leader", () => nodes.some((node) => node.replica.isLeader));
      const leader = nodes.find((node) => node.replica.isLeader)!;
      const follower = nodes.find((node) => node !== leader)!;
      const leaderIndex = nodes.indexOf(leader);
      const leaderUrlSeenBy = async (node: CmqdNode) =>
        (await node.handler(new Request("http://node/healthz"))).headers.get("x-cmqd-leader");
      await until(
        "the follower to know the leader",
        () => follower.replica.leaderId === leader.replica.id,
      );
      assert.equal(
        await leaderUrlSeenBy(follower),
        cluster.urls[leaderIndex],
      );
      const recorded = "http://recorded.invalid:9876";
      await leader.replica.propose(
        CommandType.SetMember,
        new TextEncoder().encode(JSON.stringify({
          id: leader.replica.id,
          peerAddress: `127.0.0.1:${peerPorts[leaderIndex]}`,
          clientUrl: recorded,
        })),
      );
      await until(
        "the follower to apply the record",
        () => follower.machine.members().some((member) => member.clientUrl === recorded),
      );
      // The leader's hello, proved with the cluster key, still names its own URL: followers
      // forward clients' requests (and their credentials) there, not to whatever listens at a
      // differing record.
      assert.equal(await leaderUrlSeenBy(follower), cluster.urls[leaderIndex]);
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a join signed with the cluster key passes a follower's credentials check to the leader",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await startInProcessCluster("cmqd-peer-auth-", {
      secretId: "AKIDops",
      secretKey: "ops",
    });
    const { nodes } = cluster;
    try {
      await until("a leader", () => nodes.some((node) => node.replica.isLeader));
      const leader = nodes.find((node) => node.replica.isLeader)!;
      const follower = nodes.find((node) => node !== leader)!;
      await until(
        "the follower to know the leader",
        () => follower.replica.leaderId === leader.replica.id,
      );
      const request = (key: Uint8Array, method: "GET" | "POST", path: string, body = "") =>
        new Request(`http://follower${path}`, {
          method,
          headers: {
            "content-type": "application/json",
            authorization: signClusterRequest(key, "n4", {
              method,
              path,
              body: new TextEncoder().encode(body),
            }),
          },
          body: method === "GET" ? undefined : body,
        });
      const view = await follower.handler(request(clusterKey, "GET", "/v1/cluster"));
      assert.equal(view.status, 200, "the cluster view, without an access key");
      await view.body?.cancel();
      const wrong = new TextEncoder().encode("w".repeat(40));
      const refused = await follower.handler(request(wrong, "GET", "/v1/cluster"));
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
      // Signed by n4 but asking for n5: only the leader's door, past the follower, says so.
      const body = JSON.stringify({
        id: "n5",
        peerAddress: "127.0.0.1:1",
        clientUrl: "http://x:1",
      });
      const relayed = await follower.handler(
        request(clusterKey, "POST", "/v1/cluster/nodes", body),
      );
      const answer = await relayed.json();
      assert.equal(relayed.status, 400, JSON.stringify(answer));
      assert.match(answer.error.message, /signed by n4 must ask for n4/);
      const forgedOnFollower = await follower.handler(
        request(wrong, "POST", "/v1/cluster/nodes", body),
      );
      assert.equal(forgedOnFollower.status, 401, "refused before relaying");
      await forgedOnFollower.body?.cancel();
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: "a node with another cluster key can neither join nor disturb the cluster",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-wrong-key-" });
    const ids = ["n1", "n2", "n3"];
    const ports = new Map(ids.map((id) => [id, { port: freePort(), peer: freePort() }]));
    const peers = ids.map((id) => `${id}=127.0.0.1:${ports.get(id)!.peer}`).join(",");
    const brokers: BrokerProcess[] = [];
    try {
      brokers.push(
        ...await startBrokers(ids.map((id) => ({
          dataDir: `${root}/${id}`,
          port: ports.get(id)!.port,
          args: ["--node-id", id, "--peer-port", String(ports.get(id)!.peer), "--peers", peers],
        }))),
      );
      const leaderOf = async () => {
        const info = await (await fetch(`${brokers[0].url}/v1/cluster`)).json();
        return { leaderId: info.leaderId as string | null, term: info.term as number };
      };
      // Settled first: a member started after the first leader committed is repaired and then
      // asks for a new term, which would change the term under the test.
      await settled(brokers.map((broker) => broker.url));
      const before = await leaderOf();
      assert.notEqual(before.leaderId, null);
      const wrongKey = "wrong-cluster-key-0123456789abcdef-0123456789";
      const joinPort = freePort();
      await assert.rejects(
        startBroker({
          dataDir: `${root}/n4`,
          port: joinPort,
          args: ["--node-id", "n4", "--join", brokers[1].url],
          env: { CMQD_CLUSTER_KEY: wrongKey },
          readyMs: 30_000,
        }),
        /refused this node's cluster key/,
      );
      // An impostor with a member's id and the cluster's addresses, but another key.
      const impostorPeers = peers.replace(
        `n2=127.0.0.1:${ports.get("n2")!.peer}`,
        `n2=127.0.0.1:${freePort()}`,
      );
      const impostorPeerPort = impostorPeers.match(/n2=127\.0\.0\.1:(\d+)/)![1];
      // With the cluster's id (its --peers list differs): only the key tells it apart.
      const { clusterId } = await (await fetch(`${brokers[0].url}/v1/cluster`)).json();
      const impostor = await startBroker({
        dataDir: `${root}/impostor`,
        args: [
          ...["--node-id", "n2", "--peer-port", impostorPeerPort, "--peers", impostorPeers],
          ...["--cluster-id", clusterId],
        ],
        env: { CMQD_CLUSTER_KEY: wrongKey },
      });
      brokers.push(impostor);
      // The impostor finds the members' proofs wrong and hangs up; they log the broken handshake.
      await until(
        "the members to see the impostor's handshakes fail",
        () =>
          brokers.slice(0, 3).some((broker) => broker.output().includes("closed before its proof")),
      );
      // Its own line may come a little later than theirs (each side logs when it gives up).
      await until(
        "the impostor to log the members' failed proofs",
        () => /n[13] did not prove the cluster key/.test(impostor.output()),
      );
      const after = await leaderOf();
      assert.deepEqual(after, before, "same leader, same term");
      const created = await fetch(`${brokers[0].url}/v1/queues/still-writable`, {
        method: "PUT",
      });
      assert.ok(created.status < 300, `a write still commits (${created.status})`);
      await created.body?.cancel();
    } finally {
      for (const broker of brokers) await broker.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});
