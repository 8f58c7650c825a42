/**
 * The bounds-checked reader under `peer_codec.ts`'s decoder, and its error type. Bytes from the
 * network are untrusted: every read checks what remains and throws `PeerCodecError` rather than
 * reading past the end or allocating what cannot be there.
 *
 * Byte fields come out as copies: nothing decoded aliases the frame, so the frame can be a view
 * into the connection's read buffer, which the next read reuses, and an entry kept in memory
 * (the log's recent entries) holds only its own bytes, not the whole frame of AppendEntries
 * (hundreds of KB) it came in.
 *
 * @module
 */

import type { NodeId } from "../../raft/mod.ts";

const twoTo32 = 4_294_967_296;
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes from a peer that do not follow the layout of `peer_codec.ts` (truncated, oversized, garbage). */
export class PeerCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PeerCodecError";
  }
}

/** A bounds-checked cursor; every read that would pass the end throws `PeerCodecError`. */
export class BodyReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;
  #itemsLeft: number;

  /**
   * `itemsMax`: the most items (`checkCount`) the whole body may hold, whatever their size: the
   * cost of decoding is per item (an object, a copy), so bytes alone do not bound it.
   */
  constructor(bytes: Uint8Array, itemsMax = Infinity) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#itemsLeft = itemsMax;
  }

  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  skip(bytes: number): void {
    this.#need(bytes);
    this.#at += bytes;
  }

  /**
   * Refuses a count that could not fit even at the smallest item size, or that would take the
   * body past its `itemsMax` (no giant allocation); the count is charged against `itemsMax`.
   */
  checkCount(count: number, itemBytesMin: number): void {
    if (count * itemBytesMin > this.remaining) {
      throw new PeerCodecError(`${count} items cannot fit in ${this.remaining} bytes`);
    }
    if (count > this.#itemsLeft) {
      throw new PeerCodecError(`${count} more items exceed the frame's limit of items`);
    }
    this.#itemsLeft -= count;
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#at++];
  }

  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#at, true);
    this.#at += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return value;
  }

  u53(): number {
    this.#need(8);
    const low = this.#view.getUint32(this.#at, true);
    const high = this.#view.getUint32(this.#at + 4, true);
    if (high > 0x1fffff) throw new PeerCodecError(`integer beyond 2^53 (high word ${high})`);
    this.#at += 8;
    return high * twoTo32 + low;
  }

  f64(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.#at, true);
    this.#at += 8;
    return value;
  }

  /** Exactly `length` bytes (a copy). */
  bytes(length: number): Uint8Array {
    this.#need(length);
    const bytes = this.#bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return bytes;
  }

  /** A u32 length, then that many bytes (a copy). */
  data(): Uint8Array {
    const length = this.u32();
    this.#need(length);
    const data = this.#bytes.slice(this.#at, this.#at + length);
    this.#at += length;
    return data;
  }

  string(): string {
    const length = this.u16();
    this.#need(length);
    const start = this.#at;
    this.#at += length;
    if (length <= 32) {
      // Short ASCII (node ids, contexts) without TextDecoder's call overhead.
      let text = "";
      let ascii = true;
      for (let i = start; i < start + length; i++) {
        const byte = this.#bytes[i];
        if (byte >= 0x80) {
          ascii = false;
          break;
        }
        text += String.fromCharCode(byte);
      }
      if (ascii) return text;
    }
    try {
      return decoder.decode(this.#bytes.subarray(start, start + length));
    } catch {
      throw new PeerCodecError("invalid UTF-8 in a string");
    }
  }

  nodeId(): NodeId {
    const id = this.string();
    if (id.length === 0) throw new PeerCodecError("empty node id");
    return id as NodeId;
  }

  #need(bytes: number): void {
    if (bytes > this.#bytes.length - this.#at) {
      throw new PeerCodecError(`truncated: needs ${bytes} bytes, ${this.remaining} left`);
    }
  }
}
