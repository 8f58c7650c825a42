import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  nodeId,
  type Term,
} from "../../raft/mod.ts";
import {
  decodeFrame,
  encodeChallengeFrame,
  encodeHelloFrame,
  encodeMessagesFrame,
  encodeProofFrame,
  frameBytesMax,
  FrameEncoder,
  frameLength,
  handshakeFrameBytesMax,
  messageBytesBound,
  PeerCodecError,
  smallFramesBeforeShrinking,
} from "./peer_codec.ts";
import { newNonce, tagBytes } from "./peer_auth.ts";

function message(overrides: Partial<Message> = {}): Message {
  return {
    type: MessageType.App,
    from: nodeId("n1"),
    to: nodeId("n2"),
    term: 3 as Term,
    logTerm: 2 as Term,
    index: 41 as LogIndex,
    entries: [],
    commit: 40 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
    ...overrides,
  };
}

const safeNumber = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const idArbitrary = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" })
  .map((text) => text as NodeId);
const bytesArbitrary = fc.uint8Array({ maxLength: 300 });
const entryArbitrary: fc.Arbitrary<Entry> = fc.record({
  term: safeNumber.map((value) => value as Term),
  index: safeNumber.map((value) => value as LogIndex),
  type: fc.integer({ min: 0, max: 255 }),
  data: bytesArbitrary,
  timestamp: fc.option(fc.double(), { nil: undefined }),
}, { noNullPrototype: true }).map((entry) => {
  if (entry.timestamp === undefined) delete entry.timestamp;
  return entry;
});
const chunkArbitrary = fc.record({
  index: safeNumber.map((value) => value as LogIndex),
  term: safeNumber.map((value) => value as Term),
  config: fc.record({
    voters: fc.array(idArbitrary, { maxLength: 5 }),
    learners: fc.array(idArbitrary, { maxLength: 3 }),
  }, { noNullPrototype: true }),
  offset: fc.nat({ max: 1 << 30 }),
  extraBytes: fc.nat({ max: 1 << 30 }),
  data: bytesArbitrary,
}, { noNullPrototype: true }).map(({ extraBytes, ...chunk }) => ({
  ...chunk,
  totalBytes: chunk.offset + chunk.data.length + extraBytes,
}));
const messageArbitrary: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...Object.values(MessageType)),
  from: idArbitrary,
  to: idArbitrary,
  term: safeNumber.map((value) => value as Term),
  logTerm: safeNumber.map((value) => value as Term),
  index: safeNumber.map((value) => value as LogIndex),
  entries: fc.array(entryArbitrary, { maxLength: 6 }),
  commit: safeNumber.map((value) => value as LogIndex),
  reject: fc.boolean(),
  rejectHint: safeNumber.map((value) => value as LogIndex),
  context: fc.string({ maxLength: 40, unit: "grapheme" }),
  snapshot: fc.option(chunkArbitrary, { nil: undefined }),
}, { noNullPrototype: true }).map((generated) => {
  if (generated.snapshot === undefined) delete generated.snapshot;
  return generated;
});

function decodeMessages(bytes: Uint8Array): Message[] {
  const frame = decodeFrame(bytes);
  assert.equal(frame.kind, "messages");
  return frame.kind === "messages" ? frame.messages : [];
}

/** Decoding must either succeed or throw PeerCodecError, nothing else. */
function decodeOrCodecError(bytes: Uint8Array): void {
  try {
    decodeFrame(bytes);
  } catch (error) {
    if (!(error instanceof PeerCodecError)) throw error;
  }
}

Deno.test("every message type round-trips with all its fields", () => {
  for (const type of Object.values(MessageType)) {
    const original = message({
      type,
      reject: type % 2 === 0,
      rejectHint: 17 as LogIndex,
      context: type === MessageType.Heartbeat ? "read-7" : "",
    });
    assert.deepEqual(decodeMessages(encodeMessagesFrame([original])), [original]);
  }
});

