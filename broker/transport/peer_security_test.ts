/**
 * Black-box tests of the peer port against strangers and forgers: raw sockets send garbage,
 * forged hellos, oversized lengths, wrong keys, tampered, replayed, reordered and reflected
 * frames, and too many connections. Each must be refused without anything reaching the
 * replica, and the honest peers must carry on.
 */
import assert from "node:assert/strict";
import { type LogIndex, MessageType, nodeId, type Term } from "../../raft/mod.ts";
import { newNonce, tagBytes } from "./peer_auth.ts";
import {
  decodeFrame,
  encodeHelloFrame,
  encodeMessagesFrame,
  encodeProofFrame,
} from "./peer_codec.ts";
import { FrameChannel, writeAll } from "./peer_io.ts";
import { closedByPeer, rawConnect, rawHandshake } from "./testing/raw_peer.ts";
import { TcpProxy } from "./testing/tcp_proxy.ts";
import {
  closeAll,
  concat,
  hostname,
  message,
  peerAddress,
  startCluster,
  startNode,
  testClusterKey,
  type TestNode,
  waitFor,
} from "./testing/transport_nodes.ts";

const wrongKey = new TextEncoder().encode("another-cluster-key-0123456789abcdef");

/** A heartbeat `from` → `to` with the largest term a u53 can carry. */
function hugeTermHeartbeat(from: string, to: string) {
  return {
    ...message(nodeId(from), nodeId(to), 0),
    type: MessageType.Heartbeat,
    term: Number.MAX_SAFE_INTEGER as Term,
    logTerm: 0 as Term,
  };
}

/** Asserts that the honest peer `b` still gets a message through to `a`. */
async function honestTrafficFlows(a: TestNode, b: TestNode, index: number): Promise<void> {
  const before = a.received.length;
  b.transport.send([message(b.id, a.id, index)]);
  await waitFor(() => a.received.length > before);
  assert.equal(a.received.at(-1)!.index, index);
  assert.equal(a.received.at(-1)!.from, b.id);
}

Deno.test("bytes from a client without the key close its connection and reach nothing", async (t) => {
  const [a, b] = await startCluster(["a", "b"]);
  const hello = encodeHelloFrame({ nodeId: b.id, clientUrl: "http://attacker", nonce: newNonce() });
  const cases: Record<string, Uint8Array> = {
    "random bytes": new Uint8Array([7, 0, 0, 0, 99, 1, 2, 3, 4, 5, 6]),
    "a 64 MiB length header before any hello": new Uint8Array([0xfc, 0xff, 0xff, 0x03]),
    "a 5 KiB frame before the handshake": new Uint8Array([0x00, 0x14, 0, 0, 1]),
    "messages before any hello": encodeMessagesFrame([message(b.id, a.id, 1)]),
    "a hello claiming b's id, then a guessed proof and a huge-term heartbeat": concat(
      hello,
      encodeProofFrame(newNonce()),
      encodeMessagesFrame([hugeTermHeartbeat("b", "a")], tagBytes),
    ),
    "a hello, then messages instead of a proof": concat(
      hello,
      encodeMessagesFrame([hugeTermHeartbeat("b", "a")]),
    ),
    "a hello of protocol version 1": (() => {
      const bytes = hello.slice();
      bytes[5] = 1;
      return bytes;
    })(),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    await t.step(name, async () => {
      const failuresBefore = a.transport.stats().handshakesFailed;
      const raw = await rawConnect(a.transport.address.port);
      await writeAll(raw, bytes);
      assert.equal(await closedByPeer(raw), true, "the node closed the connection");
      await waitFor(() => a.transport.stats().handshakesFailed > failuresBefore);
      assert.match(a.warnings.at(-1)!, /closing the connection from 127\.0\.0\.1/);
    });
  }
  assert.equal(a.received.length, 0);
  assert.equal(a.transport.clientUrl(b.id), "http://client-b", "the forged clientUrl was ignored");
  await honestTrafficFlows(a, b, 42);
  await closeAll([a, b]);
});

