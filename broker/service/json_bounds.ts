/**
 * Bounds on the JSON a request may make the node parse. V8's `JSON.parse` spends its time on
 * the arrays and objects it builds, not on the bytes. Measured on one core (Deno 2.9, medians of
 * flat strings): 1 MB of message text parses in about 0.2 ms and 1 MB of numbers in 3 ms, but
 * 1 MB of `[{},{},…]` in about 25 ms and of nested arrays in 35–55 ms, worse as the heap grows:
 * 4 MiB of `[[[…]]]` took about 470–515 ms, and so did 4 MiB of `[…]` units only 64 deep (units
 * 4 deep: 390 ms). A bound on depth alone would leave most of that, so the number of arrays and
 * objects is bounded too. No cmqd request shape nests more than a few levels or holds more than
 * about 800 of them (a v1 batch of 256 messages with attributes), so a body is refused, before
 * it is parsed, when it nests deeper than {@link jsonBounds}.depthMax levels or holds more than
 * {@link jsonBounds}.containersMax arrays and objects: at the bound its parse takes about
 * 0.1–0.15 ms, about what an ordinary small request costs the node.
 *
 * Only text of more than {@link jsonBounds}.scannedCharsMin characters is scanned: every array
 * or object takes two, so shorter text can't pass the count, and however it nests it parses in
 * under 0.2 ms (8 KiB of `[[[…]]]`: 0.18 ms). The scan jumps through strings from quote to
 * quote (`indexOf`), so on the common bodies, mostly message text, it costs about 0.03–0.05 ms
 * per MB (0.7 µs for a 16 KiB send, whose parse takes 3.8 µs); on text of structure or escaped
 * quotes only, 1.7–2.4 ms per MB, less than its parse (3–4 ms). It stops at the first bound
 * passed: 4 MiB of `[[[…]]]` is refused after 65 characters.
 *
 * Object members are bounded as well ({@link jsonBounds}.membersMax, the colons outside strings):
 * the parse of an object's members costs by their distinct keys, more than linearly in one
 * object (Deno 2.9, one core: 16,384 in one object 8 ms, 65,536 21 ms, 300,000 — 3.9 MB, under
 * the request bound — about 400 ms, and a v1 route's validation about as much again). A v1 batch
 * of 256 messages with 10 attributes each holds about 3,600; SQS's requests far fewer.
 *
 * @module
 */

/** The bounds (see the module's text). */
export const jsonBounds = {
  depthMax: 64,
  containersMax: 4096,
  membersMax: 16_384,
  scannedCharsMin: 8192,
} as const;

const quote = 0x22;
const backslash = 0x5c;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const colon = 0x3a;

/**
 * What makes `text` too costly to parse, as the end of a sentence ("request body is …"), or
 * null when it is within the bounds or short enough not to be scanned. Text that is not JSON
 * is judged as far as `JSON.parse` would read it: a string left open, or a closing bracket
 * with nothing open, ends the scan (the parse fails there).
 */
export function jsonBoundsProblem(text: string): string | null {
  if (text.length <= jsonBounds.scannedCharsMin) return null;
  const { depthMax, containersMax, membersMax } = jsonBounds;
  let depth = 0;
  let containers = 0;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === quote) {
      // To the closing quote: the first one after an even run of backslashes (none included).
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return null;
        let before = end - 1;
        while (text.charCodeAt(before) === backslash) before--;
        i = end;
        if ((end - 1 - before) % 2 === 0) break;
      }
    } else if (c === openBracket || c === openBrace) {
      if (++depth > depthMax) {
        return `nested too deep: more than ${depthMax} levels of arrays and objects`;
      }
      if (++containers > containersMax) {
        return `too complex: more than ${containersMax} arrays and objects`;
      }
    } else if (c === closeBracket || c === closeBrace) {
      if (--depth < 0) return null;
    } else if (c === colon && ++members > membersMax) {
      return `too complex: more than ${membersMax} object members`;
    }
  }
  return null;
}
