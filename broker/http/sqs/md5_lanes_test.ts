/**
 * The four-lane MD5 of `md5_lanes.ts` gives `node:crypto`'s answer for every text of a batch:
 * batches of every size, lanes that end at different blocks, lone surrogates, texts that grow the
 * module's memory; and the module the product carries is the one `_md5_lanes_gen.ts` builds.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { md5HexOfTexts, md5LanesAvailable } from "./md5_lanes.ts";
import { md5LanesWasmBase64 } from "./md5_lanes_wasm.ts";
import { codeUnitTexts } from "./_text_arbitraries.ts";
import { buildMd5LanesWasm, md5LanesWasmModule } from "./_md5_lanes_gen.ts";

const reference = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

function assertMatches(texts: string[]): void {
  assert.deepEqual(md5HexOfTexts(texts), texts.map(reference), `${texts.length} texts`);
}

Deno.test("the four-lane module runs in Deno (else every digest takes the one-at-a-time path)", () => {
  assert.equal(md5LanesAvailable(), true);
});

Deno.test("md5HexOfTexts matches node:crypto for batches of 0 to 26 texts of every length around the block boundaries", () => {
  for (let count = 0; count <= 26; count++) {
    for (let length = 0; length <= 130; length += 1 + (length % 7)) {
      // Each text a different length, so the lanes of one call finish at different blocks.
      assertMatches(
        Array.from(
          { length: count },
          (_, i) => "é€😀a".repeat(length + i * 9).slice(0, length + i * 9),
        ),
      );
      assertMatches(Array.from({ length: count }, (_, i) => "x".repeat(length + i * 17)));
    }
  }
});

Deno.test("md5HexOfTexts matches node:crypto with a large text beside small ones, and after the memory grew", () => {
  const large = "0123456789abcdef€".repeat(20_000);
  assertMatches(["", large, "a", "abc"]);
  assertMatches(["a", "b", large.slice(7), "€".repeat(100_000), "d"]);
  assertMatches(["abc", "message digest", "", "1234567890".repeat(8)]);
  // Twelve lanes in one call, the large ones in the last group.
  assertMatches([..."abcdefgh", large, "€".repeat(300_000), "x"]);
});

const codeUnits = codeUnitTexts(400, [0, 0x7f], [0x80, 0x7ff], [0xd7f0, 0xe010], [0, 0xffff]);

Deno.test("md5HexOfTexts matches node:crypto over random batches, lone surrogates included", () => {
  fc.assert(
    fc.property(fc.array(codeUnits, { maxLength: 14 }), (texts) => assertMatches(texts)),
    { numRuns: 1000 },
  );
});

Deno.test("the module in md5_lanes_wasm.ts is the one _md5_lanes_gen.ts builds", async () => {
  const built = await buildMd5LanesWasm();
  assert.equal(md5LanesWasmBase64, btoa(String.fromCharCode(...built)));
  const committed = await Deno.readTextFile(new URL("./md5_lanes_wasm.ts", import.meta.url));
  const formatted = md5LanesWasmModule(built);
  // The generator's text, as `deno fmt` leaves it (it may re-wrap nothing but whitespace).
  assert.equal(committed.replace(/\s+/g, " "), formatted.replace(/\s+/g, " "));
});
