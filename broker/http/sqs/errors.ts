/**
 * The SQS door's errors and their one mapping table. Every failure leaves the door in SQS's AWS
 * JSON 1.0 error shape (or, for a query-protocol request, the XML `ErrorResponse` of
 * `query_xml.ts`, with the same status and the query code as its `Code`):
 *
 * ```
 * HTTP/1.1 400
 * x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender
 * {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}
 * ```
 *
 * `__type` names the error shape of SQS's model; `x-amzn-query-error` carries the code the older
 * query protocol used, which `@aws-sdk/client-sqs` (awsQueryCompatible) reads first: it becomes
 * the exception's `Code`, and through the model's `awsQueryError` trait its class
 * (`QueueDoesNotExist`). The statuses are those of SQS's model (`httpError`) or, for errors the
 * model does not list, of SQS's "Common Errors" page.
 *
 * @module
 */
import { BrokerError, type ErrorCode, isReplicaAnswer } from "./broker_deps.ts";
import { type FieldScope, sqsMessageOf } from "./service_fields.ts";

/** Where an SQS error comes from: the caller's request or the service. */
type Fault = "Sender" | "Receiver";

interface SqsErrorKind {
  /** The code of the query protocol, sent in `x-amzn-query-error`. */
  queryCode: string;
  status: number;
  fault: Fault;
  /** True for shapes of SQS's own model (namespace `com.amazonaws.sqs`). */
  modeled: boolean;
}

function kind(queryCode: string, status: number, modeled = true, fault: Fault = "Sender") {
  return { queryCode, status, fault, modeled };
}

const simpleQueueService = "AWS.SimpleQueueService.";

/** Every error the door answers with, by the shape name `__type` carries. */
export const sqsErrorKinds = {
  // Shapes of SQS's model, with the query code of their awsQueryError trait.
  QueueDoesNotExist: kind(`${simpleQueueService}NonExistentQueue`, 400),
  QueueNameExists: kind("QueueAlreadyExists", 400),
  ReceiptHandleIsInvalid: kind("ReceiptHandleIsInvalid", 404),
  MessageNotInflight: kind(`${simpleQueueService}MessageNotInflight`, 400),
  TooManyEntriesInBatchRequest: kind(`${simpleQueueService}TooManyEntriesInBatchRequest`, 400),
  EmptyBatchRequest: kind(`${simpleQueueService}EmptyBatchRequest`, 400),
  BatchEntryIdsNotDistinct: kind(`${simpleQueueService}BatchEntryIdsNotDistinct`, 400),
  InvalidBatchEntryId: kind(`${simpleQueueService}InvalidBatchEntryId`, 400),
  BatchRequestTooLong: kind(`${simpleQueueService}BatchRequestTooLong`, 400),
  UnsupportedOperation: kind(`${simpleQueueService}UnsupportedOperation`, 400),
  InvalidAttributeName: kind("InvalidAttributeName", 400),
  InvalidAttributeValue: kind("InvalidAttributeValue", 400),
  InvalidMessageContents: kind("InvalidMessageContents", 400),
  InvalidAddress: kind("InvalidAddress", 404),
  OverLimit: kind("OverLimit", 403),
  ResourceNotFoundException: kind("ResourceNotFoundException", 404),
  // SQS's common errors (not in the model).
  InvalidParameterValue: kind("InvalidParameterValue", 400, false),
  MissingParameter: kind("MissingParameter", 400, false),
  InvalidAction: kind("InvalidAction", 400, false),
  // The AWS JSON protocol's answer to an X-Amz-Target that names no operation of the service
  // (400, as DynamoDB, Kinesis and CloudWatch Logs answer it; Smithy's framework model says 404).
  UnknownOperationException: kind("UnknownOperationException", 400, false),
  MissingAction: kind("MissingAction", 400, false),
  // The query protocol's refusals of its own syntax (404 as SQS's "Common Errors" page lists it).
  MalformedQueryString: kind("MalformedQueryString", 404, false),
  InvalidQueryParameter: kind("InvalidQueryParameter", 400, false),
  SerializationException: kind("SerializationException", 400, false),
  MissingAuthenticationToken: kind("MissingAuthenticationToken", 403, false),
  IncompleteSignature: kind("IncompleteSignature", 400, false),
  InvalidClientTokenId: kind("InvalidClientTokenId", 403, false),
  SignatureDoesNotMatch: kind("SignatureDoesNotMatch", 403, false),
  RequestExpired: kind("RequestExpired", 400, false),
  AccessDenied: kind("AccessDenied", 403, false),
  InternalFailure: kind("InternalFailure", 500, false, "Receiver"),
  ServiceUnavailable: kind("ServiceUnavailable", 503, false, "Receiver"),
  // A request body that stopped arriving: the AWS SDKs retry this code as a transient error.
  RequestTimeout: kind("RequestTimeout", 408, false),
} as const satisfies Record<string, SqsErrorKind>;

