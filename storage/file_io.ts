/**
 * The file system seen by storage: an interface, and its real implementation on `Deno.*`.
 *
 * This is the only file of the project that calls `Deno.*` file APIs (mapping lives in
 * `mmap.ts`, used from here). Everything else takes a {@link FileSystem}, so the same code runs
 * on disk or on the simulated file system of `sim_file_system.ts`.
 *
 * Calls are synchronous except the two that wait for the disk (`syncData`, `syncDir`): sync
 * `Deno` file calls cost 1.5–2 µs, async ones 20–100 µs (measured on Deno 2.9), and an fdatasync of
 * 0.3–60 ms must not stall the event loop.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { mapFile, type MappedRegion } from "./mmap.ts";

export type { MappedRegion } from "./mmap.ts";

/** An open file. Writes always append at the end. */
export interface FileHandle {
  /** The path the file was opened with. */
  readonly path: string;
  /** Current size in bytes, unsynced writes included. */
  size(): number;
  /** Appends all of `bytes` at the end of the file (not durable until {@link syncData}). */
  writeSync(bytes: Uint8Array): void;
  /** Reads into `target` from `position`; returns the bytes read (fewer only at end of file). */
  readSync(position: number, target: Uint8Array): number;
  /** fdatasync: every byte written (and every truncate) before the call is durable after it. */
  syncData(): Promise<void>;
  /** {@link syncData} on the calling thread: it blocks it for as long as the disk takes. */
  syncDataSync(): void;
  /** Cuts the file to `lengthBytes` (not durable until {@link syncData}). */
  truncate(lengthBytes: number): void;
  /** Releases the handle; mappings made from it stay valid until unmapped. */
  close(): void;
  /**
   * For a file already removed and unmapped: cuts it to 0 bytes off the event loop, where its
   * blocks are freed, then closes the handle. Closing the last handle of a removed file frees
   * them in the calling thread instead. Rejects only if the handle was closed already.
   */
  discard(): Promise<void>;
  /** A read-only map of the first `lengthBytes` (may exceed the size), or null if unsupported. */
  map(lengthBytes: number): MappedRegion | null;
}

/**
 * Everything storage needs from a file system. Paths are plain strings joined with "/".
 * Creating, renaming and removing files are durable only after {@link FileSystem.syncDir}
 * on the parent directory.
 */
export interface FileSystem {
  /** Opens `path` for reading and appending; throws `NotFoundError`-like errors if absent. */
  open(path: string, options?: { create?: boolean }): FileHandle;
  /** Names (not paths) of the entries of directory `path`. */
  readDir(path: string): string[];
  /** Removes the file at `path`; no error if it does not exist. */
  remove(path: string): void;
  /** Atomically replaces `to` with `from`. */
  rename(from: string, to: string): void;
  /** Creates directory `path` and its parents if missing. */
  mkdirp(path: string): void;
  exists(path: string): boolean;
  /** Makes the directory's entries (creates, renames, removes) durable. */
  syncDir(path: string): Promise<void>;
  /** `syncDir`, blocking the caller until it is done (for the rare step that must not wait). */
  syncDirSync(path: string): void;
}

/** Joins path parts with "/". */
export function joinPath(directory: string, name: string): string {
  return directory.endsWith("/") ? directory + name : `${directory}/${name}`;
}

/**
 * Creates directory `path` and its missing parents, each new name synced in its parent: a new
 * directory is a name like a file's, which a power cut can take away with everything fsynced
 * inside it until its parent is synced. Syncs nothing when `path` exists.
 */
export function makeDurableDir(fs: FileSystem, path: string): void {
  const created: string[] = [];
  const top = (at: string) => at === "" || at === "." || at === "/";
  for (let at = path.replace(/\/+$/, ""); !top(at) && !fs.exists(at); at = parentDir(at)) {
    created.push(at);
  }
  if (created.length === 0) return;
  fs.mkdirp(path);
  for (const directory of created.reverse()) fs.syncDirSync(parentDir(directory));
}

