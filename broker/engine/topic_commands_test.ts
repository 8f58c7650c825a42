import assert from "node:assert/strict";
import { DecodeError } from "./binary.ts";
import { NewerLayoutError } from "./release.ts";
import {
  decodePublishHeaders,
  decodePushResults,
  encodePublishBatch,
  encodePushResults,
  PublishedMessageReader,
} from "./topic_commands.ts";

const messages = [
  { body: "héllo", tags: ["paid", "vip"], attributes: { shop: "7" } },
  { body: "", routingKey: "orders.eu.created" },
  { body: "plain" },
];

Deno.test("a publish batch round-trips every field and reads any slot alone", () => {
  const payload = encodePublishBatch({ topic: "payments", messages });
  const headers = decodePublishHeaders(payload);
  assert.equal(headers.topic, "payments");
  assert.deepEqual(headers.messages, [
    { tags: ["paid", "vip"], bodyBytes: 6 },
    { routingKey: "orders.eu.created", bodyBytes: 0 },
    { bodyBytes: 5 },
  ]);
  const reader = new PublishedMessageReader(payload);
  assert.equal(new TextDecoder().decode(reader.message(0).bodyBytes), "héllo");
  assert.deepEqual(reader.message(0).attributes, { shop: "7" });
  assert.equal(reader.record(1).routingKey, "orders.eu.created");
  assert.equal(new TextDecoder().decode(reader.message(2).bodyBytes), "plain");
  assert.throws(() => reader.message(3), DecodeError);
});

Deno.test("every truncation of a publish batch is a DecodeError", () => {
  const payload = encodePublishBatch({ topic: "payments", messages });
  for (let length = 0; length < payload.length; length++) {
    assert.throws(() => decodePublishHeaders(payload.subarray(0, length)), DecodeError);
  }
});

Deno.test("push results round-trip and garbage is a DecodeError", () => {
  const outcomes = [
    {
      topic: "t",
      subscription: "s",
      subscriptionIncarnation: 9,
      sequence: 3,
      attempt: 2,
      ok: false,
      error: "HTTP 500",
    },
    {
      topic: "t",
      subscription: "s",
      subscriptionIncarnation: 9,
      sequence: 4,
      attempt: 0,
      ok: true,
      error: "",
    },
  ];
  const payload = encodePushResults(outcomes);
  assert.equal(payload[0], 2, "written in layout 2");
  assert.deepEqual(decodePushResults(payload), { outcomes, finalTry: true });
  // Layout 1, the earlier form: the same bytes after the version, without the final try.
  const earlier = Uint8Array.of(1, ...payload.subarray(1));
  assert.deepEqual(decodePushResults(earlier), { outcomes, finalTry: false });
  for (let length = 0; length < payload.length; length++) {
    assert.throws(() => decodePushResults(payload.subarray(0, length)), DecodeError);
  }
  // An unknown layout version: garbage below the one written, a newer release's above it.
  assert.throws(() => decodePushResults(new Uint8Array([0, 0, 0])), DecodeError);
  assert.throws(() => decodePushResults(new Uint8Array([3, 0, 0])), NewerLayoutError);
});
