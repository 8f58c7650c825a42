/**
 * The one error type of the SDK. A failed call rejects with a `CmqdError` whether the broker
 * answered with an error body, answered something unexpected, or could not be reached.
 *
 * @module
 */
import type { ApiErrorCode, ErrorBody, HandleFailureCode } from "./protocol.ts";

/** Codes the SDK itself produces (the broker's codes are listed in the API contract). */
export type ClientErrorCode =
  /** The request never got an answer (connection refused, reset, DNS). */
  | "NetworkError"
  /** No answer within the client's timeout. */
  | "Timeout"
  /** The caller's signal aborted the request. */
  | "Aborted"
  /** The broker answered with a status and a body that is not a cmqd error. */
  | "UnexpectedResponse"
  /** `Producer.send` after `close()`. */
  | "ProducerClosed"
  /**
   * A `Producer` send not sent because an earlier send of its group failed (sent after it, the
   * failed one would land behind it); `cause` is that send's error. Send again from the failed
   * one, in order.
   */
  | "EarlierSendFailed"
  /** The consumer was stopped (the reason of an aborted handler's signal). */
  | "ConsumerStopped";

/**
 * Every code a `CmqdError` may carry: the broker's (generated from the v1 error schema's enum, and
 * the per-handle codes of deletes and visibility changes)
 * and the SDK's own. A broker newer than this SDK may answer a code outside the union; it is
 * passed through as it came.
 */
export type ErrorCode = ApiErrorCode | HandleFailureCode | ClientErrorCode;

/** EngineService codes worth retrying: the request was not executed and may succeed later. */
const retryableCodes = new Set<string>([
  "NoLeader",
  "NotReady",
  "BacklogFull",
  "InsufficientStorage",
  "NetworkError",
  "Timeout",
  "RequestTimeout",
]);

/**
 * What an `HttpTransport` rejects with when its request got no (whole) answer for a reason of
 * the network: the connection was refused, reset or closed, the answer was cut off or could not
 * be read as HTTP. The client turns it (or an error with it in its `cause` chain) into a
 * `NetworkError`, retried where repeating is safe; see `isNetworkFailure` for the other errors
 * it takes as network failures. A custom transport throws this (or wraps its runtime's error in
 * it, as `cause`) for the failures it wants retried; anything else it throws reaches the caller
 * unchanged.
 *
 * @example
 * ```ts
 * const transport: HttpTransport = {
 *   async request(request) {
 *     try {
 *       return await myHttp(request);
 *     } catch (error) {
 *       if (isMySocketError(error)) throw new TransportError(`${error}`, { cause: error });
 *       throw error; // a bug of this transport: not retried, the caller sees it as it is
 *     }
 *   },
 * };
 * ```
 */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

/** Options of a `CmqdError`. */
export interface CmqdErrorOptions {
  /** HTTP status, 0 when there was no answer. */
  status: number;
  requestId?: string;
  /** For `InvalidParameter`: the offending field as a dotted path. */
  field?: string;
  /** Seconds the broker asked the client to wait (`Retry-After`). */
  retryAfterSeconds?: number;
  /** The broker said the request may have been carried out (see `CmqdError.outcomeUnknown`). */
  outcomeUnknown?: boolean;
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
  readonly code: ErrorCode;
  readonly status: number;
  readonly requestId?: string;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
  /**
   * True when the broker answered an error (a 503) although the request may have been carried
   * out: a write already in the leader's log when the node stopped waiting for it, or a request
   * forwarded to a leader that changed or stopped answering mid-request. Repeat such a request
   * only where repeating is safe (a send with `dedupId`, a delete); never a publish. (A network
   * error or timeout leaves the outcome unknown too; this flag is the broker's own word.)
   */
  readonly outcomeUnknown: boolean;
  /**
   * True when the same request may succeed later unchanged: 503 `NoLeader` / `NotReady`,
   * 429 `BacklogFull`, 507 `InsufficientStorage`, network errors and timeouts. (The client retries only some of these on
   * its own; see `CmqdClient`.)
   */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: CmqdErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CmqdError";
    this.code = code;
    this.status = options.status;
    this.requestId = options.requestId;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.outcomeUnknown = options.outcomeUnknown === true;
    this.retryable = retryableCodes.has(code);
  }
}

/**
 * The error of a non-2xx answer: the cmqd error body when there is one, else
 * `UnexpectedResponse` with the start of the body.
 */
export function errorFromAnswer(
  status: number,
  header: (name: string) => string | null,
  text: string,
): CmqdError {
  const retryAfterSeconds = parseRetryAfter(header("retry-after"));
  let body: Partial<ErrorBody> | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error !== undefined && typeof error.code === "string") {
    return new CmqdError(error.code, error.message, {
      status,
      requestId: error.requestId ?? header("x-request-id") ?? undefined,
      field: error.field,
      retryAfterSeconds,
      outcomeUnknown: error.outcomeUnknown === true,
    });
  }
  // Not followed (a redirect would resend a signed request elsewhere, a POST turned into a GET):
  // the message says where it points, or nobody could tell what is wrong.
  const message = status >= 300 && status <= 399
    ? `HTTP ${status}, a redirect to ${header("location") ?? "(no Location)"}: redirects are ` +
      "not followed; give the URL of a cmqd node itself"
    : `HTTP ${status}: ${text.slice(0, 200)}`;
  return new CmqdError("UnexpectedResponse", message, {
    status,
    requestId: header("x-request-id") ?? undefined,
    retryAfterSeconds,
  });
}

/** `Retry-After` as seconds: either a number of seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
