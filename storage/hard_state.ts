/**
 * Raft's hard state (current term, vote, commit) and the log's start marker, each a small JSON
 * document stored with the checked, atomic file format of `snapshot_file.ts`.
 *
 * @module
 */
import { invariant } from "./invariant.ts";
import { type CorruptionDetail, CorruptLogError } from "./errors.ts";
import { type FileSystem, joinPath } from "./file_io.ts";
import { inspectSnapshotFile, writeSnapshotFile } from "./snapshot_file.ts";

/** What Raft must remember across restarts. */
export interface HardState {
  term: number;
  /** The node voted for in `term`, or null. */
  vote: string | null;
  /** Highest index known committed (advisory: Raft can re-learn it). */
  commit: number;
}

/** Where the log starts after a snapshot install: the entry before the first one. */
export interface LogStart {
  index: number;
  term: number;
}

/** File name of the hard state inside the log directory. */
export const hardStateFileName = "hard_state";
/** File name of the damage record inside the log directory. */
export const damageFileName = "damage";
/** File name of the log start marker inside the log directory. */
export const logStartFileName = "log_start";

/** The state of a node that never wrote one. */
export const initialHardState: HardState = { term: 0, vote: null, commit: 0 };

/** Reads the hard state; missing → initial; damaged → {@link CorruptLogError} (never guessed). */
export function loadHardState(fs: FileSystem, dir: string): HardState {
  const document = loadDocument(fs, dir, hardStateFileName);
  if (document === null) return { ...initialHardState };
  const { term, vote, commit } = document as Record<string, unknown>;
  if (
    !isCount(term) || !isCount(commit) || !(vote === null || typeof vote === "string")
  ) {
    throw new CorruptLogError({ file: hardStateFileName, offset: 0, reason: "bad hard state" });
  }
  return { term, vote, commit };
}

/**
 * Writes the hard state durably (two fsyncs: the temp file and the directory); the directory's
 * through `syncDirectory` when given (see `writeSnapshotFile`).
 */
export function storeHardState(
  fs: FileSystem,
  dir: string,
  state: HardState,
  syncDirectory?: (sync: () => Promise<void>) => Promise<void>,
): Promise<void> {
  assertHardState(state);
  const json = JSON.stringify({ term: state.term, vote: state.vote, commit: state.commit });
  const bytes = new TextEncoder().encode(json);
  return writeSnapshotFile(fs, dir, hardStateFileName, bytes, syncDirectory);
}

/** Throws unless `state` is a hard state that can be written (counts, a string or null vote). */
export function assertHardState(state: HardState): void {
  invariant(isCount(state.term), "term must be a non-negative safe integer");
  invariant(isCount(state.commit), "commit must be a non-negative safe integer");
  invariant(state.vote === null || typeof state.vote === "string", "vote must be a string or null");
}

/** Reads the log start marker; missing → index 0, term 0. */
export function loadLogStart(fs: FileSystem, dir: string): LogStart {
  const document = loadDocument(fs, dir, logStartFileName);
  if (document === null) return { index: 0, term: 0 };
  const { index, term } = document as Record<string, unknown>;
  if (!isCount(index) || !isCount(term)) {
    throw new CorruptLogError({ file: logStartFileName, offset: 0, reason: "bad log start" });
  }
  return { index, term };
}

/** Writes the log start marker durably. */
export function storeLogStart(fs: FileSystem, dir: string, start: LogStart): Promise<void> {
  invariant(isCount(start.index) && isCount(start.term));
  const json = JSON.stringify({ index: start.index, term: start.term });
  return writeSnapshotFile(fs, dir, logStartFileName, new TextEncoder().encode(json));
}

/**
 * Evidence that the log was cut, kept until the log's owner says the damage is dealt with. It is
 * written before the cut, so a crash between the two never loses the evidence.
 */