Deno.test("an oversized length before the hello is refused without waiting for its bytes", async () => {
  const a = await startNode("a");
  const raw = await rawConnect(a.transport.address.port);
  // Only the 4-byte header: a reader that buffered first would wait for 64 MiB, not close.
  await writeAll(raw, new Uint8Array([0xfc, 0xff, 0xff, 0x03]));
  assert.equal(await closedByPeer(raw), true);
  assert.match(a.warnings.join("\n"), /exceeds 4096/);
  await a.transport.close();
});

Deno.test("a node with another key neither connects nor delivers, both ways", async () => {
  const a = await startNode("a");
  const intruder = await startNode("b", { clusterKey: wrongKey });
  a.transport.setPeer({ id: intruder.id, peerAddress: peerAddress(intruder) });
  intruder.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
  await waitFor(() =>
    a.transport.stats().handshakesFailed >= 2 && intruder.transport.stats().handshakesFailed >= 2
  );
  intruder.transport.send([hugeTermHeartbeat("b", "a")]);
  a.transport.send([message(a.id, intruder.id, 1)]);
  assert.equal(a.transport.isConnected(intruder.id), false);
  assert.equal(intruder.transport.isConnected(a.id), false);
  assert.equal(a.received.length + intruder.received.length, 0);
  assert.equal(a.transport.clientUrl(intruder.id), null);
  assert.match(a.warnings.join("\n"), /did not prove the cluster key/);
  await closeAll([a, intruder]);
});

Deno.test("a tampered frame closes the connection and is not delivered", async () => {
  const a = await startNode("a");
  const raw = await rawHandshake(a.transport.address.port, {
    key: testClusterKey,
    nodeId: nodeId("b"),
    peer: a.id,
  });
  await raw.send([message(nodeId("b"), a.id, 1)]);
  await waitFor(() => a.received.length === 1);
  const frame = raw.sealed([message(nodeId("b"), a.id, 2)]);
  frame[20] ^= 1; // inside the message: its tag no longer matches
  await writeAll(raw.conn, frame);
  assert.equal(await closedByPeer(raw.conn), true);
  assert.deepEqual(a.received.map((each) => each.index), [1]);
  assert.match(a.warnings.at(-1)!, /failed authentication/);
  await a.transport.close();
});

Deno.test("a replayed or reordered frame closes the connection", async (t) => {
  const a = await startNode("a");
  const connect = () =>
    rawHandshake(a.transport.address.port, {
      key: testClusterKey,
      nodeId: nodeId("b"),
      peer: a.id,
    });
  await t.step("the same frame twice", async () => {
    const raw = await connect();
    const first = raw.sealed([message(nodeId("b"), a.id, 1)]);
    await writeAll(raw.conn, first);
    await writeAll(raw.conn, first);
    assert.equal(await closedByPeer(raw.conn), true);
    assert.deepEqual(a.received.map((each) => each.index), [1]);
  });
  await t.step("the second frame before the first", async () => {
    const raw = await connect();
    const first = raw.sealed([message(nodeId("b"), a.id, 2)]);
    const second = raw.sealed([message(nodeId("b"), a.id, 3)]);
    await writeAll(raw.conn, concat(second, first));
    assert.equal(await closedByPeer(raw.conn), true);
    assert.deepEqual(a.received.map((each) => each.index), [1]);
  });
  await t.step("a frame of an earlier connection", async () => {
    const earlier = await connect();
    const frame = earlier.sealed([message(nodeId("b"), a.id, 4)]);
    earlier.conn.close();
    const later = await connect();
    await writeAll(later.conn, frame);
    assert.equal(await closedByPeer(later.conn), true);
    assert.deepEqual(a.received.map((each) => each.index), [1]);
  });
  await a.transport.close();
});

