/**
 * What a Raft replica does when it opens: find the newest valid snapshot, make the log agree
 * with it, decide whether the log can be trusted, and replay the committed entries.
 *
 * ## Protocol-aware recovery (why a node may refuse to vote)
 *
 * Storage cuts the log at the first bad record. A torn tail of entries that were never synced is
 * harmless: nobody counted them. But damage at or below the persisted commit index (or below
 * the snapshot) removes entries this node acknowledged and that a majority relied on. If the
 * node went on as if they never existed, it could vote for a candidate that lacks them, and an
 * acknowledged write would vanish although only one disk failed. So such a node *distrusts* its
 * log: it neither campaigns nor grants votes (`RaftNode.setCanCampaign(false)`), follows the
 * leader, which re-replicates the missing range, and trusts itself again once
 *
 * - its commit index reached `repairTarget` (the old commit index, and the snapshot index), and
 * - the entry at its commit index has the current leader's term. A leader commits an entry of
 *   its own term only after every entry committed in earlier terms, and those sit at lower
 *   indexes; so the repaired log then holds every entry any majority ever counted on, including
 *   entries above the old commit index that this node had acknowledged before the damage.
 *
 * While distrusting, the replica persists `max(commit, repairTarget)` as the commit of its hard
 * state, so a crash before the repair finishes is detected again at the next open (the log then
 * ends below the persisted commit, which is the same evidence as a cut).
 *
 * Damage only to entries above the persisted commit that this node had acknowledged is not
 * detected here (storage cannot tell it from a torn tail); see the report of the replica.
 *
 * @module
 */
import {
  type FileSystem,
  type LogEntry,
  readSnapshotFile,
  type SegmentLog,
} from "../storage/mod.ts";
import {
  applyConfigChange,
  type ConfigState,
  decodeConfigChange,
  EntryType,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  type RaftNode,
  type Term,
} from "../raft/mod.ts";
import { StateMachine } from "./state_machine.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  listSnapshots,
  loadNewestSnapshot,
  pruneSnapshots,
  type SnapshotContainer,
  snapshotFileName,
  storeSnapshot,
} from "./raft_snapshot.ts";
import type { SnapshotMeta } from "./raft_log_storage.ts";

/** What `recoverReplica` found and did. */
export interface RecoveredState {
  snapshot: SnapshotMeta;
  /** Membership as of the machine's applied index. */
  config: ConfigState;
  /** Null when the log is trusted; else the index the log must reach first. */
  repairTarget: number | null;
  /** Timestamp of the last entry in the log (0 for an empty log). */
  tailTimestamp: number;
}

/** Inputs of `recoverReplica`. */
export interface RecoveryOptions {
  log: SegmentLog;
  machine: StateMachine;
  fs: FileSystem;
  snapshotsDir: string;
  /** The bootstrap membership, used when no snapshot exists yet. */
  initialVoters: string[];
  warn: (message: string) => void;
}

/**
 * Loads the newest snapshot into `machine` (in place), repairs the log's start against it,
 * replays committed entries and decides whether the log is trusted.
 */
export async function recoverReplica(options: RecoveryOptions): Promise<RecoveredState> {
  const { log, fs, snapshotsDir, warn } = options;
  fs.mkdirp(snapshotsDir);
  let snapshot = loadNewestSnapshot(fs, {
    dir: snapshotsDir,
    onSkip: (index) => warn(`snapshot ${index} is damaged; trying an older one`),
  });
  snapshot ??= await loadBootstrap(options);
  const hardState = log.readHardState();
  const protectedIndex = Math.max(hardState.commit, snapshot.index);
  let repairTarget = damageTarget(log, protectedIndex, warn);
  if (!(await alignLog(log, snapshot))) {
    warn(
      `log entries ${snapshot.lowestReferencedIndex}..${snapshot.index} needed by snapshot ` +
        `${snapshot.index} are gone; starting over from the bootstrap state`,
    );
    repairTarget = Math.max(repairTarget ?? 0, protectedIndex);
    snapshot = await loadBootstrap(options);
    await log.resetTo(0, 0);
    pruneSnapshots(fs, { dir: snapshotsDir, keepIndex: 0 });
  }
  options.machine.loadSnapshot(snapshot.machine);
  let config = snapshot.config;
  const replayTo = Math.min(Math.max(hardState.commit, snapshot.index), log.lastIndex);
  config = replay(log, { machine: options.machine, config, replayTo });
  if (repairTarget === null && hardState.commit > log.lastIndex) {
    // A previous run was repairing (or the log lost synced entries without a visible cut).
    repairTarget = hardState.commit;
  }
  if (repairTarget !== null) {
    warn(
      `log distrusted: it must reach index ${repairTarget} (now ${log.lastIndex}) before this ` +
        "node may vote or campaign again",
    );
  }
  return {
    snapshot: {
      index: snapshot.index,
      term: snapshot.term,
      config: snapshot.config,
      lowestReferencedIndex: snapshot.lowestReferencedIndex,
    },
    config,
    repairTarget,
    tailTimestamp: log.lastIndex >= log.firstIndex ? log.entry(log.lastIndex).timestamp : 0,
  };
}

function damageTarget(
  log: SegmentLog,
  protectedIndex: number,
  warn: (message: string) => void,
): number | null {
  const { corruptAt } = log.recovery;
  if (corruptAt === undefined) return null;
  // The log now ends just before the first bad record.
  const damagedIndex = corruptAt.index ?? log.lastIndex + 1;
  if (damagedIndex > protectedIndex) return null; // a torn tail of unsynced entries
  warn(
    `LOG DAMAGED below the commit index: ${corruptAt.reason} at entry ${damagedIndex} ` +
      `(${corruptAt.file}@${corruptAt.offset}), persisted commit ${protectedIndex}`,
  );
  return protectedIndex;
}

