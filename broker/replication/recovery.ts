/**
 * What a Raft replica does when it opens: find the newest valid snapshot, make the log agree
 * with it, decide whether the log can be trusted, and replay the committed entries.
 *
 * ## Protocol-aware recovery (why a node may refuse to vote)
 *
 * Storage cuts the log at the first bad record and, before cutting, records the damage durably
 * (`SegmentLog.damage`: what was cut, whether it looked like an interrupted write, and the term
 * the node was in). A torn tail of entries that were never synced is harmless: nobody counted
 * them. Anything else may have removed entries this node acknowledged and a majority relied on.
 * If the node went on as if they never existed, it could vote for a candidate that lacks them,
 * and an acknowledged write would vanish although only one disk failed (the failure Jepsen found
 * in NATS JetStream in 2025). So the node *distrusts* its log when
 *
 * - the cut was not a torn tail (a record that fails its CRC with complete data around it, a gap
 *   between segments) — even above the persisted commit index, which is written lazily and says
 *   nothing about what the node acknowledged since;
 * - or a torn-looking cut reaches at or below the persisted commit index or the snapshot (but
 *   not where the snapshot still embeds the torn entries, in the log reset to take them: an
 *   install cut short, see `damage_trust.ts`);
 * - or the log ends below the persisted commit index without a visible cut;
 * - or entries the newest snapshot needs are gone;
 * - or the log directory, with the term and vote, is gone while a snapshot past 0 survived
 *   (`lost_log.ts`; the term of the repair is then learned from the first leader).
 *
 * A distrusting node neither campaigns nor grants votes (`RaftNode.setCanCampaign(false)`). It
 * follows the leader and keeps acknowledging appends (what it acknowledges now is really on its
 * disk), so a cluster with one damaged node stays available. The Raft core re-replicates the
 * missing range: the leader's heartbeat names a commit index beyond the follower's log, the
 * follower answers with a `LOST_ENTRIES` rejection, and the leader lowers its match and probes
 * (see `raft/step_follower.ts`). The node trusts itself again (`repairProgress`) once
 *
 * 1. the current leader's term is newer than the term recorded with the damage. Every entry the
 *    node acknowledged before the damage has a term at or below that one. The leader of a newer
 *    term was elected by a majority without this node's vote, and with one damaged disk that
 *    majority intersects every quorum that counted an acknowledgement of ours in the remaining,
 *    intact nodes — so that leader holds every entry committed before its term;
 * 2. its commit index has an entry of that leader's term: a leader commits an entry of its own
 *    term only after every entry of earlier terms, which sit at lower indexes, so the node's log
 *    now matches the leader's through all of them (and its commit reached the old commit index).
 *
 * When the node is caught up but no new term came (the same leader still leads), it asks the
 * leader for one (`RaftNode.requestNewTerm`): the leader hands leadership to another voter. With
 * no other voter alive the node stays distrusting (and keeps acknowledging) until one returns.
 * The damage record stays on disk until the node trusts itself again, so a crash meanwhile
 * cannot make it forget; nor can the torn tail such a crash may leave in what the node appended
 * since (above the commit it persisted since, harmless on its own): of two torn cuts the record
 * keeps the lower (`mergeDamage`), and the node is judged by it.
 *
 * Undetectable: a flipped bit in the length field of the very last record that makes it reach
 * past the end of the file reads exactly like a torn write (see `storage/recovery.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CorruptLogError,
  type FileSystem,
  type LogEntry,
  makeDurableDir,
  readSnapshotFile,
  type SegmentLog,
} from "../../storage/mod.ts";
import {
  applyConfigChange,
  type ConfigState,
  decodeConfigChange,
  EntryType,
  type RaftNode,
} from "../../raft/mod.ts";

type Warn = (message: string) => void;
import type { Applier, ClockLike } from "./types.ts";
import { forceNewCluster, type ForceNewClusterOptions } from "./force_new_cluster.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  listSnapshots,
  loadNewestSnapshot,
  pruneSnapshots,
  removeSnapshotLeftovers,
  type SnapshotContainer,
  snapshotFileName,
  storeSnapshot,
} from "./snapshot_container.ts";
import type { SnapshotMeta } from "./log_storage.ts";
import { findLostLog, lostLogFile, recordLostLog } from "./lost_log.ts";
import { distrustsDamage } from "./damage_trust.ts";

/** What `recoverReplica` found and did. */
export interface RecoveredState {
  snapshot: SnapshotMeta;
  /** Membership as of the machine's applied index. */
  config: ConfigState;
  /** Null when the log is trusted; else what the repair must reach (see `repairProgress`). */
  repair: RepairGoal | null;
  /** The log is empty: the node may be new or may have lost its disk (see `lost_state.ts`). */
  fresh: boolean;
  /**
   * Timestamp of the last entry in the log, or of the snapshot point when the log holds none
   * past it (0 for a new group: no time).
   */
  tailTimestamp: number;
  /** Payload bytes of the entries replayed past the snapshot (a restart reads them again). */
  replayedBytes: number;
}

