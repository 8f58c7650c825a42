/**
 * A messages frame is bounded in items (messages, entries, snapshot member ids), not only in
 * bytes: decoding costs per item, and 64 MiB of empty entries would take seconds and more than
 * a gigabyte to decode before any check on the messages could drop them.
 */
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
  encodeMessagesFrame,
  FrameEncoder,
  frameItemsMax,
  PeerCodecError,
} from "./peer_codec.ts";

function emptyEntries(count: number, after = 0): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    term: 1 as Term,
    index: (after + 1 + i) as LogIndex,
    type: 16,
    data: new Uint8Array(0),
  }));
}

function append(entries: Entry[], overrides: Partial<Message> = {}): Message {
  return {
    type: MessageType.App,
    from: nodeId("b"),
    to: nodeId("a"),
    term: 1 as Term,
    logTerm: 1 as Term,
    index: (entries[0]?.index ?? 1) - 1 as LogIndex,
    entries,
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
    ...overrides,
  };
}

/**
 * The frame a sender without the items limit would write: each message encoded alone (each is
 * within the limit), their bodies joined under one count.
 */
function joinedFrame(messages: Message[]): Uint8Array {
  const bodies = messages.map((each) => encodeMessagesFrame([each]).subarray(9));
  const bodyBytes = bodies.reduce((sum, body) => sum + body.length, 0);
  const frame = new Uint8Array(9 + bodyBytes);
  const view = new DataView(frame.buffer);
  view.setUint32(0, frame.length - 4, true);
  frame[4] = 2;
  view.setUint32(5, messages.length, true);
  let at = 9;
  for (const body of bodies) {
    frame.set(body, at);
    at += body.length;
  }
  return frame;
}

function itemsOf(messages: Message[]): number {
  return messages.reduce(
    (sum, each) =>
      sum + 1 + each.entries.length +
      (each.snapshot === undefined
        ? 0
        : each.snapshot.config.voters.length + each.snapshot.config.learners.length),
    0,
  );
}

Deno.test("a frame of more entries than frameItemsMax is refused, though each message is small enough", () => {
  // Four appends of 65,536 entries: each is within the transport's entries-per-message check,
  // together they are 4 items over the frame's limit.
  const messages = [0, 1, 2, 3].map((part) => append(emptyEntries(65_536, part * 65_536)));
  assert.equal(itemsOf(messages), frameItemsMax + 4);
  assert.throws(
    () => decodeFrame(joinedFrame(messages)),
    (error: Error) =>
      error instanceof PeerCodecError && /exceed the frame's limit/.test(error.message),
  );
});

Deno.test("a frame of exactly frameItemsMax items decodes", () => {
  const messages = [0, 1, 2, 3].map((part) => append(emptyEntries(65_535, part * 65_535)));
  assert.equal(itemsOf(messages), frameItemsMax);
  const frame = decodeFrame(joinedFrame(messages));
  assert.equal(frame.kind, "messages");
  if (frame.kind === "messages") {
    assert.equal(frame.messages.reduce((sum, each) => sum + each.entries.length, 0), 4 * 65_535);
  }
});

Deno.test("snapshot member ids count as items", () => {
  const voters = Array.from({ length: 65_535 }, (_, i) => `v${i}` as NodeId);
  const snap = (index: number): Message => ({
    ...append([], { type: MessageType.Snap }),
    snapshot: {
      index: index as LogIndex,
      term: 1 as Term,
      config: { voters, learners: [] },
      offset: 0,
      totalBytes: 1,
      data: new Uint8Array(1),
    },
  });
  const messages = [1, 2, 3, 4, 5].map(snap);
  assert.equal(itemsOf(messages.slice(0, 4)), frameItemsMax);
  assert.throws(() => decodeFrame(joinedFrame(messages)), PeerCodecError);
  assert.equal(decodeFrame(joinedFrame(messages.slice(0, 4))).kind, "messages");
});

Deno.test("the encoder refuses a frame over frameItemsMax instead of sending what peers refuse", () => {
  const encoder = new FrameEncoder();
  assert.throws(
    () => encoder.encodeMessages([append(emptyEntries(frameItemsMax))]),
    (error: Error) => error instanceof PeerCodecError && /items exceeds/.test(error.message),
  );
  // The encoder is fine afterwards.
  const bytes = encoder.encodeMessages([append(emptyEntries(3))]).slice();
  assert.equal(decodeFrame(bytes).kind, "messages");
});

Deno.test("a frame whose counts are rewritten at random decodes within the item limit or is a PeerCodecError", () => {
  // A valid frame; its message count and entry count lie at known offsets.
  const valid = encodeMessagesFrame([append(emptyEntries(3)), append(emptyEntries(2, 3))]);
  const entryCountAt = 9 + 1 + 3 + 3 + 40 + 1 + 2;
  fc.assert(
    fc.property(
      fc.constantFrom(5, entryCountAt),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 1 << 20 }),
      (at, count, padding) => {
        // Room after the rewritten count, so a count is not refused for the bytes alone.
        const bytes = new Uint8Array(valid.length + padding);
        bytes.set(valid);
        const view = new DataView(bytes.buffer);
        view.setUint32(0, bytes.length - 4, true);
        view.setUint32(at, count, true);
        try {
          const frame = decodeFrame(bytes);
          if (frame.kind === "messages") assert.ok(itemsOf(frame.messages) <= frameItemsMax);
        } catch (error) {
          if (!(error instanceof PeerCodecError)) throw error;
        }
      },
    ),
    { numRuns: 200 },
  );
});
