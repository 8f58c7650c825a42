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
 * follower is built on demand from that file and the log (`RaftLogStorage.snapshot()`); a
 * follower stores what it received as it came, entries included, so a crash between writing the
 * file and rewriting its log is repaired at the next open.
 *
 * Files: `<snapshotsDir>/snapshot-<20-digit index>.bin`, written atomically with storage's
 * `writeSnapshotFile` (so a torn or flipped file is seen as corrupt, never loaded). Index 0 is the
 * bootstrap snapshot (the initial membership and an empty machine) and is never pruned.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ByteReader, ByteWriter, DecodeError, fromUtf8 } from "../engine/binary.ts";
import {
  type FileSystem,
  joinPath,
  type LogEntry,
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
  let payloadBytes = 0;
  for (const entry of container.entries) payloadBytes += entry.payload.length + 29;
  const writer = new ByteWriter(container.machine.length + payloadBytes + 256);
  for (const byte of magic) writer.u8(byte);
  writer.u8(containerVersion);
  writer.f64(container.index);
  writer.f64(container.term);
  writer.string32(JSON.stringify(container.config));
  writer.f64(container.lowestReferencedIndex);
  writer.f64(container.machine.length);
  writer.bytes(container.machine);
  writer.u32(container.entries.length);
  for (const entry of container.entries) {
    writer.f64(entry.term);
    writer.f64(entry.index);
    writer.f64(entry.timestamp);
    writer.u8(entry.type);
    writer.u32(entry.payload.length);
    writer.bytes(entry.payload);
  }
  return writer.finish();
}

/** Decodes a container; throws `DecodeError` when it is not one. Payloads are views. */
export function decodeSnapshotContainer(bytes: Uint8Array): SnapshotContainer {
  const reader = new ByteReader(bytes);
  for (const byte of magic) {
    if (reader.u8() !== byte) throw new DecodeError("not a snapshot container");
  }
  if (reader.u8() !== containerVersion) throw new DecodeError("unknown container version");
  const index = reader.uint();
  const term = reader.uint();
  const config = parseConfig(fromUtf8(reader.bytes(reader.u32())));
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
    throw new DecodeError(`bad snapshot entries: ${(error as Error).message}`);
  }
  return container;
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
  const value = JSON.parse(text) as { voters?: unknown; learners?: unknown };
  const isIds = (list: unknown): list is NodeId[] =>
    Array.isArray(list) && list.every((id) => typeof id === "string" && id.length > 0);
  if (!isIds(value.voters) || !isIds(value.learners)) throw new DecodeError("bad config");
  return { voters: value.voters, learners: value.learners };
}

/** `snapshot-<20-digit index>.bin`. */
export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.bin`;
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
 * reported through `onSkip`), never trusted.
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
        if (!(error instanceof DecodeError)) throw error;
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

/** Removes every snapshot file except index 0 (bootstrap) and `keepIndex`. */
export function pruneSnapshots(fs: FileSystem, options: { dir: string; keepIndex: number }): void {
  for (const index of listSnapshots(fs, options.dir)) {
    if (index !== 0 && index !== options.keepIndex) {
      fs.remove(joinPath(options.dir, snapshotFileName(index)));
    }
  }
}
