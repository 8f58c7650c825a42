import assert from "node:assert/strict";
import {
  decodeReceiptBytes,
  encodeReceiptHandle,
  messageId,
  receiptBytesToHandle,
  receiptHandlesToBytes,
  receiptHandleToBytes,
  receiptTag,
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

Deno.test("ids and handles written as character codes are the digits and base64url of any value", () => {
  const random = () => Math.floor(Math.random() * 2 ** (Math.random() * 53));
  const edges = [0, 1, 15, 16, 2 ** 24 - 1, 2 ** 24, 2 ** 48 - 1, 2 ** 48, 2 ** 53 - 1];
  const pairs = [
    ...edges.flatMap((a) => edges.map((b) => [a, b])),
    ...Array.from({ length: 2000 }, () => [random(), random()]),
  ];
  for (const [incarnation, sequence] of pairs) {
    const expected = incarnation.toString(16).padStart(12, "0") +
      sequence.toString(16).padStart(12, "0");
    assert.equal(messageId(incarnation, sequence), expected);
  }
  for (let length = 0; length <= 40; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    assert.equal(receiptBytesToHandle(bytes), reference(bytes));
  }
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

Deno.test("tags and message ids are pinned: replicas and restarts of any version compute the same", () => {
  // Values computed by the first release; a change here breaks every handle already issued.
  const tags = [
    receiptTag(0, { incarnation: 1, sequence: 0, deliveryIndex: 2 }),
    receiptTag(0x7fffffff, {
      incarnation: 123456789,
      sequence: 2 ** 40 + 7,
      deliveryIndex: 2 ** 52 + 3,
    }),
    receiptTag(-5, { incarnation: 4096, sequence: 65535, deliveryIndex: 99 }),
  ];
  assert.deepEqual(tags, [2232379990, 1268826950, 3547040415]);
  // Alternating incarnations: the kept prefix follows the queue.
  const ids = [[1, 0], [123456789, 2 ** 40 + 7], [1, 5], [4096, 65535]].map(([a, b]) =>
    messageId(a, b)
  );
  assert.deepEqual(ids, [
    "000000000001000000000000",
    "0000075bcd15010000000007",
    "000000000001000000000005",
    "00000000100000000000ffff",
  ]);
});

Deno.test("handles decoded together are each what receiptHandleToBytes gives, in views of their own", () => {
  const good = Array.from(
    { length: 3 },
    (_, index) =>
      encodeReceiptHandle({
        incarnation: 7,
        sequence: index,
        deliveryIndex: 100 + index,
        tag: index * 3,
      }),
  );
  const list = [
    good[0],
    "not a handle",
    good[1],
    42 as unknown as string,
    good[1] + "A",
    good[2],
    "",
  ];
  const decoded = receiptHandlesToBytes(list);
  assert.equal(decoded.length, list.length);
  decoded.forEach((bytes, index) => assert.deepEqual(bytes, receiptHandleToBytes(list[index])));
  assert.deepEqual(decoded.map((bytes) => bytes.length), [29, 0, 29, 0, 0, 29, 0]);
  assert.deepEqual(decodeReceiptBytes(decoded[5]), {
    incarnation: 7,
    sequence: 2,
    deliveryIndex: 102,
    tag: 6,
  });
  decoded[0].fill(0);
  assert.deepEqual(decodeReceiptBytes(decoded[2])?.sequence, 1, "a view does not overlap the next");
});
