/**
 * Raft's hard state of one log directory in memory (the last written, or recovered) and its
 * writes, one at a time (`storeHardState`), for `SegmentLog`.
 *
 * @module
 */
import type { DirectorySyncGate } from "./name_order.ts";
import type { FileSystem } from "./file_io.ts";
import { assertHardState, type HardState, loadHardState, storeHardState } from "./hard_state.ts";

/** The hard state of one log directory; see the module comment. */
export class HardStateWrites {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #syncDirectory: DirectorySyncGate;
  readonly #onFailure: (error: unknown) => unknown;
  #state: HardState;
  #writes: Promise<void> = Promise.resolve();

  /**
   * Reads the hard state of `dir`. Every write's directory fsync runs through `syncDirectory`;
   * `onFailure` hears of a write that failed and returns the error to reject it with.
   */
  constructor(
    fs: FileSystem,
    dir: string,
    syncDirectory: DirectorySyncGate,
    onFailure: (error: unknown) => unknown,
  ) {
    [this.#fs, this.#dir, this.#syncDirectory, this.#onFailure] = [
      fs,
      dir,
      syncDirectory,
      onFailure,
    ];
    this.#state = loadHardState(fs, dir);
  }

  /** The hard state last written (or recovered); a copy. */
  get state(): HardState {
    return { ...this.#state };
  }

  /** The current term (of the last write begun). */
  get term(): number {
    return this.#state.term;
  }

  /**
   * Writes `state` after every write begun before it. A state that breaks the rules throws and
   * changes nothing; a write that fails rejects with what `onFailure` returns.
   */
  write(state: HardState): Promise<void> {
    const copy = { term: state.term, vote: state.vote, commit: state.commit };
    assertHardState(copy);
    this.#state = copy;
    const store = () =>
      storeHardState(this.#fs, this.#dir, copy, this.#syncDirectory).catch((error) => {
        throw this.#onFailure(error);
      });
    const write = this.#writes.catch(() => {}).then(store);
    this.#writes = write;
    return write;
  }

  /** Resolves once every write begun has finished (or failed). */
  settled(): Promise<void> {
    return this.#writes.catch(() => {});
  }
}
