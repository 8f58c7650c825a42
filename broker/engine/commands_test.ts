import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeChangeVisibility,
  decodeDeleteBatch,
  decodeJsonCommand,
  decodeReceiveBatch,
  decodeSendHeaders,
  decodeSendReceive,
  encodeChangeVisibility,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeRedrive,
  encodeSendBatch,
  encodeSendReceive,
  type SendCommandMessage,
  SentMessageReader,
} from "./commands.ts";
import { DecodeError, fromUtf8 } from "./binary.ts";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import { CommandType, commandTypes } from "./types.ts";
import { NewerLayoutError, NewerReleaseError } from "./release.ts";

/** Message `slot` of a SendBatch payload, body and all, through the reader the service uses. */
function decodeSentMessage(payload: Uint8Array, slot: number): SendCommandMessage {
  const record = new SentMessageReader(payload).record(slot);
  const body = fromUtf8(payload.subarray(record.bodyAt, record.bodyAt + record.bodyBytes));
  const message: SendCommandMessage = { body, delaySeconds: record.delaySeconds };
  if (record.groupId !== undefined) message.groupId = record.groupId;
  if (record.dedupId !== undefined) message.dedupId = record.dedupId;
  if (record.attributes !== undefined) message.attributes = record.attributes;
  return message;
}

const messageArb: fc.Arbitrary<SendCommandMessage> = fc.record(
  {
    body: fc.string({ unit: "grapheme", maxLength: 40 }),
    delaySeconds: fc.integer({ min: 0, max: 43_200 }),
    groupId: fc.string({ minLength: 1, maxLength: 8 }),
    dedupId: fc.string({ minLength: 1, maxLength: 8 }),
    attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string(), {
      maxKeys: 3,
    }),
  },
  { requiredKeys: ["body", "delaySeconds"] },
);

Deno.test("a send batch round-trips, message by message", () => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 1, maxLength: 20 }), (messages) => {
      const payload = encodeSendBatch({ queue: "jobs", messages });
      const headers = decodeSendHeaders(payload);
      assert.equal(headers.queue, "jobs");
      messages.forEach((message, slot) => {
        assert.deepEqual(decodeSentMessage(payload, slot), JSON.parse(JSON.stringify(message)));
        const header = headers.messages[slot];
        assert.equal(header.bodyBytes, new TextEncoder().encode(message.body).length);
        assert.equal(header.groupId, message.groupId);
        assert.equal(header.dedupId, message.dedupId);
        assert.equal(header.delaySeconds, message.delaySeconds);
      });
      assert.throws(() => decodeSentMessage(payload, messages.length), DecodeError);
    }),
  );
});

Deno.test("a send-receive round-trips, and its bodies read like a send batch's", () => {
  const receiveArb = fc.record({
    maxMessages: fc.integer({ min: 1, max: 256 }),
    visibilityTimeoutSeconds: fc.integer({ min: 0, max: 43_200 }),
  });
  fc.assert(
    fc.property(
      fc.array(messageArb, { minLength: 1, maxLength: 20 }),
      fc.array(receiveArb, { minLength: 1, maxLength: 20 }),
      (messages, receives) => {
        const payload = encodeSendReceive({ queue: "jobs", messages, receives });
        const decoded = decodeSendReceive(payload);
        assert.equal(decoded.queue, "jobs");
        assert.deepEqual(decoded.receives, receives.map((receive) => ({ ...receive })));
        const batch = encodeSendBatch({ queue: "jobs", messages });
        assert.deepEqual(decoded.messages, decodeSendHeaders(batch).messages);
        messages.forEach((_message, slot) => {
          assert.deepEqual(decodeSentMessage(payload, slot), decodeSentMessage(batch, slot));
        });
        assert.throws(() => decodeSentMessage(payload, messages.length), DecodeError);
        // Neither command decodes as the other: a layout is never read half.
        assert.throws(() => decodeSendHeaders(payload), DecodeError);
        assert.throws(() => decodeSendReceive(batch), DecodeError);
      },
    ),
  );
});

Deno.test("command type codes are distinct", () => {
  const codes = Object.values(CommandType);
  assert.equal(new Set(codes).size, codes.length);
});

