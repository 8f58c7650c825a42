/**
 * TLS on peer links, on real loopback sockets with certificates made by openssl: TLS peers talk
 * with the key handshake inside; a plain peer and a TLS peer never do, and each one's log says
 * why; a certificate the dialer can't verify (another CA, another name, no CA given) is refused;
 * and TLS without the cluster key admits nothing.
 */
import assert from "node:assert/strict";
import { nodeId } from "../../raft/mod.ts";
import { newNonce, tagBytes } from "./peer_auth.ts";
import { encodeHelloFrame, encodeMessagesFrame, encodeProofFrame } from "./peer_codec.ts";
import { writeAll } from "./peer_io.ts";
import type { PeerTlsOptions } from "./peer_tls.ts";
import { hasOpenssl, issueCertificate, makeTestCa } from "./testing/certificates.ts";
import { closedByPeer, rawConnect, rawHandshake } from "./testing/raw_peer.ts";
import {
  closeAll,
  concat,
  message,
  peerAddress,
  startCluster,
  startNode,
  testClusterKey,
  type TestNode,
  waitFor,
} from "./testing/transport_nodes.ts";

/** The TLS settings tests use: the good pair, a pair from another CA, a pair for another name. */
interface Pki {
  ca: string;
  good: PeerTlsOptions;
  otherCa: PeerTlsOptions;
  otherName: PeerTlsOptions;
}

