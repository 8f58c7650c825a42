/**
 * An in-memory, deterministic {@link FileSystem} with the failure modes of a real disk, for unit
 * tests and the whole-cluster simulation.
 *
 * Model (chosen to be no kinder than ext4 without data=journal):
 * - Each file keeps its current bytes and its durable image. `syncData` makes the bytes (and
 *   truncates) present when it was *called* durable once it *resolves*.
 * - The directory tree's entries (create, rename, remove) are durable only after `syncDir` on
 *   the parent; until then a crash brings back the last synced set of names. Directories
 *   themselves (`mkdirp`) are durable at once.
 * - `crash()` reverts every file and name to its durable state. With a PRNG it may keep a random
 *   prefix of each file's unsynced appended bytes: a torn write. No `Math.random` anywhere.
 * - `crashAfter(n)` makes the (n+1)-th mutating call from now throw {@link SimulatedCrash} and
 *   every later call fail until `crash()`: a power cut at an exact write boundary.
 * - `pauseSyncs()` holds every `syncData`/`syncDir` open until `resumeSyncs()`.
 * - `failSyncs(n)` makes the next n `syncData` calls reject with {@link SimulatedIoError} the way
 *   Linux reports a failed writeback (fsyncgate): the bytes stay readable (the page cache) but
 *   never reach the disk, and a later successful sync does not write them either (the kernel
 *   marked the pages clean). A crash turns them into zeros.
 * - `failNext(kind, count)` fails the next writes, syncs or directory syncs with EIO or ENOSPC.
 * - `endProcess()`: the process using the disk died; its handles die, the page cache stays.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import type { FileHandle, FileSystem, MappedRegion } from "./file_io.ts";

/** Thrown by every call of a {@link SimFileSystem} that is "powered off". */
export class SimulatedCrash extends Error {
  constructor(message = "simulated crash") {
    super(message);
    this.name = "SimulatedCrash";
  }
}

/** The error of a `syncData` failed by {@link SimFileSystem.failSyncs}, like an `EIO`. */
export class SimulatedIoError extends Error {
  /** An EIO-like error (or ENOSPC: see `failNext`). */
  constructor(message = "EIO: input/output error (simulated fsync failure)") {
    super(message);
    this.name = "SimulatedIoError";
  }
}

/** What {@link SimFileSystem.failNext} fails: `writeSync`, `syncData`, `syncDir`. */
export type SimIoFaultKind = "write" | "sync" | "dirSync";

/** How {@link SimFileSystem.failNext} fails a call. */
export interface SimIoFaultOptions {
  /** EIO (default) or ENOSPC (a full disk). */
  code?: "EIO" | "ENOSPC";
  /** For writes: the share of the bytes that lands before the error (a short write). 0. */
  landedFraction?: number;
  /** For writes: only of files under this directory (e.g. the snapshots). */
  under?: string;
}

function ioError(code: SimIoFaultOptions["code"], what: string): SimulatedIoError {
  const text = code === "EIO" ? "input/output error" : "no space left on device";
  return new SimulatedIoError(`${code}: ${text} (simulated ${what} failure)`);
}

/**
 * A small seeded PRNG (mulberry32) returning floats in [0, 1), for callers without their own.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * fs.crash({ random, tornWrites: true });
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** One file's bytes and what of them would survive a crash. */
class SimInode {
  data = new Uint8Array(256);
  length = 0;
  /** Length of the durable image. */
  durableLength = 0;
  /** Bytes [0, divergedAt) are identical in the current and the durable image. */
  divergedAt = 0;
  /** Durable bytes [divergedAt, durableLength) overwritten since (by truncate then append). */
  savedTail: Uint8Array = new Uint8Array(0);
  /** Bumped by every truncate, so a sync started before one does not claim it. */
  truncations = 0;
  /** Byte ranges whose writeback failed: readable now, zeros on the disk (see failSyncs). */
  lostRanges: Array<[number, number]> = [];

