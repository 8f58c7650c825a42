/**
 * Where each message of a queue lives in the log, by sequence, as runs: a run is a stretch of
 * consecutive sequences whose bodies are consecutive slots of one log entry, enqueued at one
 * time (one send batch, or messages moved together). A run costs 14 bytes (offsets from its
 * chunk's base: u32 sequence, i32 log index, u32 time, u16 first slot), so a backlog of batches
 * of 16 costs under 1 byte per message and single sends 14 bytes.
 *
 * Chunks hold up to `runsPerChunkMax` runs; a chunk starts small and doubles, so an idle queue
 * costs little. Runs below the retained low sequence are dropped a chunk at a time.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { emptyArray, ownArray } from "./shared_empty.ts";
import type { ByteReader, ByteWriter } from "./binary.ts";

const runsPerChunkMax = 4096;
const chunkOverheadBytes = 96;
const int32Max = 0x7fff_ffff;

/** Where a message's body is and when it was enqueued in this queue. */
export interface Locator {
  logIndex: number;
  slot: number;
  time: number;
}

class Chunk {
  length = 0;
  sequenceOffsets: Uint32Array;
  logOffsets: Int32Array;
  timeOffsets: Uint32Array;
  slots: Uint16Array;

  constructor(
    readonly baseSequence: number,
    readonly baseLogIndex: number,
    readonly baseTime: number,
    capacity: number,
  ) {
    this.sequenceOffsets = new Uint32Array(capacity);
    this.logOffsets = new Int32Array(capacity);
    this.timeOffsets = new Uint32Array(capacity);
    this.slots = new Uint16Array(capacity);
  }

  get capacity(): number {
    return this.slots.length;
  }

  bytes(): number {
    return this.capacity * 14 + chunkOverheadBytes;
  }

  fits(sequence: number, locator: Locator): boolean {
    const logOffset = locator.logIndex - this.baseLogIndex;
    return this.length < runsPerChunkMax && sequence - this.baseSequence <= 0xffff_ffff &&
      Math.abs(logOffset) <= int32Max && locator.time - this.baseTime <= 0xffff_ffff &&
      locator.time >= this.baseTime;
  }

  push(sequence: number, locator: Locator): void {
    if (this.length === this.capacity) this.#grow();
    const at = this.length++;
    this.sequenceOffsets[at] = sequence - this.baseSequence;
    this.logOffsets[at] = locator.logIndex - this.baseLogIndex;
    this.timeOffsets[at] = locator.time - this.baseTime;
    this.slots[at] = locator.slot;
  }

