/**
 * Leadership hand-off before a leader stops (SIGTERM, a rolling restart): without it every
 * leader restart is an election timeout of unavailability (1–2 s). With it the leader picks the
 * most caught-up other voter that answers it and did not say lately that it may not campaign
 * (`transferCandidates`), Raft's leader transfer makes it campaign at once, and the node waits
 * (bounded) until that voter leads before it stops serving.
 *
 * @module
 */
import type { PeerStatus, RaftReplica, Timers } from "../replication/mod.ts";

/**
 * Whether the leader heard from `peer` lately: within the answer window (300 ms, in ticks: see
 * `raftTunables`), as Raft judges it when it picks a voter to hand over to itself (a transfer
 * refused, a `NewTerm` request). A voter that stopped a second ago does not count, one that
 * answers a heartbeat or two late still does; never one not heard from since this node leads.
 */
export function answersLeader(peer: PeerStatus): boolean {
  return peer.answering;
}

/**
 * Hands leadership to the first of `transferCandidates` and waits until this node no
 * longer leads and knows the new leader, or `msMax` passed. Resolves with the new leader's id,
 * or null when this node did not lead, had no other voter, or the hand-off did not finish.
 */
export async function handOff(
  replica: RaftReplica,
  options: {
    timers: Timers;
    msMax: number;
    /** Told the hand-off done. */
    report: (message: string) => void;
    /** Told a hand-off that could not start or did not finish. */
    warn: (message: string) => void;
  },
): Promise<string | null> {
  if (!replica.isLeader || replica.failure !== null) return null;
  const candidates = transferCandidates(replica);
  if (candidates.length === 0) return null;
  const target = candidates[0];
  try {
    replica.transferLeadership(target);
  } catch (error) {
    options.warn(`cmqd ${replica.id}: no leadership hand-off: ${(error as Error).message}`);
    return null;
  }
  const handedTo = await waitFor(
    () => !replica.isLeader && replica.leaderId !== null ? replica.leaderId : null,
    options,
  );
  if (handedTo === null) {
    options.warn(
      `cmqd ${replica.id}: leadership hand-off to ${target} did not finish in ${options.msMax} ms`,
    );
  } else options.report(`cmqd ${replica.id}: handed leadership to ${handedTo}`);
  return handedTo;
}

/**
 * The voters other than this leader that leadership could go to, the most caught-up (highest
 * match index) first; empty unless this node leads. Those that said lately that they may not
 * campaign (`refusedLead`: a distrusted log, below its vote floor...) come after the others:
 * such a voter would refuse the transfer, and the leader would then pick another itself; going
 * to one that may saves that round trip, and a retry of a member's removal that tries voters in
 * turn does not spend its attempts on it. Last come those the leader has not heard from lately
 * (`answersLeader`), likely down: a transfer to one holds proposals until it is abandoned, an
 * election timeout later, and a hand-off before stopping waits for nothing.
 */
export function transferCandidates(replica: RaftReplica): string[] {
  const status = replica.status();
  const voters: string[] = status.config.voters;
  const silent = (peer: PeerStatus) => Number(!answersLeader(peer));
  return status.peers
    .filter((peer) => peer.id !== replica.id && voters.includes(peer.id))
    .sort((a, b) =>
      silent(a) - silent(b) || Number(a.refusedLead) - Number(b.refusedLead) ||
      b.match - a.match
    )
    .map((peer) => peer.id);
}

/** Polls `probe` every 10 ms on `timers` until it answers non-null or `msMax` passed. */
function waitFor<T>(
  probe: () => T | null,
  options: { timers: Timers; msMax: number },
): Promise<T | null> {
  const everyMs = 10;
  return new Promise((resolve) => {
    let waited = 0;
    const check = () => {
      const value = probe();
      if (value !== null || waited >= options.msMax) return resolve(value);
      waited += everyMs;
      options.timers.setTimer(everyMs, check);
    };
    check();
  });
}
