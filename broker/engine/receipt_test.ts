import assert from "node:assert/strict";
import {
  decodeReceiptBytes,
  encodeReceiptHandle,
  receiptBytesToHandle,
  receiptHandleToBytes,
} from "./receipt.ts";

/** The reference encoding: standard base64 with the URL alphabet and no padding. */
function reference(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("handles are base64url of their bytes and decode back to the same fields", () => {
  for (let round = 0; round < 2000; round++) {
    const bytes = crypto.getRandomValues(new Uint8Array(29));
    bytes[0] = 1;
    const handle = receiptBytesToHandle(bytes);
    assert.equal(handle, reference(bytes));
    assert.deepEqual(receiptHandleToBytes(handle), bytes);
  }
  const fields = { incarnation: 3, sequence: 1_000_000_007, deliveryIndex: 42, tag: 0xdeadbeef };
  assert.deepEqual(decodeReceiptBytes(receiptHandleToBytes(encodeReceiptHandle(fields))), fields);
});

Deno.test("a handle with any foreign character, a wrong length or stray bits is refused", () => {
  const handle = encodeReceiptHandle({ incarnation: 1, sequence: 2, deliveryIndex: 3, tag: 4 });
  for (let at = 0; at < handle.length; at++) {
    for (const bad of ["!", "+", "/", "=", " ", "é", "\u0100"]) {
      const forged = handle.slice(0, at) + bad + handle.slice(at + 1);
      assert.equal(receiptHandleToBytes(forged).length, 0, JSON.stringify(forged));
    }
  }
  assert.equal(receiptHandleToBytes(handle.slice(0, -1)).length, 0);
  assert.equal(receiptHandleToBytes(handle + "A").length, 0);
  // The last character carries 2 unused bits: a non-zero one names no handle.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const sibling = alphabet[alphabet.indexOf(handle.at(-1)!) | 1];
  assert.equal(receiptHandleToBytes(handle.slice(0, -1) + sibling).length, 0);
});
