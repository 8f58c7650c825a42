/**
 * Random texts for the SQS door's property tests: strings of UTF-16 code units drawn from the
 * ranges a test cares about (control characters, the surrogates around 0xD800–0xDFFF, the
 * noncharacters at 0xFFFE–0xFFFF, multi-byte UTF-8), lone surrogates included.
 *
 * @module
 */
import fc from "fast-check";

/**
 * Texts of up to `maxLength` code units, each from one of `ranges` (inclusive).
 *
 * @example
 * ```ts
 * const texts = codeUnitTexts(300, [0, 0x7f], [0xd7f0, 0xe010]);
 * ```
 */
export function codeUnitTexts(
  maxLength: number,
  ...ranges: [min: number, max: number][]
): fc.Arbitrary<string> {
  return fc.array(fc.oneof(...ranges.map(([min, max]) => fc.integer({ min, max }))), { maxLength })
    .map((units) => String.fromCharCode(...units));
}
