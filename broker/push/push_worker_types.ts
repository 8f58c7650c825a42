/**
 * What a `PushWorker` is given (its options, the `fetch` and timers it reaches the world by) and
 * what it reports (`PushWorkerStats`).
 *
 * @module
 */
import type { PushSource } from "../service/mod.ts";
import type { PushLimits } from "./push_limits.ts";

/**
 * A `fetch`-like function: the only way the worker reaches an endpoint. One that calls `onHead`
 * when the answer's status arrives takes the request out of its timeout from then on (the status
 * decides the outcome), and must bound the rest of the answer itself, as `PushHttpClient` does
 * (`bodyWaitMs`); one that never calls it stays under the timeout to the end.
 */
export type PushFetch = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body: string;
    signal: AbortSignal;
    onHead?: () => void;
  },
) => Promise<{ status: number; body?: { cancel(): Promise<void> } | null }>;

/** Timers on the node's clock. */
export interface PushTimers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** Options of a `PushWorker`. */
export interface PushWorkerOptions {
  source: PushSource;
  fetch: PushFetch;
  clock: { now(): number };
  timers: PushTimers;
  limits?: Partial<PushLimits>;
  /** Told about each push answered with a 2xx: milliseconds since the message was published. */
  onPushed?: (latencyMs: number) => void;
  /** Where unexpected failures (not endpoint failures) are reported. Default `console.error`. */
  logError?: (message: string, error: unknown) => void;
}

/** Counters of this worker since it was made (local, not replicated). */
export interface PushWorkerStats {
  requests: number;
  failures: number;
  /** Requests in flight. */
  inflight: number;
  /** Finished pushes whose outcome is being recorded. */
  recording: number;
  /** Due pushes left out because their message could not be read (see the module). */
  unreadable: number;
  running: boolean;
}
