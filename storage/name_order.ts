/**
 * The order between a log directory's names and its segments' bytes. A directory fsync makes
 * every name in the directory durable, not only those its caller changed: one that ran after a
 * roll and before a flush of the bytes written before it would make the new segment's name
 * durable while the end of the segment before it could still be lost, and a crash would leave a
 * torn record followed by a newer segment, which recovery must read as real damage (the node
 * then distrusts its log until a leader repairs it). So every directory fsync of the log
 * directory runs through a {@link NameOrder}:
 * - the log's flush round (`flush_plan.ts`) syncs its files before the directory; when a roll
 *   came after the round started, it also syncs the files written since then (see `round`);
 * - the hard state's write, the damage record's removal and the sealed indexes' writes and
 *   removals wait, right before their directory fsync, for a flush round that started after the
 *   newest roll (`syncDirectory`): a flush that fails makes them fail (the log has failed then
 *   anyway);
 * - a truncation's synchronous directory fsync first syncs, on its thread, the segments before
 *   the newest that may hold bytes no flush made durable (`syncBeforeNewestSync`).
 *
 * The damage record's writes do not wait: one is written because a flush failed, and the
 * unsynced tail it records is cut at the next open whatever follows it. (Its removal does: it
 * comes after a repair, and no removal of a failed log's record is made.)
 *
 * A directory fsync is taken to make durable the names present when it is called (the model of
 * `SimFileSystem`); a name created while one runs may join it on a real file system.
 *
 * @module
 */
import type { FileHandle, FileSystem } from "./file_io.ts";
import type { Segment } from "./segment.ts";

/** Runs a directory fsync (`sync`) when the names it makes durable may be. */
export type DirectorySyncGate = (sync: () => Promise<void>) => Promise<void>;

/**
 * A log directory's own small files (its hard state, its damage record) as their writers take
 * them (`HardStateWrites`, `LogDamage`): each directory fsync runs through `syncDirectory`;
 * `onFailure` hears of a write that failed and returns the error to reject it with.
 */
export interface LogDirectoryFiles {
  fs: FileSystem;
  dir: string;
  syncDirectory: DirectorySyncGate;
  onFailure: (error: unknown) => unknown;
}

/** What one flush round needs (see {@link NameOrder.round}). */
export interface RoundNames {
  /** Runs the round's directory fsync after its files' syncs; returns the extra fsyncs made. */
  syncDirectory(sync: () => Promise<void>): Promise<number>;
  /** The round's syncs succeeded. */
  succeeded(): void;
}

/** Keeps a segment's name from becoming durable before the bytes written before it. */
export class NameOrder {
  /** Segments created since open. */
  #rolls = 0;
  /** Rolls the bytes before which a flush round made durable. */
  #covered = 0;
  readonly #flush: () => Promise<void>;
  readonly #busy: () => Promise<void> | null;

  /**
   * `flush` resolves once a flush round started after the call succeeded (rejects if the log
   * failed); `busy` is work in progress that replaces every segment (a reset), or null.
   */
  constructor(flush: () => Promise<void>, busy: () => Promise<void> | null) {
    this.#flush = flush;
    this.#busy = busy;
  }

  /** A segment was created (named, not yet durably). */
  rolled(): void {
    this.#rolls++;
  }

  /**
   * Runs `sync` (a directory fsync of the log directory) once every byte written before the
   * newest segment was created is durable: waits for flush rounds until one that started after
   * the newest roll succeeded, then calls `sync` on the same turn, so no roll comes in between.
   */
  async syncDirectory(sync: () => Promise<void>): Promise<void> {
    for (;;) {
      const busy = this.#busy();
      if (busy !== null) await busy.catch(() => {});
      else if (this.#covered >= this.#rolls) return await sync();
      else await this.#flush();
    }
  }

  /**
   * For a flush round, at its start (every file written before is in it or in an earlier round):
   * `written` lists the files written since the round started. Before the round's directory
   * fsync, each roll since its start (or since the last check) has those files synced first.
   */
  round(written: () => FileHandle[]): RoundNames {
    let seen = this.#rolls;
    return {
      syncDirectory: async (sync) => {
        let calls = 0;
        while (seen !== this.#rolls) {
          seen = this.#rolls;
          for (const handle of written()) {
            await handle.syncData();
            calls++;
          }
        }
        await sync(); // on the turn of the last check
        return calls;
      },
      succeeded: () => void (this.#covered = Math.max(this.#covered, seen)),
    };
  }

  /**
   * Before a synchronous directory fsync: syncs on this thread every segment but the newest that
   * may hold bytes no flush made durable (entries above `durableIndex`, or a cut down to it).
   */
  syncBeforeNewestSync(segments: Segment[], durableIndex: number): void {
    if (this.#covered >= this.#rolls) return;
    for (const segment of segments.slice(0, -1)) {
      if (segment.lastIndex >= durableIndex) segment.handle.syncDataSync();
    }
  }
}
