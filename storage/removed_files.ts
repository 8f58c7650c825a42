/**
 * The open files of removed segments, and giving their space back off the event loop.
 *
 * A segment is removed (unlinked) while its file is still open, so its blocks are freed when the
 * last handle closes, in the thread that closes it: 40–70 ms for a 64 MiB segment on this
 * machine's ext4. Compaction after a snapshot drops several segments at once, and closing them
 * on the event loop stalled every request for a quarter of a second (seen in a broker profile
 * under load). Instead, once the directory sync that makes the removal durable has returned,
 * each file is cut to 0 bytes by an async truncate, which Deno runs on a blocking-pool thread
 * where the blocks are then freed, and only then closed.
 *
 * Waiting for that sync also means that a handle is never closed while a flush may still sync
 * it, and that a file is never cut while a crash could still bring its name back.
 *
 * @module
 */
import type { FileHandle } from "./file_io.ts";

/**
 * Handles of removed files: waiting for the next directory sync, then being discarded.
 *
 * @example
 * ```ts
 * fs.remove(segment.handle.path);
 * removed.add(segment.handle);
 * await removed.afterDirectorySync(fs.syncDir(dir)); // the removal is durable: cut, close
 * ```
 */
export class RemovedFiles {
  #waiting: FileHandle[] = [];
  readonly #discarding = new Set<Promise<void>>();

  /** The handle of a file just removed; given back after the next directory sync. */
  add(handle: FileHandle): void {
    this.#waiting.push(handle);
  }

  /**
   * Waits for `directorySync`, a sync of the directory started after the waiting files were
   * removed, then discards them without waiting; closes them if the sync failed.
   */
  async afterDirectorySync(directorySync: Promise<void>): Promise<void> {
    const handles = this.#waiting;
    this.#waiting = [];
    try {
      await directorySync;
    } catch (error) {
      for (const handle of handles) handle.close();
      throw error;
    }
    for (const handle of handles) {
      const discarding = handle.discard();
      this.#discarding.add(discarding);
      // A rejection stays in the set for `settle` to report.
      discarding.then(() => this.#discarding.delete(discarding), () => {});
    }
  }

  /** Closes the handles still waiting (the log is closing) and waits for every discard. */
  async settle(): Promise<void> {
    for (const handle of this.#waiting.splice(0)) handle.close();
    await Promise.all(this.#discarding);
  }
}
