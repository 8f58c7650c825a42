/**
 * A follower's side of a streamed snapshot: chunks go to a temp file in the snapshots directory
 * as they arrive (`snapshot-<20-digit index>.bin.part`), never gathered in memory. The stream is
 * the container plus its CRC-32C (`snapshot_source.ts`); the CRC is computed and the container's
 * structure followed (`snapshot_check.ts`) as chunks are written, and `finish` refuses a transfer
 * whose trailer does not match or whose container could not be installed (with the applier's
 * `checkSnapshot`, an image it could not load), so garbage is never
 * installed, not even garbage under a sound CRC from a peer that holds the cluster key. The finished file is installed by `installReceivedSnapshot` (`snapshot_io.ts`).
 *
 * A transfer that is abandoned (a new leader's term, a new transfer) has its file removed; so
 * do leftovers of a process that stopped mid-transfer, when the sink is built at the next start:
 * a restart begins the transfer again from offset 0.
 *
 * @module
 */
import assert from "node:assert/strict";
import { crc32c, type FileHandle, type FileSystem, joinPath } from "../../storage/mod.ts";
import type { LogIndex, Snapshot, SnapshotSink } from "../../raft/mod.ts";
import { snapshotFileName } from "./snapshot_container.ts";
import { ContainerCheck } from "./snapshot_check.ts";
import { streamTrailerBytes } from "./snapshot_source.ts";

const partSuffix = ".part";
const partPattern = /^snapshot-\d{20}\.bin\.part$/;

/** A received snapshot that checked out, waiting to be installed. */
export interface ReceivedSnapshot {
  index: number;
  /** The temp file, still open (install fsyncs it, then reads it). */
  handle: FileHandle;
  path: string;
  /** Bytes of the container (the file holds them, then the 4-byte trailer). */
  containerBytes: number;
  /** CRC-32C of the container. */
  crc: number;
}

interface Receiving {
  index: number;
  handle: FileHandle;
  path: string;
  byteLength: number;
  written: number;
  crc: number;
  trailer: Uint8Array;
  /** The container's structure, followed as it comes (`snapshot_check.ts`). */
  check: ContainerCheck;
}

/**
 * Writes received snapshot chunks to a temp file.
 *
 * @example
 * ```ts
 * const sink = new FileSnapshotSink(fs, snapshotsDir);
 * const node = new RaftNode({ id, storage, prng, snapshotSink: sink });
 * // on ready.snapshot:
 * await installReceivedSnapshot(parts, ready.snapshot, sink.takeFinished(ready.snapshot.index));
 * ```
 */
export class FileSnapshotSink implements SnapshotSink {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #warn: (line: string) => void;
  readonly #machineIndex: ((image: Uint8Array) => number) | undefined;
  #receiving: Receiving | null = null;
  #finished: ReceivedSnapshot | null = null;
  /** The last refusal reported (a leader resends a refused snapshot: once is enough). */
  #refused = "";

  /**
   * Removes leftover temp files of transfers a stopped process did not finish. `warn` is told
   * why a transfer is refused (once per snapshot and reason); `machineIndex` (the applier's
   * `checkSnapshot`) checks a finished transfer's machine image and tells its applied index.
   */
  constructor(
    fs: FileSystem,
    snapshotsDir: string,
    options: { warn?: (line: string) => void; machineIndex?: (image: Uint8Array) => number } = {},
  ) {
    this.#fs = fs;
    this.#dir = snapshotsDir;
    this.#warn = options.warn ?? (() => {});
    this.#machineIndex = options.machineIndex;
    fs.mkdirp(snapshotsDir);
    for (const name of fs.readDir(snapshotsDir)) {
      if (partPattern.test(name)) fs.remove(joinPath(snapshotsDir, name));
    }
  }

  /** True while a transfer is being received or waits to be installed (for tests). */
  get busy(): boolean {
    return this.#receiving !== null || this.#finished !== null;
  }

