/**
 * The cluster id in the handshake: a node of another cluster (same key, same node names) is
 * refused and logged with its address and both ids, the empty id of a cluster from before cluster
 * ids is no wildcard, and a hello claiming the acceptor's own id — or one member id connecting
 * from two peer addresses — is logged and counted.
 */
import assert from "node:assert/strict";
import { nodeId } from "../../raft/mod.ts";
import { newNonce } from "./peer_auth.ts";
import {
  encodeHelloFrame,
  encodeProofFrame,
  FrameKind,
  handshakeFrameBytesMax,
} from "./peer_codec.ts";
import { FrameChannel, writeAll } from "./peer_io.ts";
import { closedByPeer, rawConnect } from "./testing/raw_peer.ts";
import {
  closeAll,
  message,
  peerAddress,
  startCluster,
  startNode,
  type TestNode,
  waitFor,
} from "./testing/transport_nodes.ts";

async function flows(from: TestNode, to: TestNode, index: number): Promise<void> {
  const before = to.received.length;
  from.transport.send([message(from.id, to.id, index)]);
  await waitFor(() => to.received.length > before);
}

Deno.test("a node of another cluster with the same key and names is refused, A carries on", async () => {
  const a = await startCluster(["n1", "n2"], { clusterId: "red" });
  const intruder = await startNode("n1", { clusterId: "blue" });
  try {
    // Its --peers names cluster A's n2 address.
    intruder.transport.setPeer({ id: nodeId("n2"), peerAddress: peerAddress(a[1]) });
    await waitFor(() => a[1].transport.peerRefusals().otherCluster >= 2);
    const line = a[1].warnings.find((text) => text.includes("PeerRefusedError"))!;
    assert.match(
      line,
      /^transport n2: closing the connection from 127\.0\.0\.1:\d+: PeerRefusedError: n1 says it is in cluster blue, this node is in red: a node of another cluster/,
    );
    assert.equal(intruder.transport.isConnected(nodeId("n2")), false);
    // The refused node is told why, proven with the key, and names both ids.
    await waitFor(() => intruder.transport.peerRefusals().byPeer.otherCluster >= 1);
    assert.ok(
      intruder.warnings.some((text) =>
        /^transport: cannot reach n2 at 127\.0\.0\.1:\d+: PeerRefusedError: n2 refused this node: it is in cluster red, this node is in blue: a node of another cluster/
          .test(text)
      ),
      intruder.warnings.join("\n"),
    );
    assert.equal(intruder.transport.peerRefusals().byPeer.unproven, 0);
    // Nothing of it reached A's n2, whose link with its own n1 still carries messages.
    assert.ok(a[1].received.every((received) => received.from === "n1"));
    assert.ok(a[1].transport.isConnected(nodeId("n1")));
    await flows(a[0], a[1], 7);
    await flows(a[1], a[0], 8);
    assert.equal(a[1].transport.peerRefusals().ownNodeId, 0);
  } finally {
    await closeAll([...a, intruder]);
  }
});

Deno.test("the empty id (a cluster from before cluster ids) is no wildcard, either way", async () => {
  const legacy = await startNode("a", { clusterId: "" });
  const named = await startNode("b", { clusterId: "red" });
  try {
    legacy.transport.setPeer({ id: named.id, peerAddress: peerAddress(named) });
    named.transport.setPeer({ id: legacy.id, peerAddress: peerAddress(legacy) });
    await waitFor(() =>
      legacy.transport.peerRefusals().otherCluster > 0 &&
      named.transport.peerRefusals().otherCluster > 0
    );
    assert.ok(
      named.warnings.some((text) =>
        text.includes(
          "a says it is in cluster none (started before cluster ids), this node is in red",
        )
      ),
    );
    assert.ok(
      legacy.warnings.some((text) =>
        text.includes("b says it is in cluster red, this node is in none (started before")
      ),
    );
    await waitFor(() =>
      legacy.transport.peerRefusals().byPeer.otherCluster > 0 &&
      named.transport.peerRefusals().byPeer.otherCluster > 0
    );
    assert.ok(
      legacy.warnings.some((text) =>
        text.includes(
          "b refused this node: it is in cluster red, this node is in none (started before",
        )
      ),
    );
    assert.equal(legacy.transport.isConnected(named.id), false);
    assert.equal(named.transport.isConnected(legacy.id), false);
  } finally {
    await closeAll([legacy, named]);
  }
});

