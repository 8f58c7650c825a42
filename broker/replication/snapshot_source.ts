/**
 * The bytes a leader streams to a lagging follower, read on demand from what is already on disk.
 *
 * The stream is the snapshot container (`snapshot_container.ts`) followed by a 4-byte CRC-32C
 * of it (little-endian), so the follower can tell a sound transfer from garbage before it
 * replaces anything. That CRC is of the bytes as read: before it goes out, the file's bytes are
 * checked against the file's own CRC, so a file that rotted since it was checked is never sent
 * under a sound one. A node's own snapshot file holds no entries (its log keeps them); then the
 * container is assembled on the fly: the file's fixed part and machine image, a fresh entry
 * count, and the referenced log entries (`lowestReferencedIndex .. index`) re-encoded as they
 * are read. A file that holds entries (one received from a leader) is streamed as it is.
 *
 * Only what one `read` asks for is held, plus the entries it overlaps (a record is at most
 * 8 MiB): the Raft core asks for one chunk at a time, within its in-flight window, so a
 * snapshot of a 10 GB backlog costs a leader a few chunks of memory, not 10 GB.
 *
 * The snapshot file and the log range must stay while a transfer reads them: the replica keeps
 * them past compaction while the core reports the snapshot in flight (`adoptSnapshot`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  checkSnapshotFile,
  crc32c,
  type FileSystem,
  type LogEntry,
  readSnapshotFileRange,
  type SegmentLog,
  snapshotFilePieceBytes,
} from "../../storage/mod.ts";
import type { SnapshotSource } from "../../raft/mod.ts";
import {
  containerEntryHeaderBytes,
  type ContainerPrefix,
  encodeContainerEntryHeader,
  readContainerPrefix,
  snapshotFileName,
} from "./snapshot_container.ts";

/** Bytes of the CRC-32C that ends a streamed snapshot. */
export const streamTrailerBytes = 4;
/** Spacing of the remembered entry positions a rewound read restarts from. */
const checkpointBytes = 1024 * 1024;
/** Payload bytes read from the log at once. */
const pageBytesMax = 1024 * 1024;

/** What a `ContainerSource` reads. */
export interface ContainerSourceParts {
  fs: FileSystem;
  snapshotsDir: string;
  log: SegmentLog;
}

/**
 * A `SnapshotSource` over a stored snapshot file and the log entries it references.
 *
 * @example
 * ```ts
 * const source = new ContainerSource({ fs, snapshotsDir, log }, 120);
 * const first = source.read(0, Math.min(source.byteLength, 1 << 20));
 * ```
 */
export class ContainerSource implements SnapshotSource {
  readonly byteLength: number;
  readonly #parts: ContainerSourceParts;
  readonly #file: { dir: string; name: string };
  readonly #prefix: ContainerPrefix;
  /** Container bytes served from the file as they are (all of them when it holds entries). */
  readonly #fileBytes: number;
  readonly #containerBytes: number;
  /** Entries re-encoded from the log: [first, last], or null when the file has them. */
  readonly #range: { first: number; last: number } | null;
  /** Container offsets of entry starts, ascending, with their indexes (rewinds start there). */
  readonly #checkpoints: { offset: number; index: number }[] = [];
  /** Where the last read's last entry started. */
  #resume: { offset: number; index: number } | null = null;
  /** The CRC of container bytes [0, #hashed), extended as reads move forward. */
  #crc = 0;
  #hashed = 0;
  /** The file's payload length and CRC when it was checked, and the CRC of what was hashed of it. */
  readonly #stored: { length: number; crc: number };
  #fileCrc = 0;
  /** Set once the file bytes the trailer vouches for matched the file's CRC (`#checkFile`). */
  #fileChecked = false;