  begin(snapshot: Snapshot & { byteLength: number }): void {
    this.abort();
    const path = joinPath(this.#dir, snapshotFileName(snapshot.index) + partSuffix);
    this.#fs.remove(path); // handles append: a stale file must not be continued
    this.#receiving = {
      index: snapshot.index,
      handle: this.#fs.open(path, { create: true }),
      path,
      byteLength: snapshot.byteLength,
      written: 0,
      crc: 0,
      trailer: new Uint8Array(streamTrailerBytes),
      check: new ContainerCheck(snapshot, snapshot.byteLength - streamTrailerBytes),
    };
  }

  write(offset: number, data: Uint8Array): void {
    const receiving = this.#receiving;
    assert.ok(receiving !== null, "a chunk belongs to a transfer");
    assert.equal(offset, receiving.written, "chunks arrive in order");
    assert.ok(offset + data.length <= receiving.byteLength, "chunks stay within the snapshot");
    const containerBytes = receiving.byteLength - streamTrailerBytes;
    const containerPart = Math.max(0, Math.min(data.length, containerBytes - offset));
    receiving.crc = crc32c(data.subarray(0, containerPart), receiving.crc);
    receiving.check.push(data.subarray(0, containerPart));
    for (let at = containerPart; at < data.length; at++) {
      receiving.trailer[offset + at - containerBytes] = data[at];
    }
    receiving.handle.writeSync(data);
    receiving.written += data.length;
  }

  finish(): boolean {
    const receiving = this.#receiving;
    assert.ok(receiving !== null, "a transfer was received");
    this.#receiving = null;
    const problem = refusal(receiving) ?? this.#machineProblem(receiving);
    if (problem !== null) {
      discard(this.#fs, receiving);
      const line = `refused the snapshot at index ${receiving.index} received: ${problem}`;
      if (line !== this.#refused) this.#warn(line);
      this.#refused = line;
      return false;
    }
    this.#dropFinished();
    this.#finished = {
      index: receiving.index,
      handle: receiving.handle,
      path: receiving.path,
      containerBytes: receiving.byteLength - streamTrailerBytes,
      crc: receiving.crc,
    };
    return true;
  }

  abort(): void {
    const receiving = this.#receiving;
    if (receiving === null) return;
    this.#receiving = null;
    discard(this.#fs, receiving);
  }

  /** Hands the finished snapshot at `index` to its installer (who closes and removes it). */
  takeFinished(index: LogIndex | number): ReceivedSnapshot {
    const finished = this.#finished;
    assert.ok(finished !== null && finished.index === index, `snapshot ${index} was received`);
    this.#finished = null;
    return finished;
  }

  /** Drops everything (the replica stops). */
  close(): void {
    this.abort();
    this.#dropFinished();
  }

  /** Why the applier would not load the received machine image, or null. */
  #machineProblem(receiving: Receiving): string | null {
    const where = receiving.check.machine;
    if (this.#machineIndex === undefined || where === null) return null;
    const image = new Uint8Array(where.bytes);
    if (receiving.handle.readSync(where.offset, image) !== image.length) {
      throw new RangeError("received snapshot file is too short"); // written whole above
    }
    let applied: number;
    try {
      applied = this.#machineIndex(image);
    } catch (error) {
      return `its machine image: ${error instanceof Error ? error.message : String(error)}`;
    }
    return applied === receiving.index ? null : `its machine image is at index ${applied}`;
  }

  #dropFinished(): void {
    if (this.#finished === null) return;
    discard(this.#fs, this.#finished);
    this.#finished = null;
  }
}

/** Why a received transfer must not be installed, or null. */
function refusal(receiving: Receiving): string | null {
  if (receiving.written !== receiving.byteLength || receiving.byteLength <= streamTrailerBytes) {
    return `${receiving.written} of ${receiving.byteLength} bytes`;
  }
  const expected = new DataView(receiving.trailer.buffer).getUint32(0, true);
  if (expected !== receiving.crc) return "its CRC does not match (damaged on the way)";
  return receiving.check.problem();
}

function discard(fs: FileSystem, file: { handle: FileHandle; path: string }): void {
  file.handle.close();
  fs.remove(file.path);
}