Deno.test("a frame the node sent, reflected back to it, closes the connection", async () => {
  const a = await startNode("a", { livenessTickMs: 20 });
  const raw = await rawHandshake(a.transport.address.port, {
    key: testClusterKey,
    nodeId: nodeId("b"),
    peer: a.id,
  });
  // The node sends keepalives on this connection; read one and send it straight back.
  const channel = new FrameChannel(raw.conn, 1024);
  const keepalive = await channel.readFrame();
  assert.ok(keepalive !== null);
  raw.session.opener.open(keepalive);
  assert.equal(decodeFrame(keepalive, tagBytes).kind, "keepalive");
  await writeAll(raw.conn, keepalive);
  assert.equal(await closedByPeer(raw.conn), true);
  assert.match(a.warnings.at(-1)!, /failed authentication/);
  await a.transport.close();
});

Deno.test("a recorded handshake replayed to the node is refused", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  const proxy = TcpProxy.start(peerAddress(a));
  const c = await startNode("c");
  c.transport.setPeer({ id: a.id, peerAddress: proxy.address });
  await waitFor(() => c.transport.isConnected(a.id));
  c.transport.send([message(c.id, a.id, 7)]);
  await waitFor(() => a.received.length === 1);
  const recorded = proxy.sentBy(0); // hello, proof and a frame of c's connection
  const failuresBefore = a.transport.stats().handshakesFailed;
  const raw = await rawConnect(a.transport.address.port);
  await writeAll(raw, recorded);
  assert.equal(await closedByPeer(raw), true);
  await waitFor(() => a.transport.stats().handshakesFailed > failuresBefore);
  assert.match(a.warnings.at(-1)!, /did not prove the cluster key/);
  assert.equal(a.received.length, 1);
  await honestTrafficFlows(a, b, 8);
  await closeAll([a, b, c]);
  await proxy.close();
});

Deno.test("at a cap the oldest unproven connection makes room; proven ones are never pushed out", async (t) => {
  await t.step("per remote address", async () => {
    const a = await startNode("a", {
      inboundConnectionsPerAddressMax: 2,
      inboundConnectionsMax: 10,
    });
    // Strangers hold both of the address's slots without proving anything.
    const strangers = [
      await rawConnect(a.transport.address.port),
      await rawConnect(a.transport.address.port),
    ];
    // A member from the same address still gets in: the oldest stranger is closed for it.
    const member = await rawHandshake(a.transport.address.port, {
      key: testClusterKey,
      nodeId: nodeId("b"),
      peer: a.id,
    });
    assert.equal(await closedByPeer(strangers[0]), true);
    assert.equal(a.transport.stats().connectionsEvicted, 1);
    assert.match(a.warnings.join("\n"), /oldest connection still in its handshake/);
    await member.send([message(nodeId("b"), a.id, 1)]);
    await waitFor(() => a.received.length === 1);
    // With both slots held by proven peers, a newcomer is refused and nobody is pushed out.
    const second = await rawHandshake(a.transport.address.port, {
      key: testClusterKey,
      nodeId: nodeId("c"),
      peer: a.id,
    });
    assert.equal(await closedByPeer(strangers[1]), true);
    // Both proven (a message from each arrived): the newcomer is refused, neither is pushed out.
    await member.send([message(nodeId("b"), a.id, 2)]);
    await second.send([message(nodeId("c"), a.id, 3)]);
    await waitFor(() => a.received.length === 3);
    const refused = await rawConnect(a.transport.address.port);
    assert.equal(await closedByPeer(refused), true);
    assert.equal(a.transport.stats().connectionsRefused, 1);
    assert.match(a.warnings.at(-1)!, /refused a connection: .*inboundConnectionsPerAddressMax/);
    await member.send([message(nodeId("b"), a.id, 4)]);
    await second.send([message(nodeId("c"), a.id, 5)]);
    await waitFor(() => a.received.length === 5);
    member.conn.close();
    second.conn.close();
    await a.transport.close();
  });
  await t.step("in total", async () => {
    const a = await startNode("a", {
      inboundConnectionsPerAddressMax: 10,
      inboundConnectionsMax: 3,
    });
    const strangers = await Promise.all([1, 2, 3].map(() => rawConnect(a.transport.address.port)));
    const member = await rawHandshake(a.transport.address.port, {
      key: testClusterKey,
      nodeId: nodeId("b"),
      peer: a.id,
    });
    assert.equal(await closedByPeer(strangers[0]), true);
    await member.send([message(nodeId("b"), a.id, 1)]);
    await waitFor(() => a.received.length === 1);
    assert.equal(a.transport.stats().connectionsEvicted, 1);
    for (const conn of strangers.slice(1)) conn.close();
    member.conn.close();
    await a.transport.close();
  });
});

