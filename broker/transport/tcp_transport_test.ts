import assert from "node:assert/strict";
import { type NodeId, nodeId } from "../../raft/mod.ts";
import { TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";
import {
  closeAll,
  entry,
  hostname,
  message,
  peerAddress,
  startCluster,
  startNode,
  testClusterKey,
  type TestNode,
  waitFor,
} from "./testing/transport_nodes.ts";

function indexesFrom(node: TestNode, from: NodeId): number[] {
  return node.received.filter((each) => each.from === from).map((each) => each.index);
}

Deno.test("three transports exchange messages both ways, in order per peer", async () => {
  const nodes = await startCluster(["a", "b", "c"]);
  const count = 300;
  for (let i = 0; i < count; i++) {
    for (const node of nodes) {
      node.transport.send(
        nodes.filter((other) => other !== node).map((other) => message(node.id, other.id, i)),
      );
    }
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await waitFor(() => nodes.every((node) => node.received.length === 2 * count));
  const expected = Array.from({ length: count }, (_, i) => i);
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node) assert.deepEqual(indexesFrom(node, other.id), expected);
    }
    assert.ok(node.received.every((each) => each.to === node.id));
    assert.deepEqual(node.unreachable, []);
    const stats = node.transport.stats();
    assert.equal(stats.messagesSent, 2 * count);
    assert.equal(stats.messagesReceived, 2 * count);
    assert.equal(stats.messagesDropped, 0);
    assert.ok(stats.framesSent <= stats.messagesSent);
  }
  await closeAll(nodes);
});

Deno.test("a hello tells the receiving side the sender's client URL", async () => {
  const nodes = await startCluster(["a", "b"]);
  await waitFor(() => nodes[1].transport.clientUrl(nodes[0].id) !== null);
  assert.equal(nodes[1].transport.clientUrl(nodes[0].id), "http://client-a");
  assert.equal(nodes[0].transport.clientUrl(nodeId("unknown")), null);
  await closeAll(nodes);
});

Deno.test("1 MiB entries and large batches arrive whole", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  const big = Array.from({ length: 12 }, (_, i) => message(a.id, b.id, i, [entry(i + 1, 1 << 20)]));
  const batch = Array.from(
    { length: 2000 },
    (_, i) => message(a.id, b.id, 100 + i, [entry(101 + i, 64)]),
  );
  a.transport.send(big);
  a.transport.send(batch);
  await waitFor(() => b.received.length === big.length + batch.length, 8000);
  assert.deepEqual(b.received, [...big, ...batch]);
  assert.deepEqual(a.unreachable, []);
  await closeAll([a, b]);
});

Deno.test("a peer that goes away is reported unreachable and receives again once back", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  const port = b.transport.address.port;
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  await b.transport.close();
  await waitFor(() => !a.transport.isConnected(b.id));
  a.transport.send([message(a.id, b.id, 2)]);
  await waitFor(() => a.unreachable.includes(b.id));

  const back = await startNode("b", { listen: { hostname, port } });
  await waitFor(() => a.transport.isConnected(b.id));
  a.transport.send([message(a.id, b.id, 3), message(a.id, b.id, 4)]);
  await waitFor(() => back.received.length === 2);
  assert.deepEqual(back.received.map((each) => each.index), [3, 4]);
  await closeAll([a, back]);
});

Deno.test("messages to a peer nobody listens for are dropped and reported", async () => {
  const probe = Deno.listen({ hostname, port: 0 });
  const deadPort = probe.addr.port;
  probe.close();
  const a = await startNode("a", {
    peers: [{ id: nodeId("dead"), peerAddress: `${hostname}:${deadPort}` }],
  });
  a.transport.send([message(a.id, nodeId("dead"), 1), message(a.id, nodeId("stranger"), 1)]);
  await waitFor(() => a.unreachable.includes(nodeId("dead")));
  assert.ok(a.unreachable.includes(nodeId("stranger")));
  assert.equal(a.transport.isConnected(nodeId("dead")), false);
  await waitFor(() => a.warnings.some((line) => line.includes("cannot reach dead")));
  await a.transport.close();
});

