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
  const v = state;
  const k0l = key[0], k0h = key[1], k1l = key[2], k1h = key[3];
  // "somepseudorandomlygeneratedbytes"
  v[0] = k0h ^ 0x736f6d65, v[1] = k0l ^ 0x70736575;
  v[2] = k1h ^ 0x646f7261, v[3] = k1l ^ 0x6e646f6d;
  v[4] = k0h ^ 0x6c796765, v[5] = k0l ^ 0x6e657261;
  v[6] = k1h ^ 0x74656462, v[7] = k1l ^ 0x79746573;
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
    v[6] ^= wordHigh;
    v[7] ^= wordLow;
    sipRound(v);
    sipRound(v);
    v[0] ^= wordHigh;
    v[1] ^= wordLow;
    if (at >= wholeEnd) break;
  }
  v[5] ^= 0xff;
  for (let round = 0; round < 4; round++) sipRound(v);
  out[0] = v[0] ^ v[2] ^ v[4] ^ v[6];
  out[1] = v[1] ^ v[3] ^ v[5] ^ v[7];
}

/**
 * The state v0..v3 as [v0 high, v0 low, v1 high, v1 low, …], 32 bits each (unsigned, so that a
 * carry out of a low half shows as a sum above 0xffffffff). One per process: a call runs to its
 * end without yielding.
 */
const state = new Uint32Array(8);

/** One SipRound over the state: the additions carry from the low to the high half. */
function sipRound(v: Uint32Array): void {
  let t = v[1] + v[3]; // v0 += v1
  v[0] = v[0] + v[2] + (t > 0xffffffff ? 1 : 0);
  v[1] = t;
  t = (v[2] << 13) | (v[3] >>> 19); // v1 = rotl(v1, 13) ^ v0
  v[3] = ((v[3] << 13) | (v[2] >>> 19)) ^ v[1];
  v[2] = t ^ v[0];
  t = v[1]; // v0 = rotl(v0, 32)
  v[1] = v[0];
  v[0] = t;
  t = v[5] + v[7]; // v2 += v3
  v[4] = v[4] + v[6] + (t > 0xffffffff ? 1 : 0);
  v[5] = t;
  t = (v[6] << 16) | (v[7] >>> 16); // v3 = rotl(v3, 16) ^ v2
  v[7] = ((v[7] << 16) | (v[6] >>> 16)) ^ v[5];
  v[6] = t ^ v[4];
  t = v[1] + v[7]; // v0 += v3
  v[0] = v[0] + v[6] + (t > 0xffffffff ? 1 : 0);
  v[1] = t;
  t = (v[6] << 21) | (v[7] >>> 11); // v3 = rotl(v3, 21) ^ v0
  v[7] = ((v[7] << 21) | (v[6] >>> 11)) ^ v[1];
  v[6] = t ^ v[0];
  t = v[5] + v[3]; // v2 += v1
  v[4] = v[4] + v[2] + (t > 0xffffffff ? 1 : 0);
  v[5] = t;
  t = (v[2] << 17) | (v[3] >>> 15); // v1 = rotl(v1, 17) ^ v2
  v[3] = ((v[3] << 17) | (v[2] >>> 15)) ^ v[5];
  v[2] = t ^ v[4];
  t = v[5]; // v2 = rotl(v2, 32)
  v[5] = v[4];
  v[4] = t;
}