/**
 * A worker that opens TCP connections to `port` and resets them (RST) at once, in batches, until
 * told to stop: from another thread, so they keep coming while this one is busy.
 */
function startResetFlood(port: number): { stop(): Promise<void> } {
  const source = `
    import net from "node:net";
    let flooding = true;
    self.onmessage = () => (flooding = false);
    const reset = () => new Promise((resolve) => {
      const socket = net.connect(${port}, "${hostname}", () => socket.resetAndDestroy());
      socket.on("error", () => {});
      socket.on("close", resolve);
    });
    while (flooding) {
      await Promise.all(Array.from({ length: 10 }, reset));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    self.postMessage("stopped");
  `;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  return {
    async stop() {
      const stopped = new Promise((resolve) => (worker.onmessage = resolve));
      worker.postMessage("stop");
      await stopped;
      worker.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

Deno.test("a stranger resetting connections before they are accepted does not hold up the accept loop", async () => {
  // A connection reset while it waits to be accepted makes the accept fail (NotConnected). That
  // says nothing about the listener, so it must not pause the loop: a pause per failure (there
  // was 100 ms) let a stranger's steady trickle of resets back the accept queue up for good, and
  // no member's connection was accepted within its connect deadline again.
  const a = await startNode("a");
  const flood = startResetFlood(a.transport.address.port);
  try {
    // Resets pile up in the accept queue while this thread (the listener's) is busy.
    await waitFor(() => a.warnings.length > 0);
    const busyUntil = Date.now() + 300;
    while (Date.now() < busyUntil) {
      // Busy, as under load.
    }
    const b = await startNode("b", { peers: [{ id: a.id, peerAddress: peerAddress(a) }] });
    try {
      await waitFor(() => b.transport.isConnected(a.id));
      b.transport.send([message(b.id, a.id, 1)]);
      await waitFor(() => a.received.length === 1);
    } finally {
      await b.transport.close();
    }
  } finally {
    await flood.stop();
    await a.transport.close();
  }
});

Deno.test("a connection that does not finish its handshake in time is closed", async () => {
  const a = await startNode("a", { handshakeMsMax: 100 });
  const raw = await rawConnect(a.transport.address.port);
  assert.equal(await closedByPeer(raw), true);
  assert.match(a.warnings.at(-1)!, /no handshake within 100 ms/);
  assert.equal(a.transport.stats().handshakesFailed, 1);
  await a.transport.close();
});

Deno.test("a key holder's impossible messages are dropped and logged; its good ones arrive", async () => {
  const a = await startNode("a");
  const raw = await rawHandshake(a.transport.address.port, {
    key: testClusterKey,
    nodeId: nodeId("b"),
    peer: a.id,
  });
  await raw.send([
    hugeTermHeartbeat("b", "a"),
    message(nodeId("c"), a.id, 2), // not from the authenticated peer
    message(nodeId("b"), nodeId("z"), 3), // not to this node
    { ...message(nodeId("b"), a.id, 4), index: (2 ** 53 - 1) as LogIndex },
    message(nodeId("b"), a.id, 5),
  ]);
  await waitFor(() => a.received.length === 1);
  assert.deepEqual(a.received.map((each) => each.index), [5]);
  assert.equal(a.transport.stats().messagesRefused, 4);
  const warnings = a.warnings.join("\n");
  assert.match(warnings, /dropped a message from b: term 9007199254740991 is not an integer/);
  assert.match(warnings, /it claims to be from c/);
  assert.match(warnings, /it is addressed to z/);
  raw.conn.close();
  await a.transport.close();
});
