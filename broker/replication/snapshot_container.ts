/**
 * Raft snapshots of the queue engine: the container carried in `Snapshot.data` and stored in the
 * snapshot files, and the directory of snapshot files.
 *
 * Message bodies are not in the state machine; they stay in the log entries that sent them. So
 * a snapshot a follower can live on is the state machine image **plus the log entries it still
 * references** (`machine.lowestReferencedIndex()` .. the snapshot index).
 *
 * Container layout (little-endian; f64 fields hold safe integers unless said otherwise):
 *
 * ```
 * "CMQR" (4 bytes), u8 version = 1,
 * f64 index, f64 term, u32 length + config JSON ({ voters, learners }),
 * f64 lowestReferencedIndex,
 * f64 length + state machine snapshot (`StateMachine.snapshot()`, taken at `index`),
 * u32 entryCount, then per entry (contiguous, the last one at `index` when any):
 *   f64 term, f64 index, f64 timestamp (any float), u8 type, u32 length + payload
 * ```
 *
 * A snapshot a node takes of its own state is stored **without** entries (entryCount 0): its log
 * keeps them (compaction stops below `min(index, lowestReferencedIndex)`), and copying every
 * live body at every snapshot would cost as much as the backlog. The container sent to a
 * follower is streamed chunk by chunk from that file and the log (`snapshot_source.ts`), never
 * assembled in memory; a follower receives it into a temp file (`snapshot_sink.ts`), stores it
 * as it came, entries included, rewrites its log from it, then replaces the file by one without
 * entries (`installReceivedSnapshot`); a crash before the log is rewritten is repaired at the
 * next open from the file with entries.
 *
 * Files: `<snapshotsDir>/snapshot-<20-digit index>.bin`, written atomically with storage's
 * `writeSnapshotFile` (so a torn or flipped file is seen as corrupt, never loaded). Index 0 is the
 * bootstrap snapshot (the initial membership and an empty machine) and is never pruned.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type FileSystem,
  joinPath,
  type LogEntry,
  NewerFormatError,
  readSnapshotFile,
  writeSnapshotFile,
} from "../../storage/mod.ts";
import type { ConfigState, NodeId } from "../../raft/mod.ts";

/** The decoded container. */
export interface SnapshotContainer {
  index: number;
  term: number;
  /** Membership as of `index`. */
  config: ConfigState;
  /** Entries below this hold no live or rewindable message (as of `index`). */
  lowestReferencedIndex: number;
  /** `StateMachine.snapshot()` at `index`. */
  machine: Uint8Array;
  /** Referenced entries up to `index` (empty in a node's own snapshot files). */
  entries: LogEntry[];
}

const magic = [0x43, 0x4d, 0x51, 0x52]; // "CMQR"
const containerVersion = 1;
const snapshotPattern = /^snapshot-(\d{20})\.bin$/;
const leftoverPattern = /^snapshot-\d{20}\.bin\.tmp$/;

/**
 * Encodes a container.
 *
 * @example
 * ```ts
 * const data = encodeSnapshotContainer({ index: 9, term: 2, config, lowestReferencedIndex: 4,
 *   machine: machine.snapshot(), entries: log.entries(4, 10) });
 * decodeSnapshotContainer(data).entries.length; // 6
 * ```
 */
export function encodeSnapshotContainer(container: SnapshotContainer): Uint8Array {
  checkEntries(container);
  const config = utf8Encoder.encode(JSON.stringify(container.config));
  let size = headerBytes + config.length + 8 + 8 + container.machine.length + 4;
  for (const entry of container.entries) size += entryHeaderBytes + entry.payload.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(magic, 0);
  view.setUint8(4, containerVersion);
  view.setFloat64(5, container.index, true);
  view.setFloat64(13, container.term, true);
  view.setUint32(21, config.length, true);
  bytes.set(config, headerBytes);
  let at = headerBytes + config.length;
  view.setFloat64(at, container.lowestReferencedIndex, true);
  view.setFloat64(at + 8, container.machine.length, true);
  bytes.set(container.machine, at + 16);
  at += 16 + container.machine.length;
  view.setUint32(at, container.entries.length, true);
  at += 4;
  for (const entry of container.entries) {
    view.setFloat64(at, entry.term, true);
    view.setFloat64(at + 8, entry.index, true);
    view.setFloat64(at + 16, entry.timestamp, true);
    view.setUint8(at + 24, entry.type);
    view.setUint32(at + 25, entry.payload.length, true);
    bytes.set(entry.payload, at + entryHeaderBytes);
    at += entryHeaderBytes + entry.payload.length;
  }
  return bytes;
}