/** Inputs of `recoverReplica`. */
export interface RecoveryOptions {
  log: SegmentLog;
  /** A fresh applier (nothing applied): recovery loads it and replays into it. */
  machine: Applier;
  fs: FileSystem;
  snapshotsDir: string;
  /** The bootstrap membership, used when no snapshot exists yet. */
  initialVoters: string[];
  warn: (message: string) => void;
  nodeId: string;
  clock: ClockLike;
  /** Make this node the sole voter first (`force_new_cluster.ts`); absent = no. */
  forceNewCluster?: ForceNewClusterOptions;
  /** The node joins a running group: an empty log is not `fresh`. */
  joining?: boolean;
  /**
   * Sees each entry past the replay, read (and checked) at open but not applied: what it learns
   * from one (a member's address to dial) must not be taken as applied state, since an entry
   * past the commit index this node knows may still be replaced. Its payload is a view of the
   * read buffer: copy what is kept.
   */
  onUnapplied?: (entry: LogEntry) => void;
}

/**
 * Loads the newest snapshot into `machine` (in place), repairs the log's start against it,
 * replays committed entries and decides whether the log is trusted.
 */
export async function recoverReplica(options: RecoveryOptions): Promise<RecoveredState> {
  const { log, fs, snapshotsDir, warn } = options;
  assert.equal(options.machine.appliedIndex, 0, "recovery starts from a fresh applier");
  const emptyMachine = options.machine.snapshot();
  makeDurableDir(fs, snapshotsDir);
  removeSnapshotLeftovers(fs, snapshotsDir);
  // A snapshot a previous process renamed into place is durable only once its directory is
  // synced, and that sync may have failed (the process then exited) or never run (killed): the
  // page cache still shows the name. Sync before trusting it, since aligning the log to it may
  // durably drop the log's prefix; else a power cut takes the snapshot and leaves no prefix.
  await fs.syncDir(snapshotsDir);
  let snapshot = loadNewestSnapshot(fs, {
    dir: snapshotsDir,
    onSkip: (index) => warn(`snapshot ${index} is damaged; trying an older one`),
  });
  snapshot ??= await loadBootstrap(options, emptyMachine);
  const { nodeId } = options;
  const lostLog = await findLostLog(log, { snapshot, nodeId, warn }); // raises the hard state
  const hardState = log.readHardState();
  const protectedIndex = Math.max(hardState.commit, snapshot.index);
  let distrust = distrustsDamage(log, { protectedIndex, snapshot }, warn);
  let config: ConfigState;
  let snapshotTime = 0;
  // Twice at most: a cut during the replay that reaches below the snapshot (damage under a
  // trusted index, unread until now) is answered by aligning again, which rewrites the entries
  // from the snapshot or starts over from the bootstrap state.
  for (;;) {
    const aligned = await alignOrStartOver(options, { snapshot, emptyMachine });
    snapshot = aligned.snapshot;
    distrust ||= aligned.startedOver;
    options.machine.loadSnapshot(snapshot.machine);
    snapshotTime = options.machine.lastTimestamp ?? 0; // the log may hold no entry there
    const replayTo = Math.min(Math.max(hardState.commit, snapshot.index), log.lastIndex);
    const replayed = await replayOrCut(log, {
      machine: options.machine,
      config: snapshot.config,
      replayTo,
      warn,
      onUnapplied: options.onUnapplied,
    });
    config = replayed.config;
    distrust ||= replayed.cut;
    if (log.lastIndex >= snapshot.index) break;
  }
  log.releaseMappings();
  if (!distrust && hardState.commit > log.lastIndex) {
    // Synced entries vanished without a visible cut (a lost segment file, say).
    const reason = `log ends at ${log.lastIndex}, below the persisted commit ${hardState.commit}`;
    warn(`LOG DAMAGED: ${reason}`);
    await log.noteDamage({ index: log.lastIndex + 1, file: "hard_state", offset: 0, reason }, {
      torn: false,
    });
    distrust = true;
  }
  if (lostLog !== null && await recordLostLog(log, lostLog, { damaged: distrust, warn })) {
    distrust = true;
  }
  if (options.forceNewCluster !== undefined) {
    const { clock } = options;
    const replayedTo = options.machine.appliedIndex;
    const force = options.forceNewCluster;
    await forceNewCluster(log, {
      nodeId,
      config,
      configIndex: replayedTo,
      clock,
      after: snapshotTime,
      damaged: distrust,
      force,
    });
    distrust = false; // forced: what is left is the group's log now
  }
  let repair: RepairGoal | null = null;
  if (distrust) {
    const { term, detail } = log.damage!;
    repair = { target: protectedIndex, term, termFromLeader: detail.file === lostLogFile };
    const after = repair.termFromLeader ? `the one it first hears from` : `${repair.term}`;
    warn(
      `log distrusted: this node may not vote or campaign until a leader of a term after ` +
        `${after} has repaired it to index ${repair.target} (now ${log.lastIndex})`,
    );
  } else {
    await log.clearDamage(); // a torn tail of unacknowledged writes
  }
  return {
    snapshot: {
      index: snapshot.index,
      term: snapshot.term,
      config: snapshot.config,
      lowestReferencedIndex: snapshot.lowestReferencedIndex,
      timestamp: snapshotTime,
    },
    config,
    repair,
    fresh: repair === null && options.joining !== true && options.forceNewCluster === undefined &&
      log.lastIndex === 0 && snapshot.index === 0 && hardState.commit === 0,
    // Entries past the snapshot are at or after it; without any, the snapshot's time is the tail.
    tailTimestamp: Math.max(log.lastTimestamp ?? 0, snapshotTime),
    replayedBytes: replayedBytes(log, snapshot.index, options.machine.appliedIndex),
  };
}

