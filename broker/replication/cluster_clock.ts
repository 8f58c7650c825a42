/**
 * Cluster time: the "now" a leader stamps into every command, which the state machine uses for
 * every expiry (locks, delays, retention, dedup windows, rewind). It must never go backwards (the
 * log's timestamps are ordered) and must not follow the wall clock's jumps: a wall clock set days
 * ahead would expire every message on every replica, and one set back would freeze every lock and
 * delay until it caught up.
 *
 * ## The rule
 *
 * Cluster time `T` advances with the **monotonic** clock of the node that stamps, and is only
 * *slewed* towards the wall clock, never stepped:
 *
 * ```
 * elapsed = monotonic now − monotonic reading when T was last set        (never negative)
 * T'      = clamp(wall now, T + elapsed·(1 − r), T + elapsed·(1 + r))     r = slewRate (1%)
 * stamp   = floor(T')   (T' ≥ T, so stamps never go back)
 * ```
 *
 * - While the wall clock agrees with the monotonic one, `T` is the wall clock (so `enqueuedAt`
 *   is real time).
 * - After a wall-clock jump in either direction `T` keeps running at 99–101% of real time and
 *   closes the gap at 1% of elapsed time: nothing expires early by more than 1% of its duration
 *   (a 30 s lock lasts at least 29.7 s), and nothing freezes.
 * - Each node also follows the log. An entry a leader appends of its own moves `T` up to its
 *   stamp; entries a follower appends from the leader (or a snapshot it installs) set `T` to the
 *   last one's timestamp, even below `T`, and restart `elapsed` there. A new leader therefore
 *   continues from the log's last timestamp plus its own monotonic time since it received that
 *   entry, whatever its wall clock or its own earlier tenure said.
 * - A node that restarts continues from its log's last timestamp (its monotonic clock says
 *   nothing about the time it was down). Where the log holds no entry past its snapshot (one
 *   installed without entries), the snapshot point's time stands for it: the state machine's,
 *   which the snapshot's image records; a snapshot installed so is followed at that time too. After the whole group was down, cluster time therefore
 *   lags the wall clock by the outage and catches up at 1% (36 s per hour).
 * - An empty log (a brand-new group) starts from the wall clock. So does a log holding only
 *   entries Raft made itself before any write: they take the empty log's tail stamp, 0, which
 *   is no time at all (starting there would put cluster time at 1970 and keep it within 1% of
 *   real time from there, never reaching the wall clock).
 *
 * @module
 */
import type { ClockLike } from "./types.ts";

/** Cluster time as one node keeps it (see the module doc). */
export class ClusterClock {
  readonly #wall: ClockLike;
  readonly #monotonic: ClockLike;
  readonly #slewRate: number;
  /** Cluster time (fractional ms) as of `#anchor`; null until anything was seen (empty log). */
  #time: number | null;
  #anchor: number;

  constructor(
    clocks: { wall: ClockLike; monotonic: ClockLike },
    options: { tailTimestamp: number | null; slewRate?: number },
  ) {
    this.#wall = clocks.wall;
    this.#monotonic = clocks.monotonic;
    this.#slewRate = options.slewRate ?? 0.01;
    if (!(this.#slewRate >= 0 && this.#slewRate < 1)) throw new RangeError("slewRate in [0, 1)");
    this.#time = hasTime(options.tailTimestamp) ? options.tailTimestamp : null;
    this.#anchor = this.#monotonic.now();
  }

  /** An entry in the log (appended, replicated or installed): time is at least its stamp. */
  observe(timestamp: number): void {
    if (!hasTime(timestamp)) return;
    if (this.#time === null || timestamp > this.#time) {
      this.#time = timestamp;
      this.#anchor = this.#monotonic.now();
    }
  }

  /**
   * Entries appended from a leader (or a snapshot installed from one): time is the log's, from
   * its last stamp on, even if this node's own time ran ahead of it. Its lead came from entries
   * it stamped itself (a tenure, or entries since truncated) while the group's timeline lagged,
   * say behind a leader that restarted from its log's tail; kept, it would move cluster time
   * forward at a jump when this node leads again, and locks taken meanwhile would end early.
   */
  follow(timestamp: number): void {
    if (!hasTime(timestamp)) return;
    this.#time = timestamp;
    this.#anchor = this.#monotonic.now();
  }

  /** The time a stamp taken now would carry, without taking it (timers, views). */
  now(): number {
    return Math.floor(this.#next().time);
  }

  /** Takes a stamp for a new entry: never below the previous one (see the module doc). */
  stamp(): number {
    const next = this.#next();
    this.#time = next.time;
    this.#anchor = next.anchor;
    return Math.floor(next.time);
  }

  #next(): { time: number; anchor: number } {
    const anchor = this.#monotonic.now();
    const wall = this.#wall.now();
    if (this.#time === null) return { time: wall, anchor };
    const elapsed = Math.max(0, anchor - this.#anchor);
    const low = this.#time + elapsed * (1 - this.#slewRate);
    const high = this.#time + elapsed * (1 + this.#slewRate);
    return { time: Math.max(this.#time, Math.min(high, Math.max(low, wall))), anchor };
  }
}

/** A stamp of 0 (Raft's own entries in a log without writes) carries no time. */
function hasTime(timestamp: number | null): timestamp is number {
  return timestamp !== null && timestamp > 0;
}