export function decodeSnapshotContainer(bytes: Uint8Array): SnapshotContainer {
  const reader = new ContainerReader(bytes);
  for (const byte of magic) {
    if (reader.u8() !== byte) throw new SnapshotDecodeError("not a snapshot container");
  }
  checkContainerVersion(reader.u8());
  const index = reader.uint();
  const term = reader.uint();
  const config = parseConfig(reader.text(reader.u32()));
  const lowestReferencedIndex = reader.uint();
  const machine = reader.bytes(reader.uint());
  const count = reader.u32();
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entryTerm = reader.uint();
    const entryIndex = reader.uint();
    const timestamp = reader.f64();
    const type = reader.u8();
    const payload = reader.bytes(reader.u32());
    entries.push({ term: entryTerm, index: entryIndex, timestamp, type, payload });
  }
  reader.end();
  const container = { index, term, config, lowestReferencedIndex, machine, entries };
  try {
    checkEntries(container);
  } catch (error) {
    throw new SnapshotDecodeError(`bad snapshot entries: ${(error as Error).message}`);
  }
  return container;
}

/** The fixed part of a container, before its entries, with where the machine image lies. */
export interface ContainerPrefix {
  index: number;
  term: number;
  config: ConfigState;
  lowestReferencedIndex: number;
  /** Byte offset and length of the machine image. */
  machineOffset: number;
  machineBytes: number;
  /** Byte offset of the u32 entry count (the entries follow it). */
  entryCountOffset: number;
  entryCount: number;
}

/**
 * Decodes a container's fixed part through `read(offset, length)` (which throws or returns
 * fewer bytes past the end), without touching the machine image or the entries: what streaming
 * a container from a file needs.
 */
export function readContainerPrefix(
  read: (offset: number, length: number) => Uint8Array,
): ContainerPrefix {
  const head = readContainerHead(read);
  const entryCount = new ContainerReader(read(head.entryCountOffset, 4)).u32();
  return { ...head, entryCount };
}

/** Bytes of a container's head before its config JSON (whose u32 length ends them). */
export const containerHeadFixedBytes = 25;

/**
 * A container's fixed part up to its machine image (`readContainerPrefix` without the entry
 * count): what `read(0, 25)` and then `read(25, configBytes + 16)` hold.
 */
export function readContainerHead(
  read: (offset: number, length: number) => Uint8Array,
): Omit<ContainerPrefix, "entryCount"> {
  const head = new ContainerReader(read(0, headerBytes));
  for (const byte of magic) {
    if (head.u8() !== byte) throw new SnapshotDecodeError("not a snapshot container");
  }
  checkContainerVersion(head.u8());
  const index = head.uint();
  const term = head.uint();
  const configBytes = head.u32();
  const middle = new ContainerReader(read(headerBytes, configBytes + 16));
  const config = parseConfig(middle.text(configBytes));
  const lowestReferencedIndex = middle.uint();
  const machineBytes = middle.uint();
  const machineOffset = headerBytes + configBytes + 16;
  const entryCountOffset = machineOffset + machineBytes;
  return {
    index,
    term,
    config,
    lowestReferencedIndex,
    machineOffset,
    machineBytes,
    entryCountOffset,
  };
}

/** Bytes of one embedded entry's header: term, index, timestamp, type, payload length. */
export const containerEntryHeaderBytes = 29;

/** Writes the container header of `entry` into `target` (at least 29 bytes). */
export function encodeContainerEntryHeader(entry: LogEntry, target: Uint8Array): void {
  const view = new DataView(target.buffer, target.byteOffset, containerEntryHeaderBytes);
  view.setFloat64(0, entry.term, true);
  view.setFloat64(8, entry.index, true);
  view.setFloat64(16, entry.timestamp, true);
  view.setUint8(24, entry.type);
  view.setUint32(25, entry.payload.length, true);
}

