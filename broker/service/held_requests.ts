/**
 * Requests held across a freeze of the process (SIGSTOP, a paused VM, a long GC): a request
 * this node received and then held longer than a bound before forwarding it to the leader or
 * proposing its send or publish is refused `503 NotReady` ("held N s (the node was frozen?)"), nothing done.
 * Its client gave up long ago and may have sent it again elsewhere; past the 300 s dedup window a
 * late copy would be stored twice.
 *
 * Time is the monotonic clock (`performance.now()`), which keeps running while the process is
 * stopped. A request's arrival is when its handler starts, except just after a freeze: one read
 * then may have waited in the kernel's buffers since the freeze began, so it counts from the last
 * moment the node was seen running (a ticker notes it every `tickMs`).
 *
 * A follower checks each request's arrival before it forwards it. A leader checks the process's
 * state right before it proposes a send or a publish (`heldRefusal`, whichever door it came in
 * by): while the ticker has not run for longer than the bound, or within the grace after such a
 * freeze, every one is refused (a request read then may have waited through the freeze; a fresh
 * one is retried after `Retry-After`). No per-request context is kept: that cost every request
 * on the hot path about half a microsecond (`AsyncLocalStorage.run`) for an event this rare.
 *
 * @module
 */
import { BrokerError } from "../engine/mod.ts";

/**
 * The default bound, 60 s: twice the SDK's 30 s request timeout and well above any normal wait
 * before a forward or a proposal (a 20 s long poll, an election, a read barrier), yet a request
 * held on a follower and then again on the leader (120 s at most) still lands inside the 300 s
 * dedup window of a retry, so a retried send with a `dedupId` is stored once.
 */
export const heldRequestMsMaxDefault = 60_000;

/** Options of `HeldRequests`. */
export interface HeldRequestsOptions {
  /** Longest a request may be held before it is forwarded or proposed; default 60 s. */
  msMax?: number;
  /** The monotonic clock, in ms (tests inject one); default `performance.now()`. */
  now?: () => number;
  /** How often the ticker notes that the node runs; default 1000. */
  tickMs?: number;
  /**
   * How long after a detected freeze the requests read count from its start (those the kernel
   * held meanwhile are read in that time); default 2000.
   */
  graceMs?: number;
}

/** The bound of this process (its ticker running), which `heldRefusal` reads; none until started. */
let running: HeldRequests | null = null;

/** One node's bound on held requests, and the ticker that notices freezes. */
export class HeldRequests {
  readonly msMax: number;
  readonly #now: () => number;
  readonly #tickMs: number;
  readonly #graceMs: number;
  #lastTick: number;
  #frozenFrom = -Infinity;
  #resumedAt = -Infinity;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: HeldRequestsOptions = {}) {
    this.msMax = options.msMax ?? heldRequestMsMaxDefault;
    if (!(this.msMax > 0)) throw new RangeError(`msMax must be > 0, got ${this.msMax}`);
    this.#now = options.now ?? (() => performance.now());
    this.#tickMs = options.tickMs ?? 1000;
    this.#graceMs = options.graceMs ?? 2000;
    this.#lastTick = this.#now();
  }

  /** Starts the ticker (it keeps no process alive); this is the process's bound from now on. */
  start(): void {
    if (this.#timer !== null) return;
    this.#lastTick = this.#now();
    const timer = setInterval(() => this.tick(), this.#tickMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
    running = this;
  }

  /** Stops the ticker (and is no longer the process's bound). */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (running === this) running = null;
  }

  /** Notes that the node runs now, and a freeze if it did not for a while (the ticker calls it). */
  tick(): void {
    const now = this.#now();
    if (now - this.#lastTick > 2 * this.#tickMs) {
      this.#frozenFrom = this.#lastTick;
      this.#resumedAt = now;
    }
    this.#lastTick = now;
  }

  /** The arrival of a request whose handler starts now (see the module's comment). */
  arrival(): number {
    const now = this.#now();
    // The ticker has not run since a freeze ended: the freeze is still to be noticed.
    if (this.#timer !== null && now - this.#lastTick > 2 * this.#tickMs) return this.#lastTick;
    if (now - this.#resumedAt < this.#graceMs) return this.#frozenFrom;
    return now;
  }

  /** The refusal of a request that arrived at `arrival`, if it was held too long, or null. */
  refusal(arrival: number): BrokerError | null {
    const held = this.#now() - arrival;
    if (held <= this.msMax) return null;
    const seconds = Math.round(held / 1000);
    return new BrokerError(
      "NotReady",
      `request held ${seconds} s (the node was frozen?), longer than ${this.msMax / 1000} s; ` +
        "nothing was done, retry",
      { retryAfterSeconds: 1 },
    );
  }
}

/**
 * The refusal of a send or publish about to be proposed now, when the process's bound (a started
 * {@link HeldRequests}) says a request handled now may have been held too long: a freeze longer
 * than the bound not yet noticed by the ticker, or noticed less than the grace ago. Null
 * otherwise, and when no bound was started.
 */
export function heldRefusal(): BrokerError | null {
  return running === null ? null : running.refusal(running.arrival());
}
