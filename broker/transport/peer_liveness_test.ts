/**
 * Peer links notice a path that went silent and redial it. A relay between two transports cuts
 * the path without closing a socket (a partition: nothing answers, nothing resets) and, on
 * heal, lets only new connections through — the cut connection stays silent forever, as a TCP
 * connection in retransmit back-off would for seconds. Traffic resumes only if the link
 * redials. The tests assert behaviour (redial, delivery), never how long it took.
 */
import assert from "node:assert/strict";
import { nodeId } from "../../raft/mod.ts";
import { closedByPeer, rawHandshake } from "./testing/raw_peer.ts";
import { TcpProxy } from "./testing/tcp_proxy.ts";
import {
  closeAll,
  message,
  peerAddress,
  startNode,
  testClusterKey,
  waitFor,
} from "./testing/transport_nodes.ts";

const fast = { livenessTickMs: 20, silenceMsMax: 100 };

Deno.test("a link whose path goes silent is redialled and traffic resumes", async () => {
  const a = await startNode("a", fast);
  const b = await startNode("b", fast);
  const proxy = TcpProxy.start(peerAddress(b));
  a.transport.setPeer({ id: b.id, peerAddress: proxy.address });
  await waitFor(() => a.transport.isConnected(b.id));
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);

  proxy.cut();
  proxy.heal();
  // Keep sending, as Raft would: only a new connection can carry these.
  let index = 2;
  await waitFor(() => {
    a.transport.send([message(a.id, b.id, index++)]);
    return b.received.length > 1;
  }, 30_000);
  assert.ok(proxy.connections >= 2, "the link dialled again");
  assert.ok(a.transport.stats().linksSilenced >= 1);
  assert.ok(a.warnings.some((line) => line.includes("no word from b")));
  // The accepting side let go of the silent connection too: silenced, or replaced by the
  // redialled one when that handshake came first (a race the test must not depend on; the
  // silence check of accepted connections has its own test below).
  await waitFor(() => proxy.targetClosed(0));
  await closeAll([a, b]);
  await proxy.close();
});

Deno.test("idle links stay up: keepalives count as hearing from the peer", async () => {
  const a = await startNode("a", fast);
  const b = await startNode("b", fast);
  a.transport.setPeer({ id: b.id, peerAddress: peerAddress(b) });
  await waitFor(() => a.transport.isConnected(b.id));
  const ticksAtStart = a.transport.stats().framesSent;
  // Idle well past the silence limit, measured in keepalives sent rather than in time.
  await waitFor(() => a.transport.stats().framesSent >= ticksAtStart + 20, 30_000);
  assert.equal(a.transport.stats().linksSilenced, 0);
  assert.equal(b.transport.stats().linksSilenced, 0);
  assert.equal(a.transport.stats().handshakes, 1);
  a.transport.send([message(a.id, b.id, 1)]);
  await waitFor(() => b.received.length === 1);
  await closeAll([a, b]);
});

Deno.test("an accepted connection whose dialer falls silent is closed", async () => {
  const a = await startNode("a", fast);
  const raw = await rawHandshake(a.transport.address.port, {
    key: testClusterKey,
    nodeId: nodeId("b"),
    peer: a.id,
  });
  // The raw peer never sends a keepalive.
  assert.equal(await closedByPeer(raw.conn), true);
  assert.equal(a.transport.stats().linksSilenced, 1);
  assert.match(a.warnings.at(-1)!, /closing the connection from b: silent/);
  await a.transport.close();
});
