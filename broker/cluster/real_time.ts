/**
 * The real clock and timers, wired in by `main.ts` (tests and the simulation pass manual ones).
 *
 * @module
 */
import type { ClockLike, Timers } from "../replication/mod.ts";

/** `setTimeout`-backed timers. */
export const realTimers: Timers = {
  setTimer: (delayMs, callback) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as number),
};

/** The wall clock in milliseconds. */
export const realClock: ClockLike = { now: () => Date.now() };