function parentDir(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut > 0 ? path.slice(0, cut) : cut === 0 ? "/" : ".";
}

/**
 * The real file system through `Deno.*` (needs --allow-read/--allow-write, plus --allow-ffi
 * for memory maps; without ffi, `map` returns null and storage reads with pread instead).
 *
 * @example
 * ```ts
 * const log = await SegmentLog.open("data/group-1", { fs: new RealFileSystem() });
 * ```
 */
export class RealFileSystem implements FileSystem {
  open(path: string, options: { create?: boolean } = {}): FileHandle {
    const file = Deno.openSync(path, {
      read: true,
      append: true,
      create: options.create ?? false,
    });
    return new RealFileHandle(path, file);
  }

  readDir(path: string): string[] {
    const names: string[] = [];
    for (const entry of Deno.readDirSync(path)) names.push(entry.name);
    return names;
  }

  remove(path: string): void {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  rename(from: string, to: string): void {
    Deno.renameSync(from, to);
  }

  mkdirp(path: string): void {
    Deno.mkdirSync(path, { recursive: true });
  }

  exists(path: string): boolean {
    try {
      Deno.statSync(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  async syncDir(path: string): Promise<void> {
    // fsync on a directory descriptor persists its entries (Linux). Windows refuses to open
    // directories; there the rename's own atomicity is all we get. Elsewhere a failed open (too
    // many open files, say) is a failed sync: nobody may count on names it did not persist.
    let directory: Deno.FsFile;
    try {
      directory = Deno.openSync(path, { read: true });
    } catch (error) {
      if (Deno.build.os === "windows") return;
      throw error;
    }
    try {
      await directory.sync();
    } finally {
      directory.close();
    }
  }

  syncDirSync(path: string): void {
    let directory: Deno.FsFile;
    try {
      directory = Deno.openSync(path, { read: true });
    } catch (error) {
      if (Deno.build.os === "windows") return; // as in syncDir
      throw error;
    }
    try {
      directory.syncSync();
    } finally {
      directory.close();
    }
  }

  /** A new empty directory under the system temp dir (for tests and benches). */
  makeTempDir(prefix: string): string {
    return Deno.makeTempDirSync({ prefix });
  }

  /** Removes a directory tree (for tests and benches). */
  removeTree(path: string): void {
    Deno.removeSync(path, { recursive: true });
  }
}

class RealFileHandle implements FileHandle {
  readonly path: string;
  #file: Deno.FsFile;
  /** Tracked here so `size()` costs no syscall; this handle is the only writer. */
  #size: number;

  constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
    this.#size = file.statSync().size;
  }

  size(): number {
    return this.#size;
  }

  writeSync(bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.length) {
      const count = this.#file.writeSync(bytes.subarray(written));
      invariant(count > 0, "write made no progress");
      written += count;
    }
    this.#size += bytes.length;
  }

  readSync(position: number, target: Uint8Array): number {
    // Reads move the file position but writes do not care: the file is opened O_APPEND.
    this.#file.seekSync(position, Deno.SeekMode.Start);
    let read = 0;
    while (read < target.length) {
      const count = this.#file.readSync(target.subarray(read));
      if (count === null || count === 0) break;
      read += count;
    }
    return read;
  }

  async syncData(): Promise<void> {
    await this.#file.syncData();
  }

  syncDataSync(): void {
    this.#file.syncDataSync();
  }

  truncate(lengthBytes: number): void {
    invariant(lengthBytes >= 0 && lengthBytes <= this.#size, "truncate must shrink the file");
    this.#file.truncateSync(lengthBytes);
    this.#size = lengthBytes;
  }

  close(): void {
    this.#file.close();
  }

  async discard(): Promise<void> {
    try {
      await this.#file.truncate(0); // an async op: it runs on Deno's blocking-pool threads
    } catch {
      // Not cut: closing frees the blocks anyway, only on this thread.
    }
    this.#file.close();
  }

  map(lengthBytes: number): MappedRegion | null {
    return mapFile(this.path, lengthBytes);
  }
}
