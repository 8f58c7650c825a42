/**
 * Typed errors of the storage layer.
 *
 * @module
 */

/** Where and why the log stopped being trustworthy. */
export interface CorruptionDetail {
  /** The index the bad record should have had, when known. */
  index?: number;
  /** The file holding the bad bytes. */
  file: string;
  /** Byte offset of the bad record inside `file`. */
  offset: number;
  /** What was wrong: "bad crc", "bad length", "incomplete record", "index not contiguous"... */
  reason: string;
}

/**
 * Bytes on disk do not match their checksum or their neighbours. Thrown by reads that meet a
 * record damaged after recovery (e.g. a bit flipped on disk); never returned as data.
 *
 * @example
 * ```ts
 * try { log.entry(7); } catch (error) { if (error instanceof CorruptLogError) alarm(error.detail); }
 * ```
 */
export class CorruptLogError extends Error {
  /** Where the damage is. */
  readonly detail: CorruptionDetail;
  constructor(detail: CorruptionDetail) {
    const where = detail.index === undefined ? "" : ` (index ${detail.index})`;
    super(`corrupt log: ${detail.reason} in ${detail.file} at byte ${detail.offset}${where}`);
    this.name = "CorruptLogError";
    this.detail = detail;
  }
}