  append(bytes: Uint8Array): void {
    const needed = this.length + bytes.length;
    if (needed > this.data.length) {
      const grown = new Uint8Array(Math.max(needed, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(bytes, this.length);
    this.length = needed;
  }

  truncate(lengthBytes: number): void {
    if (lengthBytes < this.divergedAt) {
      const kept = this.data.slice(lengthBytes, this.divergedAt);
      const tail = new Uint8Array(kept.length + this.savedTail.length);
      tail.set(kept);
      tail.set(this.savedTail, kept.length);
      this.savedTail = tail;
      this.divergedAt = lengthBytes;
    }
    this.length = lengthBytes;
    this.truncations++;
    this.lostRanges = this.lostRanges
      .filter(([from]) => from < lengthBytes)
      .map(([from, to]) => [from, Math.min(to, lengthBytes)]);
  }

  markDurable(lengthBytes: number): void {
    this.durableLength = lengthBytes;
    this.divergedAt = lengthBytes;
    this.savedTail = new Uint8Array(0);
  }

  /** Reverts to the durable image, keeping `tornBytes` of unsynced appended bytes. */
  revert(tornBytes: number): void {
    const image = new Uint8Array(Math.max(256, this.durableLength + tornBytes));
    image.set(this.data.subarray(0, this.divergedAt));
    image.set(this.savedTail, this.divergedAt);
    image.set(
      this.data.subarray(this.durableLength, this.durableLength + tornBytes),
      this.durableLength,
    );
    for (const [from, to] of this.lostRanges) {
      if (from < this.durableLength + tornBytes) {
        image.fill(0, from, Math.min(to, this.durableLength + tornBytes));
      }
    }
    this.lostRanges = [];
    this.data = image;
    this.length = this.durableLength + tornBytes;
    this.markDurable(this.length);
  }

  /** How many appended bytes past the durable image exist (0 when a truncate diverged it). */
  unsyncedAppendedBytes(): number {
    if (this.divergedAt < this.durableLength) return 0;
    return Math.max(0, this.length - this.durableLength);
  }
}

/** Counters a test can assert on. */
export interface SimFileSystemStats {
  /** Mutating calls so far (writes, truncates, syncs, creates, renames, removes). */
  operations: number;
  writes: number;
  syncs: number;
  dirSyncs: number;
  /** Positioned reads, and the bytes they returned (not mutating: no crash point). */
  reads: number;
  readBytes: number;
}

/** The state shared by a {@link SimFileSystem} and its handles. */
class SimDisk {
  files = new Map<string, SimInode>();
  durableFiles = new Map<string, SimInode>();
  directories = new Set<string>(["/", ""]);
  /** Bumped by crash(): handles of an earlier epoch are dead. */
  epoch = 0;
  down = false;
  crashCountdown: number | null = null;
  syncsPaused = false;
  /** syncData calls still to fail (failSyncs). */
  syncFailures = 0;
  syncFailureCode: SimIoFaultOptions["code"] = "EIO";
  /** Writes and directory syncs still to fail (failNext). */
  writeFailures = 0;
  writeFault: SimIoFaultOptions = {};
  dirSyncFailures = 0;
  dirSyncFailureCode: SimIoFaultOptions["code"] = "EIO";
  heldSyncs: Array<() => void> = [];
  stats: SimFileSystemStats = {
    operations: 0,
    writes: 0,
    syncs: 0,
    dirSyncs: 0,
    reads: 0,
    readBytes: 0,
  };

  check(epoch: number): void {
    if (this.down) throw new SimulatedCrash("file system is down");
    if (epoch !== this.epoch) throw new SimulatedCrash("handle from before a crash");
  }

  /** Counts one mutating call and fires a scheduled crash. */
  mutate(epoch: number): void {
    this.check(epoch);
    if (this.crashCountdown !== null) {
      if (this.crashCountdown === 0) {
        this.down = true;
        this.crashCountdown = null;
        throw new SimulatedCrash();
      }
      this.crashCountdown--;
    }
    this.stats.operations++;
  }

  async waitForSyncSlot(): Promise<void> {
    if (!this.syncsPaused) return await Promise.resolve();
    await new Promise<void>((resolve) => this.heldSyncs.push(resolve));
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? (cut === 0 ? "/" : "") : path.slice(0, cut);
}

function normalize(path: string): string {
  const collapsed = path.replace(/\/+/g, "/");
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed;
}

/**
 * In-memory file system with crash, torn-write, bit-flip and stalled-sync faults.
 *
 * @example
 * ```ts
 * const fs = new SimFileSystem();
 * const log = await SegmentLog.open("/log", { fs });
 * await log.appendDurable(entries);
 * fs.crash({ random: seededRandom(7), tornWrites: true });
 * const again = await SegmentLog.open("/log", { fs }); // everything acknowledged is there
 * ```
 */
export class SimFileSystem implements FileSystem {
  #disk = new SimDisk();
  /** The epoch a {@link session} view is bound to; null follows every crash. */
  #bound: number | null = null;

  /** The epoch this view's calls run in. */
  #epoch(): number {
    return this.#bound ?? this.#disk.epoch;
  }

  /**
   * A view of the same disk for one process's lifetime: after the next `crash()` every call
   * through it fails with {@link SimulatedCrash}, opening files included, as a process that
   * crashed can't touch the disk again. Give each start of a node its own session, so that work
   * left running by the crashed one (a flush, a failure being recorded) can't change the disk the
   * next one uses.
   */
  session(): SimFileSystem {
    const view = new SimFileSystem();
    view.#disk = this.#disk;
    view.#bound = this.#disk.epoch;
    return view;
  }

  /** Counters of calls so far. */
  get stats(): SimFileSystemStats {
    return { ...this.#disk.stats };
  }

  open(path: string, options: { create?: boolean } = {}): FileHandle {
    const disk = this.#disk;
    disk.check(this.#epoch());
    const key = normalize(path);
    let inode = disk.files.get(key);
    if (inode === undefined) {
      if (options.create !== true) throw new Error(`NotFound: ${key}`);
      if (!disk.directories.has(parentOf(key))) throw new Error(`NotFound: ${parentOf(key)}`);
      disk.mutate(this.#epoch());
      inode = new SimInode();
      disk.files.set(key, inode);
    }
    return new SimFileHandle(disk, { path, inode, epoch: this.#epoch() });
  }

  readDir(path: string): string[] {
    const disk = this.#disk;
    disk.check(this.#epoch());
    const directory = normalize(path);
    if (!disk.directories.has(directory)) throw new Error(`NotFound: ${directory}`);
    const names: string[] = [];
    const prefix = directory === "/" ? "/" : directory + "/";
    for (const key of [...disk.files.keys(), ...disk.directories]) {
      if (key !== directory && parentOf(key) === directory && key.startsWith(prefix)) {
        names.push(key.slice(prefix.length));
      }
    }
    return names.sort();
  }

  remove(path: string): void {
    const disk = this.#disk;
    const key = normalize(path);
    disk.check(this.#epoch());
    if (!disk.files.has(key)) return;
    disk.mutate(this.#epoch());
    disk.files.delete(key);
  }

  rename(from: string, to: string): void {
    const disk = this.#disk;
    const fromKey = normalize(from);
    const inode = disk.files.get(fromKey);
    disk.check(this.#epoch());
    if (inode === undefined) throw new Error(`NotFound: ${fromKey}`);
    disk.mutate(this.#epoch());
    disk.files.delete(fromKey);
    disk.files.set(normalize(to), inode);
  }

  mkdirp(path: string): void {
    const disk = this.#disk;
    disk.check(this.#epoch());
    let directory = normalize(path);
    while (directory !== "" && directory !== "/" && !disk.directories.has(directory)) {
      disk.directories.add(directory);
      directory = parentOf(directory);
    }
  }

  exists(path: string): boolean {
    const disk = this.#disk;
    disk.check(this.#epoch());
    const key = normalize(path);
    return disk.files.has(key) || disk.directories.has(key);
  }

  async syncDir(path: string): Promise<void> {
    const disk = this.#disk;
    const epoch = this.#epoch();
    disk.mutate(epoch);
    const directory = normalize(path);
    const snapshot = [...disk.files].filter(([key]) => parentOf(key) === directory);
    await disk.waitForSyncSlot();
    disk.check(epoch);
    this.#failDirSync();
    this.#makeNamesDurable(directory, snapshot);
  }

  #failDirSync(): void {
    const disk = this.#disk;
    if (disk.dirSyncFailures-- > 0) throw ioError(disk.dirSyncFailureCode, "directory fsync");
    disk.dirSyncFailures = 0;
  }

  /** `syncDir` at once (held syncs do not hold it: it blocks its caller, as the real one does). */
  syncDirSync(path: string): void {
    const disk = this.#disk;
    disk.mutate(this.#epoch());
    const directory = normalize(path);
    this.#failDirSync();
    this.#makeNamesDurable(
      directory,
      [...disk.files].filter(([key]) => parentOf(key) === directory),
    );
  }

  #makeNamesDurable(directory: string, snapshot: [string, SimInode][]): void {
    const disk = this.#disk;
    for (const key of [...disk.durableFiles.keys()]) {
      if (parentOf(key) === directory) disk.durableFiles.delete(key);
    }
    for (const [key, inode] of snapshot) disk.durableFiles.set(key, inode);
    disk.stats.dirSyncs++;
  }

  /**
   * Power cut: every file and name reverts to its durable state; handles die. With
   * `tornWrites` and a `random`, each file keeps a random prefix of its unsynced appends.
   */
  crash(options: { random?: () => number; tornWrites?: boolean } = {}): void {
    const disk = this.#disk;
    const survivors = new Set<SimInode>(disk.durableFiles.values());
    for (const inode of survivors) {
      let torn = 0;
      const unsynced = inode.unsyncedAppendedBytes();
      if (options.tornWrites === true && options.random !== undefined && unsynced > 0) {
        torn = Math.floor(options.random() * (unsynced + 1));
      }
      inode.revert(torn);
    }
    disk.files = new Map(disk.durableFiles);
    disk.epoch++;
    disk.down = false;
    disk.crashCountdown = null;
    const held = disk.heldSyncs;
    disk.heldSyncs = [];
    disk.syncsPaused = false;
    for (const release of held) release();
  }

  /** The (operations+1)-th mutating call from now throws {@link SimulatedCrash}. */
  crashAfter(operations: number): void {
    invariant(Number.isInteger(operations) && operations >= 0);
    this.#disk.crashCountdown = operations;
  }

  /** True after a scheduled crash fired and before `crash()`. */
  get down(): boolean {
    return this.#disk.down;
  }

  /** Holds every sync open until {@link resumeSyncs}. */
  pauseSyncs(): void {
    this.#disk.syncsPaused = true;
  }

  /** Lets held and future syncs complete. */
  resumeSyncs(): void {
    const disk = this.#disk;
    disk.syncsPaused = false;
    const held = disk.heldSyncs;
    disk.heldSyncs = [];
    for (const release of held) release();
  }

  /**
   * The next `count` `syncData` calls reject with {@link SimulatedIoError}: what they would have
   * made durable stays readable but is lost on a crash, even if a later sync succeeds.
   */
  failSyncs(count = 1): void {
    this.failNext("sync", count);
  }

  /**
   * The next `count` calls of `kind` fail with EIO or ENOSPC: a write after the share of its bytes
   * `landedFraction` says landed; a data sync as {@link failSyncs}; a directory sync making no
   * name durable. `count` 0 disarms.
   */
  failNext(kind: SimIoFaultKind, count = 1, options: SimIoFaultOptions = {}): void {
    invariant(Number.isInteger(count) && count >= 0);
    const disk = this.#disk;
    const code = options.code ?? "EIO";
    if (kind === "sync") [disk.syncFailures, disk.syncFailureCode] = [count, code];
    if (kind === "dirSync") [disk.dirSyncFailures, disk.dirSyncFailureCode] = [count, code];
    if (kind === "write") [disk.writeFailures, disk.writeFault] = [count, options];
  }

  /** Whether `failNext` faults are still armed, and the files that hide a failed writeback. */
  get ioFaultState(): { armed: boolean; lostIn: string[] } {
    const { writeFailures, syncFailures, dirSyncFailures, files, durableFiles } = this.#disk;
    // Durable names too: a crash undoes a remove not yet made durable, and the lost bytes with it.
    const lost = [...files, ...durableFiles].filter(([, inode]) => inode.lostRanges.length > 0);
    const lostIn = [...new Set(lost.map(([at]) => at))];
    return { armed: writeFailures + syncFailures + dirSyncFailures > 0, lostIn };
  }

  /** The process using this disk ended (no power cut): its handles and sessions die. */
  endProcess(): void {
    this.#disk.epoch++;
  }

  /** Number of syncs currently held by {@link pauseSyncs}. */
  get heldSyncCount(): number {
    return this.#disk.heldSyncs.length;
  }

  /** Flips one bit of a file, in its current and its durable bytes (damage on the platter). */
  flipBit(path: string, offset: number, bit = 0): void {
    const inode = this.#disk.files.get(normalize(path));
    invariant(inode !== undefined, `no file ${path}`);
    invariant(offset >= 0 && offset < inode.length, "offset outside the file");
    inode.data[offset] ^= 1 << bit;
    if (offset >= inode.divergedAt && offset < inode.durableLength) {
      inode.savedTail[offset - inode.divergedAt] ^= 1 << bit;
    }
  }

  /** A copy of a file's current bytes (for tests). */
  fileBytes(path: string): Uint8Array {
    const inode = this.#disk.files.get(normalize(path));
    invariant(inode !== undefined, `no file ${path}`);
    return inode.data.slice(0, inode.length);
  }

  /** Appends raw bytes to a file as if a writer had (for tests of garbage tails). */
  appendRaw(path: string, bytes: Uint8Array): void {
    const inode = this.#disk.files.get(normalize(path));
    invariant(inode !== undefined, `no file ${path}`);
    inode.append(bytes);
  }
}

class SimFileHandle implements FileHandle {
  readonly path: string;
  #disk: SimDisk;
  #inode: SimInode;
  #epoch: number;
  #closed = false;

  constructor(disk: SimDisk, parts: { path: string; inode: SimInode; epoch: number }) {
    this.#disk = disk;
    this.path = parts.path;
    this.#inode = parts.inode;
    this.#epoch = parts.epoch;
  }

  #check(): void {
    invariant(!this.#closed, "handle is closed");
    this.#disk.check(this.#epoch);
  }

  size(): number {
    this.#check();
    return this.#inode.length;
  }

  writeSync(bytes: Uint8Array): void {
    this.#check();
    const disk = this.#disk;
    disk.mutate(this.#epoch);
    disk.stats.writes++;
    const { code = "EIO", landedFraction = 0, under = "" } = disk.writeFault;
    if (disk.writeFailures > 0 && this.path.startsWith(under) && disk.writeFailures--) {
      this.#inode.append(bytes.subarray(0, Math.floor(bytes.length * landedFraction)));
      throw ioError(code, "write");
    }
    this.#inode.append(bytes);
  }

  readSync(position: number, target: Uint8Array): number {
    this.#check();
    const inode = this.#inode;
    const count = Math.max(0, Math.min(target.length, inode.length - position));
    target.set(inode.data.subarray(position, position + count));
    this.#disk.stats.reads++;
    this.#disk.stats.readBytes += count;
    return count;
  }

  async syncData(): Promise<void> {
    this.#check();
    this.#disk.mutate(this.#epoch);
    const [length, truncations] = [this.#inode.length, this.#inode.truncations];
    await this.#disk.waitForSyncSlot();
    this.#completeSync(length, truncations);
  }

  /** As `syncData`, at once: a paused disk refuses it (a test holding syncs expects none). */
  syncDataSync(): void {
    this.#check();
    invariant(!this.#disk.syncsPaused, "syncDataSync while syncs are paused");
    this.#disk.mutate(this.#epoch);
    this.#completeSync(this.#inode.length, this.#inode.truncations);
  }

  #completeSync(length: number, truncations: number): void {
    const inode = this.#inode;
    this.#disk.check(this.#epoch);
    this.#disk.stats.syncs++;
    if (this.#disk.syncFailures > 0) {
      this.#disk.syncFailures--;
      const from = inode.durableLength;
      if (length > from) inode.lostRanges.push([from, length]);
      // The kernel marks the pages clean: they count as written, so nothing retries them.
      if (inode.truncations === truncations) inode.markDurable(length);
      throw this.#disk.syncFailureCode === "EIO"
        ? new SimulatedIoError()
        : ioError("ENOSPC", "fsync");
    }
    // A truncate after the call may have cut below `length`; claiming nothing is the
    // conservative choice (storage never truncates while its own sync is in flight).
    if (inode.truncations === truncations) inode.markDurable(length);
  }

  truncate(lengthBytes: number): void {
    this.#check();
    invariant(lengthBytes >= 0 && lengthBytes <= this.#inode.length, "truncate must shrink");
    this.#disk.mutate(this.#epoch);
    this.#inode.truncate(lengthBytes);
  }

  close(): void {
    this.#closed = true;
  }

  discard(): Promise<void> {
    invariant(!this.#closed, "handle is closed");
    this.#closed = true; // a removed inode's bytes are unreachable: nothing to cut
    return Promise.resolve();
  }

  map(_lengthBytes: number): MappedRegion | null {
    return null;
  }
}
