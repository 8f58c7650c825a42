/**
 * The one error mapper of the native door. Whatever goes wrong while serving a request ends
 * here and leaves as `{"error": {"code", "message", "requestId", "field"?}}` with the status
 * `statusOf` gives each domain error code:
 *
 * - `BrokerError` (thrown by the service, the validation hook and the body reader) → its status;
 *   `Retry-After` when it carries `retryAfterSeconds`.
 * - hono's own `HTTPException`s (malformed JSON seen by the validator, the media type gate of
 *   `@hono/zod-openapi`) → `MalformedRequest` / `UnsupportedMediaType`.
 * - anything else is a bug: 500 `InternalError`, logged with its stack, never shown.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "@hono/zod-openapi";
import { BrokerError, type ErrorCode, messageLimits } from "../../service/mod.ts";
import type { ErrorBody } from "../../../sdk/protocol.ts";
import type { AccessKey } from "../../auth/mod.ts";

/** The native door's HTTP status for every domain error code. */
export const errorStatus: Readonly<Record<ErrorCode, number>> = {
  InvalidParameter: 400,
  MalformedRequest: 400,
  ReceiptHandleInvalid: 400,
  Unauthenticated: 401,
  AccessDenied: 403,
  QueueNotFound: 404,
  TopicNotFound: 404,
  SubscriptionNotFound: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  QueueAlreadyExists: 409,
  TopicAlreadyExists: 409,
  SubscriptionAlreadyExists: 409,
  MessageTooLarge: 413,
  BatchTooLarge: 413,
  RequestTooLarge: 413,
  UnsupportedMediaType: 415,
  BacklogFull: 429,
  QueueLimitExceeded: 429,
  TopicLimitExceeded: 429,
  InternalError: 500,
  InsufficientStorage: 507,
  NoLeader: 503,
  NotReady: 503,
  NodeRemoved: 503,
};

/** The per-request variables the door keeps on the hono context. */
export interface DoorEnv {
  Variables: {
    requestId: string;
    /** The decoded request body of JSON routes, kept for error messages. */
    bodyText?: string;
    /** The raw body, read once by `readBodyOnce` until the JSON reader has decoded it. */
    bodyBytes?: Uint8Array<ArrayBuffer>;
    /** The caller's key, once its credentials verified (only with a key ring). */
    accessKey?: AccessKey;
    /** The receive's abort signal when a key ring may take its key away while it waits. */
    longPollAborts?: { readonly signal: AbortSignal };
    /** Set by the route's access rule; a route without one is refused (fails closed). */
    accessChecked?: boolean;
    /**
     * Set by the access guard, with keys, on routes whose rule says the state names a queue the
     * request writes into (`queuesWrittenByState`): throws 403 `AccessDenied` unless the
     * caller's key may send to the queue. The handler passes it to the service.
     */
    mayWriteQueue?: (queue: string) => void;
    /** The metrics' route label of a door that serves a whole path (CMQ, SQS). */
    metricsRoute?: string;
  };
}

/** Where 500s are reported: the message and the original error. */
export type ErrorLogger = (message: string, error: unknown) => void;

/** The JSON error body of `code`. */
export function errorBody(
  code: ErrorCode,
  message: string,
  options: { requestId: string; field?: string; outcomeUnknown?: true },
): ErrorBody {
  const error: ErrorBody["error"] = { code, message, requestId: options.requestId };
  if (options.field !== undefined) error.field = options.field;
  if (options.outcomeUnknown) error.outcomeUnknown = true;
  return { error };
}

/** Builds the `app.onError` handler; `logError` receives every 500. */
export function createErrorHandler(
  logError: ErrorLogger,
): (error: Error, c: Context<DoorEnv>) => Response | Promise<Response> {
  return (error, c) => {
    const apiError = toApiError(error, c);
    if (errorStatus[apiError.code] >= 500 && !(error instanceof BrokerError)) {
      logError(
        `request ${c.get("requestId")} ${c.req.method} ${c.req.path} failed: ${error.message}`,
        error,
      );
    }
    return respondWithError(c, apiError);
  };
}

