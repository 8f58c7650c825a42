/**
 * Little-endian binary writer and reader used by the command codecs and the snapshot. The reader
 * checks every bound and throws `DecodeError` (never a RangeError from a DataView, never a
 * crash), so a truncated or garbage payload is an expected, typed failure.
 *
 * @module
 */

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text (a body, an attribute, an id), not a mark to
// drop; without it a body that starts with one came back a character short.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const laxDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Texts up to this many bytes (topic, subscription and queue names, ids, short errors) are
 * encoded and decoded in JavaScript when they are ASCII: for a few bytes, the call into the native
 * encoder costs more than the work, and every PushResults outcome carries three such texts.
 */
const shortTextMax = 64;

/**
 * The short ASCII texts decoded last, by a hash of their bytes. The same few (queue names above
 * all: every command starts with one, and a sent message's entry is decoded at apply and again
 * when it is delivered) come back all the time; a hit makes no string at all.
 */
const recentTexts: (string | undefined)[] = new Array(256).fill(undefined);

/** The text of short bytes that are all ASCII, or null if any byte is not. */
function shortAscii(bytes: Uint8Array, from = 0, to = bytes.length): string | null {
  let hash = to - from;
  for (let index = from; index < to; index++) {
    const byte = bytes[index];
    if (byte >= 0x80) return null;
    hash = (Math.imul(hash, 31) + byte) | 0;
  }
  const slot = (hash ^ (hash >>> 8)) & 0xff;
  const recent = recentTexts[slot];
  if (recent !== undefined && sameAscii(recent, bytes, from, to)) return recent;
  // One string made at once: appended a character at a time, a 20-character name left about
  // twenty intermediate strings behind (~600 bytes) and was a tree of them until flattened.
  const text = String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
  recentTexts[slot] = text;
  return text;
}

function sameAscii(text: string, bytes: Uint8Array, from: number, to: number): boolean {
  if (text.length !== to - from) return false;
  for (let index = from; index < to; index++) {
    if (text.charCodeAt(index - from) !== bytes[index]) return false;
  }
  return true;
}

/** A payload that does not follow its documented layout. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** UTF-8 bytes of a string (shared encoder). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The string of UTF-8 bytes; throws `DecodeError` on invalid UTF-8. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new DecodeError("invalid UTF-8");
  }
}

/**
 * The string of UTF-8 bytes this program encoded from a string and checksummed since (message
 * bodies read back from the log): they are valid UTF-8, so the decoder need not check, which
 * makes it about 4x faster on 1 KB bodies than `fromUtf8`'s.
 */
export function fromStoredUtf8(bytes: Uint8Array): string {
  return laxDecoder.decode(bytes);
}

/**
 * Appends little-endian fields to a growing buffer.
 *
 * @example
 * ```ts
 * const writer = new ByteWriter();
 * writer.u16(7);
 * writer.string16("orders");
 * const bytes = writer.finish();
 * ```
 */
