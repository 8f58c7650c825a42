/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash that is a pseudorandom
 * function, i.e. without the 128-bit key nobody can compute an output or craft inputs whose
 * outputs collide. The replay cache stores such hashes of (secretId, nonce) under a key drawn
 * at random per process. Written over 32-bit halves because JavaScript has no fast 64-bit
 * integers (a `BigInt` version is many times slower, `node:crypto` costs about 6 µs a call);
 * checked against the reference implementation's test vectors.
 *
 * @module
 */

/** A SipHash key: 128 bits as four little-endian 32-bit words (k0 low, k0 high, k1 low, k1 high). */
export type SipHashKey = Uint32Array;

/** A new random key from the platform's cryptographic generator. */
export function randomSipHashKey(): SipHashKey {
  return crypto.getRandomValues(new Uint32Array(4));
}

/**
 * SipHash-2-4 of `bytes[0, length)` under `key`; writes the 64-bit result into `out` as
 * `[high 32 bits, low 32 bits]` (`out[0] * 2 ** 32 + out[1]` is the reference's `uint64_t`).
 *
 * @example
 * ```ts
 * const out = new Uint32Array(2);
 * sipHash24(randomSipHashKey(), new TextEncoder().encode("AKIDa\nn1"), 8, out);
 * ```
 */
export function sipHash24(
  key: SipHashKey,
  bytes: Uint8Array,
  length: number,
  out: Uint32Array,
): void {
  // v0..v3 as high and low 32-bit halves, in locals (the rounds are written out for speed). The
  // low halves are kept unsigned, so that a carry shows as a sum above 0xffffffff.
  const k0l = key[0], k0h = key[1], k1l = key[2], k1h = key[3];
  // "somepseudorandomlygeneratedbytes"
  let v0h = k0h ^ 0x736f6d65, v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = k1h ^ 0x646f7261, v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = k0h ^ 0x6c796765, v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = k1h ^ 0x74656462, v3l = (k1l ^ 0x79746573) >>> 0;
  let t: number;
  const wholeEnd = length - (length % 8);
  for (let at = 0;; at += 8) {
    let wordHigh: number, wordLow: number;
    if (at < wholeEnd) {
      wordLow = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
      wordHigh = bytes[at + 4] | (bytes[at + 5] << 8) | (bytes[at + 6] << 16) |
        (bytes[at + 7] << 24);
    } else {
      // The last word: the remaining 0–7 bytes, the length's low byte in the top byte.
      wordHigh = (length & 0xff) << 24;
      wordLow = 0;
      for (let index = at, shift = 0; index < length; index++, shift += 8) {
        if (shift < 32) wordLow |= bytes[index] << shift;
        else wordHigh |= bytes[index] << (shift - 32);
      }
    }
    v3h ^= wordHigh;
    v3l = (v3l ^ wordLow) >>> 0;
    for (let round = 0; round < 2; round++) {
      t = v0l + v1l;
      v0h = (v0h + v1h + (t > 0xffffffff ? 1 : 0)) | 0;
      v0l = t >>> 0;
      t = (v1h << 13) | (v1l >>> 19);
      v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
      v1l >>>= 0;
      v1h = t ^ v0h;
      t = v0l;
      v0l = v0h >>> 0;
      v0h = t;
      t = v2l + v3l;
      v2h = (v2h + v3h + (t > 0xffffffff ? 1 : 0)) | 0;
      v2l = t >>> 0;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
      v3l >>>= 0;
      v3h = t ^ v2h;
      t = v0l + v3l;
      v0h = (v0h + v3h + (t > 0xffffffff ? 1 : 0)) | 0;
      v0l = t >>> 0;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
      v3l >>>= 0;
      v3h = t ^ v0h;
      t = v2l + v1l;
      v2h = (v2h + v1h + (t > 0xffffffff ? 1 : 0)) | 0;
      v2l = t >>> 0;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
      v1l >>>= 0;
      v1h = t ^ v2h;
      t = v2l;
      v2l = v2h >>> 0;
      v2h = t;
    }
    v0h ^= wordHigh;
    v0l = (v0l ^ wordLow) >>> 0;
    if (at >= wholeEnd) break;
  }
  v2l = (v2l ^ 0xff) >>> 0;
  for (let round = 0; round < 4; round++) {
    t = v0l + v1l;
    v0h = (v0h + v1h + (t > 0xffffffff ? 1 : 0)) | 0;
    v0l = t >>> 0;
    t = (v1h << 13) | (v1l >>> 19);
    v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
    v1l >>>= 0;
    v1h = t ^ v0h;
    t = v0l;
    v0l = v0h >>> 0;
    v0h = t;
    t = v2l + v3l;
    v2h = (v2h + v3h + (t > 0xffffffff ? 1 : 0)) | 0;
    v2l = t >>> 0;
    t = (v3h << 16) | (v3l >>> 16);
    v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
    v3l >>>= 0;
    v3h = t ^ v2h;
    t = v0l + v3l;
    v0h = (v0h + v3h + (t > 0xffffffff ? 1 : 0)) | 0;
    v0l = t >>> 0;
    t = (v3h << 21) | (v3l >>> 11);
    v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
    v3l >>>= 0;
    v3h = t ^ v0h;
    t = v2l + v1l;
    v2h = (v2h + v1h + (t > 0xffffffff ? 1 : 0)) | 0;
    v2l = t >>> 0;
    t = (v1h << 17) | (v1l >>> 15);
    v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
    v1l >>>= 0;
    v1h = t ^ v2h;
    t = v2l;
    v2l = v2h >>> 0;
    v2h = t;
  }
  out[0] = v0h ^ v1h ^ v2h ^ v3h;
  out[1] = v0l ^ v1l ^ v2l ^ v3l;
}
