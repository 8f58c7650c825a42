/**
 * MD5 of many texts at once in the 128-bit lanes of WebAssembly SIMD: the body digests of a
 * batch (SendMessageBatch answers one per entry, ReceiveMessage one per message).
 *
 * MD5 is one long chain of dependent 32-bit steps, so a single digest runs at the chain's speed
 * whatever the code (`md5_core.ts` in TypeScript, WebAssembly and `node:crypto` all measured
 * 4.2–5.0 µs per 1 KB body under load). Four independent chains fit the four 32-bit lanes of a
 * register and take about the time of one; and a call that runs two or three such groups with
 * their steps interleaved fills the waits of each chain with the others' steps. The module
 * (`_md5_lanes_gen.ts` writes it out; `md5_lanes_wasm.ts` holds its bytes) has calls of 4, 8 and
 * 12 lanes, so a batch of 10 is one call. Measured in one loop with the encoding and hex: 0.85 µs
 * per 1 KB body for a batch of 10 (1.75 µs with one group of four per call), 0.9 for 8, 1.2 for
 * 5, 1.8 for 3; `md5HexOfText`, one at a time, 2.7–3.5 µs. A lone text (or a runtime without
 * WebAssembly SIMD) goes through `md5HexOfText`.
 *
 * @module
 */
import { hexOfState, md5HexOfText } from "./md5_core.ts";
import { md5LanesWasmBase64 } from "./md5_lanes_wasm.ts";

/** One of the module's functions: `lanes` MD5s at once (see `_md5_lanes_gen.ts`). */
type LanesFunction = (header: number, blocksMax: number, out: number) => void;

/** The module's exports. */
interface LaneExports {
  memory: WebAssembly.Memory;
  md5x4: LanesFunction;
  md5x8: LanesFunction;
  md5x12: LanesFunction;
}

/** The instantiated module, and its functions by the groups of four lanes they hash. */
interface Lanes {
  exports: LaneExports;
  /** `byGroups[g - 1]` hashes `g` groups of four lanes. */
  byGroups: readonly LanesFunction[];
}

function instantiate(): Lanes | null {
  try {
    const text = atob(md5LanesWasmBase64);
    const bytes = new Uint8Array(text.length);
    for (let at = 0; at < text.length; at++) bytes[at] = text.charCodeAt(at);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes))
      .exports as unknown as LaneExports;
    return { exports, byGroups: [exports.md5x4, exports.md5x8, exports.md5x12] };
  } catch {
    return null; // no WebAssembly SIMD: one text at a time
  }
}

/** Made on the first batch (a broker nobody sends SQS batches to never compiles it). */
let lanes: Lanes | null | undefined;

function lanesModule(): Lanes | null {
  if (lanes === undefined) {
    lanes = instantiate();
    if (lanes !== null) {
      bytes = new Uint8Array(lanes.exports.memory.buffer);
      words = new Uint32Array(lanes.exports.memory.buffer);
    }
  }
  return lanes;
}

/** True when the lanes module runs here (in Deno it does: a test holds it to that). */
export function md5LanesAvailable(): boolean {
  return lanesModule() !== null;
}

/** The most lanes of one call (`md5x12`). */
const lanesMax = 12;

const utf8 = new TextEncoder();
/** The call's header (lane addresses, then block counts), its digests, then the lanes' blocks. */
const headerAt = 0;
const outAt = 128;
const lanesAt = 320;
let bytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** Makes the module's memory at least `length` bytes (views are remade: growing detaches). */
function reserve(exports: LaneExports, length: number): void {
  const have = exports.memory.buffer.byteLength;
  if (length <= have) return;
  exports.memory.grow(Math.ceil((length - have) / 65536));
  bytes = new Uint8Array(exports.memory.buffer);
  words = new Uint32Array(exports.memory.buffer);
}

/** Hashes `texts[from .. from + count)` (count 1–12) in one call into `digests`. */
function hashGroup(
  { exports, byGroups }: Lanes,
  texts: readonly string[],
  from: number,
  count: number,
  digests: string[],
): void {
  let charsMax = 0;
  for (let lane = 0; lane < count; lane++) charsMax = Math.max(charsMax, texts[from + lane].length);
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, then 0x80, zeros and 8 bytes of length.
  const laneBytes = Math.ceil((charsMax * 3 + 9) / 64) * 64;
  reserve(exports, lanesAt + count * laneBytes);
  const groups = Math.ceil(count / 4);
  const laneCount = groups * 4;
  const header = headerAt >>> 2;
  let blocksMax = 0;
  for (let lane = 0; lane < laneCount; lane++) {
    if (lane >= count) {
      words[header + lane] = lanesAt; // unused: no blocks, a readable address
      words[header + laneCount + lane] = 0;
      continue;
    }
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
    words[header + lane] = base;
    words[header + laneCount + lane] = laneBlocks;
    blocksMax = Math.max(blocksMax, laneBlocks);
  }
  byGroups[groups - 1](headerAt, blocksMax, outAt);
  for (let lane = 0; lane < count; lane++) {
    // Group g's digests: A, B, C, D of its four lanes, 16 bytes each.
    const out = (outAt >>> 2) + (lane >>> 2) * 16 + (lane & 3);
    digests[from + lane] = hexOfState(words[out], words[out + 4], words[out + 8], words[out + 12]);
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
  const module = texts.length < 2 ? null : lanesModule();
  if (module === null) return texts.map((text) => md5HexOfText(text));
  const digests = new Array<string>(texts.length);
  // As few calls as twelve lanes allow, their sizes even (14 texts: 7 and 7).
  const calls = Math.ceil(texts.length / lanesMax);
  let from = 0;
  for (let call = 0; call < calls; call++) {
    const count = Math.ceil((texts.length - from) / (calls - call));
    hashGroup(module, texts, from, count, digests);
    from += count;
  }
  return digests;
}