export class ByteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(capacityBytes = 256) {
    const capacity = Math.max(16, capacityBytes);
    const spare = spareBuffer;
    if (spare !== null && spare.bytes.length >= capacity) {
      spareBuffer = null;
      this.#bytes = spare.bytes;
      this.#view = spare.view;
    } else {
      this.#bytes = new Uint8Array(capacity);
      this.#view = new DataView(this.#bytes.buffer);
    }
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(bytes: number): number {
    if (this.#bytes === finishedBytes) throw new Error("ByteWriter used after finish()");
    const at = this.#length;
    const needed = at + bytes;
    if (needed > this.#bytes.length) {
      let capacity = this.#bytes.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(capacity);
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length = needed;
    return at;
  }

  u8(value: number): void {
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
  }

  u16(value: number): void {
    checkRange(value, 0xffff);
    const at = this.#reserve(2);
    this.#view.setUint16(at, value, true);
  }

  u32(value: number): void {
    checkRange(value, 0xffff_ffff);
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
  }

  /** A float64; integers up to 2^53 round-trip exactly. */
  f64(value: number): void {
    const at = this.#reserve(8);
    this.#view.setFloat64(at, value, true);
  }

  /** Overwrites a u32 written earlier (offset tables). */
  patchU32(at: number, value: number): void {
    checkRange(value, 0xffff_ffff);
    this.#view.setUint32(at, value, true);
  }

  bytes(data: Uint8Array): void {
    const at = this.#reserve(data.length);
    this.#bytes.set(data, at);
  }

  /** UTF-8 bytes with a u16 length prefix. */
  string16(text: string): void {
    if (text.length <= shortTextMax && this.#shortAscii(text)) return;
    const data = encoder.encode(text);
    this.u16(data.length);
    this.bytes(data);
  }

  /** Writes a short all-ASCII text (names, ids) byte by byte; false, writing nothing, if not. */
  #shortAscii(text: string): boolean {
    for (let index = 0; index < text.length; index++) {
      if (text.charCodeAt(index) >= 0x80) return false;
    }
    this.u16(text.length);
    const at = this.#reserve(text.length);
    for (let index = 0; index < text.length; index++) {
      this.#bytes[at + index] = text.charCodeAt(index);
    }
    return true;
  }

  /**
   * UTF-8 bytes with a u32 length prefix, encoded straight into the buffer (message bodies: no
   * copy of the text's bytes in between).
   */
  string32(text: string): void {
    const at = this.#reserve(4);
    // One UTF-16 unit is at most 3 UTF-8 bytes; most bodies are ASCII (1 byte each).
    let written = this.#encodeAt(text, at + 4, text.length);
    if (written < 0) written = this.#encodeAt(text, at + 4, text.length * 3);
    this.#length = at + 4 + written;
    this.#view.setUint32(at, written, true);
  }

  /** Encodes `text` at `at` within `room` bytes; the bytes written, or -1 when it did not fit. */
  #encodeAt(text: string, at: number, room: number): number {
    this.#length = at;
    this.#reserve(room);
    const result = encoder.encodeInto(text, this.#bytes.subarray(at, at + room));
    return result.read === text.length ? result.written : -1;
  }

  /**
   * The written bytes (a copy trimmed to length). The writer is done: its buffer goes back to
   * be reused by the next writer, and any further call throws.
   */
  finish(): Uint8Array {
    const written = this.#bytes.slice(0, this.#length);
    if (this.#bytes.length <= spareBytesMax && spareBuffer === null) {
      spareBuffer = { bytes: this.#bytes, view: this.#view };
    }
    this.#bytes = finishedBytes;
    this.#view = finishedView;
    this.#length = 0;
    return written;
  }
}

/**
 * One buffer handed from a finished writer to the next: a send batch's payload is ~17 KB, and a
 * fresh zeroed buffer for each was 3% of the broker's time under the produce shape. A writer takes
 * it only if nobody holds it (a writer made while another is open gets its own), and a finished
 * writer's buffer is swapped for an empty one, so it can't write into the buffer it gave up (it
 * throws instead).
 */
let spareBuffer: { bytes: Uint8Array; view: DataView } | null = null;
const spareBytesMax = 1 << 20;
const finishedBytes = new Uint8Array(0);
const finishedView = new DataView(finishedBytes.buffer);

function checkRange(value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`value ${value} does not fit 0..${max}`);
  }
}

/** Reads little-endian fields with bound checks. */
export class ByteReader {
  readonly #bytes: Uint8Array;
  // Made on the first float read: a reader is made per message read and per command, and most
  // read only bytes and small integers (done from the bytes), so a DataView each was waste.
  #view: DataView | undefined;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    if (offset < 0 || end > bytes.length || offset > end) throw new DecodeError("bad bounds");
    this.#bytes = bytes;
    this.#offset = offset;
    this.#end = end;
  }

  /** Current read position. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#end - this.#offset;
  }

  #take(bytes: number): number {
    const at = this.#offset;
    if (bytes < 0 || at + bytes > this.#end) {
      throw new DecodeError(`truncated: need ${bytes} bytes at ${at}, have ${this.#end - at}`);
    }
    this.#offset = at + bytes;
    return at;
  }

  u8(): number {
    return this.#bytes[this.#take(1)];
  }

  u16(): number {
    const at = this.#take(2);
    return this.#bytes[at] | (this.#bytes[at + 1] << 8);
  }

  u32(): number {
    const at = this.#take(4);
    const bytes = this.#bytes;
    return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) + bytes[at + 3] * 0x100_0000;
  }

  f64(): number {
    const at = this.#take(8);
    const bytes = this.#bytes;
    this.#view ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.#view.getFloat64(at, true);
  }

  /** A float64 that must be a non-negative safe integer. */
  uint(): number {
    const value = this.f64();
    if (!Number.isSafeInteger(value) || value < 0) throw new DecodeError(`bad integer ${value}`);
    return value;
  }

  /** A view (no copy) of the next `length` bytes. */
  bytes(length: number): Uint8Array {
    const at = this.#take(length);
    return this.#bytes.subarray(at, at + length);
  }

  /** Moves the position without reading. */
  skip(length: number): void {
    this.#take(length);
  }

  string16(): string {
    const length = this.u16();
    const at = this.#take(length);
    // A short ASCII text is read in place: no view of its bytes is made for it.
    const text = length <= shortTextMax ? shortAscii(this.#bytes, at, at + length) : null;
    return text ?? fromUtf8(this.#bytes.subarray(at, at + length));
  }

  string32(): string {
    return fromUtf8(this.bytes(this.u32()));
  }

  /** Throws unless every byte was consumed. */
  end(): void {
    if (this.#offset !== this.#end) {
      throw new DecodeError(`${this.#end - this.#offset} trailing bytes`);
    }
  }
}
