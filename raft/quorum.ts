/**
 * Majority arithmetic over a set of voters. Kept apart so the rules that make Raft safe (a
 * commit needs a majority, an election needs a majority) live in one small, tested place.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { LogIndex, NodeId } from "./types.ts";

/**
 * The number of voters that form a majority.
 *
 * @example
 * ```ts
 * majority(5); // 3
 * ```
 */
export function majority(voterCount: number): number {
  if (!(Number.isSafeInteger(voterCount) && voterCount >= 0)) {
    assert.fail("voter count is an integer");
  }
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index that a majority of voters has reached: sort the voters' match indexes
 * descending and take the majority-th. An empty voter set commits nothing.
 */
export function committedIndex(
  voters: readonly NodeId[],
  matchOf: (id: NodeId) => LogIndex,
): LogIndex {
  if (voters.length === 0) return 0 as LogIndex;
  const matches = voters.map(matchOf).sort((left, right) => right - left);
  return matches[majority(voters.length) - 1];
}

/** The outcome of an election so far. */
export type VoteResult = "won" | "lost" | "pending";

/** Counts `votes` (true = granted) of the given voters; votes of non-voters do not count. */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const needed = majority(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted++;
    if (vote === false) rejected++;
  }
  if (granted >= needed) return "won";
  if (voters.length - rejected < needed) return "lost";
  return "pending";
}

/** Whether the voters for which `predicate` holds form a majority. */
export function hasQuorum(voters: readonly NodeId[], predicate: (id: NodeId) => boolean): boolean {
  if (voters.length === 0) return false;
  return voters.filter(predicate).length >= majority(voters.length);
}
