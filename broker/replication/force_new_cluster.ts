/**
 * `--force-new-cluster`: the way out when a majority of the voters is lost for good (their disks
 * are gone), so the survivors can never elect a leader. Run on one survivor, at open, before its
 * Raft node starts: it makes that node the sole voter of the group, durably, through its log.
 *
 * The design (see `raft/force_config.ts`): the node takes a new term above every term it stored,
 * votes for itself in it (the hard state, written first), and appends, at that term, entries
 * that forget every other member's recorded addresses (the caller's application commands) and
 * the configuration changes that remove every other member. Nothing new is needed to read them:
 * the Raft core derives `{voters: [self]}` from the log at start, elects itself at once and
 * commits them with the normal single-voter path — and with them every entry before them, also
 * the ones past the old commit index (which may or may not have been acknowledged to a client).
 * A restart without the flag reads the same configuration from the log; snapshots record it.
 *
 * An old member that comes back is not a member any more: the survivor never sends it anything,
 * and ignores its campaigns while it leads or follows a live leader (check-quorum lease). It must
 * not come back with its old data anyway: in an election of the regrown group, one whose log ends
 * in a later term could win the survivor's vote (a majority of the old configuration), and two
 * old members together are such a majority without it. Wipe them, then grow the group with
 * `--join` (under new ids: README, "Losing a majority").
 *
 * Running it again on a node that already is the sole member writes nothing.
 *
 * @module
 */
import { type LogEntry, type SegmentLog } from "../../storage/mod.ts";
import {
  applyConfigChange,
  type ConfigState,
  decodeConfigChange,
  EntryType,
  InvalidRequestError,
  type LogIndex,
  members,
  type NodeId,
  nodeId,
  soleVoterTakeover,
  type Term,
} from "../../raft/mod.ts";
import { toLogEntry } from "./log_storage.ts";
import type { ClockLike } from "./types.ts";

/** What `RaftReplica.open` needs to force the configuration (`RaftReplicaOptions`). */
export interface ForceNewClusterOptions {
  /**
   * The application's entries that forget the recorded addresses of `removed` (and of any other
   * member recorded), written in the same append as the configuration changes, before them.
   */
  recordRemovals(removed: string[]): { type: number; payload: Uint8Array }[];
  /** Where the outcome is said: the WARNING naming what was removed, or that nothing was to do. */
  report(message: string): void;
}

/** The node can't be forced: nothing was written. `main.ts` exits 2 with the message. */
export class ForceNewClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForceNewClusterError";
  }
}

/**
 * Makes the node the sole voter of its group by writing to its stopped log (see the module
 * comment). `config` is the membership as of `configIndex` (the replayed commit index); the
 * entries after it are read for the configuration the log ends with. `damaged` says the node
 * distrusted its log: forcing trusts what is left (there is nothing else), and says so.
 */
export async function forceNewCluster(
  log: SegmentLog,
  options: {
    nodeId: string;
    config: ConfigState;
    configIndex: number;
    clock: ClockLike;
    /** The forced entries' time stamp is at least this (the snapshot point's time). */
    after?: number;
    damaged: boolean;
    force: ForceNewClusterOptions;
  },
): Promise<void> {
  const self = nodeId(options.nodeId);
  if (log.lastIndex === 0) {
    throw new ForceNewClusterError(
      `--force-new-cluster: the log of node '${self}' holds no entries, so there is nothing to ` +
        "recover: start it on the data directory of a surviving member (or, for a new node, " +
        "use --join)",
    );
  }
  const config = configAtEnd(log, options.config, options.configIndex);
  const removed = members(config).filter((id) => id !== self);
  const hardState = log.readHardState();
  let takeover;
  try {
    takeover = soleVoterTakeover({
      self,
      config,
      hardState: {
        term: hardState.term as Term,
        vote: hardState.vote as NodeId | null,
        commit: hardState.commit as LogIndex,
      },
      lastIndex: log.lastIndex as LogIndex,
      lastTerm: log.lastTerm as Term,
    }, {
      before: options.force.recordRemovals(removed).map((item) => ({
        type: item.type,
        data: item.payload,
      })),
      timestamp: Math.max(
        log.lastTimestamp ?? 0,
        options.after ?? 0,
        Math.floor(options.clock.now()),
      ),
    });
  } catch (error) {
    if (!(error instanceof InvalidRequestError)) throw error;
    throw new ForceNewClusterError(
      `--force-new-cluster: node '${self}' is not a member of the configuration in its log ` +
        `(voters ${config.voters.join(", ") || "none"}, learners ` +
        `${config.learners.join(", ") || "none"}): it was removed, or never finished joining, ` +
        "so its data is not the group's; start the flag on a surviving member's data directory",
    );
  }
  if (takeover === null) {
    options.force.report(
      `--force-new-cluster: already the sole voter of its group (term ${hardState.term}, log ` +
        `to ${log.lastIndex}); nothing to change. Start it without the flag from now on.`,
    );
    return;
  }
  await log.writeHardState(takeover.hardState);
  log.append(takeover.entries.map(toLogEntry));
  await log.sync();
  if (options.damaged) await log.clearDamage();
  const term = takeover.hardState.term;
  options.force.report(
    `WARNING: --force-new-cluster: this node is now the SOLE VOTER of its group; removed ` +
      `${removed.map((id) => `'${id}'`).join(", ")} from the membership (term ${term}, log ` +
      `entries ${takeover.entries[0].index}..${takeover.entries.at(-1)!.index}). Every entry ` +
      `of its log (to ${hardState.commit} committed before, to ${takeover.entries[0].index - 1} ` +
      `now) is kept and committed.` +
      (options.damaged ? " Its log was DAMAGED (see above): what is left of it is kept." : "") +
      " Wipe the removed nodes' data before starting them again (add them back with --join on " +
      "empty data directories), and start this node without the flag from now on.",
  );
}

/** The membership as of the log's last entry: `config` at `index` plus the changes after it. */
function configAtEnd(log: SegmentLog, config: ConfigState, index: number): ConfigState {
  let current = config;
  if (index >= log.lastIndex) return current;
  log.entries(index + 1, log.lastIndex + 1, Infinity, {
    map: false,
    visit: (entry: LogEntry) => {
      if (entry.type !== EntryType.ConfigChange) return;
      current = applyConfigChange(current, decodeConfigChange(entry.payload));
    },
  });
  return current;
}
