/**
 * How many bytes a string takes in a JSON request body, without building its JSON: what the
 * producer sizes its batches by. `JSON.stringify` writes a control character as `\u00XX` (six
 * bytes for one), `"` `\` and `\b \t \n \f \r` as two, a lone surrogate as `\udXXX`; the rest is
 * UTF-8. A body's raw length says little: one of control characters grows sixfold.
 *
 * @module
 */

const utf8 = new TextEncoder();
/** Strings up to a third of this many code units are encoded without allocating. */
const scratch = new Uint8Array(48 * 1024);

/** What escaping adds to each UTF-8 byte (only ASCII is escaped; a multi-byte one adds 0). */
const escapeExtra = new Uint8Array(256);
for (let code = 0; code < 0x20; code++) escapeExtra[code] = 5;
for (const code of [0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x22, 0x5c]) escapeExtra[code] = 1;

/**
 * Bytes of `text` in a JSON document, its quotes left out: `JSON.stringify(text)`'s UTF-8 bytes
 * less 2. The text is UTF-8-encoded natively and its bytes looked up in a table (a loop over
 * `charCodeAt`, or a regular expression, took two to three times as long; `JSON.stringify`
 * about as long on text with quotes, and it builds the string); only a string with a lone
 * surrogate (`isWellFormed`, native) is walked by code unit.
 *
 * @example
 * ```ts
 * jsonBytes("\u0001\u0001"); // 12
 * jsonBytes('say "é"'); // 10
 * ```
 */
export function jsonBytes(text: string): number {
  if (!wellFormed(text)) return jsonBytesByCodeUnit(text);
  const bytes = text.length * 3 > scratch.length
    ? utf8.encode(text) // a long text
    : scratch.subarray(0, utf8.encodeInto(text, scratch).written);
  let total = bytes.length;
  for (let index = 0; index < bytes.length; index++) total += escapeExtra[bytes[index]];
  return total;
}

/** `jsonBytes` of a string that may hold lone surrogates (each one `\udXXX`, six bytes). */
function jsonBytesByCodeUnit(text: string): number {
  let total = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) {
      total += 1 + escapeExtra[code];
    } else if (code < 0x800) {
      total += 2;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(index + 1);
      const paired = code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
      total += paired ? 4 : 6;
      if (paired) index++;
    } else {
      total += 3;
    }
  }
  return total;
}

/** `text.isWellFormed()` (ES2024: Deno, Node ≥ 20), typed here for the npm build's ES2022 lib. */
function wellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}