/** Payload bytes of the entries in (snapshotIndex, appliedIndex] still in the log. */
function replayedBytes(log: SegmentLog, snapshotIndex: number, appliedIndex: number): number {
  const from = Math.max(snapshotIndex + 1, log.firstIndex);
  const to = Math.min(appliedIndex, log.lastIndex);
  return from > to ? 0 : log.payloadBytesBetween(from, to + 1);
}

/** Aligns the log with `snapshot`, or starts over from the bootstrap state when it cannot. */
async function alignOrStartOver(
  options: RecoveryOptions,
  parts: { snapshot: SnapshotContainer; emptyMachine: Uint8Array },
): Promise<{ snapshot: SnapshotContainer; startedOver: boolean }> {
  const { log, fs, snapshotsDir, warn } = options;
  const { snapshot } = parts;
  if (await alignLog(log, snapshot, { fs, snapshotsDir })) {
    return { snapshot, startedOver: false };
  }
  const reason = `log entries ${snapshot.lowestReferencedIndex}..${snapshot.index} needed by ` +
    `snapshot ${snapshot.index} are gone`;
  warn(`${reason}; starting over from the bootstrap state`);
  await log.noteDamage(
    { index: snapshot.lowestReferencedIndex, file: snapshotsDir, offset: 0, reason },
    { torn: false },
  );
  const bootstrap = await loadBootstrap(options, parts.emptyMachine);
  await log.resetTo(0, 0);
  await pruneSnapshots(fs, { dir: snapshotsDir, keepIndex: 0 });
  return { snapshot: bootstrap, startedOver: true };
}

