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
import { type FileSystem, makeDurableDir, RealFileSystem } from "./file_io.ts";

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

/**
 * Thrown when the data directory can't be made, its lock file opened, or its `node-id` file read
 * or written: a file where it should be (or one of its parents), a directory in a file's place,
 * no permission, a read-only file system.
 */
export class DataDirUnusableError extends Error {
  /** The error for `dir`, saying what the operating system answered. */
  constructor(dir: string, cause: Error) {
    super(`data directory ${dir} can't be used: ${cause.message}`, { cause });
    this.name = "DataDirUnusableError";
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
 * Takes the exclusive lock of `dir` (created if missing; `fs` syncs its name) without waiting,
 * and writes this process's PID into it. Throws {@link DataDirLockedError} when another
 * process holds it, {@link DataDirUnusableError} when it can't be made or its lock file opened.
 *
 * @example
 * ```ts
 * const lock = await lockDataDir("./data"); // before opening anything inside
 * ```
 */
export async function lockDataDir(
  dir: string,
  fs: FileSystem = new RealFileSystem(),
): Promise<DataDirLock> {
  const path = `${dir.replace(/\/+$/, "")}/${lockFileName}`;
  let file: Deno.FsFile;
  try {
    makeDurableDir(fs, dir); // a new data directory's name is durable before anything goes in it
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (error) {
    // What the operating system refused (ENOTDIR, EACCES, EROFS...): the path is unusable.
    if (error instanceof Error && typeof (error as { code?: unknown }).code === "string") {
      throw new DataDirUnusableError(dir, error);
    }
    throw error;
  }
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

/** File name, inside the data directory, of the id of the node whose data it holds. */
export const nodeIdFileName = "node-id";

/** Thrown when a data directory holds another node's data. */
export class DataDirOwnerError extends Error {
  /** The error for `dir`, recorded for `owner`, opened as `nodeId`. */
  constructor(dir: string, owner: string, nodeId: string) {
    super(
      `data directory ${dir} holds the data of node '${owner}' (its log, votes and snapshots), ` +
        `not of '${nodeId}'; start it with --node-id ${owner}, or give this node its own ` +
        "--data-dir",
    );
    this.name = "DataDirOwnerError";
  }
}

/**
 * Records `nodeId` as the owner of `dir` (held locked, see `lockDataDir`) the first time, and
 * refuses a node of another id later: a Raft log and the votes in it belong to one member, so a
 * node restarted under a new id on them would vote and answer with another member's past.
 * A directory from before this file existed is claimed by whoever opens it first. A `node-id`
 * the operating system refuses to read or replace (a directory in its place, no permission)
 * throws {@link DataDirUnusableError}.
 *
 * @example
 * ```ts
 * await lockDataDir("./data");
 * await claimDataDir("./data", "n1"); // throws DataDirOwnerError when "./data" is n2's
 * ```
 */
export async function claimDataDir(
  dir: string,
  nodeId: string,
  fs: FileSystem = new RealFileSystem(),
): Promise<void> {
  const path = `${dir.replace(/\/+$/, "")}/${nodeIdFileName}`;
  let owner: string | null = null;
  try {
    owner = (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw unusable(dir, path, error);
  }
  if (owner !== null && owner !== "") {
    if (owner !== nodeId) throw new DataDirOwnerError(dir, owner, nodeId);
    return;
  }
  // Written whole and synced under a temporary name, then renamed: never a torn id.
  const temporary = `${path}.tmp`;
  // Opening and renaming fail for a directory in the way or no permission; a failed write or
  // sync is a storage failure and propagates as one.
  const file = await Deno.open(temporary, { write: true, create: true, truncate: true })
    .catch((error) => Promise.reject(unusable(dir, temporary, error)));
  try {
    await file.write(new TextEncoder().encode(`${nodeId}\n`));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(temporary, path).catch((error) => Promise.reject(unusable(dir, path, error)));
  await fs.syncDir(dir); // else a power cut can take the claim away, and the next id claims it
}

/**
 * What the operating system refused about `path` (EISDIR, EACCES, EROFS...) as the data
 * directory's being unusable; anything else unchanged.
 */
function unusable(dir: string, path: string, error: unknown): unknown {
  if (!(error instanceof Error) || typeof (error as { code?: unknown }).code !== "string") {
    return error;
  }
  const cause = new Error(`${path}: ${error.message}`, { cause: error });
  return new DataDirUnusableError(dir, cause);
}

async function readPid(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
