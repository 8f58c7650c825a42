/**
 * The typed errors of the broker. An expected failure (bad input, a missing queue, no leader) is
 * a `BrokerError` carrying a code but no transport status: each door maps the code to its own
 * answer (HTTP status and JSON for v1, a CMQ code, an SQS error). Anything that is not a
 * `BrokerError` is a bug and becomes an internal error.
 *
 * @module
 */

/**
 * Every error code of the broker. Domain codes come from the engine and the service; `NoLeader`,
 * `NotReady` and `NodeRemoved` from replication (translated by the service); `MalformedRequest`,
 * `RequestTooLarge`, `RequestTimeout`, `UnsupportedMediaType`, `MethodNotAllowed` and `NotFound`
 * from the HTTP layer;
 * `Unauthenticated` and `AccessDenied` from the doors' authentication (README, "Security").
 * Each door maps a code to its own status and shape (the native door: `http/v1/errors.ts`).
 */
export const errorCodes = [
  "InvalidParameter",
  "MalformedRequest",
  "ReceiptHandleInvalid",
  "Unauthenticated",
  "AccessDenied",
  "QueueNotFound",
  "TopicNotFound",
  "SubscriptionNotFound",
  "NotFound",
  "MethodNotAllowed",
  "QueueAlreadyExists",
  "TopicAlreadyExists",
  "SubscriptionAlreadyExists",
  "MessageTooLarge",
  "BatchTooLarge",
  "RequestTooLarge",
  "RequestTimeout",
  "UnsupportedMediaType",
  "BacklogFull",
  "QueueLimitExceeded",
  "TopicLimitExceeded",
  "InsufficientStorage",
  "InternalError",
  "NoLeader",
  "NotReady",
  "NodeRemoved",
] as const;

/** A code of `errorCodes`. */
export type ErrorCode = typeof errorCodes[number];

/** Options of an `BrokerError`. */
export interface BrokerErrorOptions {
  /** The offending request field as a dotted path (`messages.3.body`). */
  field?: string;
  /** Seconds a client should wait before retrying (503s). */
  retryAfterSeconds?: number;
  /** The request may have been carried out all the same (a 503 for a write in the log). */
  outcomeUnknown?: true;
}

/**
 * An expected, typed failure answered to the client.
 *
 * @example
 * ```ts
 * throw new BrokerError("QueueNotFound", "queue 'orders' does not exist");
 * ```
 */
export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly retryAfterSeconds?: number;
  readonly outcomeUnknown?: true;

  constructor(code: ErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(message);
    this.name = "BrokerError";
    this.code = code;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.outcomeUnknown) this.outcomeUnknown = true;
  }
}

/** Shorthand for a 400 `InvalidParameter` naming the field. */
export function invalidParameter(field: string, message: string): BrokerError {
  return new BrokerError("InvalidParameter", `${field}: ${message}`, { field });
}

/**
 * The refusal of a create naming an existing queue, topic or subscription with other attributes
 * (the state machine's at apply; the service's when the state after its read barrier shows it).
 */
export function alreadyExists(kind: "queue" | "topic" | "subscription", name: string) {
  const code = ({
    queue: "QueueAlreadyExists",
    topic: "TopicAlreadyExists",
    subscription: "SubscriptionAlreadyExists",
  } as const)[kind];
  return new BrokerError(code, `${kind} '${name}' exists with different attributes`);
}
