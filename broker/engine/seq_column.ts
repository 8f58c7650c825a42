/**
 * A u32 value per sequence (FIFO queues keep each message's group number and the distance to the
 * next message of its group here), in chunks of 4096 sequences that are dropped as the queue's
 * low sequence passes them. Each chunk starts small and doubles, so a short queue costs little.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./binary.ts";

const chunkBits = 12;
const chunkEntries = 1 << chunkBits;

/**
 * Chunked Uint32 column indexed by sequence.
 *
 * @example
 * ```ts
 * const column = new SeqColumn();
 * column.set(5, 7);
 * column.get(5); // 7
 * ```
 */
export class SeqColumn {
  #chunks: (Uint32Array | undefined)[] = [];
  /** Chunk number of `#chunks[0]`. */
  #firstChunk = 0;
  /** Chunks below this one were trimmed: nothing is set there again. */
  #floorChunk = 0;

  /** The value at `sequence` (0 when never set). */
  get(sequence: number): number {
    const chunk = this.#chunks[Math.floor(sequence / chunkEntries) - this.#firstChunk];
    const offset = sequence % chunkEntries;
    return chunk !== undefined && offset < chunk.length ? chunk[offset] : 0;
  }

  /**
   * Sets the value at `sequence` (at or above the trimmed low). Values are not set in sequence
   * order (a group's link is set at its previous message when the next one arrives), so a set
   * below the first chunk held adds chunks in front.
   */
  set(sequence: number, value: number): void {
    const number = Math.floor(sequence / chunkEntries);
    if (number < this.#floorChunk) throw new RangeError(`sequence ${sequence} is below the column`);
    if (this.#chunks.length === 0) this.#firstChunk = number;
    if (number < this.#firstChunk) {
      const front = new Array<Uint32Array | undefined>(this.#firstChunk - number).fill(undefined);
      this.#chunks = front.concat(this.#chunks);
      this.#firstChunk = number;
    }
    const index = number - this.#firstChunk;
    while (this.#chunks.length <= index) this.#chunks.push(undefined);
    const offset = sequence % chunkEntries;
    let chunk = this.#chunks[index];
    if (chunk === undefined || offset >= chunk.length) {
      let capacity = Math.max(64, chunk?.length ?? 0);
      while (capacity <= offset) capacity *= 2;
      const grown = new Uint32Array(Math.min(chunkEntries, capacity));
      if (chunk !== undefined) grown.set(chunk);
      chunk = grown;
      this.#chunks[index] = chunk;
    }
    chunk[offset] = value;
  }

  /** Drops the chunks wholly below `sequence`. */
  trimBelow(sequence: number): void {
    this.#floorChunk = Math.max(this.#floorChunk, Math.floor(sequence / chunkEntries));
    const drop = Math.min(
      this.#chunks.length,
      Math.floor(sequence / chunkEntries) - this.#firstChunk,
    );
    if (drop <= 0) return;
    this.#chunks.splice(0, drop);
    this.#firstChunk += drop;
  }

  /** Bytes held by the typed arrays. */
  memoryBytes(): number {
    let bytes = 0;
    for (const chunk of this.#chunks) bytes += (chunk?.byteLength ?? 0) + 16;
    return bytes;
  }

  /** Serializes the values of `[from, to)`. */
  write(writer: ByteWriter, from: number, to: number): void {
    writer.f64(from);
    writer.f64(to);
    for (let sequence = from; sequence < to; sequence++) writer.u32(this.get(sequence));
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): SeqColumn {
    const column = new SeqColumn();
    const from = reader.uint();
    const to = reader.uint();
    for (let sequence = from; sequence < to; sequence++) {
      const value = reader.u32();
      if (value !== 0) column.set(sequence, value);
    }
    return column;
  }
}
