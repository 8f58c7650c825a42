import assert from "node:assert/strict";
import fc from "fast-check";
import { formPairs, parseParams } from "./params.ts";

const standard = (text: string) => [...new URLSearchParams(text)];

Deno.test("formPairs reads what URLSearchParams reads, escapes and odd input included", () => {
  const cases = [
    "",
    "?",
    "?Action=SendMessage&queueName=q",
    "msgBody=0001764714000000.123%7Cxxxx&a=b",
    "a+b=c+d%2Be",
    "a=%c3%a9t%C3%A9", // UTF-8 escapes: the standard path
    "a=%E9", // not UTF-8: U+FFFD
    "a=%zz&b=%4&c=%",
    "a==b&=c&d&&e=",
    "name=%2526%3D%26", // escapes of '%', '=', '&' stay data
    "raw=été😀&x=%41",
    "lone=\uD800x", // not well-formed: the standard path
    "a=1&a=2",
  ];
  for (const text of cases) assert.deepEqual([...formPairs(text)], standard(text), text);
});

Deno.test("formPairs agrees with URLSearchParams on random form text", () => {
  const piece = fc.constantFrom(
    "a",
    "Z",
    "0",
    "=",
    "&",
    "+",
    "%",
    "%7C",
    "%7c",
    "%41",
    "%2B",
    "%25",
    "%C3%A9",
    "%FF",
    "%8",
    "é",
    "😀",
    "\uD83D",
    "?",
    " ",
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
      const text = pieces.join("");
      assert.deepEqual([...formPairs(text)], standard(text));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseParams still refuses a name given twice across the query and the body", () => {
  assert.throws(() => parseParams("?queueName=a", "queueName=b"), /NOT a repeatable/);
  assert.equal(parseParams("?Action=X", "msgBody.1=a%7Cb").get("msgBody.1"), "a|b");
});
