/**
 * Snapshots taken beside the Ready loop. Serializing the machine has to happen at one point of
 * the log, so it runs in the loop; writing the file (temp file, fsyncs, rename: milliseconds)
 * does not: it runs in the background while the loop goes on appending and applying, and the
 * stored snapshot is adopted (Raft's compaction point moves, old segments go) at the next point
 * where no Ready is outstanding. Under load, the write used to stall every proposal behind it.
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
 * if (due && !writer.busy) writer.start(config);
 * if (writer.stored) writer.adopt(); // between Readys
 * ```
 */
export class SnapshotWriter {
  readonly #parts: () => SnapshotParts;
  readonly #hooks: SnapshotWriterHooks;
  #writing: Promise<void> | null = null;
  #stored: PreparedSnapshot | null = null;
  #compacting: Promise<void> = Promise.resolve();

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

  /** Serializes the machine now and writes the file in the background. */
  start(config: ConfigState): void {
    const parts = this.#parts();
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
