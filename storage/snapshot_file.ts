/**
 * Whole-file blobs written atomically: temp file, fdatasync, rename, directory fsync. Used for
 * the Raft hard state, the log's start marker and the broker's state-machine snapshots.
 *
 * Byte layout (little-endian):
 *
 * | offset | bytes | field                                             |
 * |-------:|------:|---------------------------------------------------|
 * |      0 |     4 | magic "CMQS"                                      |
 * |      4 |     4 | format version, u32 = 1                           |
 * |      8 |     8 | payload length, u64 as (u32 low, u32 high)        |
 * |     16 |     4 | CRC-32C of the payload                            |
 * |     20 |     4 | CRC-32C of bytes [0, 20)                          |
 * |     24 |     n | payload                                           |
 *
 * A file whose header or payload does not check out (torn, truncated, flipped) is reported as
 * corrupt and never returned as data. Leftover temp files are ignored. A sound header of a newer
 * format version throws `NewerFormatError`: a newer release's file is not damage.
 *
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { NewerFormatError } from "./errors.ts";
import { type FileSystem, joinPath } from "./file_io.ts";

const magic = 0x53514d43; // "CMQS" little-endian
const formatVersion = 1;
/** The format version of the files this module writes (the newest it reads). */
export const snapshotFileFormatVersion = formatVersion;
const headerBytes = 24;
const twoPower32 = 0x1_0000_0000;
/** Suffix of the file written before the rename; never read as data. */
export const temporarySuffix = ".tmp";

/** What {@link inspectSnapshotFile} found. */
export type SnapshotFileState =
  | { status: "missing" }
  | { status: "corrupt"; reason: string }
  | { status: "ok"; bytes: Uint8Array };

/**
 * Writes `bytes` to `dir/name` atomically and durably; resolves when a crash can no longer
 * lose it. Concurrent writes of the same name must be serialized by the caller. The directory
 * fsync runs through `syncDirectory` when given (a caller that must order it after other
 * writes, see `NameOrder`).
 *
 * @example
 * ```ts
 * await writeSnapshotFile(fs, "data/group-1", "snapshot", stateBytes);
 * const back = readSnapshotFile(fs, "data/group-1", "snapshot"); // stateBytes, or null
 * ```
 */
export async function writeSnapshotFile(
  fs: FileSystem,
  dir: string,
  name: string,
  bytes: Uint8Array,
  syncDirectory: (sync: () => Promise<void>) => Promise<void> = (sync) => sync(),
): Promise<void> {
  const finalPath = joinPath(dir, name);
  const temporaryPath = finalPath + temporarySuffix;
  // Handles append, so a leftover temp file from a crash must go first.
  fs.remove(temporaryPath);
  const handle = fs.open(temporaryPath, { create: true });
  try {
    handle.writeSync(encodeHeader(bytes));
    if (bytes.length > 0) handle.writeSync(bytes);
    await handle.syncData();
  } catch (error) {
    // A full disk must not keep what fitted of it: nothing else removes it but a write of the
    // same name (later snapshots have other indexes).
    handle.close();
    fs.remove(temporaryPath);
    throw error;
  }
  handle.close();
  fs.rename(temporaryPath, finalPath);
  await syncDirectory(() => fs.syncDir(dir));
}

/**
 * The payload of `dir/name`, or null when the file is missing or does not check out; throws
 * `NewerFormatError` for a newer release's file.
 */
export function readSnapshotFile(fs: FileSystem, dir: string, name: string): Uint8Array | null {
  const state = inspectSnapshotFile(fs, dir, name);
  return state.status === "ok" ? state.bytes : null;
}

/**
 * The format version of a file's first bytes when they are a sound header (magic, header CRC) of
 * a version newer than this module reads; else null.
 */
export function newerVersionOf(head: Uint8Array): number | null {
  if (head.length < headerBytes) return null;
  const view = new DataView(head.buffer, head.byteOffset, headerBytes);
  if (view.getUint32(0, true) !== magic) return null;
  if (view.getUint32(20, true) !== crc32c(head.subarray(0, 20))) return null;
  const version = view.getUint32(4, true);
  return version > formatVersion ? version : null;
}

/**
 * Reads `dir/name` and says whether it is missing, corrupt or fine; throws `NewerFormatError`
 * for a newer release's file.
 */
export function inspectSnapshotFile(fs: FileSystem, dir: string, name: string): SnapshotFileState {
  const path = joinPath(dir, name);
  if (!fs.exists(path)) return { status: "missing" };
  const handle = fs.open(path);
  try {
    const size = handle.size();
    if (size < headerBytes) return { status: "corrupt", reason: "shorter than its header" };
    const header = new Uint8Array(headerBytes);
    handle.readSync(0, header);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== magic) return { status: "corrupt", reason: "bad magic" };
    if (view.getUint32(20, true) !== crc32c(header.subarray(0, 20))) {
      return { status: "corrupt", reason: "bad header crc" };
    }
    const version = view.getUint32(4, true);
    if (version > formatVersion) throw new NewerFormatError(path, version, formatVersion);
    if (version !== formatVersion) return { status: "corrupt", reason: "unknown format version" };
    const length = view.getUint32(8, true) + view.getUint32(12, true) * twoPower32;
    if (size !== headerBytes + length) return { status: "corrupt", reason: "length mismatch" };
    const bytes = new Uint8Array(length);
    handle.readSync(headerBytes, bytes);
    if (crc32c(bytes) !== view.getUint32(16, true)) {
      return { status: "corrupt", reason: "bad payload crc" };
    }
    return { status: "ok", bytes };
  } finally {
    handle.close();
  }
}

