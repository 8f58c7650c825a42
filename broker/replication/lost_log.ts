/**
 * A node that lost its log directory but kept its snapshots: distrusted like a wiped disk.
 *
 * The log directory holds the entries *and* Raft's hard state (current term and vote). When it
 * is lost (deleted, emptied, replaced by a new one) while `snapshots/` survives, the open finds
 * no term and no vote but a snapshot past index 0. That is no new node: a snapshot past 0 is
 * only ever written after the node persisted a term of at least the snapshot's (it applied or
 * received entries of that term). Going on as if nothing happened, it could vote a second time
 * in a term it already voted in, and for a candidate lacking entries it acknowledged (every one
 * past the snapshot is gone) — a leader elected so overwrites writes a majority relied on.
 *
 * So such a node takes the path of a wiped voter (`lost_state.ts`): it records the loss as
 * damage before Raft starts (a restart keeps it non-voting), neither votes nor campaigns, keeps
 * acknowledging appends, and trusts its log again once a leader repaired it to the snapshot's
 * index and a leader of a term after the one it was in when it first heard from a leader has
 * committed an entry (`RepairGoal.termFromLeader`; that term is recorded durably before anything
 * that leader sent is persisted). The term it held before the loss is unknown: the snapshot's
 * term is a lower bound, and the hard state is set to it (so no older leader is followed, and a
 * lone voter's next term is past its log's). A restart before the repair learns the term anew
 * (one more election at worst).
 *
 * A single-voter group has no one to repair it or to vote with, and a wiped single voter simply
 * starts over (it wins its own election on an empty log). A single voter that lost its log
 * carries on the same way, from the snapshot, with a `LOG LOST` line: what it had acknowledged
 * past the snapshot is gone. If the snapshot needs entries that went with the log, the open
 * starts over from the bootstrap state, and the lone voter stays non-voting, as any single voter
 * whose log was cut does (`recovery.ts`).
 *
 * A node whose snapshots were lost but whose log survives is not affected: its hard state is
 * there (and a log compacted past what it can rebuild is handled by `recovery.ts`).
 *
 * @module
 */
import type { CorruptionDetail, HardState, SegmentLog } from "../../storage/mod.ts";
import type { ConfigState } from "../../raft/mod.ts";

/** The damage record's file for a lost log whose term is still to be learned from a leader. */
export const lostLogFile = "(lost log directory)";
/** The same, once the term was learned (a restart learns it again only before that). */
export const lostLogLearnedFile = "(lost log directory, term learned)";

/** What the open found of the snapshot it loaded. */
export interface LoadedSnapshot {
  index: number;
  term: number;
  config: ConfigState;
}

/** A lost log found at open: the snapshot it was found by, and whether this node votes alone. */
export interface LostLog {
  snapshot: LoadedSnapshot;
  alone: boolean;
}

/**
 * Whether the log directory was lost (no hard state, but a snapshot past 0); when it was, sets
 * the hard state's term to the snapshot's (the lower bound of the term the node was in) and, but
 * for a lone voter (see `recordLostLog`), logs the loss. Null otherwise.
 */
export async function findLostLog(
  log: SegmentLog,
  found: { snapshot: LoadedSnapshot; nodeId: string; warn: (message: string) => void },
): Promise<LostLog | null> {
  const hardState = log.readHardState();
  const { snapshot, nodeId, warn } = found;
  if (snapshot.index === 0 || hardState.term !== 0) return null;
  const voters = snapshot.config.voters.map(String);
  const alone = voters.length === 1 && voters[0] === nodeId;
  const raised: HardState = { term: snapshot.term, vote: null, commit: hardState.commit };
  await log.writeHardState(raised);
  if (!alone) {
    warn(
      `LOG LOST: ${lossOf(snapshot)}; it may not vote or campaign until a leader has repaired it ` +
        `to index ${snapshot.index} and a leader of a term after the one it learns first has ` +
        `committed`,
    );
  }
  return { snapshot, alone };
}

/**
 * After the open's own cuts (so its detail wins): records a lost log as damage, true (the node
 * distrusts its log). A lone voter's is only logged, false: it carries on from the snapshot, or,
 * when the open had to start over (`damaged`: the entries its snapshot needs went with the log),
 * it is as damaged as any single voter whose log was cut.
 */
export async function recordLostLog(
  log: SegmentLog,
  lost: LostLog,
  open: { damaged: boolean; warn: (message: string) => void },
): Promise<boolean> {
  const { snapshot } = lost;
  if (lost.alone) {
    open.warn(
      `LOG LOST: ${lossOf(snapshot)}; it is the only voter, so nothing can repair it: ` +
        (open.damaged
          ? `the entries its snapshot needs went with it, so it started over and stays ` +
            `non-voting, as a single voter with a damaged log does`
          : `it carries on from the snapshot, and what it acknowledged after index ` +
            `${snapshot.index} is gone`),
    );
    return false;
  }
  await log.noteDamage(lostLogDetail(snapshot.index, lostLogFile), {
    torn: false,
    term: snapshot.term,
  });
  return true;
}

function lossOf(snapshot: LoadedSnapshot): string {
  return `this node's log directory holds no term or vote, but snapshot ${snapshot.index} ` +
    `(term ${snapshot.term}) shows it ran before: its log was lost or replaced`;
}

/** Records the term a node that lost its log learned from its first leader. */
export async function recordLearnedTerm(
  log: SegmentLog,
  goal: { target: number; term: number },
): Promise<void> {
  await log.noteDamage(lostLogDetail(goal.target, lostLogLearnedFile), {
    torn: false,
    term: goal.term,
  });
}

function lostLogDetail(index: number, file: string): CorruptionDetail {
  const reason = `the log directory was lost (no term or vote) while snapshot ${index} survived`;
  return { index: index + 1, file, offset: 0, reason };
}