/** A shape name of `sqsErrorKinds`. */
export type SqsErrorCode = keyof typeof sqsErrorKinds;

/** The codes a per-handle failure of delete or visibility change carries. */
type HandleFailureCode = "ReceiptHandleStale" | "MessageNotInflight";

/**
 * THE mapping table: every service error code, and every per-handle failure code, to the SQS
 * error a client gets for it. Codes the SQS door can't cause (topics) still map, so a new
 * service path never leaks a native code.
 */
const serviceToSqs: Record<ErrorCode | HandleFailureCode, SqsErrorCode> = {
  InvalidParameter: "InvalidParameterValue",
  MalformedRequest: "SerializationException",
  ReceiptHandleInvalid: "ReceiptHandleIsInvalid",
  // cmqd refuses a handle of an older delivery (SQS would accept it): the client learns its
  // handle is no longer good, which is SQS's meaning of this code. A delete whose message is
  // gone succeeds instead, and a visibility change answers SQS's `InvalidParameterValue`
  // (`receive_operations.ts`).
  ReceiptHandleStale: "ReceiptHandleIsInvalid",
  MessageNotInflight: "MessageNotInflight",
  Unauthenticated: "InvalidClientTokenId",
  AccessDenied: "AccessDenied",
  QueueNotFound: "QueueDoesNotExist",
  TopicNotFound: "ResourceNotFoundException",
  SubscriptionNotFound: "ResourceNotFoundException",
  NotFound: "ResourceNotFoundException",
  MethodNotAllowed: "InvalidAction",
  QueueAlreadyExists: "QueueNameExists",
  // SQS's model has no "exists" error but for queue names; a parameter the caller must change.
  TopicAlreadyExists: "InvalidParameterValue",
  SubscriptionAlreadyExists: "InvalidParameterValue",
  MessageTooLarge: "InvalidParameterValue",
  BatchTooLarge: "TooManyEntriesInBatchRequest",
  RequestTooLarge: "BatchRequestTooLong",
  RequestTimeout: "RequestTimeout",
  UnsupportedMediaType: "SerializationException",
  // SQS's "a limit was reached" (it answers OverLimit when too many messages are in flight).
  BacklogFull: "OverLimit",
  // Creating a queue past `queuesMax`: a limit of the account's, in SQS's terms.
  QueueLimitExceeded: "OverLimit",
  // The SQS door serves no topic actions; the code is mapped so every code has a meaning.
  TopicLimitExceeded: "OverLimit",
  // The disk alarm: retryable and the server's fault, as SQS clients retry a 503.
  InsufficientStorage: "ServiceUnavailable",
  InternalError: "InternalFailure",
  NoLeader: "ServiceUnavailable",
  NotReady: "ServiceUnavailable",
  NodeRemoved: "ServiceUnavailable",
};

/**
 * SQS's own messages for the codes whose service message would show the engine's or the
 * replica's words and cmqd's internal queue names (`queue 'orders' exists with different attributes`, where the SQS
 * client named `orders.fifo`).
 */
