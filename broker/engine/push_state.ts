/**
 * The replicated HTTP push state of one URL subscription: which published messages still wait
 * for a successful push, how many attempts each has failed, when each is tried next, the last
 * error, and the counters. Only commands change it (PublishBatch adds, PushResults records
 * outcomes, Tick expires), so a new leader's push worker resumes exactly where the old one
 * stopped, and a restart loses nothing.
 *
 * A pending push holds where the message is (entry index and slot of its PublishBatch) and
 * never its body. Pending pushes are kept in a map in sequence order (they are added in publish
 * order and never re-inserted), so the oldest is the map's first entry; a lazy heap on
 * `(nextAttemptAt, sequence)` finds the due ones without scanning. The heap is derived: it is
 * rebuilt on restore and compacted when stale entries pile up, never written to a snapshot.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./binary.ts";
import { subscriptionLimits } from "./limits.ts";
import { pushRetryLimits, retryDelayMs, retrySpread } from "./push_schedule.ts";
import { ReleaseHeap } from "./release_heap.ts";
import type { RetryPolicy } from "./types.ts";

/** A message waiting for a successful push. */
export interface PendingPush {
  /** The message's sequence in its topic (its id is derived from it). */
  readonly sequence: number;
  /** Where the body is: the PublishBatch entry and the message's slot in it. */
  readonly logIndex: number;
  readonly slot: number;
  readonly publishTime: number;
  /** Failed attempts so far. */
  attempts: number;
  nextAttemptAt: number;
}

/** What happened to the pushes of one subscription, since it was created. */
export interface PushCounters {
  /** Attempts answered with a 2xx. */
  pushed: number;
  /** Attempts that failed (non-2xx, timeout, network error). */
  failures: number;
  /** Failed attempts that were scheduled again. */
  retries: number;
  /** Messages given up on because the policy's retries were spent. */
  dropped: number;
  /** Messages given up on because they outlived the topic's retention. */
  expired: number;
}

/** The last failed attempt. */
export interface PushError {
  at: number;
  message: string;
}

/** How a recorded outcome changed the state. */
export type PushOutcomeEffect = "pushed" | "retry" | "dropped" | "expired" | "stale";

const pendingBytesEstimate = 120;

/**
 * When a failed push is tried next, or null when its window leaves no try (`recordFailure`):
 * `triedAt` is when the failed try was due, `finalTry` the rule of PushResults layout 2.
 */
function nextTry(
  at: { now: number; delay: number; triedAt: number; windowEnd: number },
  finalTry: boolean,
): number | null {
  if (!finalTry) return at.now + at.delay < at.windowEnd ? at.now + at.delay : null;
  const lastTryAt = at.windowEnd - pushRetryLimits.finalTryMarginMs;
  if (at.triedAt >= lastTryAt) return null; // the final try failed
  const next = Math.min(at.now + at.delay, lastTryAt);
  return next > at.now ? next : null;
}

/**
 * The push state of one URL subscription.
 *
 * @example
 * ```ts
 * const state = new PushState();
 * state.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: now, attempts: 0, nextAttemptAt: now });
 * state.recordFailure({ sequence: 1, attempt: 0, now, error: "HTTP 500" }, schedule);
 * ```
 */
export class PushState {
  readonly pending = new Map<number, PendingPush>();
  #heap = new ReleaseHeap();
  lastError: PushError | null = null;
  readonly counters: PushCounters = { pushed: 0, failures: 0, retries: 0, dropped: 0, expired: 0 };

  /** True when one more pending push would pass `pendingPushesMax`. */
  get full(): boolean {
    return this.pending.size >= subscriptionLimits.pendingPushesMax;
  }

  /** Adds a message to push (a publish that matched this subscription). */
  add(push: PendingPush): void {
    this.pending.set(push.sequence, push);
    this.#heap.push(push.nextAttemptAt, push.sequence);
  }

