/**
 * The options of `CmqdClient` and of its single calls, checked by the `Requester` that carries
 * them out (see `requester.ts`).
 *
 * @module
 */
import type { RetryOptions } from "./retry.ts";
import type { HttpTransport } from "./transport.ts";
import type { Credentials } from "./option_checks.ts";

/** Options of a `CmqdClient`. */
export interface CmqdClientOptions {
  /** Any node of the cluster, e.g. `http://127.0.0.1:8080`, or several (tried in turn). */
  baseUrl: string | string[];
  /** How requests travel; default `defaultTransport()` (Http1Transport in Deno, node:http in Node). */
  transport?: HttpTransport;
  /** Shorthand for `transport: new FetchTransport(fetch)`. */
  fetch?: typeof fetch;
  /**
   * Sent with every request (tracing, a proxy's own authentication). A name that is not an HTTP
   * token, or a value with CR, LF or NUL, throws when the client is built.
   */
  headers?: Record<string, string>;
  /**
   * An access key of the broker's credentials file: every request (every retry too) is signed
   * with `CMQD1-HMAC-SHA256` (see `signRequest`); the secret key itself is never sent.
   */
  credentials?: Credentials;
  /**
   * Per attempt; a receive adds its long-poll wait on top. Default 30 s. A number of
   * milliseconds > 0; `Infinity` for none (a node that never answers then holds the call for
   * ever). Anything else (`NaN`, 0, a negative number, a string) throws when the client is built.
   */
  timeoutMs?: number;
  /**
   * Per attempt, how long the response's head (status and headers) may take before the node is
   * taken for frozen, when the client knows another node to go to; a receive adds its long-poll
   * wait on top. Then a call that is safe to repeat moves on to another node at once; any other
   * call asks the silent node's `/healthz`, and fails with `Timeout` ("may or may not have taken
   * effect") only when that gets no answer either (a live but slow node is waited for, up to
   * `timeoutMs`). The node is avoided for 10 s (after a call's own shorter `headTimeoutMs`, only
   * the second time in a row). Default 5 s; `Infinity` turns it off. Checked like `timeoutMs`.
   */
  headTimeoutMs?: number;
  /**
   * Bounds of the automatic retries (a `Retry-After` may ask for longer than the back-off, up to
   * 30 s, never for less). By default a call retries for up to 10 s after its first failed
   * attempt (`budgetMs`), which outlasts an ordinary leader election (see `RetryOptions`).
   * `attemptsMax` an integer ≥ 1, or `Infinity`; given without `budgetMs` it alone bounds the
   * retries, by count (with `Infinity`: retried, where that is safe, until the call's signal
   * aborts; a send safe by its `dedupId`s only for 240 s after the first attempt that may have
   * stored it, inside the broker's 300 s dedup window). `budgetMs` a number of milliseconds ≥ 0,
   * or `Infinity` for no time bound. `backoffMsMin` ≤ `backoffMsMax` finite numbers ≥ 0. Anything
   * else throws when the client is built.
   */
  retry?: Partial<RetryOptions>;
  /** Follow the `x-cmqd-leader` hint. Default true. */
  followLeader?: boolean;
  /**
   * How to wait between attempts (tests pass a recorder). Default a timer. The call's signal
   * ends the wait either way.
   */
  sleep?: (ms: number) => Promise<void>;
}

/** Options of a single call. */
export interface CallOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
  /**
   * Per attempt, instead of the client's `timeoutMs` (a receive adds its wait on top); checked
   * like it: a bad one fails the call with a `RangeError` or `TypeError`, before anything is sent.
   */
  timeoutMs?: number;
  /** Per attempt, instead of the client's `headTimeoutMs` (a receive adds its wait on top). */
  headTimeoutMs?: number;
}