Deno.test("a full queue drops new messages and reports the peer", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  await a.transport.close();
  const small = await startNode("a", {
    queueBytesMax: 10_000,
    peers: [{ id: b.id, peerAddress: peerAddress(b) }],
  });
  await waitFor(() => small.transport.isConnected(b.id));
  // All in one synchronous send: the write loop cannot drain in between.
  small.transport.send(
    Array.from({ length: 10 }, (_, i) => message(a.id, b.id, i, [entry(i + 1, 2000)])),
  );
  await waitFor(() => small.unreachable.includes(b.id));
  await waitFor(() => b.received.length > 0);
  const delivered = b.received.map((each) => each.index);
  assert.ok(delivered.length < 10);
  assert.deepEqual(delivered, Array.from({ length: delivered.length }, (_, i) => i));
  await closeAll([small, b]);
});

Deno.test("a removed peer gets nothing more and is reported unreachable", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  a.transport.removePeer(b.id);
  assert.equal(a.transport.isConnected(b.id), false);
  a.transport.send([message(a.id, b.id, 2)]);
  await waitFor(() => a.unreachable.includes(b.id));
  assert.equal(b.received.length, 1);
  await closeAll([a, b]);
});

Deno.test("a removed node that still dials is dialled back; once it is gone the link ends, a set one stays", async () => {
  const probe = Deno.listen({ hostname, port: 0 });
  const port = probe.addr.port;
  probe.close();
  const fast = { livenessTickMs: 20 };
  const a = await startNode("a", fast);
  const bOptions = {
    ...fast,
    listen: { hostname, port },
    advertisedAddress: `${hostname}:${port}`,
  };
  let b = await startNode("b", bOptions);
  const bAddress = { id: b.id, peerAddress: `${hostname}:${port}` };
  a.transport.setPeer(bAddress);
  b.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
  await waitFor(() => a.transport.isConnected(b.id) && b.transport.isConnected(a.id));
  // b is removed but runs on, and dials a again: a dials it back (to answer it was removed).
  a.transport.removePeer(b.id);
  await waitFor(() => a.transport.isConnected(b.id));
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  // Was: once b was gone, a redialled it for as long as a ran.
  await b.transport.close();
  await waitFor(() => !a.transport.peerIds().includes(b.id));
  // Joined again (its address set again): that link is kept while b is down.
  b = await startNode("b", bOptions);
  a.transport.setPeer(bAddress);
  await waitFor(() => a.transport.isConnected(b.id));
  await b.transport.close();
  await waitFor(() => !a.transport.isConnected(b.id));
  await new Promise((resolve) => setTimeout(resolve, 200)); // ten liveness ticks
  assert.deepEqual(a.transport.peerIds(), [b.id]);
  await a.transport.close();
});

Deno.test("after a restart, a node only dialled back (a removed one it no longer knows) is not redialled once it is gone", async () => {
  const fast = { livenessTickMs: 20 };
  // `a` restarted after removing `b`: a transport that was never told about b.
  const a = await startNode("a", fast);
  const probe = Deno.listen({ hostname, port: 0 });
  const port = probe.addr.port;
  probe.close();
  const b = await startNode("b", {
    ...fast,
    listen: { hostname, port },
    advertisedAddress: `${hostname}:${port}`,
  });
  // b, removed but running on, dials a: a dials it back (to answer it was removed).
  b.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
  await waitFor(() => a.transport.isConnected(b.id));
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  await b.transport.close();
  // Was: a redialled b for as long as a ran (only an id removed in this process was dropped).
  await waitFor(() => !a.transport.peerIds().includes(b.id));
  await a.transport.close();
});

/** A transport on a fixed free port that announces it as its peer address. */
async function startAnnouncing(id: string, options: Partial<TcpTransportOptions>) {
  const probe = Deno.listen({ hostname, port: 0 });
  const port = probe.addr.port;
  probe.close();
  const address = `${hostname}:${port}`;
  return await startNode(id, {
    ...options,
    listen: { hostname, port },
    advertisedAddress: address,
  });
}