async function withPki(fn: (pki: Pki) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-peer-tls-" });
  try {
    const ca = await makeTestCa(dir);
    const rogueCa = await makeTestCa(dir, "rogue-ca");
    const read = async (files: { cert: string; key: string }, caCerts: string[]) => ({
      cert: await Deno.readTextFile(files.cert),
      key: await Deno.readTextFile(files.key),
      caCerts,
    });
    const caText = await Deno.readTextFile(ca.cert);
    await fn({
      ca: caText,
      good: await read(await issueCertificate(ca, dir, "node"), [caText]),
      otherCa: await read(await issueCertificate(rogueCa, dir, "rogue"), [caText]),
      otherName: await read(
        await issueCertificate(ca, dir, "elsewhere", ["DNS:other.example"]),
        [caText],
      ),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const tlsTest = (name: string, fn: (pki: Pki) => Promise<void>) =>
  Deno.test({ name, ignore: !hasOpenssl(), fn: () => withPki(fn) });

const hasWarning = (node: TestNode, pattern: RegExp) =>
  node.warnings.some((line) => pattern.test(line));

tlsTest(
  "TLS peers connect and exchange messages, the key handshake running inside",
  async (pki) => {
    const nodes = await startCluster(["a", "b"], { tls: pki.good });
    const [a, b] = nodes;
    try {
      b.transport.send([message(b.id, a.id, 7)]);
      a.transport.send([message(a.id, b.id, 8)]);
      await waitFor(() => a.received.length === 1 && b.received.length === 1);
      assert.equal(a.received[0].index, 7);
      assert.equal(b.received[0].index, 8);
      assert.ok(a.transport.stats().handshakes >= 2, "the key handshake ran on both links");
      assert.deepEqual([...a.warnings, ...b.warnings], []);
    } finally {
      await closeAll(nodes);
    }
  },
);

tlsTest(
  "a plain TCP client on a TLS peer port is dropped and nothing it sends counts",
  async (pki) => {
    const a = await startNode("a", { tls: pki.good });
    try {
      // The frames a key holder would send, in the clear: a hello, a proof, a heartbeat.
      const raw = await rawConnect(a.transport.address.port);
      await writeAll(
        raw,
        concat(
          encodeHelloFrame({ nodeId: nodeId("b"), clientUrl: "http://plain", nonce: newNonce() }),
          encodeProofFrame(newNonce()),
          encodeMessagesFrame([message(nodeId("b"), a.id, 1)], tagBytes),
        ),
      );
      assert.equal(await closedByPeer(raw), true, "the TLS node closed the connection");
      await waitFor(() => a.transport.stats().handshakesFailed === 1);
      assert.deepEqual(a.received, []);
      assert.ok(
        hasWarning(
          a,
          /TLS handshake failed: .*it is not TLS: does the peer run without --peer-tls/,
        ),
        a.warnings.join("\n"),
      );
    } finally {
      await a.transport.close();
    }
  },
);

tlsTest("a TLS node and a plain node never connect, and each log says why", async (pki) => {
  const secure = await startNode("secure", { tls: pki.good });
  const plain = await startNode("plain");
  try {
    secure.transport.setPeer({ id: plain.id, peerAddress: peerAddress(plain) });
    plain.transport.setPeer({ id: secure.id, peerAddress: peerAddress(secure) });
    // Each side fails both as dialer and as acceptor; wait until all four said so.
    await waitFor(() =>
      hasWarning(
        plain,
        /cannot reach secure .*: PeerCodecError: the peer speaks TLS \(it runs with --peer-tls and this node does not; peer TLS is all-or-nothing per cluster/,
      ) &&
      hasWarning(plain, /closing the connection from .*: PeerCodecError: the peer speaks TLS/) &&
      hasWarning(
        secure,
        /cannot reach plain .*: PeerTlsError: TLS handshake failed: .*does it run without --peer-tls\?/,
      ) &&
      hasWarning(secure, /closing the connection from .*: PeerTlsError: TLS handshake failed/)
    );
    assert.equal(secure.transport.isConnected(plain.id), false);
    assert.equal(plain.transport.isConnected(secure.id), false);
    secure.transport.send([message(secure.id, plain.id, 1)]);
    plain.transport.send([message(plain.id, secure.id, 1)]);
    assert.deepEqual([...secure.received, ...plain.received], []);
    assert.equal(secure.transport.stats().handshakes + plain.transport.stats().handshakes, 0);
  } finally {
    await closeAll([secure, plain]);
  }
});

tlsTest("a certificate the dialer can't verify is refused before any frame", async (pki) => {
  const dialer = await startNode("dialer", { tls: pki.good });
  const rogue = await startNode("rogue", { tls: pki.otherCa });
  const misnamed = await startNode("misnamed", { tls: pki.otherName });
  // Trusts only the default roots, as a node without --tls-ca does.
  const noCa = await startNode("noca", { tls: { ...pki.good, caCerts: undefined } });
  const honest = await startNode("honest", { tls: pki.good });
  const nodes = [dialer, rogue, misnamed, noCa, honest];
  try {
    dialer.transport.setPeer({ id: rogue.id, peerAddress: peerAddress(rogue) });
    dialer.transport.setPeer({ id: misnamed.id, peerAddress: peerAddress(misnamed) });
    noCa.transport.setPeer({ id: honest.id, peerAddress: peerAddress(honest) });
    await waitFor(() =>
      hasWarning(dialer, /cannot reach rogue .*TLS handshake failed: .*UnknownIssuer/) &&
      hasWarning(dialer, /cannot reach misnamed .*not valid for name "127\.0\.0\.1"/) &&
      hasWarning(noCa, /cannot reach honest .*UnknownIssuer/)
    );
    dialer.transport.send([message(dialer.id, rogue.id, 1), message(dialer.id, misnamed.id, 1)]);
    noCa.transport.send([message(noCa.id, honest.id, 1)]);
    assert.deepEqual([...rogue.received, ...misnamed.received, ...honest.received], []);
    assert.equal(dialer.transport.isConnected(rogue.id), false);
    assert.equal(dialer.transport.isConnected(misnamed.id), false);
    assert.equal(noCa.transport.isConnected(honest.id), false);
    // The same dialer reaches a peer whose certificate the CA signed for its address.
    dialer.transport.setPeer({ id: honest.id, peerAddress: peerAddress(honest) });
    await waitFor(() => dialer.transport.isConnected(honest.id));
  } finally {
    await closeAll(nodes);
  }
});

tlsTest("TLS without the cluster key admits nothing", async (pki) => {
  const a = await startNode("a", { tls: pki.good });
  try {
    const tls = { caCerts: [pki.ca] };
    const wrongKey = new TextEncoder().encode("another-cluster-key-0123456789abcdef");
    await assert.rejects(
      rawHandshake(a.transport.address.port, {
        key: wrongKey,
        nodeId: nodeId("b"),
        peer: a.id,
        tls,
      }),
    );
    assert.equal(a.transport.stats().handshakes, 0);
    assert.equal(a.received.length, 0);
    // The same TLS client with the key gets its message through.
    const session = await rawHandshake(a.transport.address.port, {
      key: testClusterKey,
      nodeId: nodeId("b"),
      peer: a.id,
      tls,
    });
    try {
      await session.send([message(nodeId("b"), a.id, 5)]);
      await waitFor(() => a.received.length === 1);
      assert.equal(a.received[0].index, 5);
    } finally {
      session.conn.close();
    }
  } finally {
    await a.transport.close();
  }
});
