/**
 * The typed errors of the broker. An expected failure (bad input, a missing queue, no leader) is
 * an `ApiError`; the HTTP doors map it to a status and body, nothing else does. Anything that is
 * not an `ApiError` is a bug and becomes a 500 `InternalError`.
 *
 * @module
 */

/** Every error code the native door answers with, and its HTTP status. */
export const errorStatus = {
  InvalidParameter: 400,
  MalformedRequest: 400,
  ReceiptHandleInvalid: 400,
  Unauthorized: 401,
  Forbidden: 403,
  QueueNotFound: 404,
  TopicNotFound: 404,
  SubscriptionNotFound: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  QueueAlreadyExists: 409,
  MessageTooLarge: 413,
  BatchTooLarge: 413,
  RequestTooLarge: 413,
  UnsupportedMediaType: 415,
  BacklogFull: 429,
  InternalError: 500,
  NoLeader: 503,
  NotReady: 503,
} as const;

/** A code of `errorStatus`. */
export type ErrorCode = keyof typeof errorStatus;

/** Options of an `ApiError`. */
export interface ApiErrorOptions {
  /** The offending request field as a dotted path (`messages.3.body`). */
  field?: string;
  /** Seconds a client should wait before retrying (503s). */
  retryAfterSeconds?: number;
}

/**
 * An expected, typed failure answered to the client.
 *
 * @example
 * ```ts
 * throw new ApiError("QueueNotFound", "queue 'orders' does not exist");
 * ```
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly field?: string;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = errorStatus[code];
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Shorthand for a 400 `InvalidParameter` naming the field. */
export function invalidParameter(field: string, message: string): ApiError {
  return new ApiError("InvalidParameter", `${field}: ${message}`, { field });
}