Deno.test("entries keep term, index, type, data and an absent or present timestamp", () => {
  const entries: Entry[] = [
    { term: 2 as Term, index: 41 as LogIndex, type: 0, data: new Uint8Array() },
    {
      term: 3 as Term,
      index: 42 as LogIndex,
      type: 200,
      data: new Uint8Array([1, 2, 3]),
      timestamp: 1_700_000_000_123.5,
    },
    { term: 3 as Term, index: 43 as LogIndex, type: 17, data: new Uint8Array(5), timestamp: 0 },
  ];
  const [decoded] = decodeMessages(encodeMessagesFrame([message({ entries })]));
  assert.deepEqual(decoded.entries, entries);
  assert.equal("timestamp" in decoded.entries[0], false);
});

Deno.test("a snapshot chunk round-trips with its configuration", () => {
  const original = message({
    type: MessageType.Snap,
    snapshot: {
      index: 1000 as LogIndex,
      term: 7 as Term,
      config: { voters: [nodeId("n1"), nodeId("n2"), nodeId("n3")], learners: [nodeId("n4")] },
      offset: 65_536,
      totalBytes: 200_000,
      data: new Uint8Array(1024).fill(9),
    },
  });
  assert.deepEqual(decodeMessages(encodeMessagesFrame([original])), [original]);
});

Deno.test("the largest safe integers and non-ASCII node ids survive", () => {
  const original = message({
    from: nodeId("nœud-ü"),
    to: nodeId("узел-2"),
    term: Number.MAX_SAFE_INTEGER as Term,
    index: 2 ** 32 as LogIndex,
    commit: (2 ** 32 - 1) as LogIndex,
    context: "контекст ✓",
  });
  assert.deepEqual(decodeMessages(encodeMessagesFrame([original])), [original]);
});

Deno.test("a batch of messages shares one frame and keeps its order", () => {
  const batch = Array.from({ length: 50 }, (_, i) => message({ index: i as LogIndex }));
  const bytes = encodeMessagesFrame(batch);
  assert.equal(frameLength(bytes), bytes.length);
  assert.deepEqual(decodeMessages(bytes), batch);
});

Deno.test("a hello round-trips with and without a cluster id and a peer address", () => {
  const plain = { nodeId: nodeId("n1"), clientUrl: "http://127.0.0.1:8080", nonce: newNonce() };
  const withCluster = { ...plain, clusterId: "prod-a" };
  const withAddress = { ...plain, peerAddress: "127.0.0.1:8081" };
  const withBoth = { ...withCluster, peerAddress: "[::1]:8081" };
  for (const hello of [plain, withCluster, withAddress, withBoth]) {
    const bytes = encodeHelloFrame(hello);
    assert.ok(bytes.length <= handshakeFrameBytesMax);
    assert.deepEqual(decodeFrame(bytes), { kind: "hello", hello });
  }
});

Deno.test("challenge and proof frames round-trip and fit the handshake limit", () => {
  const challenge = { nodeId: nodeId("n2"), nonce: newNonce(), proof: newNonce() };
  const bytes = encodeChallengeFrame(challenge);
  assert.ok(bytes.length <= handshakeFrameBytesMax);
  assert.deepEqual(decodeFrame(bytes), { kind: "challenge", challenge });
  const proof = newNonce();
  assert.deepEqual(decodeFrame(encodeProofFrame(proof)), { kind: "proof", proof });
});

Deno.test("a short nonce or proof is a PeerCodecError", () => {
  const challenge = encodeChallengeFrame({
    nodeId: nodeId("n2"),
    nonce: newNonce(),
    proof: newNonce(),
  });
  const cut = challenge.slice(0, challenge.length - 1);
  new DataView(cut.buffer).setUint32(0, cut.length - 4, true);
  assert.throws(() => decodeFrame(cut), PeerCodecError);
  const proof = encodeProofFrame(newNonce());
  const shortProof = proof.slice(0, proof.length - 2);
  new DataView(shortProof.buffer).setUint32(0, shortProof.length - 4, true);
  assert.throws(() => decodeFrame(shortProof), PeerCodecError);
});

