/**
 * The shortcuts of the SQS door's hot path give the answers of the plain forms they replace:
 * MD5 of a body string against MD5 of its TextEncoder bytes, and queue URLs read from the cache
 * as when parsed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { md5Hex, md5OfBody } from "./md5.ts";
import { queueFromUrl } from "./queue_names.ts";

const codeUnits = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 0x2f }),
    fc.integer({ min: 0xd7f0, max: 0xe010 }),
    fc.integer({ min: 0xfff0, max: 0xffff }),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  { maxLength: 24 },
).map((units) => String.fromCharCode(...units));

Deno.test("md5OfBody of a string is the MD5 of its UTF-8 bytes, lone surrogates included", () => {
  const utf8 = new TextEncoder();
  for (const text of ["", "a", "é€😀", "x".repeat(1024), "a\uD800b", "\uDC00"]) {
    assert.equal(md5OfBody(text), md5Hex(utf8.encode(text)), JSON.stringify(text));
  }
  fc.assert(
    fc.property(codeUnits, (text) => assert.equal(md5OfBody(text), md5Hex(utf8.encode(text)))),
    { numRuns: 2000 },
  );
});

Deno.test("queueFromUrl answers the same from its cache, and refuses a bad URL every time", () => {
  const url = "http://127.0.0.1:9324/000000000000/orders.fifo";
  const first = queueFromUrl(url);
  assert.deepEqual(first, { sqsName: "orders.fifo", name: "orders", fifo: true });
  assert.deepEqual(queueFromUrl(url), first);
  assert.ok(Object.isFrozen(first));
  for (let round = 0; round < 2; round++) {
    assert.throws(() => queueFromUrl("http://h/1/2/3"), /is not valid/);
    assert.throws(() => queueFromUrl("http://h/000000000000/bad.name"), /does not exist/);
  }
  // More distinct URLs than the cache holds: every one still parses right.
  for (let index = 0; index < 1100; index++) {
    assert.equal(queueFromUrl(`http://h/000000000000/q${index}`).name, `q${index}`);
  }
  assert.equal(queueFromUrl(url).name, "orders");
});