/**
 * Decodes the embedded entry whose header starts at `offset` of `bytes` (which must hold it
 * whole), or returns the total size it needs when `bytes` ends before it does.
 */
export function decodeContainerEntry(
  bytes: Uint8Array,
  offset: number,
): { entry: LogEntry; size: number } | { needBytes: number } {
  if (bytes.length - offset < containerEntryHeaderBytes) {
    return { needBytes: containerEntryHeaderBytes };
  }
  const reader = new ContainerReader(bytes.subarray(offset));
  const term = reader.uint();
  const index = reader.uint();
  const timestamp = reader.f64();
  const type = reader.u8();
  const length = reader.u32();
  const size = containerEntryHeaderBytes + length;
  if (bytes.length - offset < size) return { needBytes: size };
  const payload = reader.bytes(length);
  return { entry: { term, index, timestamp, type, payload }, size };
}

/** The version of the containers this release writes (the newest it reads). */
export const snapshotContainerVersion = containerVersion;

/** Refuses a container of another version: a newer release's (`NewerFormatError`), or garbage. */
function checkContainerVersion(version: number): void {
  if (version > containerVersion) {
    throw new NewerFormatError("snapshot container", version, containerVersion);
  }
  if (version !== containerVersion) throw new SnapshotDecodeError("unknown container version");
}

/**
 * Throws `NewerFormatError` (or what `checkMachine` throws, given a machine image) when a
 * snapshot file in `dir` was written by a newer release: its file format, its container's or its
 * machine image's. Reads only; a damaged file is left to recovery (`loadNewestSnapshot`).
 */
export function refuseNewerSnapshots(
  fs: FileSystem,
  dir: string,
  checkMachine: (machine: Uint8Array) => void,
): void {
  if (!fs.exists(dir)) return;
  for (const index of listSnapshots(fs, dir)) {
    const name = snapshotFileName(index);
    const bytes = readSnapshotFile(fs, dir, name); // throws for a newer file format
    if (bytes === null) continue;
    let prefix: ContainerPrefix;
    try {
      prefix = readContainerPrefix((offset, length) => bytes.subarray(offset, offset + length));
    } catch (error) {
      if (error instanceof NewerFormatError) {
        throw new NewerFormatError(
          `${joinPath(dir, name)}: ${error.file}`,
          error.version,
          error.known,
        );
      }
      if (error instanceof SnapshotDecodeError) continue;
      throw error;
    }
    checkMachine(bytes.subarray(prefix.machineOffset, prefix.machineOffset + prefix.machineBytes));
  }
}

/** A snapshot container that can't be decoded (damaged or not a container). */
export class SnapshotDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotDecodeError";
  }
}

/** magic (4) + version (1) + index (8) + term (8) + config length (4). */
const headerBytes = containerHeadFixedBytes;
/** term (8) + index (8) + timestamp (8) + type (1) + payload length (4). */
const entryHeaderBytes = 29;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Bounds-checked little-endian reads over one container. */
class ContainerReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(length: number): number {
    const at = this.#offset;
    if (length < 0 || at + length > this.#bytes.length) {
      throw new SnapshotDecodeError(`truncated: need ${length} bytes at ${at}`);
    }
    this.#offset = at + length;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  f64(): number {
    return this.#view.getFloat64(this.#take(8), true);
  }

  uint(): number {
    const value = this.f64();
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new SnapshotDecodeError(`bad integer ${value}`);
    }
    return value;
  }

  bytes(length: number): Uint8Array {
    const at = this.#take(length);
    return this.#bytes.subarray(at, at + length);
  }

  text(length: number): string {
    try {
      return utf8Decoder.decode(this.bytes(length));
    } catch (error) {
      if (error instanceof SnapshotDecodeError) throw error;
      throw new SnapshotDecodeError("invalid UTF-8");
    }
  }

  end(): void {
    if (this.#offset !== this.#bytes.length) {
      throw new SnapshotDecodeError(`${this.#bytes.length - this.#offset} trailing bytes`);
    }
  }
}

