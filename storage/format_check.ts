/**
 * The check that comes before anything touches a directory of storage files: a file a newer
 * release wrote (a snapshot file, hard state, log start or damage record in a newer format of
 * `snapshot_file.ts`, a segment index in a newer format of `segment_index_file.ts`) throws
 * `NewerFormatError`. Such a file is not damage: opening the log as if it were would cut,
 * rebuild or overwrite what the newer release wrote, so the node refuses to start instead and
 * changes nothing. Only sound headers count (a header CRC, or an index file's own CRC): a flipped
 * bit in a version field is damage, handled as before.
 *
 * Segment files carry no format version: their record layout (`record.ts`) is version 1 by
 * definition, and a release that changes it must write something this check refuses.
 *
 * @module
 */
import { NewerFormatError } from "./errors.ts";
import { type FileSystem, joinPath, makeDurableDir } from "./file_io.ts";
import { newerVersionOf, snapshotFileFormatVersion, temporarySuffix } from "./snapshot_file.ts";
import {
  decodeSegmentIndex,
  decodeSegmentIndexHead,
  segmentIndexBytesMax,
  segmentIndexFormatVersion,
  segmentIndexSuffix,
} from "./segment_index_file.ts";
import { segmentSuffix } from "./segment.ts";

/** Bytes of a snapshot file's header (`snapshot_file.ts`). */
const snapshotFileHeaderBytes = 24;

/**
 * Throws `NewerFormatError` when `dir` holds a file of a newer release; reads only (a missing
 * directory holds none).
 *
 * @example
 * ```ts
 * refuseNewerFormats(fs, "data/log"); // before SegmentLog.open
 * ```
 */
export function refuseNewerFormats(fs: FileSystem, dir: string): void {
  if (!fs.exists(dir)) return;
  for (const name of fs.readDir(dir).sort()) {
    if (name.endsWith(temporarySuffix) || name.endsWith(segmentSuffix)) continue;
    const path = joinPath(dir, name);
    if (name.endsWith(segmentIndexSuffix)) {
      // The version is read alone; only a newer one costs a read of the whole file, whose own
      // CRC must check out before it is believed (damage is the open's business).
      const head = readHead(fs, path, 8);
      const newer = head !== null && decodeSegmentIndexHead(head) > segmentIndexFormatVersion;
      const bytes = newer ? readHead(fs, path, segmentIndexBytesMax + 1) : null;
      if (bytes !== null && bytes.length <= segmentIndexBytesMax) {
        decodeSegmentIndex(bytes, path); // throws for a sound newer one
      }
      continue;
    }
    const head = readHead(fs, path, snapshotFileHeaderBytes);
    const version = head === null ? null : newerVersionOf(head);
    if (version !== null) throw new NewerFormatError(path, version, snapshotFileFormatVersion);
  }
}

/**
 * Up to `bytes` first bytes of `path` (the whole file when shorter); null when unreadable, read
 * short or refused by the disk (no newer format shown: what the file is, is the open's business).
 */
function readHead(fs: FileSystem, path: string, bytes: number): Uint8Array | null {
  const handle = fs.open(path);
  try {
    const head = new Uint8Array(Math.min(handle.size(), bytes));
    return handle.readSync(0, head) === head.length ? head : null;
  } catch {
    return null;
  } finally {
    handle.close();
  }
}

/**
 * Readies `dir` for `SegmentLog.open`: refuses a newer release's files (before any change), then
 * creates the directory and removes the temporary files a crash left.
 */
export function prepareLogDir(fs: FileSystem, dir: string): void {
  refuseNewerFormats(fs, dir);
  makeDurableDir(fs, dir);
  for (const name of fs.readDir(dir)) {
    if (name.endsWith(temporarySuffix)) fs.remove(joinPath(dir, name));
  }
}
