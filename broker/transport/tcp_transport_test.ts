import assert from "node:assert/strict";
import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  nodeId,
  type Term,
} from "../../raft/mod.ts";
import { encodeHelloFrame, encodeMessagesFrame } from "./peer_codec.ts";
import { TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";

const hostname = "127.0.0.1";

/** A transport with everything it received and every unreachable report it made. */
interface TestNode {
  id: NodeId;
  transport: TcpTransport;
  received: Message[];
  unreachable: NodeId[];
  warnings: string[];
}

async function startNode(
  id: string,
  options: Partial<TcpTransportOptions> = {},
): Promise<TestNode> {
  const received: Message[] = [];
  const unreachable: NodeId[] = [];
  const warnings: string[] = [];
  const transport = await TcpTransport.start({
    nodeId: nodeId(id),
    listen: { hostname, port: 0 },
    clientUrl: `http://client-${id}`,
    peers: [],
    reconnectMsMin: 10,
    reconnectMsMax: 100,
    log: (line) => warnings.push(line),
    ...options,
  });
  transport.onMessage((message) => received.push(message));
  transport.onUnreachable((peer) => unreachable.push(peer));
  return { id: nodeId(id), transport, received, unreachable, warnings };
}

function peerAddress(node: TestNode): string {
  return `${hostname}:${node.transport.address.port}`;
}

/** Starts `ids.length` transports that all know each other and waits until all are connected. */
async function startCluster(ids: string[]): Promise<TestNode[]> {
  const nodes = await Promise.all(ids.map((id) => startNode(id)));
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node) node.transport.setPeer({ id: other.id, peerAddress: peerAddress(other) });
    }
  }
  await waitFor(() =>
    nodes.every((node) =>
      nodes.every((other) => other === node || node.transport.isConnected(other.id))
    )
  );
  return nodes;
}

async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.transport.close()));
}

/** Polls `condition` until it holds; fails after `deadlineMs` (a bound, not a timing claim). */
async function waitFor(condition: () => boolean, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function message(from: NodeId, to: NodeId, index: number, entries: Entry[] = []): Message {
  return {
    type: MessageType.App,
    from,
    to,
    term: 1 as Term,
    logTerm: 1 as Term,
    index: index as LogIndex,
    entries,
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
  };
}

function entry(index: number, bytes: number): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) data[i] = (index + i) & 0xff;
  return { term: 1 as Term, index: index as LogIndex, type: 16, data, timestamp: index };
}

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
  const big = Array.from({ length: 12 }, (_, i) => message(a.id, b.id, i, [entry(i, 1 << 20)]));
  const batch = Array.from(
    { length: 2000 },
    (_, i) => message(a.id, b.id, 100 + i, [entry(i, 64)]),
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
    Array.from({ length: 10 }, (_, i) => message(a.id, b.id, i, [entry(i, 2000)])),
  );
  await waitFor(() => small.unreachable.includes(b.id));
  await waitFor(() => b.received.length > 0);
  const delivered = b.received.map((each) => each.index);
  assert.ok(delivered.length < 10);
  assert.deepEqual(delivered, Array.from({ length: delivered.length }, (_, i) => i));
  await closeAll([small, b]);
});

Deno.test("garbage from a raw client closes that connection only", async (t) => {
  const [a, b] = await startCluster(["a", "b"]);
  const garbage: Record<string, Uint8Array> = {
    "random bytes": new Uint8Array([7, 0, 0, 0, 99, 1, 2, 3, 4, 5, 6]),
    "an oversized length": new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]),
    "messages before any hello": encodeMessagesFrame([message(nodeId("x"), a.id, 1)]),
    "a message not from the hello's node": concat(
      encodeHelloFrame({ nodeId: nodeId("x"), clientUrl: "" }),
      encodeMessagesFrame([message(nodeId("y"), a.id, 1)]),
    ),
    "a message to another node": concat(
      encodeHelloFrame({ nodeId: nodeId("x"), clientUrl: "" }),
      encodeMessagesFrame([message(nodeId("x"), nodeId("z"), 1)]),
    ),
  };
  for (const [name, bytes] of Object.entries(garbage)) {
    await t.step(name, async () => {
      const warningsBefore = a.warnings.length;
      const raw = await Deno.connect({ hostname, port: a.transport.address.port });
      await raw.write(bytes);
      // The server closes its end: the raw client reads end-of-stream (or a reset).
      const end = await raw.read(new Uint8Array(16)).catch(() => null);
      assert.equal(end, null);
      raw.close();
      await waitFor(() => a.warnings.length > warningsBefore);
      assert.match(a.warnings.at(-1)!, /closing the connection/);
    });
  }
  assert.equal(a.received.length, 0);
  b.transport.send([message(b.id, a.id, 42)]);
  await waitFor(() => a.received.length === 1);
  assert.equal(a.received[0].index, 42);
  await closeAll([a, b]);
});

Deno.test("a hello from another cluster is refused", async () => {
  const a = await startNode("a", { clusterId: "blue" });
  const b = await startNode("b", { clusterId: "green" });
  b.transport.setPeer({ id: a.id, peerAddress: peerAddress(a) });
  await waitFor(() => a.warnings.some((line) => line.includes("cluster id green")));
  assert.equal(a.transport.clientUrl(b.id), null);
  await closeAll([a, b]);
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

Deno.test("close is idempotent and sending afterwards is a no-op", async () => {
  const [a, b] = await startCluster(["a", "b"]);
  await Promise.all([a.transport.close(), a.transport.close()]);
  a.transport.send([message(a.id, b.id, 1)]);
  await a.transport.close();
  await b.transport.close();
  assert.deepEqual(a.unreachable, []);
});

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(first.length + second.length);
  bytes.set(first);
  bytes.set(second, first.length);
  return bytes;
}
