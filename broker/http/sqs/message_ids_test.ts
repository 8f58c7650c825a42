import assert from "node:assert/strict";
import { sqsMessageId } from "./message_ids.ts";

/** RFC 9562's layout, version 8 and variant 10 (what strict validators, zod's `uuid()`, check). */
const uuidV8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("sqsMessageId writes a cmqd id as a version 8 UUID holding its digits", () => {
  assert.equal(sqsMessageId("000000000003000000000001"), "00000000-0003-8000-8000-000000000001");
  const id = "0123456789abfedcba987654";
  const uuid = sqsMessageId(id);
  assert.match(uuid, uuidV8);
  assert.equal(uuid.replaceAll("-", "").replace("80008000", ""), id, "the native id inside");
});

Deno.test("sqsMessageId keeps distinct ids distinct and leaves other shapes as they are", () => {
  const ids = ["000000000001000000000002", "000000000002000000000001", "00000000000100000000000a"];
  assert.equal(new Set(ids.map(sqsMessageId)).size, ids.length);
  for (const other of ["1000000000000000000000000001", "00000000000100000000000G", ""]) {
    assert.equal(sqsMessageId(other), other);
  }
});