Deno.test("a joined node that knows a member only by dialling it back keeps redialling it after the member removes it", async () => {
  // The joiner `b` was started without --peers: it reaches the initial voter `a` only because
  // a dialled it and it dialled back. Its reconnect back-off spans many liveness ticks.
  const a = await startAnnouncing("a", { livenessTickMs: 20 });
  const b = await startAnnouncing("b", {
    livenessTickMs: 20,
    reconnectMsMin: 400,
    reconnectMsMax: 800,
  });
  a.transport.setPeer({ id: b.id, peerAddress: peerAddress(b) });
  await waitFor(() => a.transport.isConnected(b.id) && b.transport.isConnected(a.id));
  // a removes b: it closes both directions at once, and waits for b to dial again.
  a.transport.removePeer(b.id);
  await waitFor(() => !b.transport.isConnected(a.id));
  // Was: b's next liveness tick found both directions down and forgot a's address, before its
  // back-off ended: neither side dialled again, and b could never be told it was removed.
  await waitFor(() => a.transport.isConnected(b.id) && b.transport.isConnected(a.id), 5_000);
  b.transport.send([message(b.id, a.id, 1)]);
  a.transport.send([message(a.id, b.id, 2)]);
  await waitFor(() => a.received.length === 1 && b.received.length === 1);
  assert.deepEqual(b.transport.peerIds(), [a.id]);
  await closeAll([a, b]);
});

Deno.test("close is idempotent and sending afterwards is a no-op", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  await Promise.all([a.transport.close(), a.transport.close()]);
  a.transport.send([message(a.id, b.id, 1)]);
  await a.transport.close();
  await b.transport.close();
  assert.deepEqual(a.unreachable, []);
});

Deno.test("a hello too big for the handshake limit is refused at start, not by every peer", async () => {
  await assert.rejects(
    startNode("a", { clientUrl: `http://${"x".repeat(5000)}` }),
    /the hello \(\d+ bytes\) exceeds 4096/,
  );
});

Deno.test("a peer address that does not parse is refused at start, leaving nothing running", async () => {
  const warnings: string[] = [];
  assert.throws(
    () =>
      TcpTransport.start({
        nodeId: nodeId("a"),
        listen: { hostname, port: 0 },
        clientUrl: "http://client-a",
        peers: [{ id: nodeId("b"), peerAddress: "no-port" }],
        clusterKey: testClusterKey,
        log: (line) => warnings.push(line),
      }),
    /peer address no-port is not host:port/,
  );
  // An accept loop left running on the closed listener would say so (and the sanitizers would
  // catch its timers): give it a moment to.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(warnings, []);
});

Deno.test("a new peer address that does not parse is refused and the link keeps its old one", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  assert.throws(
    () => a.transport.setPeer({ id: b.id, peerAddress: "no-port" }),
    /peer address no-port is not host:port/,
  );
  assert.equal(a.transport.isConnected(b.id), true);
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  await closeAll([a, b]);
});

Deno.test("an accepted connection whose setNoDelay throws is still served, and accepting goes on", async () => {
  // The listener is Deno's; its first accepted connection throws from setNoDelay, as a socket
  // reset before it is configured does on some platforms.
  const listen = Deno.listen;
  let injected = 0;
  Deno.listen = ((options: Deno.TcpListenOptions) => {
    const listener = listen(options);
    const accept = listener.accept.bind(listener);
    listener.accept = async () => {
      const conn = await accept();
      if (injected++ === 0) {
        conn.setNoDelay = () => {
          throw new Error("ENOTCONN: socket is not connected (injected setNoDelay failure)");
        };
      }
      return conn;
    };
    return listener;
  }) as typeof Deno.listen;
  let a: TestNode;
  try {
    a = await startNode("a");
  } finally {
    Deno.listen = listen;
  }
  const b = await startNode("b", { peers: [{ id: nodeId("a"), peerAddress: peerAddress(a) }] });
  await waitFor(() => b.transport.isConnected(a.id), 10_000);
  b.transport.send([message(b.id, a.id, 1)]);
  await waitFor(() => a.received.length === 1, 10_000);
  assert.ok(injected >= 1);
  // A second connection is accepted too.
  const c = await startNode("c", { peers: [{ id: nodeId("a"), peerAddress: peerAddress(a) }] });
  await waitFor(() => c.transport.isConnected(a.id), 10_000);
  c.transport.send([message(c.id, a.id, 2)]);
  await waitFor(() => a.received.length === 2, 10_000);
  await closeAll([a, b, c]);
});
