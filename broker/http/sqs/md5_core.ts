/**
 * MD5 (RFC 1321) of text, in TypeScript, for the `MD5OfMessageBody` / `MD5OfBody` the SQS door
 * answers beside every message.
 *
 * Why not `node:crypto`: in Deno, `createHash("md5").update(text).digest("hex")` makes a Rust
 * hash object and crosses into Rust three times per message; for a 1 KB body that costs more
 * than hashing in the isolate (4.1-4.5 against 3.8-3.9 µs of CPU per 1 KB body, measured over
 * 50 000 bodies), and the objects it leaves feed the garbage collector. `crypto.subtle` has no MD5.
 * `md5_core_test.ts` checks every answer against `node:crypto` over random inputs.
 *
 * @module
 */

const hexDigits = Uint8Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0));
// A plain array of small integers: `apply` passes it without copying (a typed array is copied).
const digestCodes = new Array<number>(32).fill(0);

/** The hex digits of a state word's four bytes, lowest byte first, into `digestCodes`. */
function wordHexInto(at: number, word: number): void {
  for (let index = at; index < at + 8; index += 2, word >>>= 8) {
    digestCodes[index] = hexDigits[(word >>> 4) & 15];
    digestCodes[index + 1] = hexDigits[word & 15];
  }
}

/**
 * The lowercase hex digest of MD5's four state words (each little-endian), made into a string
 * at once: concatenated from pieces it was a tree of small strings, garbage per digest, that
 * `JSON.stringify` then walks on its slow path.
 */
export function hexOfState(a: number, b: number, c: number, d: number): string {
  wordHexInto(0, a);
  wordHexInto(8, b);
  wordHexInto(16, c);
  wordHexInto(24, d);
  return String.fromCharCode.apply(null, digestCodes);
}

/**
 * Text up to this many UTF-16 code units is encoded into the reused buffer (at most 3 bytes
 * each); longer text gets a buffer of its own, a cost proportional to its size anyway.
 */
const scratchCharsMax = 16 * 1024;
const scratch = new Uint8Array(scratchCharsMax * 3);
const utf8 = new TextEncoder();

// The blocks are read as 32-bit words in the platform's byte order, and MD5's words are
// little-endian: every platform Deno runs on (x86-64, AArch64) is.
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) {
  throw new Error("md5_core reads words in little-endian order; this platform is big-endian");
}

function rotate(value: number, shift: number): number {
  return (value << shift) | (value >>> (32 - shift));
}

// The four round functions of RFC 1321 §3.4, each folded into its step.
function ff(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  return (b + rotate((a + ((b & c) | (~b & d)) + x + t) | 0, s)) | 0;
}

function gg(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  return (b + rotate((a + ((b & d) | (c & ~d)) + x + t) | 0, s)) | 0;
}

function hh(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  return (b + rotate((a + (b ^ c ^ d) + x + t) | 0, s)) | 0;
}

function ii(a: number, b: number, c: number, d: number, x: number, s: number, t: number): number {
  return (b + rotate((a + (c ^ (b | ~d)) + x + t) | 0, s)) | 0;
}

/** The running digest: the words A, B, C, D. */
const state = new Int32Array(4);

/**
 * Mixes the 16 words of `w` from `o` (one 64-byte block) into `state`. The 64 steps are
 * written out, each with its word, shift and sine constant in the order of RFC 1321 §3.4, so
 * that the compiler sees constants (a loop over tables of them ran slower than `node:crypto`).
 */
