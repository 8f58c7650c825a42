/**
 * The MD5 of `md5_core.ts` gives `node:crypto`'s answer for any text: empty, around every
 * block and padding boundary, multi-byte UTF-8, lone surrogates, past the reused buffer, 256 KB.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { md5HexOfText } from "./md5_core.ts";
import { codeUnitTexts } from "./_text_arbitraries.ts";

const reference = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

Deno.test("md5HexOfText matches RFC 1321's test suite", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      "d174ab98d277d9f5a5611c2c9f419d9f",
    ],
    ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
  ];
  for (const [text, digest] of suite) assert.equal(md5HexOfText(text), digest, text);
});

Deno.test("md5HexOfText matches node:crypto at every length around the block boundaries", () => {
  for (let length = 0; length <= 200; length++) {
    const ascii = "x".repeat(length);
    assert.equal(md5HexOfText(ascii), reference(ascii), `ASCII ${length}`);
    const mixed = "é€😀a".repeat(length).slice(0, length);
    assert.equal(md5HexOfText(mixed), reference(mixed), `mixed ${length}`);
  }
});

Deno.test("md5HexOfText matches node:crypto for large texts, in and past the reused buffer", () => {
  const sizes = [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 64 * 1024, 256 * 1024];
  for (const size of sizes) {
    const ascii = "0123456789abcdef".repeat(size / 16 + 1).slice(0, size);
    assert.equal(md5HexOfText(ascii), reference(ascii), `ASCII ${size}`);
    // Three UTF-8 bytes per code unit: the reused buffer's worst case.
    const wide = "€".repeat(size);
    assert.equal(md5HexOfText(wide), reference(wide), `€ × ${size}`);
  }
});

const codeUnits = codeUnitTexts(
  300,
  [0, 0x7f],
  [0x80, 0x7ff],
  [0xd7f0, 0xe010],
  [0xfff0, 0xffff],
  [0, 0xffff],
);

Deno.test("md5HexOfText matches node:crypto over random text, lone surrogates included", () => {
  fc.assert(
    fc.property(codeUnits, (text) => assert.equal(md5HexOfText(text), reference(text))),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 3000 }), (text) => {
      assert.equal(md5HexOfText(text), reference(text));
    }),
    { numRuns: 300 },
  );
});
