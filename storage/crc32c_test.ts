import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

function bitwiseCrc32c(bytes: Uint8Array): number {
  let register = 0xffffffff;
  for (const byte of bytes) {
    register ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      register = (register & 1) !== 0 ? (register >>> 1) ^ 0x82f63b78 : register >>> 1;
    }
  }
  return ~register >>> 0;
}

Deno.test("crc32c of the standard check string is 0xE3069283", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

Deno.test("crc32c of nothing is zero", () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c agrees with a bit-at-a-time reference for every length up to 100", () => {
  const bytes = new Uint8Array(100);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  for (let length = 0; length <= bytes.length; length++) {
    const slice = bytes.subarray(0, length);
    assert.equal(crc32c(slice), bitwiseCrc32c(slice), `length ${length}`);
  }
});

Deno.test("crc32c agrees with the reference from every alignment of its view", () => {
  // Word reads start at the first 4-aligned byte of the underlying buffer, wherever the view
  // begins (records are read at any offset of a segment).
  const buffer = new Uint8Array(700);
  for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 89 + 13) & 0xff;
  for (let offset = 0; offset < 8; offset++) {
    for (let length = 0; length <= 600; length += 1 + (length >> 4)) {
      const view = buffer.subarray(offset, offset + length);
      assert.equal(crc32c(view), bitwiseCrc32c(view), `offset ${offset}, length ${length}`);
      const half = length >> 1; // a continuation that starts off its alignment too
      assert.equal(
        crc32c(view.subarray(half), crc32c(view.subarray(0, half))),
        bitwiseCrc32c(view),
      );
    }
  }
});

Deno.test("crc32c continues across chunks as if over the concatenation", () => {
  const bytes = new TextEncoder().encode("the quick brown fox jumps over the lazy dog, twice");
  for (let split = 0; split <= bytes.length; split++) {
    const continued = crc32c(bytes.subarray(split), crc32c(bytes.subarray(0, split)));
    assert.equal(continued, crc32c(bytes));
  }
});

Deno.test("crc32c agrees with the reference at every length and alignment around the word path's start", () => {
  // The word path takes sixteen bytes a step from 256 bytes on: every remainder of 16 after the
  // unaligned head, at every alignment.
  const buffer = new Uint8Array(400);
  for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 167 + 41) & 0xff;
  for (let offset = 0; offset < 4; offset++) {
    for (let length = 240; length <= 300; length++) {
      const view = buffer.subarray(offset, offset + length);
      assert.equal(crc32c(view), bitwiseCrc32c(view), `offset ${offset}, length ${length}`);
    }
  }
});
