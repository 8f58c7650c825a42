/**
 * Raft's hard state of one log directory in memory (the last written, or recovered) and its
 * writes, one at a time (`storeHardState`), for `SegmentLog`.
 *
 * @module
 */
import type { LogDirectoryFiles } from "./name_order.ts";
import { assertHardState, type HardState, loadHardState, storeHardState } from "./hard_state.ts";

/** The hard state of one log directory; see the module comment. */
export class HardStateWrites {
  readonly #files: LogDirectoryFiles;
  #state: HardState;
  #writes: Promise<void> = Promise.resolve();

  /** Reads the hard state of `files.dir`; its writes go as `files` says. */
  constructor(files: LogDirectoryFiles) {
    this.#files = files;
    this.#state = loadHardState(files.fs, files.dir);
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
    const { fs, dir, syncDirectory, onFailure } = this.#files;
    const store = () =>
      storeHardState(fs, dir, copy, syncDirectory).catch((error) => {
        throw onFailure(error);
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