  constructor(parts: ContainerSourceParts, index: number) {
    this.#parts = parts;
    this.#file = { dir: parts.snapshotsDir, name: snapshotFileName(index) };
    const stored = checkSnapshotFile(parts.fs, this.#file.dir, this.#file.name);
    assert.ok(stored !== null, `snapshot file ${index} is readable`);
    this.#stored = stored;
    const payloadBytes = stored.length;
    const prefix = readContainerPrefix((offset, length) => this.#readFile(offset, length));
    assert.equal(prefix.index, index, "the snapshot file holds its own index");
    this.#prefix = prefix;
    const fromLog = prefix.entryCount === 0 && prefix.lowestReferencedIndex <= index;
    if (!fromLog) {
      this.#range = null;
      this.#fileBytes = this.#containerBytes = payloadBytes;
    } else {
      const first = prefix.lowestReferencedIndex;
      assert.ok(first >= parts.log.firstIndex, `entries from ${first} are kept for the snapshot`);
      const count = index - first + 1;
      const entryBytes = parts.log.payloadBytesBetween(first, index + 1) +
        count * containerEntryHeaderBytes;
      this.#range = { first, last: index };
      this.#fileBytes = prefix.entryCountOffset;
      this.#containerBytes = prefix.entryCountOffset + 4 + entryBytes;
      this.#checkpoints.push({ offset: prefix.entryCountOffset + 4, index: first });
    }
    this.byteLength = this.#containerBytes + streamTrailerBytes;
  }

  /** The snapshot's fixed part (index, term, config, lowest referenced index). */
  get prefix(): ContainerPrefix {
    return this.#prefix;
  }

  read(offset: number, length: number): Uint8Array {
    const end = offset + length;
    assert.ok(offset >= 0 && length >= 0 && end <= this.byteLength, "read inside the snapshot");
    // The trailer needs the CRC of everything before it; a read past the hashed part (never
    // from the core, which reads in order) hashes the gap first.
    this.#hashTo(Math.min(offset, this.#containerBytes));
    const out = new Uint8Array(length);
    const containerEnd = Math.min(end, this.#containerBytes);
    if (offset < containerEnd) {
      this.#fill(out.subarray(0, containerEnd - offset), offset);
      if (offset <= this.#hashed && this.#hashed < containerEnd) {
        this.#hash(out.subarray(this.#hashed - offset, containerEnd - offset));
      }
    }
    if (end > this.#containerBytes) {
      this.#hashTo(this.#containerBytes);
      this.#checkFile(); // the trailer vouches for the bytes sent: they must be the file's
      const trailer = new Uint8Array(streamTrailerBytes);
      new DataView(trailer.buffer).setUint32(0, this.#crc, true);
      const from = Math.max(offset, this.#containerBytes);
      out.set(
        trailer.subarray(from - this.#containerBytes, end - this.#containerBytes),
        from - offset,
      );
    }
    return out;
  }

  #hashTo(target: number): void {
    while (this.#hashed < target) {
      const piece = new Uint8Array(Math.min(snapshotFilePieceBytes, target - this.#hashed));
      this.#fill(piece, this.#hashed);
      this.#hash(piece);
    }
  }

  /** Extends the CRCs with the container bytes at `#hashed` (those of the file, also its own). */
  #hash(bytes: Uint8Array): void {
    const at = this.#hashed;
    this.#crc = crc32c(bytes, this.#crc);
    const fromFile = Math.min(bytes.length, this.#fileBytes - at);
    if (fromFile > 0) this.#fileCrc = crc32c(bytes.subarray(0, fromFile), this.#fileCrc);
    this.#hashed = at + bytes.length;
  }

  /**
   * The file was checked when this source was made, but is read again as chunks go out, and the
   * trailer's CRC is of what was read: bytes that rotted in between would reach the follower
   * under a sound CRC, and it would install them. So before the trailer goes out, the file bytes
   * it covers (each hashed as first read) and the rest of the file must match the file's CRC;
   * otherwise the read fails (the replica stops, as on any damaged read, and the follower never
   * gets the end of the stream). A later re-read of a chunk that rotted since differs from what
   * the trailer covers: the follower refuses the stream.
   */
  #checkFile(): void {
    if (this.#fileChecked) return;
    let crc = this.#fileCrc;
    const rest = this.#stored.length - this.#fileBytes; // the entry count of a file without entries
    if (rest > 0) crc = crc32c(this.#readFile(this.#fileBytes, rest), crc);
    if (crc !== this.#stored.crc) {
      throw new Error(
        `snapshot ${this.#file.name} changed on disk since it was checked (its payload CRC no ` +
          `longer matches): the transfer is not finished`,
      );
    }
    this.#fileChecked = true;
  }

  /** Fills `out` with container bytes from `offset` on (all inside the container). */
  #fill(out: Uint8Array, offset: number): void {
    let at = offset;
    const end = offset + out.length;
    if (at < this.#fileBytes) {
      const upTo = Math.min(end, this.#fileBytes);
      out.set(this.#readFile(at, upTo - at), 0);
      at = upTo;
    }
    const range = this.#range;
    if (at >= end || range === null) return;
    const countOffset = this.#prefix.entryCountOffset;
    if (at < countOffset + 4) {
      const count = new Uint8Array(4);
      new DataView(count.buffer).setUint32(0, range.last - range.first + 1, true);
      const upTo = Math.min(end, countOffset + 4);
      out.set(count.subarray(at - countOffset, upTo - countOffset), at - offset);
      at = upTo;
    }
    if (at < end) this.#fillEntries(out.subarray(at - offset), at);
  }

  /** Fills `out` with the re-encoded entries' bytes from container offset `offset` on. */
  #fillEntries(out: Uint8Array, offset: number): void {
    const range = this.#range!;
    const end = offset + out.length;
    let cursor = this.#checkpointAtOrBefore(offset);
    // Reads mostly follow each other: resume where the previous one stopped.
    const resume = this.#resume;
    if (resume !== null && resume.offset <= offset && resume.offset > cursor.offset) {
      cursor = resume;
    }
    const header = new Uint8Array(containerEntryHeaderBytes);
    while (cursor.offset < end) {
      // Pages of at most what is left to read (and never over `pageBytesMax`, however far the
      // skip from the checkpoint is); at least one entry comes back.
      const page: LogEntry[] = this.#parts.log.entries(
        cursor.index,
        range.last + 1,
        Math.min(end - cursor.offset, pageBytesMax),
        { map: false },
      );
      for (const entry of page) {
        this.#resume = cursor;
        const size = containerEntryHeaderBytes + entry.payload.length;
        const entryEnd = cursor.offset + size;
        if (entryEnd > offset) {
          encodeContainerEntryHeader(entry, header);
          copyOverlap(out, offset, { bytes: header, at: cursor.offset });
          copyOverlap(out, offset, {
            bytes: entry.payload,
            at: cursor.offset + containerEntryHeaderBytes,
          });
        }
        cursor = { offset: entryEnd, index: entry.index + 1 };
        this.#remember(cursor);
        if (cursor.offset >= end) break;
      }
    }
  }

  #checkpointAtOrBefore(offset: number): { offset: number; index: number } {
    const checkpoints = this.#checkpoints;
    let low = 0;
    let high = checkpoints.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (checkpoints[middle].offset <= offset) low = middle;
      else high = middle - 1;
    }
    return checkpoints[low];
  }

  #remember(position: { offset: number; index: number }): void {
    const last = this.#checkpoints.at(-1)!;
    if (position.index > this.#range!.last) return;
    if (position.offset - last.offset >= checkpointBytes) this.#checkpoints.push(position);
  }

  #readFile(offset: number, length: number): Uint8Array {
    const target = new Uint8Array(length);
    readSnapshotFileRange(this.#parts.fs, this.#file, offset, target);
    return target;
  }
}

/** Copies the part of `piece` (placed at container offset `piece.at`) that falls in `out`. */
function copyOverlap(
  out: Uint8Array,
  outOffset: number,
  piece: { bytes: Uint8Array; at: number },
): void {
  const from = Math.max(outOffset, piece.at);
  const to = Math.min(outOffset + out.length, piece.at + piece.bytes.length);
  if (from >= to) return;
  out.set(piece.bytes.subarray(from - piece.at, to - piece.at), from - outOffset);
}
