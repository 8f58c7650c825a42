/**
 * Whether the damage recorded in a log forbids voting (see `recovery.ts` for why a node may
 * refuse to vote): a cut that was not a torn tail always does; a torn tail does when it reaches
 * at or below what the node must hold (the persisted commit index or the snapshot) — unless the
 * snapshot still embeds the torn entries and the log was reset to take them from it.
 *
 * That is what a crash leaves in the middle of installing a received snapshot (`rewriteLog` in
 * `snapshot_io.ts`): the snapshot file, embedded entries included, is durable first; the log is
 * reset durably to the entry before them; the entries are appended and synced at the end. A
 * file system may make the new segment's name durable before that sync (ext4's journal commits
 * names on its own), with part of its bytes, and the open then cuts a torn record below the
 * snapshot's index. Every entry from the cut up to the snapshot is appended again from the file
 * (`alignLog`), so that part of the cut loses nothing; only what lay above the snapshot could be
 * lost, and it is judged as any torn tail there. The file drops its entries once the log holds
 * them durably, so this applies only until then.
 *
 * @module
 */
import type { SegmentLog } from "../../storage/mod.ts";
import type { SnapshotContainer } from "./snapshot_container.ts";

/** What of a log `distrustsDamage` reads. */
export type DamagedLog = Pick<SegmentLog, "damage" | "recovery" | "logStart" | "lastIndex">;

/** Whether the damage recorded in `log` (this open's cut or an earlier one) forbids voting. */
export function distrustsDamage(
  log: DamagedLog,
  context: { protectedIndex: number; snapshot: SnapshotContainer },
  warn: (message: string) => void,
): boolean {
  const damage = log.damage;
  if (damage === null) return false;
  const { detail } = damage;
  if (detail.index === undefined || !Number.isSafeInteger(detail.index)) {
    // Where the cut was is unknown (no code records that; a record from elsewhere): it may be
    // anywhere below the persisted commit, so it is distrusted. It used to count as past the end.
    warn(
      `LOG DAMAGED: ${detail.reason} at an unknown entry (${detail.file}@${detail.offset}), ` +
        `${damage.torn ? "perhaps below the persisted commit" : "not a torn write"}`,
    );
    return true;
  }
  const cutAt = detail.index;
  const lostFrom = Math.max(cutAt, refilledThrough(log, context.snapshot, cutAt) + 1);
  if (damage.torn && lostFrom > context.protectedIndex) return false; // unacknowledged writes
  warn(
    `LOG DAMAGED: ${detail.reason} at entry ${cutAt} (${detail.file}@${detail.offset}), ` +
      `${
        damage.torn ? "below the persisted commit " + context.protectedIndex : "not a torn write"
      }`,
  );
  return true;
}

/**
 * The last index that `snapshot` appends again after a torn cut at `cutAt` (see the module
 * comment), or 0 when it re-supplies nothing: the damage recorded must be this open's torn cut
 * alone (no earlier record merged into it), at or above the first embedded entry, in a log whose
 * start is the entry before that one (the reset that installing the snapshot writes).
 */
export function refilledThrough(
  log: DamagedLog,
  snapshot: SnapshotContainer,
  cutAt: number,
): number {
  const first = snapshot.entries[0];
  const { recovery } = log;
  if (first === undefined || recovery.earlierDamage === true || recovery.tornTail !== true) {
    return 0;
  }
  if (recovery.corruptAt?.index !== cutAt || cutAt < first.index) return 0;
  const start = log.logStart;
  return start.index === first.index - 1 && start.term === first.term ? snapshot.index : 0;
}
