/**
 * A node that joins a running group (`--join`) on an empty data directory may carry the id of a
 * removed member: a member that missed the removal (it was down) still counts that id as a
 * voter, and an empty log grants its vote to any candidate — that stale member could lead
 * without entries its group committed. So before it starts, the joiner asks the member it joins
 * through for the group's term and commit index (`GET /v1/cluster`, and the leader's when that
 * member names one), and its Raft node starts with a *vote floor* at that commit index, in that
 * term, with that term's vote spent (see `raft/doc.ts`, "Joining on an empty log"). Below the
 * floor it neither votes nor campaigns; at or above it, the ordinary up-to-date check protects
 * every entry committed before the join.
 *
 * Why durable: a joiner that crashes with a partial log restarts on a non-empty directory, so it
 * no longer looks like a joiner — without the record it would vote with a log that may lack the
 * entries that removed its id. The record (`join_floor`, in the data directory) is written
 * before the log is opened (a crash between the two can leave no log files without it), and
 * every start below the floor raises the hard state to the recorded term again (in case the
 * crash came before that write). It stays after the log passed the floor: it is read as met.
 *
 * No newer-term leader is awaited, unlike for a wiped voter (`replication/lost_state.ts`): a
 * joiner never acknowledged anything in the group's current membership, and its id's old votes
 * and acknowledgements sit in terms and at indexes at or below the recorded ones. Waiting for a
 * new term would also deadlock a group of two: the sole survivor of `--force-new-cluster` plus
 * one joiner can elect no one without the joiner's vote.
 *
 * @module
 */
import type { LogIndex } from "../../raft/mod.ts";
import {
  type FileSystem,
  readSnapshotFile,
  type SegmentLog,
  writeSnapshotFile,
} from "../../storage/mod.ts";

/** What the group had when a node joined on an empty data directory. */
export interface JoinPoint {
  term: number;
  commit: number;
}

const fileName = "join_floor";

/** Records durably where a joiner on an empty data directory must catch up to (before the log opens). */
export async function recordJoinPoint(
  fs: FileSystem,
  dataDir: string,
  point: JoinPoint,
): Promise<void> {
  const known = readJoinPoint(fs, dataDir);
  const merged = {
    term: Math.max(point.term, known?.term ?? 0),
    commit: Math.max(point.commit, known?.commit ?? 0),
  };
  fs.mkdirp(dataDir);
  await writeSnapshotFile(fs, dataDir, fileName, new TextEncoder().encode(JSON.stringify(merged)));
}

/**
 * Once the log is open: the vote floor to start Raft with (0 without a record). While the log
 * ends below it, puts the hard state in the recorded term with its vote spent.
 */
export async function joinVoteFloor(
  fs: FileSystem,
  dataDir: string,
  parts: { log: SegmentLog; nodeId: string },
): Promise<LogIndex> {
  const point = readJoinPoint(fs, dataDir);
  if (point === null) return 0 as LogIndex;
  const { log, nodeId } = parts;
  const hard = log.readHardState();
  if (
    log.lastIndex < point.commit &&
    (hard.term < point.term || (hard.term === point.term && hard.vote === null))
  ) {
    await log.writeHardState({ term: point.term, vote: nodeId, commit: hard.commit });
  }
  return point.commit as LogIndex;
}

function readJoinPoint(fs: FileSystem, dataDir: string): JoinPoint | null {
  const bytes = readSnapshotFile(fs, dataDir, fileName);
  if (bytes === null) {
    if (fs.exists(`${dataDir.replace(/\/+$/, "")}/${fileName}`)) {
      throw new Error(`${dataDir}/${fileName} is damaged: the node can't tell when it may vote`);
    }
    return null;
  }
  const { term, commit } = JSON.parse(new TextDecoder().decode(bytes)) as JoinPoint;
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(commit) || term < 0 || commit < 0) {
    throw new Error(`${dataDir}/${fileName} is damaged: the node can't tell when it may vote`);
  }
  return { term, commit };
}
