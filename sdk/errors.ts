/**
 * The one error type of the SDK. A failed call rejects with a `CmqdError` whether the broker
 * answered with an error body, answered something unexpected, or could not be reached.
 *
 * @module
 */

/** Codes the SDK itself produces (the broker's codes are listed in API.md). */
export type ClientErrorCode =
  /** The request never got an answer (connection refused, reset, DNS). */
  | "NetworkError"
  /** No answer within the client's timeout. */
  | "Timeout"
  /** The caller's signal aborted the request. */
  | "Aborted"
  /** The broker answered with a status and a body that is not a cmqd error. */
  | "UnexpectedResponse";

/** EngineService codes worth retrying: the request was not executed and may succeed later. */
const retryableCodes = new Set([
  "NoLeader",
  "NotReady",
  "BacklogFull",
  "InsufficientStorage",
  "NetworkError",
  "Timeout",
]);

/** Options of a `CmqdError`. */
export interface CmqdErrorOptions {
  /** HTTP status, 0 when there was no answer. */
  status: number;
  requestId?: string;
  /** For `InvalidParameter`: the offending field as a dotted path. */
  field?: string;
  /** Seconds the broker asked the client to wait (`Retry-After`). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * A failed cmqd call.
 *
 * @example
 * ```ts
 * try {
 *   await client.getQueue("orders");
 * } catch (error) {
 *   if (error instanceof CmqdError && error.code === "QueueNotFound") console.log("no queue");
 *   else throw error;
 * }
 * ```
 */
export class CmqdError extends Error {
  /** The broker's code (`QueueNotFound`, `InvalidParameter` …) or a `ClientErrorCode`. */
  readonly code: string;
  readonly status: number;
  readonly requestId?: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
  /**
   * True when the same request may succeed later unchanged: 503 `NoLeader` / `NotReady`,
   * 429 `BacklogFull`, 507 `InsufficientStorage`, network errors and timeouts. (The client retries only some of these on
   * its own; see `CmqdClient`.)
   */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: CmqdErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CmqdError";
    this.code = code;
    this.status = options.status;
    this.requestId = options.requestId;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.retryable = retryableCodes.has(code);
  }
}
