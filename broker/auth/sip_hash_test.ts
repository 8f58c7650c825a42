import { strict as assert } from "node:assert";
import { randomSipHashKey, sipHash24 } from "./sip_hash.ts";

// The reference implementation's vectors (key 00 01 … 0f, message 00 01 … of each length), as
// the `uint64_t` each output's eight little-endian bytes make.
const referenceOutputs: Record<number, bigint> = {
  0: 0x726fdb47dd0e0e31n,
  1: 0x74f839c593dc67fdn,
  2: 0x0d6c8009d9a94f5an,
  3: 0x85676696d7fb7e2dn,
  4: 0xcf2794e0277187b7n,
  5: 0x18765564cd99a68dn,
  6: 0xcbc9466e58fee3cen,
  7: 0xab0200f58b01d137n,
  8: 0x93f5f5799a932462n,
  9: 0x9e0082df0ba9e4b0n,
  10: 0x7a5dbbc594ddb9f3n,
  15: 0xa129ca6149be45e5n,
};

Deno.test("SipHash-2-4 gives the reference implementation's outputs", () => {
  const key = Uint32Array.from([0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c]);
  const message = Uint8Array.from({ length: 64 }, (_, index) => index);
  const out = new Uint32Array(2);
  for (const [length, expected] of Object.entries(referenceOutputs)) {
    sipHash24(key, message, Number(length), out);
    assert.equal((BigInt(out[0]) << 32n) | BigInt(out[1]), expected, `length ${length}`);
  }
});

Deno.test("SipHash-2-4 depends on the key", () => {
  const message = new TextEncoder().encode("AKIDa\nn1");
  const first = new Uint32Array(2);
  const second = new Uint32Array(2);
  sipHash24(randomSipHashKey(), message, message.length, first);
  sipHash24(randomSipHashKey(), message, message.length, second);
  assert.notDeepEqual([...first], [...second]);
});