  #grow(): void {
    const capacity = Math.min(runsPerChunkMax, this.capacity * 2);
    const sequenceOffsets = new Uint32Array(capacity);
    sequenceOffsets.set(this.sequenceOffsets);
    const logOffsets = new Int32Array(capacity);
    logOffsets.set(this.logOffsets);
    const timeOffsets = new Uint32Array(capacity);
    timeOffsets.set(this.timeOffsets);
    const slots = new Uint16Array(capacity);
    slots.set(this.slots);
    Object.assign(this, { sequenceOffsets, logOffsets, timeOffsets, slots });
  }

  firstSequence(run: number): number {
    return this.baseSequence + this.sequenceOffsets[run];
  }
  logIndex(run: number): number {
    return this.baseLogIndex + this.logOffsets[run];
  }
  time(run: number): number {
    return this.baseTime + this.timeOffsets[run];
  }

  /** The run containing `sequence` (the last run whose first sequence is ≤ it). */
  runOf(sequence: number): number {
    const offset = sequence - this.baseSequence;
    let low = 0;
    let high = this.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.sequenceOffsets[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

/**
 * Sequence → locator map of one queue, as runs.
 *
 * @example
 * ```ts
 * const runs = new MessageRuns(1);
 * runs.append(16, { logIndex: 42, slot: 0, time: 1_000 });
 * runs.locate(5); // { logIndex: 42, slot: 4, time: 1_000 }
 * ```
 */
export class MessageRuns {
  #chunks: Chunk[] = emptyArray();
  #endSequence: number;
  #lowSequence: number;
  /** Whether log indexes never decrease with sequence (true until a message is moved in). */
  #monotonic = true;
  /** The last run's end slot, to extend it when the next append continues it. */
  #lastEndSlot = -1;

  constructor(firstSequence: number) {
    this.#endSequence = firstSequence;
    this.#lowSequence = firstSequence;
  }

  /** One past the last sequence. */
  get endSequence(): number {
    return this.#endSequence;
  }

  /** The lowest sequence still located. */
  get lowSequence(): number {
    return this.#lowSequence;
  }

  /** Appends `count` sequences starting at `endSequence`, in consecutive slots from `locator`. */
  append(count: number, locator: Locator): void {
    invariant(count > 0 && Number.isInteger(count));
    const sequence = this.#endSequence;
    const last = this.#chunks.at(-1);
    if (last !== undefined && last.length > 0) {
      const run = last.length - 1;
      if (
        last.logIndex(run) === locator.logIndex && this.#lastEndSlot === locator.slot &&
        last.time(run) === locator.time && locator.slot + count <= 0x10000
      ) {
        this.#endSequence += count;
        this.#lastEndSlot += count;
        return;
      }
      if (locator.logIndex < last.logIndex(run)) this.#monotonic = false;
    }
    let chunk = last;
    if (chunk === undefined || !chunk.fits(sequence, locator)) {
      chunk = new Chunk(sequence, locator.logIndex, locator.time, 8);
      this.#chunks = ownArray(this.#chunks);
      this.#chunks.push(chunk);
    }
    chunk.push(sequence, locator);
    this.#endSequence += count;
    this.#lastEndSlot = locator.slot + count;
  }

  #chunkOf(sequence: number): Chunk {
    invariant(sequence >= this.#lowSequence && sequence < this.#endSequence, "not located");
    let low = 0;
    let high = this.#chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.#chunks[middle].baseSequence <= sequence) low = middle;
      else high = middle - 1;
    }
    return this.#chunks[low];
  }

  /** The locator of a retained sequence. */
  locate(sequence: number): Locator {
    const chunk = this.#chunkOf(sequence);
    const run = chunk.runOf(sequence);
    return {
      logIndex: chunk.logIndex(run),
      slot: chunk.slots[run] + sequence - chunk.firstSequence(run),
      time: chunk.time(run),
    };
  }

  /** The enqueue time of a retained sequence. */
  timeOf(sequence: number): number {
    const chunk = this.#chunkOf(sequence);
    return chunk.time(chunk.runOf(sequence));
  }

  /** The first retained sequence enqueued at or after `time` (or `endSequence`). */
  firstAtOrAfter(time: number): number {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.#chunks[middle];
      if (chunk.time(chunk.length - 1) >= time) high = middle;
      else low = middle + 1;
    }
    if (low === this.#chunks.length) return this.#endSequence;
    const chunk = this.#chunks[low];
    let first = 0;
    let last = chunk.length - 1;
    while (first < last) {
      const middle = (first + last) >>> 1;
      if (chunk.time(middle) >= time) last = middle;
      else first = middle + 1;
    }
    return Math.max(this.#lowSequence, chunk.firstSequence(first));
  }

  /** Forgets every sequence below `sequence`. */
  trimBelow(sequence: number): void {
    invariant(sequence <= this.#endSequence);
    if (sequence <= this.#lowSequence) return;
    this.#lowSequence = sequence;
    let drop = 0;
    while (drop + 1 < this.#chunks.length && this.#chunks[drop + 1].baseSequence <= sequence) {
      drop++;
    }
    if (sequence === this.#endSequence) drop = this.#chunks.length;
    if (drop > 0) this.#chunks.splice(0, drop);
    if (this.#chunks.length === 0) this.#lastEndSlot = -1;
  }

  /** The lowest log index any retained sequence points at, or Infinity. */
  minLogIndex(): number {
    if (this.#lowSequence === this.#endSequence) return Infinity;
    if (this.#monotonic) return this.locate(this.#lowSequence).logIndex;
    let minimum = Infinity;
    for (const chunk of this.#chunks) {
      for (let run = 0; run < chunk.length; run++) {
        const end = run + 1 < chunk.length ? chunk.firstSequence(run + 1) : Infinity;
        if (end > this.#lowSequence) minimum = Math.min(minimum, chunk.logIndex(run));
      }
    }
    return minimum;
  }

  /** Bytes held by the typed arrays (and a fixed overhead per chunk). */
  memoryBytes(): number {
    let bytes = 0;
    for (const chunk of this.#chunks) bytes += chunk.bytes();
    return bytes;
  }

  /** Serializes the runs from `lowSequence`. */
  write(writer: ByteWriter): void {
    writer.f64(this.#lowSequence);
    writer.f64(this.#endSequence);
    writer.u8(this.#monotonic ? 1 : 0);
    let runs = 0;
    for (const chunk of this.#chunks) runs += chunk.length;
    writer.u32(runs);
    for (const chunk of this.#chunks) {
      for (let run = 0; run < chunk.length; run++) {
        writer.f64(chunk.firstSequence(run));
        writer.f64(chunk.logIndex(run));
        writer.f64(chunk.time(run));
        writer.u16(chunk.slots[run]);
      }
    }
    writer.f64(this.#lastEndSlot);
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): MessageRuns {
    const lowSequence = reader.uint();
    const endSequence = reader.uint();
    const monotonic = reader.u8() === 1;
    const count = reader.u32();
    const runs = new MessageRuns(lowSequence);
    for (let index = 0; index < count; index++) {
      runs.#endSequence = reader.uint();
      const locator = { logIndex: reader.uint(), time: reader.uint(), slot: reader.u16() };
      runs.#appendSeparate(locator);
    }
    runs.#endSequence = endSequence;
    runs.#lowSequence = lowSequence;
    runs.#monotonic = monotonic;
    runs.#lastEndSlot = reader.f64();
    return runs;
  }

  /** Appends a run without coalescing (restore keeps runs exactly as they were). */
  #appendSeparate(locator: Locator): void {
    const sequence = this.#endSequence;
    let chunk = this.#chunks.at(-1);
    if (chunk === undefined || !chunk.fits(sequence, locator)) {
      chunk = new Chunk(sequence, locator.logIndex, locator.time, 8);
      this.#chunks = ownArray(this.#chunks);
      this.#chunks.push(chunk);
    }
    chunk.push(sequence, locator);
  }
}
