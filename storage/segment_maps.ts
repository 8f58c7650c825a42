/**
 * Which segments of a log are memory-mapped: at most `limit` at once, least recently read
 * unmapped first. Pages read through a map count in the process's RSS until it is unmapped,
 * so the limit also bounds that.
 *
 * @module
 */
import type { Segment } from "./segment.ts";

/** The maps of one log's segments. */
export class SegmentMaps {
  readonly #limit: number;
  /** False once a map attempt failed (no FFI) or when disabled: reads use pread. */
  #enabled: boolean;
  /** Mapped segments, least recently read first. */
  readonly #mapped = new Set<Segment>();

  constructor(options: { limit: number; enabled: boolean }) {
    this.#limit = options.limit;
    this.#enabled = options.enabled;
  }

  /** True while some segment is mapped (and maps work). */
  get any(): boolean {
    return this.#enabled && this.#mapped.size > 0;
  }

  /**
   * Maps `segment` for a read if maps are enabled, at `lengthBytes` (an active segment is mapped
   * at its full future size: appends land inside the mapping, and reads never go past the bytes
   * written, so the unbacked rest is never touched).
   */
  prepare(segment: Segment, lengthBytes: number): void {
    if (!this.#enabled) return;
    const mapped = this.#mapped;
    if (segment.mapped) {
      mapped.delete(segment);
      mapped.add(segment);
      return;
    }
    if (!segment.map(lengthBytes)) {
      this.#enabled = false;
      return;
    }
    mapped.add(segment);
    if (mapped.size > this.#limit) this.unmap(mapped.values().next().value!);
  }

  /** Unmaps one segment (before it is truncated, removed or closed). */
  unmap(segment: Segment): void {
    segment.unmap();
    this.#mapped.delete(segment);
  }

  /** Unmaps every segment; they are mapped again when read. */
  releaseAll(): void {
    for (const segment of [...this.#mapped]) this.unmap(segment);
  }
}
