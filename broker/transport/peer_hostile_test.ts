/**
 * Hostile bytes on a started node's peer port, over real loopback sockets: frames whose tag is
 * good but whose body is garbage (a buggy key holder), a frame of too many items, a handshake
 * trickled in, a frame cut short. Each closes one connection at most, reaches nothing, and the
 * node goes on serving its honest peers.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Message, nodeId } from "../../raft/mod.ts";
import { newNonce, tagBytes } from "./peer_auth.ts";
import {
  decodeFrame,
  encodeHelloFrame,
  encodeMessagesFrame,
  frameItemsMax,
  PeerCodecError,
} from "./peer_codec.ts";
import { messageLimitsDefault, messageProblem } from "./message_validation.ts";
import { writeAll } from "./peer_io.ts";
import { closedByPeer, rawConnect, rawHandshake, type RawSession } from "./testing/raw_peer.ts";
import {
  closeAll,
  message,
  startNode,
  testClusterKey,
  type TestNode,
  waitFor,
} from "./testing/transport_nodes.ts";

/** A key holder's connection to `a`, proven as `b`. */
function proven(a: TestNode): Promise<RawSession> {
  return rawHandshake(a.transport.address.port, {
    key: testClusterKey,
    nodeId: nodeId("b"),
    peer: a.id,
  });
}

/** `body` (kind byte and what follows) as a frame with room for a tag, tagged by `raw`. */
function sealedFrame(raw: RawSession, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.length + tagBytes);
  new DataView(frame.buffer).setUint32(0, frame.length - 4, true);
  frame.set(body, 4);
  raw.session.sealer.seal(frame);
  return frame;
}

/** A tagger whose tags nobody checks: `outcome` only decodes. */
const proofless = { session: { sealer: { seal() {} } } } as unknown as RawSession;

/** What `a` must do with `frame` from its proven peer `b`: close, or deliver these messages. */
function outcome(frame: Uint8Array): "closed" | Message[] {
  let decoded;
  try {
    decoded = decodeFrame(frame, tagBytes);
  } catch (error) {
    if (error instanceof PeerCodecError) return "closed";
    throw error;
  }
  if (decoded.kind === "keepalive") return [];
  if (decoded.kind !== "messages") return "closed";
  return decoded.messages.filter((each) =>
    each.from === "b" && each.to === "a" && messageProblem(each, messageLimitsDefault) === null
  );
}

/** A proven connection still gets a message through to `a`. */
async function stillServes(a: TestNode, index: number): Promise<void> {
  const raw = await proven(a);
  const before = a.received.length;
  await raw.send([message(nodeId("b"), a.id, index)]);
  await waitFor(() => a.received.length > before);
  assert.equal(a.received.at(-1)!.index, index);
  raw.conn.close();
}

Deno.test("a key holder's frames with good tags and garbage or mutated bodies close the connection or deliver only what the checks pass", async () => {
  const a = await startNode("a");
  try {
    const valid = encodeMessagesFrame([message(nodeId("b"), a.id, 7)]).subarray(4);
    const bodies = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }).map((edits) => {
        const body = valid.slice();
        for (const [at, value] of edits) body[at] = value;
        return body;
      }),
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        runs++;
        const expected = outcome(sealedFrame(proofless, body));
        const raw = await proven(a);
        const before = a.received.length;
        await writeAll(raw.conn, sealedFrame(raw, body));
        if (expected === "closed") {
          assert.equal(await closedByPeer(raw.conn), true, "a bad frame left its connection open");
          assert.equal(a.received.length, before, "a bad frame delivered something");
          return;
        }
        // Still open, in order: what the checks pass, then the next frame.
        await raw.send([message(nodeId("b"), a.id, 1000 + runs)]);
        await waitFor(() => a.received.at(-1)?.index === 1000 + runs);
        assert.deepEqual(
          a.received.slice(before, -1).map((each) => each.index),
          expected.map((each) => each.index),
        );
        raw.conn.close();
      }),
      { numRuns: 40, seed: 875_401 },
    );
    assert.equal(runs, 40);
    const stats = a.transport.stats();
    assert.ok(stats.handshakes >= 40);
    await stillServes(a, 9);
  } finally {
    await closeAll([a]);
  }
});

Deno.test("a key holder's frame of more than frameItemsMax items closes its connection, delivers nothing", async () => {
  const a = await startNode("a");
  try {
    const raw = await proven(a);
    // frameItemsMax + 1 heartbeat-sized appends: each message is fine, the count is not.
    const one = encodeMessagesFrame([message(nodeId("b"), a.id, 1)]).subarray(9);
    const count = frameItemsMax + 1;
    const body = new Uint8Array(1 + 4 + count * one.length);
    body[0] = 2;
    new DataView(body.buffer).setUint32(1, count, true);
    for (let i = 0; i < count; i++) body.set(one, 5 + i * one.length);
    await writeAll(raw.conn, sealedFrame(raw, body));
    assert.equal(await closedByPeer(raw.conn), true);
    assert.equal(a.received.length, 0);
    assert.ok(a.warnings.some((line) => /exceed the frame's limit of items/.test(line)));
    await stillServes(a, 3);
  } finally {
    await closeAll([a]);
  }
});

Deno.test("a hello trickled in a byte at a time is cut off at the handshake deadline", async () => {
  const a = await startNode("a", { handshakeMsMax: 300 });
  try {
    const conn = await rawConnect(a.transport.address.port);
    const hello = encodeHelloFrame({
      nodeId: nodeId("b"),
      clientUrl: "http://b",
      nonce: newNonce(),
    });
    let sent = 0;
    let open = true;
    const trickle = (async () => {
      for (; sent < hello.length && open; sent++) {
        await conn.write(hello.subarray(sent, sent + 1)).catch(() => (open = false));
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    await waitFor(() => a.transport.stats().handshakesFailed === 1);
    open = false;
    await trickle;
    assert.ok(sent < hello.length, "the whole hello arrived before the deadline");
    assert.ok(a.warnings.some((line) => /no handshake within 300 ms/.test(line)));
    await stillServes(a, 4);
    conn.close();
  } finally {
    await closeAll([a]);
  }
});

Deno.test("a frame cut short by the peer's close delivers nothing and ends only that connection", async () => {
  const a = await startNode("a");
  try {
    const raw = await proven(a);
    const frame = raw.sealed([message(nodeId("b"), a.id, 5)]);
    await writeAll(raw.conn, frame.subarray(0, frame.length - 1));
    raw.conn.close();
    await stillServes(a, 6);
    assert.deepEqual(a.received.map((each) => each.index), [6]);
  } finally {
    await closeAll([a]);
  }
});
