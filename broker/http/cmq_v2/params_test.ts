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

Deno.test("parsing stops at a repeated name or the 129th parameter: the rest of a body is never read", () => {
  // A spy on the slow path: old parsing decoded a whole body with URLSearchParams as soon as one
  // piece needed it, even when the answer was decided at the second pair (a key-less client
  // could make each request cost a second of the broker's time).
  const original = globalThis.URLSearchParams;
  let constructed = 0;
  globalThis.URLSearchParams = class extends original {
    constructor(...args: ConstructorParameters<typeof URLSearchParams>) {
      super(...args);
      constructed++;
    }
  };
  try {
    const repeated = "a=1&".repeat(200_000) + "z=%FF";
    assert.throws(() => parseParams("", repeated), /NOT a repeatable/);
    const many = Array.from({ length: 200_000 }, (_, index) => `p${index}=1`).join("&");
    assert.throws(() => parseParams("", many + "&z=%FF"), /more than 128 parameters/);
    assert.equal(constructed, 0, "the pieces after the refusal were decoded");
    assert.deepEqual([...formPairs("a=%FF")], [["a", "\uFFFD"]]);
    assert.equal(constructed, 1, "the spy sees the slow path");
  } finally {
    globalThis.URLSearchParams = original;
  }
});
