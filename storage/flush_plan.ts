/**
 * One flush round of a segment log (what `SyncScheduler` runs): the data of every file written
 * since the last round, then the directory if names changed, then the handles of removed
 * segments are discarded.
 *
 * Files before the directory: a new segment's name is durable only once the bytes before it are,
 * so a crash never leaves a torn record followed by a newer segment, which recovery would have to
 * read as damage. (A truncation that removes segments makes their removal durable at once, before
 * a cut of, or an append into, the segment it ends in: see `SegmentLog.truncateSuffix`.)
 *
 * @module
 */
import type { FileHandle, FileSystem } from "./file_io.ts";
import type { RemovedFiles } from "./removed_files.ts";
import type { FlushPlan } from "./sync_scheduler.ts";

/** What one round flushes, and what it reports a failure to. */
export interface FlushParts {
  fs: FileSystem;
  /** Files written or truncated since the last round started. */
  handles: FileHandle[];
  /** The log's directory when names changed since the last round, else null. */
  directory: string | null;
  removed: RemovedFiles;
  /** Highest index the round makes durable. */
  cover: number;
  /** Records a failure durably before anyone hears of it (so a restart distrusts the tail). */
  noteFailure: (error: unknown) => Promise<void>;
}

/** The flush round of `parts`; its `run()` returns how many fsync calls it made. */
export function flushPlan(parts: FlushParts): FlushPlan {
  const { fs, handles, directory, removed, noteFailure } = parts;
  return {
    cover: parts.cover,
    async run(): Promise<number> {
      try {
        for (const handle of handles) await handle.syncData();
        // After every handle's sync: a removed file is discarded once nothing syncs it.
        if (directory !== null) await removed.afterDirectorySync(fs.syncDir(directory));
      } catch (error) {
        await noteFailure(error);
        throw error;
      }
      return handles.length + (directory !== null ? 1 : 0);
    },
  };
}