export interface DamageRecord {
  /** The hard state's term when the (latest) damage was found: no entry of a later term was lost. */
  term: number;
  /** True while every cut recorded looked like an interrupted write (see `PlannedCut`). */
  torn: boolean;
  /** The first bad record (of the worst cut recorded). */
  detail: CorruptionDetail;
  /**
   * Entries from this index on were written but a write or fsync of theirs failed: the page
   * cache may still show them although the disk does not hold them (fsyncgate), so the next
   * open cuts them instead of trusting what it reads. Absent once that cut is durable.
   */
  unsyncedFrom?: number;
}

/** Reads the damage record; null when there is none. */
export function loadDamageRecord(fs: FileSystem, dir: string): DamageRecord | null {
  const document = loadDocument(fs, dir, damageFileName);
  if (document === null) return null;
  const { term, torn, detail, unsyncedFrom } = document as Record<string, unknown>;
  const { index, file, offset, reason } = (detail ?? {}) as Record<string, unknown>;
  if (
    !isCount(term) || typeof torn !== "boolean" || !(index === undefined || isCount(index)) ||
    !(unsyncedFrom === undefined || isCount(unsyncedFrom)) ||
    typeof file !== "string" || !isCount(offset) || typeof reason !== "string"
  ) {
    throw new CorruptLogError({ file: damageFileName, offset: 0, reason: "bad damage record" });
  }
  const record: DamageRecord = { term, torn, detail: { index, file, offset, reason } };
  if (unsyncedFrom !== undefined) record.unsyncedFrom = unsyncedFrom;
  return record;
}

/**
 * The record after another cut: the newest term, torn only while every cut was, and the detail
 * of the worse cut. A real damage beats a torn tail; between two damages, the newer; between two
 * torn cuts, the lower one. A torn cut is judged by its index (`damage_trust.ts` in the
 * replication layer): a record still on disk holds a cut not yet repaired, and a later torn cut
 * above it (appends since, then a crash) must not make the loss of the first one look like a
 * harmless tail. An unknown index (no code writes one; the record's format allows it) may be
 * anywhere, so it counts as the lowest: kept, it is distrusted there too, where a known index
 * that replaced it could read as a tail above the persisted commit.
 */
export function mergeDamage(
  old: DamageRecord | null,
  cut: { detail: CorruptionDetail; torn: boolean; term: number; unsyncedFrom?: number },
): DamageRecord {
  const keepOld = old !== null && cut.torn &&
    (!old.torn || (old.detail.index ?? -Infinity) <= (cut.detail.index ?? -Infinity));
  const record: DamageRecord = {
    term: Math.max(cut.term, old?.term ?? 0),
    torn: cut.torn && (old?.torn ?? true),
    detail: keepOld ? old.detail : { ...cut.detail },
  };
  const unsyncedFrom = Math.min(cut.unsyncedFrom ?? Infinity, old?.unsyncedFrom ?? Infinity);
  if (unsyncedFrom !== Infinity) record.unsyncedFrom = unsyncedFrom;
  return record;
}

/** Removes the damage record's name: durable with the caller's next directory fsync. */
export function removeDamageRecord(fs: FileSystem, dir: string): void {
  fs.remove(joinPath(dir, damageFileName));
}

/** Writes the damage record durably. */
export function storeDamageRecord(
  fs: FileSystem,
  dir: string,
  record: DamageRecord,
): Promise<void> {
  invariant(isCount(record.term), "term must be a non-negative safe integer");
  const json = JSON.stringify(record);
  return writeSnapshotFile(fs, dir, damageFileName, new TextEncoder().encode(json));
}

function loadDocument(fs: FileSystem, dir: string, name: string): unknown {
  const state = inspectSnapshotFile(fs, dir, name);
  if (state.status === "missing") return null;
  // The file is only ever replaced by rename after an fsync, so damage here is real damage:
  // guessing a term or vote could elect two leaders, so refuse to start instead.
  if (state.status === "corrupt") {
    throw new CorruptLogError({ file: name, offset: 0, reason: state.reason });
  }
  try {
    const document = JSON.parse(new TextDecoder().decode(state.bytes));
    if (typeof document === "object" && document !== null) return document;
  } catch {
    // fall through
  }
  throw new CorruptLogError({ file: name, offset: 0, reason: "not a JSON object" });
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
