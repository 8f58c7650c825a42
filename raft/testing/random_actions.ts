/**
 * Small pieces of the randomized Raft tests: run an action against the current leader, ignore
 * the refusals a random action may meet, shuffle with the test's PRNG.
 *
 * @module
 */
import { RaftError } from "../errors.ts";
import { randomInt } from "../prng.ts";
import type { Prng } from "../types.ts";
import type { SimCluster } from "./cluster.ts";

/** Runs `action` with the leader's id when there is one; its refusals are ignored. */
export function withLeader(cluster: SimCluster, action: (leader: string) => void): void {
  const leader = cluster.leader();
  if (leader !== null) ignoreRefusals(() => action(leader));
}

/** Runs `action`; a `RaftError` (a refusal a random action may meet) is ignored. */
export function ignoreRefusals(action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof RaftError)) throw error;
  }
}

/** Fisher-Yates; `sort` with a random comparator calls it a varying number of times in V8. */
export function shuffle<T>(prng: Prng, items: T[]): T[] {
  const result = [...items];
  for (let position = result.length - 1; position > 0; position--) {
    const other = randomInt(prng, position + 1);
    [result[position], result[other]] = [result[other], result[position]];
  }
  return result;
}
