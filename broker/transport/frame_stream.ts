/**
 * Splits the bytes read from a peer connection into whole frames (layout in `peer_codec.ts`),
 * with one reusable buffer and a size limit checked on the length prefix, before any of the
 * frame is buffered: until the handshake is done a connection gets `handshakeFrameBytesMax`
 * (4 KiB), so a stranger announcing a 64 MiB frame is refused without a big allocation.
 *
 * @module
 */

import assert from "node:assert/strict";
import { frameHeaderBytes, frameLength } from "./peer_codec.ts";

/** The buffer a stream starts with (when its limit allows) and shrinks back to. */
const readBufferBytesMin = 64 * 1024;
/** A read buffer grown past this is given back once it is empty. */
const readBufferBytesKept = 1024 * 1024;

/**
 * Splits a byte stream into raw frames: bytes are read in at the end, whole frames are handed
 * out from the front as views, and a partial frame is moved to the front (or the buffer grown, up
 * to the limit) only when it must be. A frame is valid until the next `readTarget()`: decode it
 * before reading on (the decoder copies what it keeps, `peer_body_reader.ts`).
 *
 * @example
 * ```ts
 * const stream = new FrameStream(handshakeFrameBytesMax);
 * for (;;) {
 *   let frame;
 *   while ((frame = stream.next()) !== null) handle(decodeFrame(frame));
 *   const bytesRead = await conn.read(stream.readTarget());
 *   if (bytesRead === null) break;
 *   stream.wrote(bytesRead);
 * }
 * ```
 */
export class FrameStream {
  #bytes: Uint8Array;
  #start = 0;
  #end = 0;
  #limitBytes: number;

  /** `limitBytes`: the largest frame accepted, length prefix included. */
  constructor(limitBytes: number) {
    assert.ok(limitBytes > frameHeaderBytes, "a limit above the header size");
    this.#limitBytes = limitBytes;
    this.#bytes = new Uint8Array(this.#capacityBytesMin);
  }

  /** The largest frame accepted now. */
  get limitBytes(): number {
    return this.#limitBytes;
  }

  /** The buffer's current size (bounded by the limit; tests check nothing big was allocated). */
  get capacityBytes(): number {
    return this.#bytes.length;
  }

  /** Accepts frames up to `limitBytes` from now on (after the handshake). */
  raiseLimit(limitBytes: number): void {
    assert.ok(limitBytes >= this.#limitBytes, "limits only rise");
    this.#limitBytes = limitBytes;
  }

  /**
   * The next whole frame (length prefix included), or null when more bytes are needed: a view
   * into the read buffer, valid until the next `readTarget()`. Throws `PeerCodecError` for an
   * empty frame or one over the limit.
   */
  next(): Uint8Array | null {
    const total = frameLength(this.#bytes.subarray(0, this.#end), this.#start, this.#limitBytes);
    if (total === null || this.#end - this.#start < total) return null;
    const frame = this.#bytes.subarray(this.#start, this.#start + total);
    this.#start += total;
    return frame;
  }

  /** Where the next read should land, after making room for the frame in progress. */
  readTarget(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#bytes.length > readBufferBytesKept) {
        this.#bytes = new Uint8Array(this.#capacityBytesMin);
      }
    }
    const buffered = this.#end - this.#start;
    const needed = buffered < 4
      ? frameHeaderBytes
      : frameLength(this.#bytes.subarray(0, this.#end), this.#start, this.#limitBytes)!;
    const grownBytes = this.#grownBytes(needed, buffered);
    if (grownBytes > this.#bytes.length) {
      const grown = new Uint8Array(grownBytes);
      grown.set(this.#bytes.subarray(this.#start, this.#end));
      this.#bytes = grown;
      this.#start = 0;
      this.#end = buffered;
    } else if (this.#start + needed > this.#bytes.length || this.#bytes.length - this.#end < 4096) {
      this.#bytes.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = buffered;
    }
    return this.#bytes.subarray(this.#end);
  }

  /** Records that `bytes` bytes were read into the last `readTarget()`. */
  wrote(bytes: number): void {
    this.#end += bytes;
    if (!(this.#end <= this.#bytes.length)) assert.fail("wrote more than the read target held");
  }

  /**
   * The buffer's size for a frame of `needed` bytes of which `buffered` are in: the whole frame
   * up to `readBufferBytesKept`; past it, twice what has arrived (so a peer announcing a 64 MiB
   * frame and sending a few bytes of it holds about 1 MiB, not 64: memory follows the bytes
   * received, at a few copies of a big frame as it grows).
   */
  #grownBytes(needed: number, buffered: number): number {
    if (needed <= this.#bytes.length) return this.#bytes.length;
    if (needed <= readBufferBytesKept) {
      return Math.min(this.#limitBytes, Math.max(needed, 2 * this.#bytes.length));
    }
    return Math.min(needed, Math.max(readBufferBytesKept, 2 * buffered));
  }

  get #capacityBytesMin(): number {
    return Math.min(readBufferBytesMin, this.#limitBytes);
  }
}
