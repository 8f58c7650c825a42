/**
 * Dial hints: the member addresses a node's log records past the commit index on its disk.
 *
 * A member's peer address is replicated state (`SetMember`), applied like any other entry: at a
 * restart, only up to the commit index the node wrote last, which it writes every few seconds
 * and at a clean stop (`replication/log_writer.ts`). A cluster killed at once soon after a join
 * held the joined node's address only past that index: every initial voter dialled its
 * `--peers` alone, and the joined node (no `--peers`) dialled nobody, so a majority that
 * included it never elected the leader that would have committed those entries again.
 *
 * So a node reads those entries at open (recovery reads the whole log once anyway) and dials the
 * addresses they record, as hints only: nothing of them is applied (no snapshot, answer or
 * `GET /v1/cluster` shows them) before they commit. Dialling is harmless: a peer proves its id
 * and cluster with the cluster key before anything goes over the link. An entry replaced rather
 * than committed leaves its address dialled only for a while: once this node has applied as far
 * as the last hinted entry, each hinted node is dialled as the applied records (or `--peers`)
 * say, or no longer. A snapshot installed from the leader does so for the hints at or below its
 * index at once.
 *
 * @module
 */
import type { LogEntry } from "../../storage/mod.ts";
import { applySetMember, BrokerError, CommandType, type MemberAddress } from "../engine/mod.ts";

/**
 * The member records past the replay, and when they stop being hints.
 *
 * @example
 * ```ts
 * const hints = new DialHints();
 * const replica = await RaftReplica.open({ ...options, onUnapplied: hints.read, onApplied: hints.applied });
 * hints.onSettled((ids) => ids.forEach(redialFromAppliedRecords));
 * ```
 */
export class DialHints {
  /** Each member's last record past the replay (one forgotten there is not in it). */
  readonly #records = new Map<string, MemberAddress>();
  /** Every id a record past the replay names, with the index of its last such record. */
  readonly #ids = new Map<string, number>();
  /** The index of the last record past the replay; 0 when there is none (or once settled). */
  #upTo = 0;
  #settle: ((ids: string[]) => void) | null = null;

  /** For `RaftReplica`'s `onUnapplied`: notes a member record (others are skipped). */
  readonly read = (entry: LogEntry): void => {
    if (entry.type !== CommandType.SetMember) return;
    let change: ReturnType<typeof applySetMember>;
    try {
      change = applySetMember(this.#records, entry.payload);
    } catch {
      return; // not JSON: the machine refuses it too, if it ever applies it
    }
    if (change instanceof BrokerError) return; // malformed: it changed nothing
    this.#ids.set(change.id, entry.index);
    this.#upTo = entry.index;
  };

  /** For `RaftReplica`'s `onApplied`: settles the hints once the last one is applied. */
  readonly applied = (entry: { index: number }): void => {
    if (this.#upTo === 0 || entry.index < this.#upTo) return;
    this.#upTo = 0;
    const ids = [...this.#ids.keys()];
    this.#records.clear();
    this.#ids.clear();
    this.#settle?.(ids);
  };

  /**
   * For `RaftReplica`'s `onSnapshotInstalled`: a snapshot its leader sent replaced the machine's
   * records up to its index, and no entry at or below it is ever applied here: the hints there
   * settle now (an idle group may apply nothing else for long), those past it stay.
   */
  readonly snapshotLoaded = (snapshot: { index: number }): void => {
    if (this.#upTo === 0) return;
    if (snapshot.index >= this.#upTo) return this.applied(snapshot);
    const ids = [...this.#ids].filter(([, index]) => index <= snapshot.index).map(([id]) => id);
    if (ids.length === 0) return;
    for (const id of ids) {
      this.#records.delete(id);
      this.#ids.delete(id);
    }
    this.#settle?.(ids);
  };

  /** The addresses to dial until settled (none after). */
  members(): MemberAddress[] {
    return [...this.#records.values()];
  }

  /**
   * `settle` is called with every id a hint named once this node has applied as far as the last
   * one (or in parts: those a snapshot installed covers first): the applied records say where to
   * dial them from then on. Each id is settled once.
   */
  onSettled(settle: (ids: string[]) => void): void {
    this.#settle = settle;
  }
}