/**
 * Makes the log hold what the snapshot needs: its referenced entries and its last entry.
 * Rewrites them from the container when it carries them, and then stores the snapshot without
 * them, as an install does (`snapshot` keeps them, for a second alignment). False when they are
 * lost.
 */
async function alignLog(
  log: SegmentLog,
  snapshot: SnapshotContainer,
  files: { fs: FileSystem; snapshotsDir: string },
): Promise<boolean> {
  const needFrom = Math.min(snapshot.lowestReferencedIndex, snapshot.index + 1);
  if (holds(log, snapshot, needFrom)) return true;
  const entries = snapshot.entries;
  if (entries.length > 0) {
    await log.resetTo(entries[0].index - 1, entries[0].term);
    log.append(entries);
    await log.sync();
    // Durable in the log now: a torn cut in them is no longer trusted (`damage_trust.ts`).
    const data = encodeSnapshotContainer({ ...snapshot, entries: [] });
    await storeSnapshot(files.fs, { dir: files.snapshotsDir, index: snapshot.index, data });
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

/**
 * Replays, then reads the rest of the log once (Raft reads it all when it starts, for membership
 * changes); a record that fails its check on the way (in a sealed segment the open trusted by its
 * persisted index, so unread until now) is handled as the open's scan would have: recorded as
 * damage, the log cut there, and the log distrusted (`cut`).
 */
async function replayOrCut(
  log: SegmentLog,
  options: {
    machine: Applier;
    config: ConfigState;
    replayTo: number;
    warn: Warn;
    onUnapplied?: (entry: LogEntry) => void;
  },
): Promise<{ config: ConfigState; cut: boolean }> {
  let config = options.config;
  try {
    config = replay(log, { ...options, onConfig: (next) => (config = next) });
    if (options.replayTo < log.lastIndex) {
      const visit = options.onUnapplied ?? (() => {});
      log.entries(options.replayTo + 1, log.lastIndex + 1, Infinity, { map: false, visit });
    }
    return { config, cut: false };
  } catch (error) {
    const from = (error as CorruptLogError).detail?.index;
    if (!(error instanceof CorruptLogError) || from === undefined) throw error;
    await log.noteDamage(error.detail, { torn: false });
    const cutAt = await cutBefore(log, from);
    options.warn(`LOG DAMAGED: ${error.message}; the log is cut at ${cutAt}`);
    return { config, cut: true };
  }
}

/**
 * Cuts the log at the first bad record at or before `from`: a damaged length field makes the
 * read fail at a later record than the damaged one, and a cut must keep only records that verify
 * (cutting checks the record before the cut), so the cut point walks back until one does. It
 * stops at the start of the damaged segment at the latest (a whole segment is dropped unread).
 */
async function cutBefore(log: SegmentLog, from: number): Promise<number> {
  for (let at = from;; at--) {
    try {
      await log.truncateSuffix(at);
      return at;
    } catch (error) {
      if (!(error instanceof CorruptLogError) || at <= log.firstIndex) throw error;
    }
  }
}

function replay(
  log: SegmentLog,
  options: {
    machine: Applier;
    config: ConfigState;
    replayTo: number;
    onConfig?: (config: ConfigState) => void;
  },
): ConfigState {
  let config = options.config;
  const from = options.machine.appliedIndex + 1;
  if (from > options.replayTo) return config;
  // Payloads are views of the read buffer, not copies: a replay streams gigabytes through
  // here, and copies of big entries left the allocator holding ~100 MB after a 10 GB restart.
  // The machine keeps nothing of a payload it applied (it decodes what it needs).
  const visit = (entry: LogEntry) => {
    if (entry.type === EntryType.ConfigChange) {
      config = applyConfigChange(config, decodeConfigChange(entry.payload));
      options.onConfig?.(config);
    }
    options.machine.apply(entry);
  };
  log.entries(from, options.replayTo + 1, Infinity, { map: false, visit });
  return config;
}

/** The index-0 snapshot: the bootstrap membership and an empty machine (written once). */
async function loadBootstrap(
  options: RecoveryOptions,
  emptyMachine: Uint8Array,
): Promise<SnapshotContainer> {
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
    machine: emptyMachine,
    entries: [],
  };
  await storeSnapshot(fs, {
    dir: snapshotsDir,
    index: 0,
    data: encodeSnapshotContainer(container),
  });
  return container;
}

/** What a distrusting node must see before it trusts its log again. */
export interface RepairGoal {
  /** The persisted commit index (or snapshot index) when the damage was found. */
  target: number;
  /** The term recorded with the damage: every entry this node may have lost is of it or older. */
  term: number;
  /**
   * The term is not known yet (a lost log, `lost_log.ts`): the term the node is in when it first
   * hears from a leader is taken (recorded first); until then the repair is not complete.
   */
  termFromLeader?: boolean;
}

/**
 * Where a distrusting node stands (see the module comment): `wait` for the leader's repair,
 * `needNewTerm` when caught up under a leader whose term is not newer than the damage, `done`.
 */
export function repairProgress(
  goal: RepairGoal,
  status: { term: number; leaderId: string | null; commit: number; termAtCommit?: number },
): "wait" | "needNewTerm" | "done" {
  if (status.leaderId === null || status.commit < goal.target) return "wait";
  if (status.termAtCommit !== status.term) return "wait";
  return status.term > goal.term ? "done" : "needNewTerm";
}

/**
 * A distrusting replica's way back (see the module comment): checked after every Ready; asks the
 * leader for a new term when caught up under the damage's term, at most once per election
 * timeout.
 */
export class RepairWatch {
  readonly goal: RepairGoal;
  readonly #electionTicks: number;
  #askedAtTick = -Infinity;

  constructor(goal: RepairGoal, electionTicks: number) {
    this.goal = goal;
    this.#electionTicks = electionTicks;
  }

  /**
   * Checks the repair (see `check`); once complete, clears the damage record and lets the node
   * campaign and vote again. True when done.
   */
  async settle(
    raft: RaftNode,
    context: {
      storage: { term(index: number): number | undefined };
      log: SegmentLog;
      ticks: number;
      warn: Warn;
    },
  ): Promise<boolean> {
    const termAt = (index: number) => context.storage.term(index);
    if (!this.check(raft, { termAt, ticks: context.ticks, warn: context.warn })) return false;
    await context.log.clearDamage();
    raft.setCanCampaign(true);
    return true;
  }

  /** True once the log may be trusted again. */
  check(
    raft: RaftNode,
    context: { termAt: (index: number) => number | undefined; ticks: number; warn: Warn },
  ): boolean {
    if (this.goal.termFromLeader === true) return false; // see TrustWatch.noteLost
    const status = raft.status();
    const progress = repairProgress(this.goal, {
      ...status,
      termAtCommit: context.termAt(status.commit),
    });
    if (progress === "done") {
      context.warn(
        `log repaired up to ${status.commit} (needed ${this.goal.target}) under term ` +
          `${status.term}; voting again`,
      );
      return true;
    }
    if (progress === "needNewTerm" && context.ticks - this.#askedAtTick >= this.#electionTicks) {
      this.#askedAtTick = context.ticks;
      context.warn(`log repaired up to ${status.commit}; asking ${status.leaderId} for a new term`);
      raft.requestNewTerm();
    }
    return false;
  }
}