Deno.test("receive, delete and visibility commands round-trip", () => {
  const handles = [new Uint8Array([1, 2, 3]), new Uint8Array(0)];
  const receive = {
    queue: "q",
    maxMessages: 7,
    visibilityTimeoutSeconds: 30,
    deleteHandles: handles,
  };
  const encoded = encodeReceiveBatch(receive);
  assert.equal(encoded[0], 4, "written in layout 4 (in group order, keeping locks, bounded)");
  assert.deepEqual(decodeReceiveBatch(encoded), {
    ...receive,
    inGroupOrder: true,
    keepsLocks: true,
    boundsAnswer: true,
  });
  // Layouts 3 to 1, the earlier forms: the same bytes after the version, their earlier meaning.
  const layouts: [number, boolean, boolean][] = [[3, true, true], [2, true, false], [
    1,
    false,
    false,
  ]];
  for (const [version, inGroupOrder, keepsLocks] of layouts) {
    assert.deepEqual(decodeReceiveBatch(Uint8Array.of(version, ...encoded.subarray(1))), {
      ...receive,
      inGroupOrder,
      keepsLocks,
      boundsAnswer: false,
    });
  }
  assert.deepEqual(decodeDeleteBatch(encodeDeleteBatch({ queue: "q", handles })), {
    queue: "q",
    handles,
  });
  const visibility = {
    queue: "q",
    entries: [{ handle: handles[0], visibilityTimeoutSeconds: 0 }],
  };
  assert.deepEqual(decodeChangeVisibility(encodeChangeVisibility(visibility)), visibility);
  assert.deepEqual(decodeJsonCommand(encodeRedrive({ queue: "q", maxMessages: 3 })), {
    queue: "q",
    maxMessages: 3,
  });
});

Deno.test("truncated or garbage payloads are rejected with DecodeError, never a crash", () => {
  const valid = [
    encodeSendBatch({ queue: "q", messages: [{ body: "hello", delaySeconds: 1, groupId: "g" }] }),
    encodeReceiveBatch({
      queue: "q",
      maxMessages: 1,
      visibilityTimeoutSeconds: 0,
      deleteHandles: [],
    }),
    encodeDeleteBatch({ queue: "q", handles: [new Uint8Array(29)] }),
    encodeChangeVisibility({
      queue: "q",
      entries: [{ handle: new Uint8Array(2), visibilityTimeoutSeconds: 1 }],
    }),
    encodeSendReceive({
      queue: "q",
      messages: [{ body: "hello", delaySeconds: 0 }],
      receives: [{ maxMessages: 1, visibilityTimeoutSeconds: 0 }],
    }),
  ];
  const decoders = [
    decodeSendHeaders,
    decodeReceiveBatch,
    decodeDeleteBatch,
    decodeChangeVisibility,
    decodeSendReceive,
  ];
  decoders.forEach((decode, kind) => {
    for (let length = 0; length < valid[kind].length; length++) {
      assert.throws(() => decode(valid[kind].subarray(0, length)), DecodeError);
    }
  });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(4), (bytes, kind) => {
      try {
        decoders[kind](bytes);
        decodeJsonCommand(bytes);
      } catch (error) {
        // A layout version above the ones this release writes is a newer release's.
        const highest = [5, 4, 1, 1, 5][kind]; // a SendBatch's table reads SendReceive's too
        const newer = bytes.length > 0 && bytes[0] > highest;
        assert.ok(error instanceof (newer ? NewerLayoutError : DecodeError), String(error));
      }
    }),
  );
});

Deno.test("apply answers a garbage command with MalformedRequest and changes nothing", () => {
  const machine = new StateMachine();
  const before = machine.snapshot();
  // The highest layout version a binary command type's decoder reads.
  const layouts = new Map([[19, 5], [48, 5], [20, 4], [21, 1], [22, 1], [31, 1], [35, 1]]);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.integer({ min: 16, max: 50 }),
      (bytes, type) => {
        const index = machine.appliedIndex + 1;
        // An unknown type, or a layout version above any this release writes: a newer
        // release's entry, refused without being applied (release.ts).
        const newer = !commandTypes.has(type) || bytes[0] > (layouts.get(type) ?? Infinity);
        if (newer) {
          assert.throws(
            () => machine.apply({ index, timestamp: 0, type, payload: bytes }),
            NewerReleaseError,
          );
          assert.equal(machine.appliedIndex, index - 1);
          return;
        }
        const result = machine.apply({ index, timestamp: 0, type, payload: bytes });
        if (type !== 26 && type !== 39 && type !== 41) {
          assert.ok(result instanceof BrokerError, `type ${type}: ${result}`);
        }
      },
    ),
  );
  assert.deepEqual(machine.snapshot().subarray(13), before.subarray(13));
});
