/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-16.
 *
 * Slice-by-16 consumes sixteen bytes per step with sixteen lookup tables: table `k` holds the CRC
 * of a byte followed by `k` zero bytes, so the sixteen lookups of one step can be XORed together
 * (the register depends on the one before only once per step). In pure TypeScript on Deno 2.9
 * that is 2.1–2.2 GB/s on 1.1 KB records and 17 KB entries, against 1.55–1.67 GB/s for
 * slice-by-8 in the same loop (and 1.6–1.7 GB/s for slice-by-8 in WebAssembly).
 *
 * @module
 */

const polynomialReflected = 0x82f63b78;
const tableCount = 16;

if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) {
  throw new Error("crc32c reads words in little-endian order; this platform is big-endian");
}

/** Below this length making the word view costs more than it saves (64 B ran at half speed). */
const wordViewBytesMin = 256;

/** `tables[k * 256 + b]` is the CRC register after byte `b` followed by `k` zero bytes. */
const tables: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const result = new Uint32Array(tableCount * 256);
  for (let byte = 0; byte < 256; byte++) {
    let register = byte;
    for (let bit = 0; bit < 8; bit++) {
      register = (register & 1) !== 0 ? (register >>> 1) ^ polynomialReflected : register >>> 1;
    }
    result[byte] = register >>> 0;
  }
  for (let table = 1; table < tableCount; table++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = result[(table - 1) * 256 + byte];
      result[table * 256 + byte] = (previous >>> 8) ^ result[previous & 0xff];
    }
  }
  return result;
}

/**
 * CRC-32C of `bytes`, continuing from `crc` (the result of a previous call) when given.
 *
 * From 256 bytes on, the sixteen-byte steps read four 32-bit words through an `Int32Array` view
 * from the first 4-aligned byte on (the bytes before it go one at a time): one load per four
 * bytes instead of four (with slice-by-8 that took 750 → 940–970 MB/s on 1.1 KB records). The
 * rest (under sixteen bytes, or a short input) goes eight bytes, then one byte, at a time. The
 * words are read in the platform's byte order, which must be little-endian (checked at load:
 * x86-64 and AArch64 are).
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode("123456789")); // 0xE3069283
 * const whole = crc32c(second, crc32c(first)); // same as crc32c(first ++ second)
 * ```
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let register = ~crc;
  const length = bytes.length;
  let i = 0;
  if (length >= wordViewBytesMin) {
    while (((bytes.byteOffset + i) & 3) !== 0) {
      register = tables[(register ^ bytes[i]) & 0xff] ^ (register >>> 8);
      i++;
    }
    const wordCount = ((length - i) >>> 4) << 2; // whole sixteen-byte steps
    const words = new Int32Array(bytes.buffer, bytes.byteOffset + i, wordCount);
    for (let k = 0; k < wordCount; k += 4) {
      const w0 = register ^ words[k];
      const w1 = words[k + 1];
      const w2 = words[k + 2];
      const w3 = words[k + 3];
      register = tables[15 * 256 + (w0 & 0xff)] ^
        tables[14 * 256 + ((w0 >>> 8) & 0xff)] ^
        tables[13 * 256 + ((w0 >>> 16) & 0xff)] ^
        tables[12 * 256 + (w0 >>> 24)] ^
        tables[11 * 256 + (w1 & 0xff)] ^
        tables[10 * 256 + ((w1 >>> 8) & 0xff)] ^
        tables[9 * 256 + ((w1 >>> 16) & 0xff)] ^
        tables[8 * 256 + (w1 >>> 24)] ^
        tables[7 * 256 + (w2 & 0xff)] ^
        tables[6 * 256 + ((w2 >>> 8) & 0xff)] ^
        tables[5 * 256 + ((w2 >>> 16) & 0xff)] ^
        tables[4 * 256 + (w2 >>> 24)] ^
        tables[3 * 256 + (w3 & 0xff)] ^
        tables[2 * 256 + ((w3 >>> 8) & 0xff)] ^
        tables[256 + ((w3 >>> 16) & 0xff)] ^
        tables[w3 >>> 24];
    }
    i += wordCount * 4;
  }
  const end8 = length - ((length - i) & 7);
  for (; i < end8; i += 8) {
    const low = register ^
      (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    register = tables[7 * 256 + (low & 0xff)] ^
      tables[6 * 256 + ((low >>> 8) & 0xff)] ^
      tables[5 * 256 + ((low >>> 16) & 0xff)] ^
      tables[4 * 256 + (low >>> 24)] ^
      tables[3 * 256 + bytes[i + 4]] ^
      tables[2 * 256 + bytes[i + 5]] ^
      tables[256 + bytes[i + 6]] ^
      tables[bytes[i + 7]];
  }
  for (; i < length; i++) {
    register = tables[(register ^ bytes[i]) & 0xff] ^ (register >>> 8);
  }
  return ~register >>> 0;
}
