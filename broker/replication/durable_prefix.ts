/**
 * Which of a Ready's committed entries a replica may apply before that Ready's own write is
 * durable (see `RaftReplica.#handleReady`).
 *
 * @module
 */
import type { Ready } from "../../raft/mod.ts";

/**
 * How many of `ready.committedEntries`, from the first, are already durable in a log durable up to
 * `durableIndex`: none after a snapshot, and none at or past the first index `ready.entries`
 * writes. A follower's entries may overwrite its log's tail there, where the durable entry is
 * another term's (never a committed one: Raft keeps those), while the committed entry with that
 * index is in this Ready's write and durable only once it is flushed.
 */
export function durablePrefix(ready: Ready, durableIndex: number): number {
  if (ready.snapshot !== undefined) return 0;
  const written = ready.entries.length > 0 ? ready.entries[0].index : Infinity;
  const last = Math.min(durableIndex, written - 1);
  const committed = ready.committedEntries;
  let count = 0;
  while (count < committed.length && committed[count].index <= last) count++;
  return count;
}
