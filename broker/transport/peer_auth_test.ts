import assert from "node:assert/strict";
import { createHmac, createSecretKey } from "node:crypto";
import {
  FrameOpener,
  FrameSealer,
  newNonce,
  PeerKeys,
  sha256,
  tagBytes,
  type Transcript,
} from "./peer_auth.ts";
import { FrameEncoder } from "./peer_codec.ts";
import { PeerCodecError } from "./peer_body_reader.ts";

const key = new TextEncoder().encode("0123456789abcdef0123456789abcdef");

function transcript(overrides: Partial<Transcript> = {}): Transcript {
  return {
    helloHash: sha256(new TextEncoder().encode("hello")),
    acceptorId: "n2",
    acceptorNonce: new Uint8Array(32).fill(7),
    clusterId: "",
    ...overrides,
  };
}

Deno.test("a proof depends on the key, the role and every part of the transcript", () => {
  const keys = new PeerKeys(key);
  const base = keys.proof("dialer", transcript());
  assert.deepEqual(keys.proof("dialer", transcript()), base, "deterministic");
  const variants = [
    new PeerKeys(new TextEncoder().encode("0123456789abcdef0123456789abcdeF")).proof(
      "dialer",
      transcript(),
    ),
    keys.proof("acceptor", transcript()),
    keys.proof("dialer", transcript({ helloHash: sha256(new TextEncoder().encode("hellO")) })),
    keys.proof("dialer", transcript({ acceptorId: "n3" })),
    keys.proof("dialer", transcript({ acceptorNonce: new Uint8Array(32).fill(8) })),
    keys.proof("dialer", transcript({ clusterId: "blue" })),
  ];
  for (const variant of variants) assert.notDeepEqual(variant, base);
  assert.ok(keys.verifyProof("dialer", transcript(), base));
  assert.ok(!keys.verifyProof("acceptor", transcript(), base));
  assert.ok(!keys.verifyProof("dialer", transcript(), base.subarray(0, 31)));
});

Deno.test("a cluster key shorter than 16 bytes is refused", () => {
  assert.throws(() => new PeerKeys(new Uint8Array(15)), /at least 16 bytes/);
});

Deno.test("tags check in sequence, per direction and per session", () => {
  const keys = new PeerKeys(key);
  const session = keys.sessionKeys(transcript());
  const other = keys.sessionKeys(transcript({ acceptorNonce: newNonce() }));
  const encoder = new FrameEncoder(64, tagBytes);
  const sealer = new FrameSealer(session.dialerToAcceptor);
  const frames = [0, 1, 2].map(() => {
    const frame = encoder.encodeKeepalive().slice();
    sealer.seal(frame);
    return frame;
  });
  assert.notDeepEqual(frames[0], frames[1], "the sequence number changes the tag");
  const opener = new FrameOpener(session.dialerToAcceptor);
  for (const frame of frames) opener.open(frame);
  assert.throws(() => new FrameOpener(session.acceptorToDialer).open(frames[0]), PeerCodecError);
  assert.throws(() => new FrameOpener(other.dialerToAcceptor).open(frames[0]), PeerCodecError);
  const skipping = new FrameOpener(session.dialerToAcceptor);
  assert.throws(() => skipping.open(frames[1]), /frame 0 failed authentication/);
});

Deno.test("a frame's tag is HMAC-SHA256(key, u64 sequence little-endian ‖ frame), any key length", () => {
  // The wire format every node of a cluster must agree on, pinned against node:crypto's HMAC.
  for (const keyLength of [16, 32, 64, 65, 100]) {
    const raw = new Uint8Array(keyLength).map((_, index) => (index * 37 + keyLength) & 0xff);
    const sealer = new FrameSealer(createSecretKey(raw));
    for (const [sequence, bodyLength] of [[0, 5], [1, 200], [2, 17_000]]) {
      const frame = new Uint8Array(bodyLength + tagBytes).map((_, index) => (index * 13) & 0xff);
      const body = frame.slice(0, bodyLength);
      sealer.seal(frame);
      const counter = new Uint8Array(8);
      new DataView(counter.buffer).setUint32(0, sequence, true);
      const expected = createHmac("sha256", raw).update(counter).update(body).digest();
      assert.deepEqual(frame.subarray(bodyLength), new Uint8Array(expected), `key ${keyLength}`);
    }
  }
});
