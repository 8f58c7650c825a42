/**
 * MD5 of many texts at once, four at a time in the 128-bit lanes of WebAssembly SIMD: the body
 * digests of a batch (SendMessageBatch answers one per entry, ReceiveMessage one per message).
 *
 * MD5 is one long chain of dependent 32-bit steps, so a single digest runs at the chain's speed
 * whatever the code (`md5_core.ts` in TypeScript, WebAssembly and `node:crypto` all measured
 * 4.2–5.0 µs per 1 KB body under load). Four independent chains side by side take about the time
 * of one: the module (`_md5_lanes_gen.ts` writes it out; `md5_lanes_wasm.ts` holds its bytes)
 * hashes four padded bodies per call, 1.3 µs per 1 KB body for the call itself and about 2 µs
 * with the encoding and hex around it, against 2.7–3.5 µs for `md5HexOfText` in the same loop.
 * A lone text (or a runtime without WebAssembly SIMD) goes through `md5HexOfText`.
 *
 * @module
 */
import { hexPairs, md5HexOfText } from "./md5_core.ts";
import { md5LanesWasmBase64 } from "./md5_lanes_wasm.ts";

/** The module's exports. */
interface LaneExports {
  memory: WebAssembly.Memory;
  md5x4(
    base0: number,
    base1: number,
    base2: number,
    base3: number,
    blocks0: number,
    blocks1: number,
    blocks2: number,
    blocks3: number,
    blocksMax: number,
    out: number,
  ): void;
}

function instantiate(): LaneExports | null {
  try {
    const bytes = Uint8Array.from(atob(md5LanesWasmBase64), (char) => char.charCodeAt(0));
    return new WebAssembly.Instance(new WebAssembly.Module(bytes))
      .exports as unknown as LaneExports;
  } catch {
    return null; // no WebAssembly SIMD: one text at a time
  }
}

const lanes = instantiate();

/** True when the four-lane module runs here (in Deno it does: a test holds it to that). */
export const md5LanesAvailable = lanes !== null;

const utf8 = new TextEncoder();
/** Where the module writes the four digests; the lanes' blocks follow. */
const outAt = 0;
const lanesAt = 64;
let bytes = new Uint8Array(lanes?.memory.buffer ?? new ArrayBuffer(0));
let words = new Uint32Array(bytes.buffer);

/** Makes the module's memory at least `length` bytes (views are remade: growing detaches). */
function reserve(exports: LaneExports, length: number): void {
  const have = exports.memory.buffer.byteLength;
  if (length <= have) return;
  exports.memory.grow(Math.ceil((length - have) / 65536));
  bytes = new Uint8Array(exports.memory.buffer);
  words = new Uint32Array(exports.memory.buffer);
}

function hexOfWord(word: number): string {
  return hexPairs[word & 0xff] + hexPairs[(word >>> 8) & 0xff] + hexPairs[(word >>> 16) & 0xff] +
    hexPairs[word >>> 24];
}

/** Blocks per lane of the call being made (reused: no allocation per call). */
const blocks = new Int32Array(4);

/** Hashes `texts[from .. from + count)` (count 1–4) in one call into `digests`. */
function hashGroup(
  exports: LaneExports,
  texts: readonly string[],
  from: number,
  count: number,
  digests: string[],
): void {
  let charsMax = 0;
  for (let lane = 0; lane < count; lane++) charsMax = Math.max(charsMax, texts[from + lane].length);
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, then 0x80, zeros and 8 bytes of length.
  const laneBytes = Math.ceil((charsMax * 3 + 9) / 64) * 64;
  reserve(exports, lanesAt + 4 * laneBytes);
  blocks.fill(0);
  let blocksMax = 0;
  for (let lane = 0; lane < count; lane++) {
    const base = lanesAt + lane * laneBytes;
    const length = utf8.encodeInto(texts[from + lane], bytes.subarray(base, base + laneBytes))
      .written;
    // RFC 1321 §3.1–3.2: 0x80, zeros to 56 mod 64, the length in bits (64-bit little-endian).
    const laneBlocks = ((length + 8) >>> 6) + 1;
    const end = base + laneBlocks * 64;
    bytes[base + length] = 0x80;
    bytes.fill(0, base + length + 1, end - 8);
    words[(end - 8) >>> 2] = (length * 8) >>> 0;
    words[(end - 4) >>> 2] = Math.floor(length / 2 ** 29);
    blocks[lane] = laneBlocks;
    blocksMax = Math.max(blocksMax, laneBlocks);
  }
  exports.md5x4(
    lanesAt,
    lanesAt + laneBytes,
    lanesAt + 2 * laneBytes,
    lanesAt + 3 * laneBytes,
    blocks[0],
    blocks[1],
    blocks[2],
    blocks[3],
    blocksMax,
    outAt,
  );
  const out = outAt >>> 2;
  for (let lane = 0; lane < count; lane++) {
    digests[from + lane] = hexOfWord(words[out + lane]) + hexOfWord(words[out + 4 + lane]) +
      hexOfWord(words[out + 8 + lane]) + hexOfWord(words[out + 12 + lane]);
  }
}

/**
 * Lowercase hex MD5 of the UTF-8 encoding of each text (a lone surrogate as U+FFFD, as
 * `TextEncoder` encodes it), in order.
 *
 * @example
 * ```ts
 * md5HexOfTexts(["a", "abc"]); // ["0cc175b9c0f1b6a831c399e269772661", "900150983cd24fb0d6963f7d28e17f72"]
 * ```
 */
export function md5HexOfTexts(texts: readonly string[]): string[] {
  if (lanes === null || texts.length < 2) return texts.map((text) => md5HexOfText(text));
  const digests = new Array<string>(texts.length);
  // As few calls as four lanes allow, their sizes even (10 texts: 4, 3 and 3).
  const groups = Math.ceil(texts.length / 4);
  let from = 0;
  for (let group = 0; group < groups; group++) {
    const count = Math.ceil((texts.length - from) / (groups - group));
    hashGroup(lanes, texts, from, count, digests);
    from += count;
  }
  return digests;
}