Deno.test("nodes with the empty id, as older releases, still talk", async () => {
  const nodes = await startCluster(["a", "b"], { clusterId: "" });
  try {
    await flows(nodes[0], nodes[1], 3);
    assert.equal(nodes[0].transport.peerRefusals().otherCluster, 0);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a hello claiming the acceptor's own id is refused, logged and counted", async () => {
  const a = await startNode("a", { clusterId: "red" });
  try {
    const conn = await rawConnect(a.transport.address.port);
    await writeAll(
      conn,
      encodeHelloFrame({
        nodeId: nodeId("a"),
        clientUrl: "http://x",
        clusterId: "red",
        nonce: newNonce(),
      }),
    );
    assert.ok(await closedByPeer(conn));
    await waitFor(() => a.transport.peerRefusals().ownNodeId === 1);
    assert.match(
      a.warnings.at(-1)!,
      /closing the connection from 127\.0\.0\.1:\d+: PeerRefusedError: it says it is a, this node's own id: two processes started with --node-id a\?/,
    );
  } finally {
    await closeAll([a]);
  }
});

Deno.test("one member id connecting from two peer addresses at once is logged and counted", async () => {
  const a = await startNode("a", { clusterId: "red" });
  // Two processes started as c, each announcing its own peer address.
  const first = await startNode("c", { clusterId: "red", advertisedAddress: "10.0.0.3:9877" });
  const second = await startNode("c", { clusterId: "red", advertisedAddress: "10.0.0.4:9877" });
  try {
    first.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
    await waitFor(() => first.transport.isConnected(a.id));
    second.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
    await waitFor(() => a.transport.peerRefusals().nodeIdConflicts > 0);
    assert.ok(
      a.warnings.some((text) =>
        /c connected from .* announcing peer address 10\.0\.0\.(3|4):9877 while its connection from .* announcing 10\.0\.0\.(3|4):9877 was open: if this repeats, two processes run with --node-id c/
          .test(text)
      ),
    );
  } finally {
    await closeAll([a, first, second]);
  }
});

Deno.test("a member that redials from its one address is no conflict", async () => {
  const nodes = await startCluster(["a", "c"], {
    clusterId: "red",
    advertisedAddress: "10.0.0.3:9877",
  });
  try {
    const [a, c] = nodes;
    const before = a.transport.stats().handshakes;
    // A new link (as after a redial) replaces the open connection, announcing the same address.
    c.transport.removePeer(a.id);
    c.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
    await waitFor(() => a.transport.stats().handshakes > before);
    assert.equal(a.transport.peerRefusals().nodeIdConflicts, 0);
  } finally {
    await closeAll(nodes);
  }
});

Deno.test("a refusal from a node with another key is trusted as 'refused' only, and names no id", async () => {
  const a = await startNode("n2", { clusterId: "red" });
  const other = await startNode("n1", {
    clusterId: "blue",
    clusterKey: new TextEncoder().encode("another-cluster-key-0123456789ab"),
  });
  try {
    other.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
    await waitFor(() => other.transport.peerRefusals().byPeer.unproven >= 1);
    assert.equal(other.transport.peerRefusals().byPeer.otherCluster, 0);
    const lines = other.warnings.filter((text) => text.includes("PeerRefusedError"));
    assert.match(
      lines[0],
      /cannot reach n2 at .*: PeerRefusedError: the other side refused the handshake, with an answer that does not prove this node's cluster key \(another key, or not a cmqd node\): why is not known here/,
    );
    assert.ok(lines.every((text) => !text.includes("red")), lines.join("\n"));
    // The acceptor refused and counted it as before.
    assert.ok(a.transport.peerRefusals().otherCluster >= 1);
  } finally {
    await closeAll([a, other]);
  }
});

Deno.test("a stranger refused for its cluster id learns the reason, not the acceptor's ids", async () => {
  const a = await startNode("acceptor-7", { clusterId: "red-cluster-5" });
  try {
    const conn = await rawConnect(a.transport.address.port);
    const channel = new FrameChannel(conn, handshakeFrameBytesMax);
    const hello = { nodeId: nodeId("x"), clientUrl: "http://x", clusterId: "blue" };
    await writeAll(conn, encodeHelloFrame({ ...hello, nonce: newNonce() }));
    const refusal = (await channel.readFrame())!.slice();
    assert.equal(refusal[4], FrameKind.Refusal);
    assert.equal(refusal.length, 4 + 1 + 2 + 32 + 32, "version, reason, nonce, MAC");
    assert.equal(refusal[6], 1, "the reason: another cluster id");
    const text = new TextDecoder("latin1").decode(refusal);
    assert.ok(!text.includes("red-cluster-5") && !text.includes("acceptor-7"));
    // A proof it can't make: the connection closes, nothing more is said.
    await writeAll(conn, encodeProofFrame(new Uint8Array(32)));
    assert.equal(await channel.readFrame().catch(() => null), null);
    conn.close();
    await waitFor(() => a.transport.peerRefusals().otherCluster === 1);
  } finally {
    await closeAll([a]);
  }
});

Deno.test("a stranger's hello can't write lines of its own into the log: control characters are escaped", async () => {
  const a = await startNode("a", { clusterId: "red" });
  try {
    const conn = await rawConnect(a.transport.address.port);
    const hello = {
      nodeId: nodeId("x\u001b[2K\rtransport a: ok"),
      clientUrl: "http://x",
      clusterId: "blue\ntransport a: all peers proved the key\u2028",
    };
    await writeAll(conn, encodeHelloFrame({ ...hello, nonce: newNonce() }));
    await waitFor(() => a.transport.peerRefusals().otherCluster === 1);
    conn.close();
    const line = a.warnings.find((each) => each.includes("says it is in cluster"));
    assert.ok(line !== undefined, a.warnings.join("\n"));
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    assert.ok(line.includes("x\\u001b[2K\\rtransport a: ok"), line);
    assert.ok(line.includes("blue\\ntransport a: all peers proved the key\\u2028"), line);
  } finally {
    await closeAll([a]);
  }
});