function checkEntries(container: SnapshotContainer): void {
  const entries = container.entries;
  if (entries.length === 0) return;
  assert.equal(entries.at(-1)!.index, container.index, "embedded entries end at the snapshot");
  assert.equal(entries.at(-1)!.term, container.term, "the last embedded entry has its term");
  for (let i = 1; i < entries.length; i++) {
    assert.equal(entries[i].index, entries[i - 1].index + 1, "embedded entries are contiguous");
  }
}

function parseConfig(text: string): ConfigState {
  let value: { voters?: unknown; learners?: unknown };
  try {
    value = JSON.parse(text);
  } catch {
    throw new SnapshotDecodeError("bad config: not JSON");
  }
  const isIds = (list: unknown): list is NodeId[] =>
    Array.isArray(list) && list.every((id) => typeof id === "string" && id.length > 0);
  if (
    value === null || typeof value !== "object" || !isIds(value.voters) || !isIds(value.learners)
  ) {
    throw new SnapshotDecodeError("bad config");
  }
  return { voters: value.voters, learners: value.learners };
}

/** `snapshot-<20-digit index>.bin`. */
export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.bin`;
}

/**
 * Removes the temp files of snapshot writes a crash interrupted (`<name>.tmp`: storage's atomic
 * write). Nothing else would: a write of the same name removes its own, but later snapshots have
 * other indexes, and a received one may be as big as the backlog. Call at open only.
 */
export function removeSnapshotLeftovers(fs: FileSystem, dir: string): void {
  for (const name of fs.readDir(dir)) {
    if (leftoverPattern.test(name)) fs.remove(joinPath(dir, name));
  }
}

/** Indexes of the snapshot files in `dir`, newest first. */
export function listSnapshots(fs: FileSystem, dir: string): number[] {
  const indexes: number[] = [];
  for (const name of fs.readDir(dir)) {
    const match = snapshotPattern.exec(name);
    if (match !== null) indexes.push(Number(match[1]));
  }
  return indexes.sort((left, right) => right - left);
}

/**
 * The newest snapshot file that verifies and decodes, or null. A damaged one is skipped (and
 * reported through `onSkip`), never trusted; a newer release's throws `NewerFormatError`.
 */
export function loadNewestSnapshot(
  fs: FileSystem,
  options: { dir: string; onSkip?: (index: number) => void },
): SnapshotContainer | null {
  for (const index of listSnapshots(fs, options.dir)) {
    const bytes = readSnapshotFile(fs, options.dir, snapshotFileName(index));
    if (bytes !== null) {
      try {
        const container = decodeSnapshotContainer(bytes);
        if (container.index === index) return container;
      } catch (error) {
        if (!(error instanceof SnapshotDecodeError)) throw error;
      }
    }
    options.onSkip?.(index);
  }
  return null;
}

/** Writes `data` (an encoded container) as the snapshot file of `index`, atomically. */
export function storeSnapshot(
  fs: FileSystem,
  options: { dir: string; index: number; data: Uint8Array },
): Promise<void> {
  return writeSnapshotFile(fs, options.dir, snapshotFileName(options.index), options.data);
}

/**
 * Removes every snapshot file except index 0 (bootstrap), `keepIndex` and `alsoKeep`: each name
 * goes at once, and the space is given back off the event loop (`FileHandle.discard`), since
 * unlinking a closed file frees its blocks in the calling thread (small here: a snapshot holds
 * about 1.6 bytes per queued message). Resolves when the space is given back.
 */
export async function pruneSnapshots(
  fs: FileSystem,
  options: { dir: string; keepIndex: number },
  alsoKeep: readonly number[] = [],
): Promise<void> {
  const discards: Promise<void>[] = [];
  for (const index of listSnapshots(fs, options.dir)) {
    if (index !== 0 && index !== options.keepIndex && !alsoKeep.includes(index)) {
      const path = joinPath(options.dir, snapshotFileName(index));
      const handle = fs.open(path);
      fs.remove(path);
      discards.push(handle.discard());
    }
  }
  await Promise.all(discards);
}