function block(w: Int32Array, o: number): void {
  const x0 = w[o + 0];
  const x1 = w[o + 1];
  const x2 = w[o + 2];
  const x3 = w[o + 3];
  const x4 = w[o + 4];
  const x5 = w[o + 5];
  const x6 = w[o + 6];
  const x7 = w[o + 7];
  const x8 = w[o + 8];
  const x9 = w[o + 9];
  const x10 = w[o + 10];
  const x11 = w[o + 11];
  const x12 = w[o + 12];
  const x13 = w[o + 13];
  const x14 = w[o + 14];
  const x15 = w[o + 15];
  let a = state[0], b = state[1], c = state[2], d = state[3];
  a = ff(a, b, c, d, x0, 7, 0xd76aa478);
  d = ff(d, a, b, c, x1, 12, 0xe8c7b756);
  c = ff(c, d, a, b, x2, 17, 0x242070db);
  b = ff(b, c, d, a, x3, 22, 0xc1bdceee);
  a = ff(a, b, c, d, x4, 7, 0xf57c0faf);
  d = ff(d, a, b, c, x5, 12, 0x4787c62a);
  c = ff(c, d, a, b, x6, 17, 0xa8304613);
  b = ff(b, c, d, a, x7, 22, 0xfd469501);
  a = ff(a, b, c, d, x8, 7, 0x698098d8);
  d = ff(d, a, b, c, x9, 12, 0x8b44f7af);
  c = ff(c, d, a, b, x10, 17, 0xffff5bb1);
  b = ff(b, c, d, a, x11, 22, 0x895cd7be);
  a = ff(a, b, c, d, x12, 7, 0x6b901122);
  d = ff(d, a, b, c, x13, 12, 0xfd987193);
  c = ff(c, d, a, b, x14, 17, 0xa679438e);
  b = ff(b, c, d, a, x15, 22, 0x49b40821);
  a = gg(a, b, c, d, x1, 5, 0xf61e2562);
  d = gg(d, a, b, c, x6, 9, 0xc040b340);
  c = gg(c, d, a, b, x11, 14, 0x265e5a51);
  b = gg(b, c, d, a, x0, 20, 0xe9b6c7aa);
  a = gg(a, b, c, d, x5, 5, 0xd62f105d);
  d = gg(d, a, b, c, x10, 9, 0x02441453);
  c = gg(c, d, a, b, x15, 14, 0xd8a1e681);
  b = gg(b, c, d, a, x4, 20, 0xe7d3fbc8);
  a = gg(a, b, c, d, x9, 5, 0x21e1cde6);
  d = gg(d, a, b, c, x14, 9, 0xc33707d6);
  c = gg(c, d, a, b, x3, 14, 0xf4d50d87);
  b = gg(b, c, d, a, x8, 20, 0x455a14ed);
  a = gg(a, b, c, d, x13, 5, 0xa9e3e905);
  d = gg(d, a, b, c, x2, 9, 0xfcefa3f8);
  c = gg(c, d, a, b, x7, 14, 0x676f02d9);
  b = gg(b, c, d, a, x12, 20, 0x8d2a4c8a);
  a = hh(a, b, c, d, x5, 4, 0xfffa3942);
  d = hh(d, a, b, c, x8, 11, 0x8771f681);
  c = hh(c, d, a, b, x11, 16, 0x6d9d6122);
  b = hh(b, c, d, a, x14, 23, 0xfde5380c);
  a = hh(a, b, c, d, x1, 4, 0xa4beea44);
  d = hh(d, a, b, c, x4, 11, 0x4bdecfa9);
  c = hh(c, d, a, b, x7, 16, 0xf6bb4b60);
  b = hh(b, c, d, a, x10, 23, 0xbebfbc70);
  a = hh(a, b, c, d, x13, 4, 0x289b7ec6);
  d = hh(d, a, b, c, x0, 11, 0xeaa127fa);
  c = hh(c, d, a, b, x3, 16, 0xd4ef3085);
  b = hh(b, c, d, a, x6, 23, 0x04881d05);
  a = hh(a, b, c, d, x9, 4, 0xd9d4d039);
  d = hh(d, a, b, c, x12, 11, 0xe6db99e5);
  c = hh(c, d, a, b, x15, 16, 0x1fa27cf8);
  b = hh(b, c, d, a, x2, 23, 0xc4ac5665);
  a = ii(a, b, c, d, x0, 6, 0xf4292244);
  d = ii(d, a, b, c, x7, 10, 0x432aff97);
  c = ii(c, d, a, b, x14, 15, 0xab9423a7);
  b = ii(b, c, d, a, x5, 21, 0xfc93a039);
  a = ii(a, b, c, d, x12, 6, 0x655b59c3);
  d = ii(d, a, b, c, x3, 10, 0x8f0ccc92);
  c = ii(c, d, a, b, x10, 15, 0xffeff47d);
  b = ii(b, c, d, a, x1, 21, 0x85845dd1);
  a = ii(a, b, c, d, x8, 6, 0x6fa87e4f);
  d = ii(d, a, b, c, x15, 10, 0xfe2ce6e0);
  c = ii(c, d, a, b, x6, 15, 0xa3014314);
  b = ii(b, c, d, a, x13, 21, 0x4e0811a1);
  a = ii(a, b, c, d, x4, 6, 0xf7537e82);
  d = ii(d, a, b, c, x11, 10, 0xbd3af235);
  c = ii(c, d, a, b, x2, 15, 0x2ad7d2bb);
  b = ii(b, c, d, a, x9, 21, 0xeb86d391);

  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
}

const tail = new Uint8Array(128);
const tailView = new DataView(tail.buffer);
const tail32 = new Int32Array(tail.buffer);

/** Lowercase hex MD5 of the first `length` bytes of `bytes`, which start 4-byte aligned. */
function md5HexOf(bytes: Uint8Array, length: number): string {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  const view = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  const whole = length - (length % 64);
  for (let offset = 0; offset < whole; offset += 64) block(view, offset >> 2);
  // The padding: the last partial block, 0x80, zeros, the length in bits (64-bit little-endian).
  const rest = length - whole;
  tail.fill(0);
  tail.set(bytes.subarray(whole, length));
  tail[rest] = 0x80;
  const tailLength = rest < 56 ? 64 : 128;
  tailView.setUint32(tailLength - 8, (length * 8) >>> 0, true);
  tailView.setUint32(tailLength - 4, Math.floor(length / 2 ** 29), true);
  block(tail32, 0);
  if (tailLength === 128) block(tail32, 16);
  return hexOfState(state[0], state[1], state[2], state[3]);
}

/**
 * Lowercase hex MD5 of the UTF-8 encoding of `text` (a lone surrogate encodes as U+FFFD, as
 * `TextEncoder` does).
 */
export function md5HexOfText(text: string): string {
  if (text.length > scratchCharsMax) {
    const bytes = utf8.encode(text);
    return md5HexOf(bytes, bytes.length);
  }
  const { written } = utf8.encodeInto(text, scratch);
  return md5HexOf(scratch, written);
}
