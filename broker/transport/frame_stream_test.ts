import assert from "node:assert/strict";
import fc from "fast-check";
import { type LogIndex, type Message, MessageType, nodeId, type Term } from "../../raft/mod.ts";
import { FrameStream } from "./frame_stream.ts";
import { newNonce } from "./peer_auth.ts";
import {
  decodeFrame,
  encodeHelloFrame,
  encodeMessagesFrame,
  frameBytesMax,
  handshakeFrameBytesMax,
  PeerCodecError,
  type PeerFrame,
} from "./peer_codec.ts";

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

/** Feeds `bytes` to a FrameStream in reads of the given sizes and collects the frames. */
function readInChunks(bytes: Uint8Array, chunkSizes: number[]): PeerFrame[] {
  const stream = new FrameStream(frameBytesMax);
  const frames: PeerFrame[] = [];
  let at = 0;
  let chunk = 0;
  for (;;) {
    let frame: Uint8Array | null;
    while ((frame = stream.next()) !== null) frames.push(decodeFrame(frame));
    if (at === bytes.length) return frames;
    const target = stream.readTarget();
    const size = Math.min(
      target.length,
      bytes.length - at,
      chunkSizes[chunk++ % chunkSizes.length],
    );
    target.set(bytes.subarray(at, at + size));
    stream.wrote(size);
    at += size;
  }
}

/** A stream that was told `header` (4 bytes) and nothing else. */
function streamAfterHeader(limitBytes: number, announcedBytes: number): FrameStream {
  const stream = new FrameStream(limitBytes);
  const target = stream.readTarget();
  new DataView(target.buffer, target.byteOffset).setUint32(0, announcedBytes, true);
  stream.wrote(4);
  return stream;
}

Deno.test("a frame stream yields the same frames however the bytes are split", () => {
  const batches = [
    [message()],
    [message({
      entries: [{
        term: 1 as Term,
        index: 1 as LogIndex,
        type: 16,
        data: new Uint8Array(200_000).fill(3),
      }],
    })],
    Array.from({ length: 30 }, (_, i) => message({ index: i as LogIndex })),
  ];
  const hello = { nodeId: nodeId("n1"), clientUrl: "http://x", nonce: newNonce() };
  const frames = [encodeHelloFrame(hello), ...batches.map((batch) => encodeMessagesFrame(batch))];
  const stream = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
  frames.reduce((at, frame) => (stream.set(frame, at), at + frame.length), 0);
  const expected: PeerFrame[] = [
    { kind: "hello", hello },
    ...batches.map((messages) => ({ kind: "messages" as const, messages })),
  ];
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }),
      (sizes) => {
        assert.deepEqual(readInChunks(stream, sizes), expected);
      },
    ),
    { numRuns: 100 },
  );
  assert.deepEqual(readInChunks(stream, [1]), expected);
});

Deno.test("a frame stream refuses an oversized length before buffering the frame", () => {
  const stream = streamAfterHeader(frameBytesMax, frameBytesMax);
  assert.throws(() => stream.next(), PeerCodecError);
  assert.throws(() => stream.readTarget(), PeerCodecError);
});

Deno.test("before the handshake a 64 MiB length is refused with a 4 KiB buffer", () => {
  const stream = streamAfterHeader(handshakeFrameBytesMax, 64 * 1024 * 1024 - 4);
  assert.equal(stream.capacityBytes, handshakeFrameBytesMax);
  assert.throws(() => stream.next(), /exceeds 4096/);
  assert.throws(() => stream.readTarget(), /exceeds 4096/);
  assert.equal(stream.capacityBytes, handshakeFrameBytesMax, "nothing bigger was allocated");
});

Deno.test("a frame at the handshake limit passes; one byte more does not", () => {
  assert.equal(streamAfterHeader(handshakeFrameBytesMax, handshakeFrameBytesMax - 4).next(), null);
  assert.throws(
    () => streamAfterHeader(handshakeFrameBytesMax, handshakeFrameBytesMax - 3).next(),
    PeerCodecError,
  );
});

Deno.test("a raised limit lets the stream grow for big frames after the handshake", () => {
  const stream = new FrameStream(handshakeFrameBytesMax);
  const big = encodeMessagesFrame([message({
    entries: [{ term: 1 as Term, index: 42 as LogIndex, type: 16, data: new Uint8Array(100_000) }],
  })]);
  stream.raiseLimit(frameBytesMax);
  let at = 0;
  let frame: Uint8Array | null = null;
  while (frame === null) {
    const target = stream.readTarget();
    const size = Math.min(target.length, big.length - at);
    target.set(big.subarray(at, at + size));
    stream.wrote(size);
    at += size;
    frame = stream.next();
  }
  assert.deepEqual(frame, big);
  assert.throws(() => stream.raiseLimit(1024), /only rise/);
});

Deno.test("a decoded frame keeps its entries' bytes after the stream reuses its buffer for the next frame", () => {
  const entry = (fill: number) => ({
    term: 1 as Term,
    index: 1 as LogIndex,
    type: 16,
    data: new Uint8Array(50_000).fill(fill),
  });
  const first = encodeMessagesFrame([message({ entries: [entry(3)] })]);
  const second = encodeMessagesFrame([message({ entries: [entry(9)] })]);
  const stream = new FrameStream(frameBytesMax);
  const feed = (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) {
      const target = stream.readTarget();
      const size = Math.min(target.length, bytes.length - at);
      target.set(bytes.subarray(at, at + size));
      stream.wrote(size);
      at += size;
    }
  };
  feed(first);
  const decoded = decodeFrame(stream.next()!);
  assert.equal(stream.next(), null);
  // The buffer is empty again: the second frame is read in where the first one was.
  feed(second);
  assert.equal(decodeFrame(stream.next()!).kind, "messages");
  assert.equal(decoded.kind, "messages");
  const data = decoded.kind === "messages" ? decoded.messages[0].entries[0].data : undefined;
  assert.equal(data?.length, 50_000);
  assert.ok(data.every((byte) => byte === 3), "the first frame's entry still holds its own bytes");
});

Deno.test("a big frame's buffer grows with the bytes that arrive, not to its announced length", () => {
  // A peer that proved the key announces a 64 MiB frame and sends 5 bytes of it: the stream
  // must not allocate the 64 MiB before the bytes come (64 such connections held 4 GiB).
  const stream = streamAfterHeader(frameBytesMax, frameBytesMax - 4);
  const target = stream.readTarget();
  stream.wrote(Math.min(5, target.length));
  stream.readTarget();
  assert.ok(stream.capacityBytes <= 2 * 1024 * 1024, `capacity ${stream.capacityBytes}`);
});

Deno.test("a frame of several MiB arrives whole through the growing buffer, however it is split", () => {
  const data = new Uint8Array(5 * 1024 * 1024 + 17).map((_, i) => i * 7);
  const big = encodeMessagesFrame([message({
    entries: [{ term: 1 as Term, index: 42 as LogIndex, type: 16, data }],
  })]);
  for (const sizes of [[65_536], [1_000_003, 7], [big.length]]) {
    const [frame] = readInChunks(big, sizes);
    assert.equal(frame.kind, "messages");
    if (frame.kind !== "messages") return;
    assert.deepEqual(frame.messages[0].entries[0].data, data);
  }
});