function encodeHeader(payload: Uint8Array): Uint8Array {
  return encodeHeaderOf(payload.length, crc32c(payload));
}

function encodeHeaderOf(payloadBytes: number, payloadCrc: number): Uint8Array {
  const header = new Uint8Array(headerBytes);
  const view = new DataView(header.buffer);
  view.setUint32(0, magic, true);
  view.setUint32(4, formatVersion, true);
  view.setUint32(8, payloadBytes % twoPower32, true);
  view.setUint32(12, Math.floor(payloadBytes / twoPower32), true);
  view.setUint32(16, payloadCrc, true);
  view.setUint32(20, crc32c(header.subarray(0, 20)), true);
  return header;
}

/** Bytes of payload read or copied at once by the streaming functions below. */
export const snapshotFilePieceBytes = 1024 * 1024;

/** Where a snapshot file's payload comes from when it is written piece by piece. */
export interface SnapshotPayloadSource {
  byteLength: number;
  /** The CRC-32C the payload must have; the file is not written (renamed) if it differs. */
  crc: number;
  /** Fills `target` with payload bytes from `position` on. */
  read(position: number, target: Uint8Array): void;
}

/**
 * Like {@link writeSnapshotFile}, for a payload too big to hold: copied in pieces of
 * {@link snapshotFilePieceBytes}, its CRC recomputed on the way; a payload that does not match
 * `source.crc` throws before the rename, so no file of that name is ever replaced by it.
 */
export async function writeSnapshotFileFrom(
  fs: FileSystem,
  target: { dir: string; name: string },
  source: SnapshotPayloadSource,
): Promise<void> {
  const finalPath = joinPath(target.dir, target.name);
  const temporaryPath = finalPath + temporarySuffix;
  fs.remove(temporaryPath);
  const handle = fs.open(temporaryPath, { create: true });
  try {
    handle.writeSync(encodeHeaderOf(source.byteLength, source.crc));
    const piece = new Uint8Array(Math.min(snapshotFilePieceBytes, source.byteLength));
    let crc = 0;
    for (let position = 0; position < source.byteLength; position += piece.length) {
      const part = piece.subarray(0, Math.min(piece.length, source.byteLength - position));
      source.read(position, part);
      crc = crc32c(part, crc);
      handle.writeSync(part);
    }
    if (crc !== source.crc) throw new Error(`snapshot ${target.name}: payload CRC mismatch`);
    await handle.syncData();
  } catch (error) {
    handle.close();
    fs.remove(temporaryPath);
    throw error;
  }
  handle.close();
  fs.rename(temporaryPath, finalPath);
  await fs.syncDir(target.dir);
}

/**
 * Checks `dir/name` piece by piece (memory bounded by {@link snapshotFilePieceBytes}, whatever
 * its size) and returns its payload length, or null when it is missing or does not check out;
 * throws `NewerFormatError` for a newer release's file.
 */
export function verifySnapshotFile(fs: FileSystem, dir: string, name: string): number | null {
  return checkSnapshotFile(fs, dir, name)?.length ?? null;
}

/**
 * As {@link verifySnapshotFile}, with the payload's CRC-32C: whoever reads the payload again later
 * (`readSnapshotFileRange`, which checks nothing) can check what it read against it.
 */
export function checkSnapshotFile(
  fs: FileSystem,
  dir: string,
  name: string,
): { length: number; crc: number } | null {
  const path = joinPath(dir, name);
  if (!fs.exists(path)) return null;
  const handle = fs.open(path);
  try {
    const size = handle.size();
    if (size < headerBytes) return null;
    const header = new Uint8Array(headerBytes);
    handle.readSync(0, header);
    const view = new DataView(header.buffer);
    const length = view.getUint32(8, true) + view.getUint32(12, true) * twoPower32;
    const version = newerVersionOf(header);
    if (version !== null) throw new NewerFormatError(path, version, formatVersion);
    const sound = view.getUint32(0, true) === magic &&
      view.getUint32(20, true) === crc32c(header.subarray(0, 20)) &&
      view.getUint32(4, true) === formatVersion && size === headerBytes + length;
    if (!sound) return null;
    const piece = new Uint8Array(Math.min(snapshotFilePieceBytes, length));
    let crc = 0;
    for (let position = 0; position < length; position += piece.length) {
      const part = piece.subarray(0, Math.min(piece.length, length - position));
      if (handle.readSync(headerBytes + position, part) !== part.length) return null;
      crc = crc32c(part, crc);
    }
    return crc === view.getUint32(16, true) ? { length, crc } : null;
  } finally {
    handle.close();
  }
}

/** Fills `target` with payload bytes of `dir/name` from `position` on (a verified file). */
export function readSnapshotFileRange(
  fs: FileSystem,
  file: { dir: string; name: string },
  position: number,
  target: Uint8Array,
): void {
  const handle = fs.open(joinPath(file.dir, file.name));
  try {
    const read = handle.readSync(headerBytes + position, target);
    if (read !== target.length) throw new RangeError(`snapshot ${file.name} is shorter than read`);
  } finally {
    handle.close();
  }
}
