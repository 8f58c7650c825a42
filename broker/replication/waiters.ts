/**
 * The callers a `RaftReplica` owes an answer: proposals waiting for their entry to be applied
 * and read barriers waiting for their ReadIndex round. Both are kept in insertion order, which is
 * deadline order (one timeout for all), so expiring stops at the first one still in time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { outcomeUnknown, ReplicationError } from "./errors.ts";

interface Waiter<T> {
  deadline: number;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** Callers waiting on keys (log indexes, read request ids), each with one deadline. */
class Waiters<K, T, Extra = Record<never, never>> {
  readonly #waiting = new Map<K, Waiter<T> & Extra>();

  get size(): number {
    return this.#waiting.size;
  }

  has(key: K): boolean {
    return this.#waiting.has(key);
  }

  /** Removes and returns the waiter of `key`. */
  take(key: K): (Waiter<T> & Extra) | undefined {
    const waiter = this.#waiting.get(key);
    if (waiter !== undefined) this.#waiting.delete(key);
    return waiter;
  }

  wait(key: K, deadline: number, extra: Extra): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(key, { deadline, resolve, reject, ...extra });
    });
  }

  /** Rejects the waiter of `key`, if any. */
  reject(key: K, error: unknown): void {
    this.take(key)?.reject(error);
  }

  /** Rejects every waiter whose key matches. */
  rejectWhere(matches: (key: K) => boolean, error: () => unknown): void {
    for (const key of [...this.#waiting.keys()]) {
      if (matches(key)) this.reject(key, error());
    }
  }

  /** Rejects every waiter whose deadline has passed. */
  expire(now: number, error: () => unknown): void {
    for (const [key, waiter] of this.#waiting) {
      if (waiter.deadline > now) break; // insertion order is deadline order
      this.#waiting.delete(key);
      waiter.reject(error());
    }
  }

  rejectAll(error: unknown): void {
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }
}

/** Proposals by log index, each with the term it was proposed in. */
export class ProposalWaiters extends Waiters<number, unknown, { term: number }> {
  /** Resolves the proposal at `index` with `result` if `term` is its own, else rejects it. */
  settleApplied(index: number, term: number, result: unknown, overwritten: () => unknown): void {
    const waiter = this.take(index);
    if (waiter === undefined) return;
    if (waiter.term === term) waiter.resolve(result);
    else waiter.reject(overwritten());
  }

  expireNow(now: number): void {
    this.expire(now, outcomeUnknown);
  }
}

/** Read barriers by request id. */
export class ReadWaiters extends Waiters<string, void> {
  /** Answers the confirmed reads; they are served after applying up to their index. */
  serve(readStates: readonly { requestId: string; index: number }[], applied: number): void {
    for (const read of readStates) {
      const pending = this.take(read.requestId);
      if (pending === undefined) continue;
      if (applied < read.index) assert.fail("reads are served after applying");
      pending.resolve();
    }
  }

  expireNow(now: number): void {
    this.expire(
      now,
      () => new ReplicationError("NotReady", "read barrier timed out", { retryAfterSeconds: 1 }),
    );
  }
}

/**
 * Everyone a replica owes an answer, with one timeout measured on the monotonic clock (a wall
 * clock jump must neither expire every write nor keep them waiting for hours).
 */
export class Outstanding {
  readonly proposals = new ProposalWaiters();
  readonly reads = new ReadWaiters();
  readonly #monotonic: { now(): number };
  readonly #timeoutMs: number;

  constructor(monotonic: { now(): number }, timeoutMs: number) {
    this.#monotonic = monotonic;
    this.#timeoutMs = timeoutMs;
  }

  /** Waits for the outcome of the proposal at `index`; an earlier one there was overwritten. */
  track(proposal: { index: number; term: number }, overwritten: () => unknown): Promise<unknown> {
    if (this.proposals.has(proposal.index)) this.proposals.reject(proposal.index, overwritten());
    return this.proposals.wait(proposal.index, this.#deadline(), { term: proposal.term });
  }

  /** Waits for the read barrier `requestId`. */
  read(requestId: string): Promise<void> {
    return this.reads.wait(requestId, this.#deadline(), {});
  }

  /** Answers whoever waited past the timeout. */
  expire(): void {
    const now = this.#monotonic.now();
    this.proposals.expireNow(now);
    this.reads.expireNow(now);
  }

  rejectAll(error: unknown): void {
    this.proposals.rejectAll(error);
    this.reads.rejectAll(error);
  }

  /**
   * Resolves once no proposal waits, `stop()` holds, or `msMax` passed (checked every
   * `everyMs` on `timers`).
   */
  drain(
    timers: { setTimer(delayMs: number, callback: () => void): unknown },
    options: { msMax: number; everyMs: number; stop: () => boolean },
  ): Promise<void> {
    const deadline = this.#monotonic.now() + options.msMax;
    return new Promise((resolve) => {
      const check = () => {
        const done = this.proposals.size === 0 || options.stop();
        if (done || this.#monotonic.now() >= deadline) resolve();
        else timers.setTimer(options.everyMs, check);
      };
      check();
    });
  }

  #deadline(): number {
    return this.#monotonic.now() + this.#timeoutMs;
  }
}