const fixedMessages: Partial<Record<SqsErrorCode, string>> = {
  QueueDoesNotExist: "The specified queue does not exist.",
  QueueNameExists: "A queue already exists with the same name and a different value for an " +
    "attribute or tag.",
  MessageNotInflight: "The message referred to isn't in flight.",
  // The engine's words of an internal error: the door logs them (`cause`).
  InternalFailure: "We encountered an internal error. Please try again.",
};

/** SQS's message for a failure of the server's that the client may retry. */
const temporaryFailure = "The request has failed due to a temporary failure of the server.";

/**
 * Whether a service error's words are the replica's or the node's (which node leads, why a write
 * or the disk failed), which an SQS client gets as `temporaryFailure` and the node's log in full:
 * every replica's refusal, and the codes only a node's state causes. The service's own refusals
 * of `NotReady` (a key past its share of parked receives) keep their words.
 */
function nodeWords(error: BrokerError): boolean {
  return isReplicaAnswer(error) || error.code === "NoLeader" || error.code === "NodeRemoved" ||
    error.code === "InsufficientStorage";
}

/**
 * `error` in SQS's words when it refuses the dead-letter target of the RedrivePolicy the client
 * sent as `policy` (SQS's own message, quoting the policy); any other error as it is. `names`:
 * the queue the request sets the policy on and the target it names, cmqd's names.
 *
 * The service refuses a target by the policy's field (`InvalidParameter`, field
 * `deadLetter.queue`): one that names no queue, or one of the other kind (the FIFO `jobs` is
 * `jobs.fifo` to SQS, so a policy's `jobs` names no queue the client can mean), or the queue
 * itself. The door has checked the target's name and SQS kind already; the queue itself is told
 * by the names, so every other such refusal is a target that does not exist, whatever its words.
 */
export function inRedriveTerms(
  error: unknown,
  policy: string | undefined,
  names: { queue: string; target: string } | undefined,
): unknown {
  if (
    policy === undefined || names === undefined || names.target === names.queue ||
    !(error instanceof BrokerError) || error.code !== "InvalidParameter" ||
    error.field !== "deadLetter.queue"
  ) {
    return error;
  }
  return invalidValue("RedrivePolicy", policy, "Dead letter target does not exist.");
}

/**
 * SQS's message for a receipt handle it refuses, as the client `sent` it, with cmqd's reason (the
 * engine's: not a handle, forged, of another queue, of an older delivery), the queue's internal
 * name left out.
 */
export function invalidHandleMessage(sent: string, reason: string): string {
  const why = reason.replace(/ of queue '[^']*'/, " of this queue");
  return `The input receipt handle "${sent.slice(0, 200)}" is not a valid receipt handle. ` +
    `Reason: ${why}.`;
}

/**
 * The SQS error of a per-handle failure of a delete or visibility change (engine code, message),
 * for the handle as the client sent it.
 */
export function handleFailureError(failure: { code: string; message: string }, sent: string) {
  const code = sqsCodeOf(failure.code);
  if (code === "ReceiptHandleIsInvalid") {
    return new SqsError(code, invalidHandleMessage(sent, failure.message));
  }
  return new SqsError(code, fixedMessages[code] ?? failure.message);
}

/**
 * An SQS error answered to the client.
 *
 * @example
 * ```ts
 * throw new SqsError("MissingParameter", "The request must contain the parameter QueueUrl.");
 * ```
 */
export class SqsError extends Error {
  readonly code: SqsErrorCode;
  readonly retryAfterSeconds?: number;
  readonly #status?: number;

  /**
   * `options.status` replaces the code's usual status where AWS answers the code with another;
   * `options.cause` is the service's error it answers (its words for the node's log).
   */
  constructor(
    code: SqsErrorCode,
    message: string,
    options: { retryAfterSeconds?: number; status?: number; cause?: BrokerError } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SqsError";
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.#status = options.status;
  }

