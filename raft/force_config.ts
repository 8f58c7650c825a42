/**
 * Disaster recovery when a majority of the voters is lost for good: the changes that leave one
 * surviving member as the group's sole voter (what `--force-new-cluster` appends).
 *
 * They are ordinary single-server `ConfigChange`s (promote itself if it is a learner, then remove
 * every other member), not a new kind of entry: everything that reads a log — the core's
 * `ConfigHistory` at start and on append, a follower's `acceptsFrom`, an application tracking the
 * membership with `applyConfigChange`, the configuration a snapshot records — already handles
 * them, so a forced configuration survives restarts and snapshots and is replicated to nodes that
 * join later with no code of its own. Appending several at once, uncommitted together, breaks
 * the one-change-at-a-time rule of §4.1, which exists so that two configurations in flight always
 * share a majority; it does not matter here because no other member of the old configuration
 * takes part any more (their disks are gone), and the node is the only voter of every
 * intermediate configuration that counts for it.
 *
 * The caller appends them at a term of its own, above every term in its log and hard state, with
 * its vote for itself, as the first entries of a term it leads alone: the core then starts with
 * the configuration `{voters: [self]}`, elects itself at once and commits them — and with them
 * every entry before them, acknowledged or not.
 *
 * @module
 */

import { InvalidRequestError } from "./errors.ts";
import { encodeConfigChange, members } from "./membership.ts";
import {
  type ConfigChange,
  type ConfigState,
  type Entry,
  EntryType,
  type HardState,
  type LogIndex,
  nextIndex,
  nextTerm,
  type NodeId,
  type Term,
} from "./types.ts";

/**
 * The changes, in order, that turn `config` into `{voters: [self], learners: []}`: promote
 * `self` when it is a learner, then remove every other voter and learner. Empty when `self` is
 * already the sole member. Throws `InvalidRequestError` when `self` is not a member at all (it
 * was removed, or never finished joining: its log is nobody's to recover).
 *
 * @example
 * ```ts
 * soleVoterChanges({ voters: [a, b, c], learners: [] }, a);
 * // [{ type: "remove", nodeId: b }, { type: "remove", nodeId: c }]
 * ```
 */
export function soleVoterChanges(config: ConfigState, self: NodeId): ConfigChange[] {
  if (!members(config).includes(self)) {
    throw new InvalidRequestError(
      `${self} is not a member of its configuration (voters ${listed(config.voters)}, ` +
        `learners ${listed(config.learners)})`,
    );
  }
  const changes: ConfigChange[] = [];
  if (config.learners.includes(self)) changes.push({ type: "promote", nodeId: self });
  for (const id of members(config)) {
    if (id !== self) changes.push({ type: "remove", nodeId: id });
  }
  return changes;
}

function listed(ids: readonly NodeId[]): string {
  return ids.length === 0 ? "none" : ids.join(", ");
}

/** Where a stopped node's stored log stands, as `soleVoterTakeover` needs it. */
export interface StoredLogEnd {
  self: NodeId;
  /** The configuration as of the log's last entry (committed or not). */
  config: ConfigState;
  hardState: HardState;
  lastIndex: LogIndex;
  lastTerm: Term;
}

/** What to write, in this order, to make a stopped node the sole voter of its group. */
export interface SoleVoterTakeover {
  /** Persist first, durably: a term above every term in the log, with the node's own vote. */
  hardState: HardState;
  /** Then append after the log's last entry (at the new term), and sync. */
  entries: Entry[];
  /** The members the configuration changes remove. */
  removed: NodeId[];
}

/**
 * What makes a stopped node the sole voter of its group (see the module comment): the hard state
 * of a new term it votes itself in, and the entries of that term — the application's `before`
 * items (stamped with `timestamp`), then the `soleVoterChanges`. Null when the node is already
 * the sole member (nothing to write). Throws `InvalidRequestError` when it is not a member.
 *
 * Written while the node is stopped, the hard state first: a crash before the entries leaves
 * only a higher term, and running the takeover again finishes it. Restarted, the node starts
 * with `{voters: [self]}`, elects itself and commits the whole log.
 *
 * @example
 * ```ts
 * const takeover = soleVoterTakeover({ self, config, hardState, lastIndex, lastTerm }, {});
 * if (takeover !== null) {
 *   storage.setHardState(takeover.hardState);
 *   storage.append(takeover.entries);
 * }
 * ```
 */
export function soleVoterTakeover(
  end: StoredLogEnd,
  options: { before?: { type: number; data: Uint8Array }[]; timestamp?: number },
): SoleVoterTakeover | null {
  const changes = soleVoterChanges(end.config, end.self);
  if (changes.length === 0) return null;
  const term = nextTerm(Math.max(end.hardState.term, end.lastTerm) as Term);
  let index = end.lastIndex;
  const items = [
    ...(options.before ?? []),
    ...changes.map((change) => ({
      type: EntryType.ConfigChange,
      data: encodeConfigChange(change),
    })),
  ];
  const entries = items.map((item): Entry => {
    index = nextIndex(index);
    const entry: Entry = { term, index, type: item.type, data: item.data };
    if (options.timestamp !== undefined) entry.timestamp = options.timestamp;
    return entry;
  });
  return {
    hardState: { term, vote: end.self, commit: end.hardState.commit },
    entries,
    removed: changes.filter((change) => change.type === "remove").map((change) => change.nodeId),
  };
}