/** Answers `error` as JSON with its status, request id and `Retry-After`. */
export function respondWithError(c: Context<DoorEnv>, error: BrokerError): Response {
  if (error.retryAfterSeconds !== undefined) {
    c.header("retry-after", String(Math.max(0, Math.ceil(error.retryAfterSeconds))));
  }
  const body = errorBody(error.code, error.message, {
    requestId: c.get("requestId") ?? "",
    field: error.field,
    outcomeUnknown: error.outcomeUnknown,
  });
  // deno-lint-ignore no-explicit-any
  return c.json(body, errorStatus[error.code] as any);
}

function toApiError(error: Error, c: Context<DoorEnv>): BrokerError {
  if (error instanceof BrokerError) return error;
  if (error instanceof HTTPException) return fromHttpException(error, c);
  return new BrokerError("InternalError", "internal error; see the server log for the request id");
}

const httpExceptionCodes: Record<number, ErrorCode> = {
  400: "MalformedRequest",
  401: "Unauthenticated",
  403: "AccessDenied",
  404: "NotFound",
  405: "MethodNotAllowed",
  413: "RequestTooLarge",
  415: "UnsupportedMediaType",
};

function fromHttpException(error: HTTPException, c: Context<DoorEnv>): BrokerError {
  const code = httpExceptionCodes[error.status] ?? "InternalError";
  if (code === "MalformedRequest") {
    return new BrokerError(code, `request body is not valid JSON: ${jsonSyntaxError(c)}`);
  }
  if (code === "UnsupportedMediaType") {
    return new BrokerError(code, "request body must be JSON (content-type: application/json)");
  }
  return new BrokerError(code, error.message || code);
}

/**
 * Why the body failed to parse. The validator swallows the parser's message, so it is
 * recomputed here from the text the body reader kept, on the error path only.
 */
