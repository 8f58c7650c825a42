import assert from "node:assert/strict";
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";

Deno.test("string16 writes what TextEncoder writes and reads it back, short ASCII or not", () => {
  const encoder = new TextEncoder();
  const texts = [
    "",
    "orders",
    "a".repeat(64),
    "a".repeat(65),
    "héllo",
    "订单-7",
    "a\ud800b", // a lone surrogate is written as U+FFFD, like TextEncoder does
    "x".repeat(63) + "é",
    "HTTP 500: \u007f",
  ];
  for (const text of texts) {
    const writer = new ByteWriter(4);
    writer.string16(text);
    const bytes = writer.finish();
    const expected = encoder.encode(text);
    assert.equal(new DataView(bytes.buffer).getUint16(0, true), expected.length, text);
    assert.deepEqual(bytes.subarray(2), expected, text);
    const reader = new ByteReader(bytes);
    assert.equal(reader.string16(), new TextDecoder().decode(expected), text);
    reader.end();
  }
});

Deno.test("string16 rejects invalid UTF-8, short or long", () => {
  for (const length of [3, 100]) {
    const bytes = new Uint8Array(2 + length).fill(0x61);
    new DataView(bytes.buffer).setUint16(0, length, true);
    bytes[2 + length - 1] = 0xff;
    assert.throws(() => new ByteReader(bytes).string16(), DecodeError);
  }
});
