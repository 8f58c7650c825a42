import assert from "node:assert/strict";
import { jsonBytes } from "./json_bytes.ts";

Deno.test("jsonBytes counts a body as JSON.stringify writes it (UTF-8, quotes left out)", () => {
  const utf8 = new TextEncoder();
  const expected = (text: string) => utf8.encode(JSON.stringify(text)).length - 2;
  const texts = [
    "",
    "plain",
    '{"a":"b\\c"}',
    "\b\t\n\v\f\r\u0000\u001f\u007f",
    "é\u{1F600}\u2028",
    "\ud800",
    "a\udc00b",
    "\ud800\ud800\udc00",
    "\u0001".repeat(20_000), // past the scratch buffer: counted another way
  ];
  // And random strings over the characters that matter.
  const alphabet = ["a", "é", "\u0001", "\n", '"', "\\", "\ud83d", "\ude00", "\u{1F600}", "\u2028"];
  for (let round = 0; round < 200; round++) {
    const length = Math.floor(Math.random() * 40);
    texts.push(
      Array.from({ length }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join(""),
    );
  }
  for (const text of texts) assert.equal(jsonBytes(text), expected(text), JSON.stringify(text));
});