  /** The HTTP status SQS answers this error with. */
  get status(): number {
    return this.#status ?? sqsErrorKinds[this.code].status;
  }

  /**
   * The words of the service's error behind a failure of the server's (a replica's refusal, an
   * internal error), for the node's log; null for the caller's faults and the door's own.
   */
  get serverDetail(): string | null {
    if (this.senderFault || !(this.cause instanceof BrokerError)) return null;
    return `${this.cause.code}: ${this.cause.message}`;
  }

  /** True when the caller is at fault (`SenderFault` of batch results). */
  get senderFault(): boolean {
    return sqsErrorKinds[this.code].fault === "Sender";
  }

  /** The code batch results carry in `Failed[].Code` (the query protocol's code). */
  get queryCode(): string {
    return sqsErrorKinds[this.code].queryCode;
  }
}

/** The SQS code of a service error or per-handle failure code (unknown codes: internal). */
export function sqsCodeOf(serviceCode: string): SqsErrorCode {
  return (serviceToSqs as Record<string, SqsErrorCode>)[serviceCode] ?? "InternalFailure";
}

/**
 * Turns whatever a request threw into the SQS error to answer: an `SqsError` stays, an
 * `BrokerError` goes through the table by its code, its message naming SQS's parameters (a batch
 * passes the `scope` that numbers its entries, see `service_fields.ts`), anything else is a bug
 * (`InternalFailure`, handed to `reportBug`, its text never shown).
 */
export function toSqsError(
  error: unknown,
  reportBug: (error: unknown) => void,
  scope?: FieldScope,
): SqsError {
  if (error instanceof SqsError) return error;
  if (error instanceof BrokerError) {
    const code = sqsCodeOf(error.code);
    const message = fixedMessages[code] ??
      (nodeWords(error) ? temporaryFailure : sqsMessageOf(error, scope));
    return new SqsError(code, message, {
      retryAfterSeconds: error.retryAfterSeconds,
      cause: error,
    });
  }
  reportBug(error);
  return new SqsError("InternalFailure", "We encountered an internal error. Please try again.");
}

/**
 * What a batch operation throws for a failure of its whole service call: a `BrokerError` in SQS's
 * terms with the batch's `scope`; anything else as it is (a bug, reported by the door).
 */
export function inBatchTerms(error: unknown, scope: FieldScope): unknown {
  return error instanceof BrokerError ? toSqsError(error, () => {}, scope) : error;
}

/** The media type of every SQS answer (AWS JSON 1.0). */
export const sqsContentType = "application/x-amz-json-1.0";

/** The response of `error` in SQS's JSON error shape, with `extraHeaders` beside SQS's. */
export function errorResponse(
  error: SqsError,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): Response {
  const errorKind = sqsErrorKinds[error.code];
  const namespace = errorKind.modeled ? "com.amazonaws.sqs" : "com.amazon.coral.service";
  const headers = new Headers({
    ...extraHeaders,
    "content-type": sqsContentType,
    "x-amzn-requestid": requestId,
    "x-amzn-query-error": `${errorKind.queryCode};${errorKind.fault}`,
  });
  if (error.retryAfterSeconds !== undefined) {
    headers.set("retry-after", String(error.retryAfterSeconds));
  }
  const body = { __type: `${namespace}#${error.code}`, message: error.message };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

/** The message SQS gives for a parameter that is required and absent. */
export function missingParameter(member: string): SqsError {
  return new SqsError("MissingParameter", `The request must contain the parameter ${member}.`);
}

/** The message SQS gives for a parameter with a value it refuses. */
export function invalidValue(member: string, value: unknown, reason: string): SqsError {
  const shown = typeof value === "string" ? value.slice(0, 100) : JSON.stringify(value);
  return new SqsError(
    "InvalidParameterValue",
    `Value ${shown} for parameter ${member} is invalid. Reason: ${reason}`,
  );
}
