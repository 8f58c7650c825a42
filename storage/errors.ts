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

/**
 * A file in a format version newer than this release reads: a newer release wrote it. It is not
 * damage: nothing is cut, repaired or rebuilt over it, and the node refuses to start (README,
 * "Upgrading").
 */
export class NewerFormatError extends Error {
  /** The file (a path), or what it is. */
  readonly file: string;
  readonly version: number;
  /** The newest version this release reads. */
  readonly known: number;
  constructor(file: string, version: number, known: number) {
    super(
      `${file} has format version ${version}, newer than this release reads (${known}): a ` +
        "newer release wrote it; upgrade this node (nothing was changed)",
    );
    this.name = "NewerFormatError";
    this.file = file;
    this.version = version;
    this.known = known;
  }
}