function jsonSyntaxError(c: Context<DoorEnv>): string {
  const text = c.get("bodyText");
  if (text === undefined) return "unreadable body";
  try {
    JSON.parse(text);
    return "unexpected parse failure";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Most characters of a request's path (or method) an error message repeats. */
const echoedCharsMax = 200;

/**
 * `text` as an error message repeats it: its first {@link echoedCharsMax} characters and `…`
 * when longer (never half a surrogate pair), so a path of megabytes is not sent back whole.
 */
function echoed(text: string): string {
  if (text.length <= echoedCharsMax) return text;
  const cut = /[\uD800-\uDBFF]/.test(text[echoedCharsMax - 1])
    ? echoedCharsMax - 1
    : echoedCharsMax;
  return `${text.slice(0, cut)}…`;
}

/**
 * Answers an unknown route: 405 when the path exists with other methods, else 404. The message
 * names the method and the path, each cut to {@link echoedCharsMax} characters.
 */
export function createNotFoundHandler(
  allowedMethods: (path: string) => string[],
): (c: Context<DoorEnv>) => Response {
  return (c) => {
    const methods = allowedMethods(c.req.path);
    const method = echoed(c.req.method);
    const path = echoed(c.req.path);
    if (methods.length > 0) {
      c.header("allow", methods.join(", "));
      return respondWithError(
        c,
        new BrokerError(
          "MethodNotAllowed",
          `${method} is not allowed on ${path}; use ${methods.join(", ")}`,
        ),
      );
    }
    return respondWithError(c, new BrokerError("NotFound", `no route for ${method} ${path}`));
  };
}

/** The validation outcome `@hono/zod-openapi` hands to a hook. */
export interface ValidationResult {
  success: boolean;
  /** The input that was validated (always passed by `@hono/zod-openapi`). */
  data?: unknown;
  error?: z.ZodError;
  target: string;
}

/**
 * The `defaultHook` of every route: a failed validation becomes a 400 `InvalidParameter`
 * naming the offending field as a dotted path (`messages.3.delaySeconds`), or a 413
 * `BatchTooLarge` for a batch over `batchEntriesMax`.
 */
export function validationHook(result: ValidationResult): void {
  if (result.success || result.error === undefined) return;
  throw invalidParameterFromZod(result.error, result.data);
}

/** Unknown field names an answer lists after the first. */
const unknownKeysListedMax = 10;
/** Characters of an unknown field's name an answer shows. */
const unknownKeyCharsMax = 100;

/** An unknown field's name as an answer shows it: shortened past 100 characters. */
function shownKey(key: string): string {
  return key.length > unknownKeyCharsMax ? `${key.slice(0, unknownKeyCharsMax)}…` : key;
}

/** The most telling issue of `error` as an `InvalidParameter`, described for a human. */
export function invalidParameterFromZod(error: z.ZodError, input: unknown): BrokerError {
  // An unknown field usually explains a missing one (`mesages` vs `messages`): report it first.
  const issue = ownBound(
    error.issues,
    error.issues.find((candidate) => candidate.code === "unrecognized_keys") ?? error.issues[0],
  );
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const field = [...path, shownKey(issue.keys[0])].join(".");
    // The answer stays small whatever the body held: 10 more names at most, each shortened.
    const listed = issue.keys.slice(1, 1 + unknownKeysListedMax).map(shownKey);
    const more = issue.keys.length - 1 - listed.length;
    const others = listed.length === 0
      ? ""
      : ` (and ${listed.join(", ")}${more > 0 ? `, and ${more} more` : ""})`;
    return new BrokerError("InvalidParameter", `${field}: unknown field${others}`, { field });
  }
  if (issue.code === "invalid_key") {
    // The key itself may be huge or odd: name the record, describe the key rule.
    const field = path.slice(0, -1).join(".") || "body";
    const inner = issue.issues[0];
    const rule = inner === undefined ? issue.message : describeIssue(inner, path.at(-1));
    return new BrokerError("InvalidParameter", `${field}: every key ${rule}`, { field });
  }
  const field = path.length === 0 ? "body" : path.join(".");
  const description = describeIssue(issue, valueAt(input, issue.path));
  if (
    issue.code === "too_big" && issue.origin === "array" &&
    issue.maximum === messageLimits.batchEntriesMax
  ) {
    // Same answer as the service gives: an oversized batch is a 413, not a 400.
    return new BrokerError("BatchTooLarge", `${field}: ${description}`, { field });
  }
  return new BrokerError("InvalidParameter", `${field}: ${description}`, { field });
}

/**
 * `issue`, or the field's own bound when `issue` is the safe-integer bound every `z.int()` has:
 * an integer past 2^53 (`1e300`) breaks both, and zod reports the safe one first, which would
 * tell a client that `visibilityTimeoutSeconds` may be up to 2^53-1.
 */
function ownBound(issues: z.core.$ZodIssue[], issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if ((issue.code !== "too_big" && issue.code !== "too_small") || issue.origin !== "int") {
    return issue;
  }
  const path = issue.path.join("\u0000");
  return issues.find((other) =>
    other !== issue && other.code === issue.code && other.path.join("\u0000") === path
  ) ?? issue;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return "is required";
      if (issue.expected === "int") return `must be an integer, got ${typeName(value)}`;
      return `must be ${article(issue.expected)}, got ${typeName(value)}`;
    case "too_small":
      return describeBound(issue.origin, "least", issue.minimum);
    case "too_big":
      return describeBound(issue.origin, "most", issue.maximum);
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}

function describeBound(origin: string, side: "least" | "most", bound: number | bigint): string {
  switch (origin) {
    case "string":
      return side === "least" && bound === 1
        ? "must not be empty"
        : `must have at ${side} ${bound} characters`;
    case "array":
    case "set":
      return `must have at ${side} ${bound} ${bound === 1 ? "entry" : "entries"}`;
    default:
      return `must be at ${side} ${bound}`;
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Echoed values are cut so that a 1 MB string does not come back in the message. */
const echoCharsMax = 40;

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" && !Number.isInteger(value)) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  const echo = text.length > echoCharsMax ? `${text.slice(0, echoCharsMax)}…` : text;
  return `${typeof value} ${echo}`;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
