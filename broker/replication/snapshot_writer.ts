/**
 * Snapshots taken beside the Ready loop. Serializing the machine has to happen at one point of
 * the log, so it runs in the loop; writing the file (temp file, fsyncs, rename: milliseconds)
 * does not: it runs in the background while the loop goes on appending and applying, and the
 * stored snapshot is adopted (Raft's compaction point moves, old segments go) at the next point
 * where no Ready is outstanding. Under load, the write used to stall every proposal behind it.
 *
 * A snapshot is due after so many entries or so many payload bytes applied since the last one,
 * whichever comes first: the entry count bounds the replay's work per entry, the bytes bound what
 * a restart reads back and checks (with big batches, 10,000 entries were gigabytes).
 *
 * @module
 */
import type { ConfigState } from "../../raft/mod.ts";
import {
  adoptSnapshot,
  type PreparedSnapshot,
  prepareSnapshot,
  type SnapshotParts,
  storePreparedSnapshot,
} from "./snapshot_io.ts";

/** What the writer tells its replica. */
export interface SnapshotWriterHooks {
  /** A snapshot was stored and waits for `adopt()` (kick the loop). */
  onStored(): void;
  /** Writing or compacting failed: the replica stops. */
  onError(error: unknown): void;
}

/**
 * At most one snapshot in flight; `adopt` where no Ready is outstanding.
 *
 * @example
 * ```ts
 * const writer = new SnapshotWriter(parts, { onStored: () => kick(), onError: fail });
 * writer.applied(entry.data.length); // for each applied entry
 * writer.startIfDue(config, { entries: 10_000, bytes: 256 * 1024 * 1024 });
 * if (writer.stored) writer.adopt(); // between Readys
 * ```
 */
export class SnapshotWriter {
  readonly #parts: () => SnapshotParts;
  readonly #hooks: SnapshotWriterHooks;
  #writing: Promise<void> | null = null;
  #stored: PreparedSnapshot | null = null;
  #compacting: Promise<void> = Promise.resolve();
  /** Payload bytes applied since the point of the last snapshot (started or recovered from). */
  #bytesSince = 0;

  constructor(parts: () => SnapshotParts, hooks: SnapshotWriterHooks) {
    this.#parts = parts;
    this.#hooks = hooks;
  }

  /** A snapshot is being written or waits to be adopted. */
  get busy(): boolean {
    return this.#writing !== null || this.#stored !== null;
  }

  /** A stored snapshot waits for `adopt()`. */
  get stored(): boolean {
    return this.#stored !== null;
  }

  /** Payload bytes applied past the last snapshot's point (recovery's replay, then each apply). */
  applied(bytes: number): void {
    this.#bytesSince += bytes;
  }

  /** Starts a snapshot when one is due (see the module comment) and none is in flight. */
  startIfDue(config: ConfigState, due: { entries: number; bytes: number }): void {
    if (this.busy) return;
    const { machine, storage } = this.#parts();
    const entriesSince = machine.appliedIndex - storage.snapshotMeta.index;
    if (entriesSince >= due.entries || (entriesSince > 0 && this.#bytesSince >= due.bytes)) {
      this.start(config);
    }
  }

  /** Serializes the machine now and writes the file in the background. */
  start(config: ConfigState): void {
    const parts = this.#parts();
    this.#bytesSince = 0;
    const prepared = prepareSnapshot(parts, config);
    this.#writing = storePreparedSnapshot(parts, prepared).then(
      () => {
        this.#writing = null;
        this.#stored = prepared;
        this.#hooks.onStored();
      },
      (error) => {
        this.#writing = null;
        this.#hooks.onError(error);
      },
    );
  }

  /** Adopts the stored snapshot (see `adoptSnapshot`); its segment removal ends in background. */
  adopt(): void {
    const prepared = this.#stored;
    if (prepared === null) return;
    this.#stored = null;
    const removal = adoptSnapshot(this.#parts(), prepared);
    // Heard in order, after the removal before it; failing sooner, it is not left unhandled.
    removal.catch(() => {});
    this.#compacting = this.#compacting.then(() => removal).catch((error) =>
      this.#hooks.onError(error)
    );
  }

  /** Resolves once nothing is being written (close waits for it). */
  async settled(): Promise<void> {
    await this.#writing;
    await this.#compacting;
  }
}