Deno.test("tagged frames count their tag in the length and decode without it", () => {
  const encoder = new FrameEncoder(64, tagBytes);
  const keepalive = encoder.encodeKeepalive().slice();
  assert.equal(keepalive.length, 5 + tagBytes);
  assert.equal(frameLength(keepalive), keepalive.length);
  assert.deepEqual(decodeFrame(keepalive, tagBytes), { kind: "keepalive" });
  const batch = [message(), message({ index: 42 as LogIndex })];
  const tagged = encoder.encodeMessages(batch).slice();
  assert.equal(tagged.length, encodeMessagesFrame(batch).length + tagBytes);
  assert.deepEqual(decodeFrame(tagged, tagBytes), { kind: "messages", messages: batch });
  // Read without knowing of the tag, its bytes are left over: never silently accepted.
  assert.throws(() => decodeFrame(tagged), PeerCodecError);
  // A handshake frame sent where a tagged one is due is too short for a tag or misparses.
  assert.throws(() => decodeFrame(encodeProofFrame(newNonce()).subarray(0, 6), tagBytes));
});

Deno.test("random messages round-trip and stay within their size bound", () => {
  fc.assert(
    fc.property(fc.array(messageArbitrary, { minLength: 1, maxLength: 5 }), (messages) => {
      const bytes = encodeMessagesFrame(messages);
      const bound = 9 + messages.reduce((sum, each) => sum + messageBytesBound(each), 0);
      assert.ok(bytes.length <= bound);
      assert.deepEqual(decodeMessages(bytes), messages);
    }),
    { numRuns: 300 },
  );
});

Deno.test("a reused encoder gives the same bytes as a fresh one, through growth and shrinking", () => {
  const encoder = new FrameEncoder(64);
  const small = [message()];
  const big = [
    message({
      entries: [{ term: 1 as Term, index: 1 as LogIndex, type: 16, data: new Uint8Array(1 << 20) }],
    }),
  ];
  for (const batch of [small, big, small, big, small]) {
    assert.deepEqual(encoder.encodeMessages(batch), encodeMessagesFrame(batch));
  }
  // Big and small frames alternating (appends, then the commit index) keep the big buffer.
  const grown = encoder.capacityBytes;
  assert.ok(grown > 1 << 20, "grown for the big frame");
  assert.deepEqual(encoder.encodeMessages(big), encodeMessagesFrame(big));
  for (let i = 1; i < smallFramesBeforeShrinking; i++) {
    assert.deepEqual(encoder.encodeMessages(small), encodeMessagesFrame(small));
  }
  assert.equal(encoder.capacityBytes, grown, "kept through small frames short of the run");
  assert.deepEqual(encoder.encodeMessages(small), encodeMessagesFrame(small));
  assert.ok(encoder.capacityBytes < 1 << 20, "shrinks back after a run of small frames");
});

Deno.test("an encoder range selects a slice of the messages", () => {
  const batch = Array.from({ length: 5 }, (_, i) => message({ index: i as LogIndex }));
  const bytes = new FrameEncoder().encodeMessages(batch, { start: 1, end: 3 });
  assert.deepEqual(decodeMessages(bytes), batch.slice(1, 3));
});

Deno.test("every truncation of a valid frame is a PeerCodecError", () => {
  const bytes = encodeMessagesFrame([
    message({
      entries: [{
        term: 1 as Term,
        index: 1 as LogIndex,
        type: 16,
        data: new Uint8Array(20),
        timestamp: 5,
      }],
    }),
    message({
      type: MessageType.Snap,
      snapshot: {
        index: 9 as LogIndex,
        term: 1 as Term,
        config: { voters: [nodeId("a")], learners: [] },
        offset: 0,
        totalBytes: 4,
        data: new Uint8Array(4),
      },
    }),
  ]);
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(() => decodeFrame(bytes.subarray(0, length)), PeerCodecError);
    // A shortened body under a consistent length prefix must fail as well.
    const relabelled = bytes.slice(0, Math.max(length, 5));
    new DataView(relabelled.buffer).setUint32(0, relabelled.length - 4, true);
    if (relabelled.length < bytes.length) {
      assert.throws(() => decodeFrame(relabelled), PeerCodecError);
    }
  }
});

