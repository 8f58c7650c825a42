/**
 * Nodes of two peer protocol versions refuse each other with the versions logged on both sides,
 * not a crash and not a silent hang: the acceptor answers a hello of another version with a
 * challenge of its own version and closes; the dialer logs what it read.
 */
import assert from "node:assert/strict";
import { nodeId } from "../../raft/mod.ts";
import { newNonce } from "./peer_auth.ts";
import { encodeHelloFrame, peerProtocolVersion } from "./peer_codec.ts";
import { writeAll } from "./peer_io.ts";
import { rawConnect } from "./testing/raw_peer.ts";
import { closeAll, hostname, message, startNode, waitFor } from "./testing/transport_nodes.ts";

/** Everything `conn` gets until the other side closes it (bounded). */
async function readUntilClosed(conn: Deno.Conn, deadlineMs = 5000): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  const deadline = setTimeout(() => conn.close(), deadlineMs);
  try {
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) break;
      chunks.push(...buffer.subarray(0, read));
    }
  } finally {
    clearTimeout(deadline);
  }
  return new Uint8Array(chunks);
}

Deno.test("a hello of a newer protocol version is answered with this node's version, then closed", async () => {
  const a = await startNode("a");
  const hello = encodeHelloFrame({ nodeId: nodeId("b"), clientUrl: "http://b", nonce: newNonce() });
  hello[5] = peerProtocolVersion + 1;
  const raw = await rawConnect(a.transport.address.port);
  await writeAll(raw, hello);
  const answer = await readUntilClosed(raw);
  raw.close();
  // A challenge frame cut after its version byte: length 2, kind 3, this node's version.
  assert.deepEqual([...answer], [2, 0, 0, 0, 3, peerProtocolVersion]);
  await waitFor(() => a.warnings.some((line) => /peer protocol version 3, expected 2/.test(line)));
  assert.match(
    a.warnings.join("\n"),
    /closing the connection from 127\.0\.0\.1.*version 3, expected 2 \(every node of a cluster must run a release with the same peer protocol\)/,
  );
  assert.equal(a.received.length, 0);
  await closeAll([a]);
});

Deno.test("a dialer answered by a node of a newer protocol version logs both versions", async () => {
  const a = await startNode("a");
  // A node of the next release: reads the hello, answers with its own version, closes.
  const listener = Deno.listen({ hostname, port: 0 });
  const newer = (async () => {
    for await (const conn of listener) {
      await conn.read(new Uint8Array(4096)).catch(() => null);
      await writeAll(conn, new Uint8Array([2, 0, 0, 0, 3, peerProtocolVersion + 1])).catch(
        () => {},
      );
      conn.close();
    }
  })();
  a.transport.setPeer({ id: nodeId("b"), peerAddress: `${hostname}:${listener.addr.port}` });
  a.transport.send([message(a.id, nodeId("b"), 1)]);
  await waitFor(() =>
    a.warnings.some((line) =>
      /cannot reach b at .*: PeerCodecError: peer protocol version 3, expected 2/.test(line)
    )
  );
  listener.close();
  await newer.catch(() => {});
  await closeAll([a]);
});
