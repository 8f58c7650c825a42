/**
 * What `/readyz` decides: whether this node can serve an API request now, and if not, why. A
 * load balancer that sends traffic by it must not pick a node that can only answer 503.
 *
 * Ready: storage works, the scrubber found no damage, and the node leads or follows a leader it
 * has heard from lately (a follower relays every API request to its leader). A voter that stops
 * hearing its leader campaigns after an election timeout and so drops it; a node that may not
 * campaign (a joiner below its vote floor, a learner, a distrusted log) never does, and would
 * name its lost leader forever: past `leaderSilenceMsMax` without a message from it, it is not
 * ready either. The disk guard does not count: receives and deletes go on (they free space), and
 * the guard that refuses sends is the leader's, whichever node relays them. A leader handing its
 * leadership over (a graceful stop, for up to its hand-off bound) is not ready: it refuses writes
 * until the new leader takes them.
 *
 * @module
 */

/** The shortest silence that makes a follower unready, whatever the tick (see below). */
const silenceMsFloor = 1000;

/**
 * How long a follower may go without a message from its leader and still call itself ready: two
 * election timeouts, the longest a voter that can campaign waits before it drops its leader, and
 * at least a second: at a short tick (5 ms: 100 ms) one busy turn of a loaded machine's event
 * loop would flip a healthy follower out of a load balancer's rotation and back.
 */
export function leaderSilenceMsMax(electionTimeoutMs: number): number {
  return Math.max(2 * electionTimeoutMs, silenceMsFloor);
}

/**
 * Whether this node has a leader it can relay to now: it leads, or names a leader (itself in a
 * one-voter group) it heard from within `silenceMsMax`. `/readyz` and `cmqd_raft_leader_known`
 * both read it, so an alert on the gauge and a load balancer on the probe agree.
 */
export function leaderHeardLately(
  replica: { readonly id: string; readonly isLeader: boolean; readonly leaderId: string | null },
  heardMsAgo: (id: string) => number | null,
  silenceMsMax: number,
): boolean {
  if (replica.isLeader || replica.leaderId === replica.id) return true;
  if (replica.leaderId === null) return false;
  const silentMs = heardMsAgo(replica.leaderId);
  return silentMs !== null && silentMs <= silenceMsMax;
}

/** What the decision reads. */
export interface ReadinessParts {
  replica: {
    readonly id: string;
    readonly isLeader: boolean;
    readonly leaderId: string | null;
    /** `leadTransferee`: the voter this leader is handing its leadership to, while that runs. */
    status(): { readonly leadTransferee: string | null };
  };
  /** Why the node stopped for good (storage, scrub damage), or null. */
  failure(): string | null;
  /** Milliseconds since a Raft message from `id` arrived; null when none has. */
  heardMsAgo(id: string): number | null;
  /** `leaderSilenceMsMax` of the replica's election timeout. */
  silenceMsMax: number;
}

/**
 * Why the node is not ready now, or null when it is.
 *
 * @example
 * ```ts
 * const why = notReadyReason({ replica, failure, heardMsAgo, silenceMsMax: 2000 });
 * ```
 */
export function notReadyReason(parts: ReadinessParts): string | null {
  const failure = parts.failure();
  if (failure !== null) return `the node failed: ${failure}`;
  const { replica } = parts;
  if (replica.isLeader) {
    const transferee = replica.status().leadTransferee;
    if (transferee !== null) {
      return `the node is handing leadership over to ${transferee}: it refuses writes until ` +
        "the new leader takes them";
    }
  }
  if (leaderHeardLately(replica, parts.heardMsAgo, parts.silenceMsMax)) return null;
  const leaderId = replica.leaderId;
  if (leaderId === null) return "the node knows no leader (an election, or cut off from the group)";
  const silentMs = parts.heardMsAgo(leaderId);
  const heard = silentMs === null
    ? `has never heard from its leader ${leaderId}`
    : `has not heard from its leader ${leaderId} for ${(silentMs / 1000).toFixed(1)} s`;
  return `the node ${heard}: it can't relay requests to it`;
}