Deno.test("specific garbage is refused with a PeerCodecError", async (t) => {
  const valid = encodeMessagesFrame([message()]);
  const cases: Record<string, (bytes: Uint8Array, view: DataView) => void> = {
    "an unknown frame kind": (bytes) => (bytes[4] = 9),
    "an unknown message type": (bytes) => (bytes[9] = 0),
    "a message type beyond the last": (
      bytes,
    ) => (bytes[9] = Math.max(...Object.values(MessageType)) + 1),
    "a zero message count": (_, view) => view.setUint32(5, 0, true),
    "a huge message count": (_, view) => view.setUint32(5, 0xffffffff, true),
    "an empty node id": (_, view) => view.setUint16(10, 0, true),
    // The high word of `term`: header 5, count 4, type 1, "n1" 4, "n2" 4, low word 4.
    "an integer beyond 2^53": (_, view) => view.setUint32(22, 0xffffffff, true),
    "trailing bytes": () => {},
  };
  for (const [name, corrupt] of Object.entries(cases)) {
    await t.step(name, () => {
      let bytes = valid.slice();
      if (name === "trailing bytes") {
        bytes = new Uint8Array(valid.length + 3);
        bytes.set(valid);
        new DataView(bytes.buffer).setUint32(0, bytes.length - 4, true);
      }
      corrupt(bytes, new DataView(bytes.buffer));
      assert.throws(() => decodeFrame(bytes), PeerCodecError);
    });
  }
});

Deno.test("a frame length over the limit is refused before its body arrives", () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, frameBytesMax, true);
  assert.throws(() => frameLength(header), PeerCodecError);
  assert.equal(frameLength(new Uint8Array(3)), null);
  assert.throws(() => frameLength(new Uint8Array(4)), PeerCodecError);
});

Deno.test("a snapshot chunk claiming more data than its total is refused", () => {
  const bytes = encodeMessagesFrame([
    message({
      type: MessageType.Snap,
      snapshot: {
        index: 9 as LogIndex,
        term: 1 as Term,
        config: { voters: [], learners: [] },
        offset: 0,
        totalBytes: 4,
        data: new Uint8Array(4),
      },
    }),
  ]);
  // totalBytes is the u53 just before the last u32 data length and the 4 data bytes.
  new DataView(bytes.buffer).setUint32(bytes.length - 4 - 4 - 8, 3, true);
  assert.throws(() => decodeFrame(bytes), /exceeds its total/);
});

Deno.test("invalid UTF-8 in a string is a PeerCodecError", () => {
  const bytes = encodeHelloFrame({
    nodeId: nodeId("n1"),
    clientUrl: "http://x",
    nonce: newNonce(),
  });
  bytes[5 + 1 + 2] = 0xff; // first byte of the node id
  assert.throws(() => decodeFrame(bytes), PeerCodecError);
});

Deno.test("a hello or challenge of another protocol version is refused", () => {
  const bytes = encodeHelloFrame({ nodeId: nodeId("n1"), clientUrl: "", nonce: newNonce() });
  bytes[5] = 1;
  assert.throws(() => decodeFrame(bytes), /peer protocol version 1, expected 2/);
  const challenge = encodeChallengeFrame({
    nodeId: nodeId("n2"),
    nonce: newNonce(),
    proof: newNonce(),
  });
  challenge[5] = 3;
  assert.throws(() => decodeFrame(challenge), /peer protocol version 3/);
});

Deno.test("random garbage and random corruption never throw anything but PeerCodecError", () => {
  const valid = encodeMessagesFrame([
    message({
      entries: [{ term: 1 as Term, index: 1 as LogIndex, type: 16, data: new Uint8Array(8) }],
    }),
    message({ context: "ctx" }),
  ]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => decodeOrCodecError(garbage)),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (edits) => {
        const bytes = valid.slice();
        for (const [at, value] of edits) bytes[at] = value;
        decodeOrCodecError(bytes);
      },
    ),
    { numRuns: 2000 },
  );
});
