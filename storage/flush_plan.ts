/**
 * One flush round of a segment log (what `SyncScheduler` runs): the data of every file written
 * since the last round, then the directory if names changed, then the handles of removed
 * segments are discarded.
 *
 * An `inline` round calls fdatasync on the calling thread. The usual async call hands it to a
 * blocking thread and its completion back to the event loop: on the 2-vCPU VM these figures come
 * from, each hand-off woke a thread on the other core, 0.3–1 ms apiece under strace, against a
 * 0.2–0.3 ms fdatasync of a small write. A follower's acknowledgement waits on its fdatasync, so
 * every replicated write paid both hand-offs. Inline, the thread is blocked meanwhile; a follower
 * can afford that for a small round (the appends that arrive wait in the socket's buffer and join
 * the next round), a leader can't (its requests would stop being read, so rounds stop growing).
 * The cost: a disk that stalls stalls the whole thread, not just the flush. So after a round that
 * took `slowRoundMs` or more the log goes back to the async call until a round is fast again; the
 * first stall still blocks the thread for as long as it lasts.
 *
 * Files before the directory: a new segment's name is durable only once the bytes before it are,
 * so a crash never leaves a torn record followed by a newer segment, which recovery would have to
 * read as damage. Appends go on while a round runs: when one rolled to another segment after the
 * round started, the files written since are synced too before the directory (see `NameOrder`,
 * which also holds the other directory fsyncs of the log directory to this). (A truncation that
 * removes segments makes their removal durable at once, before a cut of, or an append into, the
 * segment it ends in: see `SegmentLog.truncateSuffix`.)
 *
 * @module
 */
import type { FileHandle, FileSystem } from "./file_io.ts";
import type { RoundNames } from "./name_order.ts";
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
  /** Sync on the calling thread (one small file, see above). */
  inline: boolean;
  /** Records a failure durably before anyone hears of it (so a restart distrusts the tail). */
  noteFailure: (error: unknown) => Promise<void>;
  /** Orders the directory fsync after the bytes before the names it makes durable. */
  names: RoundNames;
}

/** The flush round of `parts`; its `run()` returns how many fsync calls it made. */
export function flushPlan(parts: FlushParts): FlushPlan {
  const { fs, handles, directory, removed, noteFailure, inline, names } = parts;
  return {
    cover: parts.cover,
    async run(): Promise<number> {
      let extra = 0;
      try {
        for (const handle of handles) {
          if (inline) handle.syncDataSync();
          else await handle.syncData();
        }
        // After every handle's sync: a removed file is discarded once nothing syncs it.
        if (directory !== null) {
          const sync = () => removed.afterDirectorySync(fs.syncDir(directory));
          extra = await names.syncDirectory(sync);
        }
      } catch (error) {
        await noteFailure(error);
        throw error;
      }
      names.succeeded();
      return handles.length + extra + (directory !== null ? 1 : 0);
    },
  };
}
