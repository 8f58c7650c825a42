/**
 * The shortcuts of the SQS door's hot path give the answers of the plain forms they replace:
 * MD5 of a body string against MD5 of its TextEncoder bytes, and queue URLs read from the cache
 * as when parsed; the body character check against the one Unicode-mode pattern it replaced.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { md5Hex, md5OfBody } from "./md5.ts";
import { queueFromUrl } from "./queue_names.ts";
import { hasRefusedBodyCharacter } from "./input.ts";
import { codeUnitTexts } from "./_text_arbitraries.ts";

const codeUnits = codeUnitTexts(
  24,
  [0, 0x2f],
  [0xd7f0, 0xe010],
  [0xfff0, 0xffff],
  [0, 0xffff],
);

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

Deno.test("the body character check refuses exactly what XML 1.0's character class refuses", () => {
  const xmlCharacters = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
  const refusedByPattern = (text: string) => xmlCharacters.test(text);
  const edges = [
    0,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    0x1f,
    0x20,
    0x7f,
    0xd7ff,
    0xd800,
    0xdbff,
    0xdc00,
    0xdfff,
    0xe000,
    0xfffd,
    0xfffe,
    0xffff,
  ];
  for (const unit of edges) {
    const text = "a" + String.fromCharCode(unit) + "b";
    assert.equal(hasRefusedBodyCharacter(text), refusedByPattern(text), unit.toString(16));
  }
  for (
    const text of ["", "😀", "\uD83D", "\uDE00\uD83D", "x".repeat(262144), "é€😀".repeat(9000)]
  ) {
    assert.equal(hasRefusedBodyCharacter(text), refusedByPattern(text), text.slice(0, 8));
  }
  fc.assert(
    fc.property(codeUnits, (text) => {
      assert.equal(hasRefusedBodyCharacter(text), refusedByPattern(text));
    }),
    { numRuns: 5000 },
  );
});