  /** The pending push an outcome is about, if it is still waiting for that attempt. */
  #current(sequence: number, attempt: number): PendingPush | undefined {
    const push = this.pending.get(sequence);
    return push !== undefined && push.attempts === attempt ? push : undefined;
  }

  /** Records a 2xx answer. */
  recordSuccess(sequence: number, attempt: number): PushOutcomeEffect {
    if (this.#current(sequence, attempt) === undefined) return "stale";
    this.pending.delete(sequence);
    this.counters.pushed++;
    this.#tidy();
    return "pushed";
  }

  /**
   * Records a failed attempt and schedules the next one, or gives up. The window ends at the
   * topic's retention (and the day, for `exponentialDecay`) after publishing. With `finalTry`
   * (PushResults layout 2 on), a next try at or past `pushRetryLimits.finalTryMarginMs` before
   * that end is brought forward to it, once: a failure of a try scheduled there, or recorded
   * there or later, gives up (expired). Without it (layout 1), a failure whose next try would
   * fall at or past the end gives up.
   */
  recordFailure(
    outcome: { sequence: number; attempt: number; now: number; error: string },
    schedule: {
      policy: RetryPolicy;
      retentionMs: number;
      subscriptionIncarnation: number;
      finalTry: boolean;
    },
  ): PushOutcomeEffect {
    const push = this.#current(outcome.sequence, outcome.attempt);
    if (push === undefined) return "stale";
    this.counters.failures++;
    this.lastError = {
      at: outcome.now,
      message: outcome.error.slice(0, subscriptionLimits.pushErrorCharsMax),
    };
    const triedAt = push.nextAttemptAt;
    push.attempts++;
    const spread = retrySpread(schedule.subscriptionIncarnation, push.sequence, push.attempts);
    const delay = retryDelayMs(schedule.policy, push.attempts, spread);
    const windowMs = schedule.policy === "exponentialDecay"
      ? Math.min(schedule.retentionMs, pushRetryLimits.decayWindowMs)
      : schedule.retentionMs;
    const windowEnd = push.publishTime + windowMs;
    const next = delay === null
      ? null
      : nextTry({ now: outcome.now, delay, triedAt, windowEnd }, schedule.finalTry);
    let effect: PushOutcomeEffect;
    if (delay === null) effect = "dropped";
    else if (next === null) effect = "expired";
    else {
      push.nextAttemptAt = next;
      this.#heap.push(push.nextAttemptAt, push.sequence);
      this.counters.retries++;
      // The entry of the attempt that failed is stale now; without tidying, a replica that only
      // applies (no worker reads its due pushes) kept one per failure until the pushes settled.
      this.#tidy();
      return "retry";
    }
    this.pending.delete(push.sequence);
    this.counters[effect]++;
    this.#tidy();
    return effect;
  }

  /** Drops pending pushes published at or before `cut`; returns how many. */
  expire(cut: number): number {
    let count = 0;
    for (const push of this.pending.values()) {
      if (push.publishTime > cut) break;
      this.pending.delete(push.sequence);
      count++;
    }
    this.counters.expired += count;
    if (count > 0) this.#tidy();
    return count;
  }

  /** Publish time of the oldest pending push, or null. */
  oldestPublishTime(): number | null {
    for (const push of this.pending.values()) return push.publishTime;
    return null;
  }

  /** Whether the oldest pending push has failed an attempt (false when none waits). */
  oldestFailed(): boolean {
    for (const push of this.pending.values()) return push.attempts > 0;
    return false;
  }

  /** The lowest log index a pending push points at (Infinity: none). */
  minLogIndex(): number {
    for (const push of this.pending.values()) return push.logIndex;
    return Infinity;
  }

  /** When the earliest pending push is due, or null when none waits. */
  nextAttemptAt(): number | null {
    this.#dropStaleTop();
    const time = this.#heap.peekTime();
    return time === Infinity ? null : time;
  }

  /**
   * Up to `limit` pending pushes due at `now`, earliest first, leaving out those `skip` names
   * (attempts in flight). Reads only: nothing changes.
   */
  due(now: number, limit: number, skip: (sequence: number) => boolean): PendingPush[] {
    const found: PendingPush[] = [];
    if (limit <= 0) return found;
    this.#heap.visitUntil(now, (time, sequence) => {
      const push = this.pending.get(sequence);
      if (push !== undefined && push.nextAttemptAt === time && !skip(sequence)) found.push(push);
      return found.length < limit;
    });
    return found;
  }

  /** Removes heap entries of pushes that are gone or were rescheduled, when they pile up. */
  #tidy(): void {
    this.#dropStaleTop();
    if (this.#heap.size > 2 * this.pending.size + 64) {
      this.#heap = new ReleaseHeap();
      for (const push of this.pending.values()) this.#heap.push(push.nextAttemptAt, push.sequence);
    }
  }

  #dropStaleTop(): void {
    while (this.#heap.size > 0) {
      const time = this.#heap.peekTime();
      const sequence = this.#heap.pop();
      const push = this.pending.get(sequence);
      if (push !== undefined && push.nextAttemptAt === time) {
        this.#heap.push(time, sequence);
        return;
      }
    }
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return 256 + this.pending.size * pendingBytesEstimate + this.#heap.memoryBytes();
  }

  /**
   * Snapshot form: `5 × f64 counters (pushed, failures, retries, dropped, expired),
   * u8 hasError, [f64 at, u16 len + message], u32 count`, then per pending push in sequence
   * order: `f64 sequence, f64 logIndex, u16 slot, f64 publishTime, u32 attempts,
   * f64 nextAttemptAt`.
   */
  write(writer: ByteWriter): void {
    const counters = this.counters;
    for (const value of [counters.pushed, counters.failures, counters.retries]) writer.f64(value);
    writer.f64(counters.dropped);
    writer.f64(counters.expired);
    writer.u8(this.lastError === null ? 0 : 1);
    if (this.lastError !== null) {
      writer.f64(this.lastError.at);
      writer.string16(this.lastError.message);
    }
    writer.u32(this.pending.size);
    for (const push of this.pending.values()) {
      writer.f64(push.sequence);
      writer.f64(push.logIndex);
      writer.u16(push.slot);
      writer.f64(push.publishTime);
      writer.u32(push.attempts);
      writer.f64(push.nextAttemptAt);
    }
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): PushState {
    const state = new PushState();
    const counters = state.counters;
    counters.pushed = reader.uint();
    counters.failures = reader.uint();
    counters.retries = reader.uint();
    counters.dropped = reader.uint();
    counters.expired = reader.uint();
    if (reader.u8() === 1) state.lastError = { at: reader.uint(), message: reader.string16() };
    const count = reader.u32();
    for (let index = 0; index < count; index++) {
      state.add({
        sequence: reader.uint(),
        logIndex: reader.uint(),
        slot: reader.u16(),
        publishTime: reader.uint(),
        attempts: reader.u32(),
        nextAttemptAt: reader.uint(),
      });
    }
    return state;
  }
}
