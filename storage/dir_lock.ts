/**
 * One process per data directory. Two brokers writing the same log interleave appends, rewrite
 * each other's hard state and cut each other's "torn" tails; so the directory is locked with an
 * exclusive advisory lock (`flock`-style, through `Deno.FsFile.tryLock`) on a `lock` file held
 * open for the life of the process. The kernel drops the lock when the process ends, however it
 * ends (kill -9 included), so a stale lock file never blocks a restart. The file holds the
 * holder's PID for the message a second process prints.
 *
 * Like `mmap.ts`, this calls `Deno.*` directly: a lock is a property of the real file system and
 * has no meaning in the simulated one.
 *
 * @module
 */

/** File name of the lock inside the data directory. */
export const lockFileName = "lock";

/** Thrown when another process holds the data directory. */
export class DataDirLockedError extends Error {
  /** PID recorded by the holder, when it could be read. */
  readonly holderPid: number | null;

  /** The error for `dir`, naming the holder when its PID is known. */
  constructor(dir: string, holderPid: number | null) {
    super(
      `data directory ${dir} is in use by another cmqd process` +
        (holderPid === null ? "" : ` (pid ${holderPid})`) +
        "; stop it first, or give this node its own --data-dir",
    );
    this.name = "DataDirLockedError";
    this.holderPid = holderPid;
  }
}

/** A held lock; `release()` unlocks and closes (the process ending does the same). */
export interface DataDirLock {
  /** The lock file. */
  readonly path: string;
  /** Unlocks and closes the lock file. */
  release(): void;
}

/**
 * Takes the exclusive lock of `dir` (created if missing) without waiting, and writes this
 * process's PID into it. Throws {@link DataDirLockedError} when another process holds it.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir("./data"); // before opening anything inside
 * ```
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir.replace(/\/+$/, "")}/${lockFileName}`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    file.close();
    throw error;
  }
  if (!locked) {
    file.close();
    throw new DataDirLockedError(dir, await readPid(path));
  }
  // Only the holder writes the file, so a reader sees the PID of the holder or a torn one
  // (read as unknown), never another process's.
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return {
    path,
    release() {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

async function readPid(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