/**
 * Makes the log hold what the snapshot needs: its referenced entries and its last entry.
 * Rewrites them from the container when it carries them. False when they are lost.
 */
async function alignLog(log: SegmentLog, snapshot: SnapshotContainer): Promise<boolean> {
  const needFrom = Math.min(snapshot.lowestReferencedIndex, snapshot.index + 1);
  if (holds(log, snapshot, needFrom)) return true;
  const entries = snapshot.entries;
  if (entries.length > 0) {
    await log.resetTo(entries[0].index - 1, entries[0].term);
    log.append(entries);
    await log.sync();
    return true;
  }
  if (needFrom > snapshot.index) {
    await log.resetTo(snapshot.index, snapshot.term);
    return true;
  }
  return false;
}

function holds(log: SegmentLog, snapshot: SnapshotContainer, needFrom: number): boolean {
  if (log.lastIndex < snapshot.index || log.firstIndex > needFrom) return false;
  if (snapshot.index === 0) return true;
  try {
    return log.term(snapshot.index) === snapshot.term;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

function replay(
  log: SegmentLog,
  options: { machine: StateMachine; config: ConfigState; replayTo: number },
): ConfigState {
  let config = options.config;
  const pageBytes = 8 * 1024 * 1024;
  for (let from = options.machine.appliedIndex + 1; from <= options.replayTo;) {
    const page: LogEntry[] = log.entries(from, options.replayTo + 1, pageBytes);
    for (const entry of page) {
      if (entry.type === EntryType.ConfigChange) {
        config = applyConfigChange(config, decodeConfigChange(entry.payload));
      }
      options.machine.apply(entry);
    }
    from = page.at(-1)!.index + 1;
  }
  return config;
}

/** The index-0 snapshot: the bootstrap membership and an empty machine (written once). */
async function loadBootstrap(options: RecoveryOptions): Promise<SnapshotContainer> {
  const { fs, snapshotsDir } = options;
  const bytes = readSnapshotFile(fs, snapshotsDir, snapshotFileName(0));
  if (bytes !== null) return decodeSnapshotContainer(bytes);
  if (listSnapshots(fs, snapshotsDir).length > 0) {
    options.warn("bootstrap snapshot missing; rebuilding it from the initial voters");
  }
  const container: SnapshotContainer = {
    index: 0,
    term: 0,
    config: { voters: options.initialVoters.map(String) as ConfigState["voters"], learners: [] },
    lowestReferencedIndex: 1,
    machine: new StateMachine().snapshot(),
    entries: [],
  };
  await storeSnapshot(fs, {
    dir: snapshotsDir,
    index: 0,
    data: encodeSnapshotContainer(container),
  });
  return container;
}

/** Marks the append rejection a repairing follower sends (see `repairView`). */
const repairContext = "lost-acknowledged-entries";

/** What `repairView` needs of the replica. */
export interface RepairViewContext {
  id: NodeId;
  raft: RaftNode;
  /** The last index durable in this node's log. */
  durableLastIndex: number;
  /** This node distrusts its log (it is being repaired). */
  repairing: boolean;
  leading: boolean;
  send: (message: Message) => void;
  warn: (message: string) => void;
}

/**
 * Adjusts an incoming message for two consequences of a node losing entries it had
 * acknowledged, which the Raft core, like etcd's, assumes never happens:
 *
 * - Follower: the leader still believes our old match and sends heartbeats with a commit index
 *   beyond our log. Clamp it to our durable last index. Safe: within the leader's term our log
 *   only changed by its own appends or by the cut, which keeps a prefix it had matched. While
 *   repairing, also answer with a marked append rejection naming our real last index, since a
 *   leader that thinks we are caught up sends no appends that we could reject.
 * - Leader: such a rejection says the follower's log ends below the match we track for it. The
 *   core lowers a match only when a probe at that match is rejected (`Progress.maybeDecrTo`);
 *   a replicating follower's rejection at or below its match looks stale to it, and an idle
 *   leader sends no appends that could be rejected. Hand leadership to another voter: a new
 *   leader probes every follower from scratch and repairs it.
 */
export function repairView(message: Message, context: RepairViewContext): Message {
  const last = context.durableLastIndex;
  if (message.type === MessageType.Heartbeat && message.commit > last) {
    if (context.repairing) {
      context.send({
        ...message,
        type: MessageType.AppResp,
        from: context.id,
        to: message.from,
        term: context.raft.status().term,
        index: message.commit,
        reject: true,
        rejectHint: last as LogIndex,
        logTerm: 0 as Term,
        entries: [],
        context: repairContext,
      });
    }
    return { ...message, commit: last as LogIndex };
  }
  // Only a repairing follower's replica sends this mark; the core's own rejections are not
  // evidence (a reordered stale rejection looks the same).
  if (message.type !== MessageType.AppResp || message.context !== repairContext) return message;
  if (!message.reject || !context.leading) return message;
  const status = context.raft.status();
  // Only a rejection of this leader's own term speaks about the log it matched.
  if (message.term !== status.term) return message;
  const match = status.progress[message.from]?.match ?? 0;
  if (message.rejectHint >= match || message.index < match) return message;
  const successor = status.config.voters
    .filter((id) => id !== context.id && id !== message.from)
    .sort((left, right) =>
      (status.progress[right]?.match ?? 0) - (status.progress[left]?.match ?? 0)
    )[0];
  if (successor !== undefined && status.leadTransferee === null) {
    context.warn(
      `${message.from} lost entries it acknowledged (its log ends at ${message.rejectHint}, ` +
        `match was ${match}); handing leadership to ${successor} so it is re-probed`,
    );
    context.raft.transferLeadership(successor);
  }
  return message;
}
