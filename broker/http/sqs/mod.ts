/**
 * The SQS compatible door: `POST /` with `X-Amz-Target: AmazonSQS.<Operation>` and an AWS JSON
 * 1.0 body, so code written for `@aws-sdk/client-sqs` v3 (and `sqs-consumer`) runs against
 * cmqd by changing its endpoint and credentials; and SQS's older query protocol (a form body
 * `Action=SendMessage&QueueUrl=…` at `/` or at a queue URL, XML answers) that `aws-sdk` v2 for
 * JavaScript, the AWS Java SDK v1 and older boto3 speak. It only translates: every operation is
 * calls of the `QueueService` every door shares (one or two, but for the dead-letter scans and
 * the message move tasks, which run on in the background: `move_tasks.ts`; the door's `close()`
 * stops them), and a query request is read into the JSON operation's input
 * (`query_protocol.ts`) and its output written as XML (`query_xml.ts`).
 *
 * A request goes: SigV4 check of the headers (when the broker has keys; a request refused there
 * has none of its body read) → bounded body read → SigV4 check over the body → media type check
 * → operation lookup → JSON parse (or the query parameters read) → operation (which checks the
 * key's `queue:<name>:<action>` permission) → JSON (or XML) answer, or SQS's error shape of the
 * protocol (`errors.ts`, `query_xml.ts`). A node that relays requests to another checks them as
 * far as the body's signature first (`createSqsAdmission`).
 *
 * @example
 * ```ts
 * const door = createSqsDoor({ service: broker, keys: null });
 * const server = Deno.serve({ port: 9324 }, door);
 * // new SQSClient({ endpoint: "http://127.0.0.1:9324", region: "us-east-1", credentials })
 * // When done: stop the message move tasks, then the server and the broker.
 * await door.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */
import {
  type AccessKey,
  type Action,
  type KeyRing,
  keyStillAllows,
  messageLimits,
  type QueueService,
  untilKeysChange,
} from "./broker_deps.ts";
import { keyAllowsEveryQueue, type Operation, type OperationContext } from "./context.ts";
import { errorResponse, sqsContentType, SqsError, toSqsError } from "./errors.ts";
import { BodyBudget, BodyReadError, contentCodingProblem } from "../../service/mod.ts";
import { type JsonObject, parseRequestBody } from "./input.ts";
import {
  addFormParameters,
  formText,
  type QueryRequest,
  readQueryRequest,
  unsupportedOperations,
} from "./query_protocol.ts";
import { queryAnswerXml, queryContentType, queryErrorResponse } from "./query_xml.ts";
import { queryTermsError, queryTermsOutput } from "./query_terms.ts";
import {
  createQueue,
  deleteQueue,
  getQueueAttributes,
  getQueueUrl,
  listQueues,
  purgeQueue,
  setQueueAttributes,
} from "./queue_operations.ts";
import { listQueueTags, tagQueue, untagQueue } from "./tag_operations.ts";
import { listDeadLetterSourceQueues } from "./dead_letter_sources.ts";
import { cancelMessageMoveTask, listMessageMoveTasks, startMessageMoveTask } from "./move_tasks.ts";
import { type MoveTaskLimits, MoveTasks, type MoveTaskTime } from "./move_task_runs.ts";
import { parseQueueName, QueueAddresses, queueFromUrl, type QueueRef } from "./queue_names.ts";
import { type ReceiveAttemptLimits, ReceiveAttempts } from "./receive_attempts.ts";
import {
  changeMessageVisibility,
  changeMessageVisibilityBatch,
  deleteMessage,
  deleteMessageBatch,
  receiveMessage,
} from "./receive_operations.ts";
import { sendMessage, sendMessageBatch } from "./send_operations.ts";
import { checkSignatureHeaders, checkSignedBody } from "./sigv4.ts";

export { sqsContentType, SqsError, type SqsErrorCode, sqsErrorKinds } from "./errors.ts";
export { sqsMessageId } from "./message_ids.ts";
export type { MoveTaskTime } from "./move_task_runs.ts";
export type { ReceiveAttemptLimits } from "./receive_attempts.ts";

const targetPrefix = "AmazonSQS.";

/**
 * Bytes of a request body: the service's 4 MiB plus room for JSON's escaping and member names
 * (the service checks the message bytes exactly).
 */
const requestBodyBytesMax = messageLimits.requestBytesMax + 256 * 1024;

/** Every operation the door serves, by its `X-Amz-Target` name. */
const operations: Record<string, Operation> = {
  CreateQueue: createQueue,
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  GetQueueAttributes: getQueueAttributes,
  SetQueueAttributes: setQueueAttributes,
  DeleteQueue: deleteQueue,
  PurgeQueue: purgeQueue,
  SendMessage: sendMessage,
  SendMessageBatch: sendMessageBatch,
  ReceiveMessage: receiveMessage,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  ChangeMessageVisibilityBatch: changeMessageVisibilityBatch,
  TagQueue: tagQueue,
  UntagQueue: untagQueue,
  ListQueueTags: listQueueTags,
  ListDeadLetterSourceQueues: listDeadLetterSourceQueues,
  StartMessageMoveTask: startMessageMoveTask,
  ListMessageMoveTasks: listMessageMoveTasks,
  CancelMessageMoveTask: cancelMessageMoveTask,
};

/** Options of `createSqsDoor`. */
export interface SqsDoorOptions {
  service: QueueService;
  /** The broker's keys; null when no credentials are configured (signatures not checked). */
  keys: KeyRing | null;
  /** Wall clock in epoch ms, for the signature's 15-minute window (default `Date.now`). */
  now?: () => number;
  /** The node's budget of bodies being read at once (`BodyBudget`); default a door's own. */
  bodies?: BodyBudget;
  /** The region in queue ARNs (default `us-east-1`). Signatures of any region are accepted. */
  region?: string;
  /** The account id in queue URLs and ARNs (default `000000000000`). */
  accountId?: string;
  /** Where unexpected failures (500s) are reported (default `console.error`). */
  logError?: (message: string, error: unknown) => void;
  /**
   * Where the door tells what it did on its own: a message move task its node's loss of
   * leadership failed (`move_task_runs.ts`); and the service's own words of a failure of the
   * server's (a replica's refusal, an internal error) that clients get only in SQS's words.
   * Default: not told.
   */
  report?: (message: string) => void;
  /** Bounds of the message move tasks (`move_task_runs.ts`): batch size, tasks remembered. */
  moveTasks?: MoveTaskLimits;
  /**
   * The monotonic clock and timers that pace the message move tasks and age the remembered
   * ReceiveRequestAttemptIds (the node's; default `performance.now()` and `setTimeout`).
   */
  time?: MoveTaskTime;
  /** Bounds of the receives remembered by ReceiveRequestAttemptId (`receive_attempts.ts`). */
  receiveAttempts?: ReceiveAttemptLimits;
}

/**
 * What the door's owner calls when it stops serving: the message move tasks (which run in the
 * background, `move_task_runs.ts`) start no more batches, and the promise resolves once none is
 * left running. Call it before closing the service under the door; a StartMessageMoveTask
 * served afterwards is refused (`ServiceUnavailable`). The timer that drops expired
 * ReceiveRequestAttemptId answers is cleared (afterwards they are dropped only on use).
 */
export interface SqsDoorClosing {
  close(): Promise<void>;
}

/**
 * Bytes of a query request's body: percent-encoding writes a byte as up to three characters, so
 * three times what a JSON body may hold.
 */
const queryBodyBytesMax = 3 * messageLimits.requestBytesMax + 256 * 1024;

const formMediaType = "application/x-www-form-urlencoded";

/** The media type of a request's body (lower case, without parameters), if it names one. */
function mediaTypeOf(request: Request): string | undefined {
  return request.headers.get("content-type")?.split(";", 1)[0].trim().toLowerCase();
}

/**
 * True for a request of the query protocol: no `X-Amz-Target`, and either a GET (its parameters
 * in the query string) or a POST of a form body.
 */
export function isQueryProtocol(request: Request): boolean {
  if (request.headers.has("x-amz-target")) return false;
  if (request.method === "GET") return true;
  return request.method === "POST" && mediaTypeOf(request) === formMediaType;
}

/** Paths of query requests: `/` and a queue URL's `/<account id>/<queue name>`. */
const queryPath = /^\/(?:\d{1,20}\/[^/]+\/?)?$/;

/**
 * True when `request` is meant for the SQS door: `POST /` with an `AmazonSQS.` target, or a
 * query request (`isQueryProtocol`) at `/` or at a queue URL's path, a GET naming its `Action`.
 */
export function isSqsRequest(request: Request): boolean {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  if (pathStart < 0) return false;
  const queryStart = url.indexOf("?", pathStart);
  const path = url.slice(pathStart, queryStart < 0 ? undefined : queryStart);
  if (path === "/" && request.method === "POST") {
    const target = request.headers.get("x-amz-target");
    if (target !== null) return target.startsWith(targetPrefix);
  }
  if (!queryPath.test(path) || !isQueryProtocol(request)) return false;
  return request.method === "POST" ||
    (queryStart >= 0 && /(?:^|&)Action=/.test(url.slice(queryStart + 1)));
}

/**
 * The body, at most `bytesMax` bytes, read through the node's `budget`. A body that fails to
 * arrive (the client went away while sending it) is a bad request, not an internal failure to
 * log: nobody is left to read the answer. One the budget can't hold is `ServiceUnavailable`
 * (503, `Retry-After`), one that stopped arriving `RequestTimeout` (408), one with a content
 * coding (gzip, …) `SerializationException` (415), unread.
 */
async function readBody(
  request: Request,
  bytesMax: number,
  budget: BodyBudget,
): Promise<Uint8Array<ArrayBuffer>> {
  const coding = contentCodingProblem(request);
  if (coding !== null) {
    throw new SqsError("SerializationException", `The ${coding}.`, { status: 415 });
  }
  try {
    return await budget.read(request, bytesMax);
  } catch (error) {
    if (!(error instanceof BodyReadError)) throw error;
    switch (error.reason) {
      case "too_large":
        throw new SqsError("BatchRequestTooLong", `The request body exceeds ${bytesMax} bytes.`);
      case "busy":
        throw new SqsError("ServiceUnavailable", error.message, { retryAfterSeconds: 1 });
      case "stalled":
        throw new SqsError("RequestTimeout", error.message);
      case "unreadable":
        throw new SqsError("InvalidParameterValue", "The request body could not be read.");
    }
  }
}

/**
 * `error` naming the query parameters the request sent rather than the JSON members (once the
 * request was read: the query reader's own errors name its parameters already).
 */
function inQueryTerms(error: SqsError, request: QueryRequest | undefined): SqsError {
  if (request === undefined) return error;
  return queryTermsError(error, request.operation.input, request.input);
}

/** The media types of a request body: AWS JSON 1.0 (what the SDKs send) and plain JSON. */
const jsonMediaTypes = new Set([sqsContentType, "application/json"]);

/**
 * Refuses a body that is not JSON by its `Content-Type` (parameters such as `charset` ignored):
 * AWS JSON services answer such a request `404 UnknownOperationException` (no operation of their
 * protocol was asked for). An empty body needs no type: it is an empty input.
 */
function checkMediaType(request: Request, body: Uint8Array): void {
  if (body.length === 0) return;
  const header = request.headers.get("content-type");
  const mediaType = header?.split(";", 1)[0].trim().toLowerCase();
  if (mediaType !== undefined && jsonMediaTypes.has(mediaType)) return;
  const shown = header === null ? "no Content-Type" : `Content-Type ${header.slice(0, 100)}`;
  throw new SqsError(
    "UnknownOperationException",
    `A request with ${shown} names no operation: send the AWS JSON 1.0 protocol's ` +
      `${sqsContentType} (or application/json).`,
    { status: 404 },
  );
}

/**
 * The parameters of a query request: the form body of a POST (refused unless it is UTF-8 form
 * encoding) and the query string, a name given in both refused as given twice.
 */
function readQuery(request: Request, body: Uint8Array): QueryRequest {
  const url = new URL(request.url);
  const params = new Map<string, string>();
  if (request.method === "POST") addFormParameters(formText(body), params);
  addFormParameters(url.search.slice(1), params);
  return readQueryRequest(params, url.pathname);
}

function operationOf(request: Request): Operation {
  const target = request.headers.get("x-amz-target");
  if (request.method !== "POST") {
    throw new SqsError("InvalidAction", "The SQS door serves POST requests only.");
  }
  if (target === null || target === "") {
    throw new SqsError("MissingAction", "The request must contain an X-Amz-Target header.");
  }
  const name = target.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : "";
  if (Object.hasOwn(operations, name)) return operations[name];
  if (unsupportedOperations.has(name)) {
    throw new SqsError("UnsupportedOperation", `cmqd does not support ${name}.`);
  }
  // Names are matched exactly, as the JSON protocol does: `AmazonSQS.sendmessage` and
  // `SendMessage` (no service prefix) name no operation.
  throw new SqsError(
    "UnknownOperationException",
    `${target.slice(0, 100)} is not an operation of AmazonSQS.`,
  );
}

/**
 * Builds the SQS door: a fetch handler answering every request in SQS's JSON protocol, or in
 * its query protocol when the request is one (`isQueryProtocol`). Mount it for the requests
 * `isSqsRequest` accepts.
 * Each answer's `x-amzn-requestid` is a new UUID.
 */
export function createSqsDoor(
  options: SqsDoorOptions,
): ((request: Request) => Promise<Response>) & SqsDoorClosing {
  const answer = createSqsAnswers(options);
  return Object.assign((request: Request) => answer(request, crypto.randomUUID()), {
    close: () => answer.close(),
  });
}

/**
 * The door for a caller that names each request itself: the answer carries `requestId` in
 * `x-amzn-requestid`, and `headers` (the broker's own: its request id, the leader hint) beside
 * SQS's. `headers` must be an object made for this answer: the door sets its content type and
 * request id in it.
 */
export type SqsAnswers =
  & ((
    request: Request,
    requestId: string,
    headers?: Record<string, string>,
  ) => Promise<Response>)
  & SqsDoorClosing;

/**
 * `createSqsDoor` for a caller that names each request (see `SqsAnswers`).
 *
 * @example
 * ```ts
 * const answer = createSqsAnswers({ service: broker, keys: null });
 * const response = await answer(request, "req-1", { "x-request-id": "req-1" });
 * ```
 */
export function createSqsAnswers(options: SqsDoorOptions): SqsAnswers {
  const now = options.now ?? Date.now;
  const bodies = options.bodies ?? new BodyBudget();
  const logError = options.logError ??
    ((message: string, error: unknown) => console.error(message, error));
  const addressOptions = {
    accountId: options.accountId ?? "000000000000",
    region: options.region ?? "us-east-1",
  };
  const moveTasks = new MoveTasks(
    { service: options.service, logError, report: options.report, time: options.time },
    options.moveTasks,
  );
  const receiveAttempts = new ReceiveAttempts(
    options.time?.clock ?? { now: () => performance.now() },
    options.receiveAttempts,
    options.time?.timers,
  );
  const sqsDoor = async function (
    request: Request,
    requestId: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const query = isQueryProtocol(request);
    let queryRequest: QueryRequest | undefined;
    let input: JsonObject | undefined;
    try {
      const keys = options.keys;
      const { body, key } = await readSigned(request, query, keys, now, bodies);
      let operation: Operation;
      if (query) {
        queryRequest = readQuery(request, body);
        operation = operations[queryRequest.action];
        input = queryRequest.input;
      } else {
        checkMediaType(request, body);
        operation = operationOf(request);
        input = parseRequestBody(body);
      }
      let addresses: QueueAddresses | undefined;
      let aborts: { readonly signal: AbortSignal } | undefined;
      const context: OperationContext = {
        service: options.service,
        input,
        // Built when an operation answers a URL or an ARN (or an error naming one), not for
        // every message request.
        get addresses() {
          return addresses ??= new QueueAddresses(QueueAddresses.originOf(request), addressOptions);
        },
        // Read only by ReceiveMessage: the first read of `request.signal` makes Deno build a
        // signal that it aborts, with a DOMException and its stack, when the answer is sent. A
        // reload of the keys ends the wait too (ReceiveMessage then checks its key again).
        get signal() {
          return (aborts ??= untilKeysChange(() => request.signal, keys)).signal;
        },
        // Against the keys serving now: a key removed or narrowed by a reload is refused.
        allows: (name: string, action: Action) => keyStillAllows(keys, key, "queue", name, action),
        allowsEveryQueue: (action: Action) => keyAllowsEveryQueue(keys, key, action),
        moveTasks,
        receiveAttempts,
        callerKeyId: key?.secretId ?? null,
        now,
        logError,
      };
      const output = await operation(context);
      // The caller's headers object is built for this answer: the door adds to it in place.
      headers["x-amzn-requestid"] = requestId;
      if (queryRequest !== undefined) {
        headers["content-type"] = queryContentType;
        const { action, operation: shapes, input: queryInput } = queryRequest;
        const answer = queryTermsOutput(output, shapes.input, queryInput);
        const xml = queryAnswerXml(action, answer, shapes.output, requestId);
        return new Response(xml, { status: 200, headers });
      }
      headers["content-type"] = sqsContentType;
      return new Response(JSON.stringify(output), { status: 200, headers });
    } catch (error) {
      const queue = queueOfRequest(input);
      const report = options.report;
      const failure = { query, queryRequest, requestId, headers, now, logError, report, queue };
      return failureResponse(error, failure);
    }
  };
  return Object.assign(sqsDoor, {
    close: () => {
      receiveAttempts.close();
      return moveTasks.close();
    },
  });
}

/**
 * What every request goes through before its operation is looked up: the signature's headers
 * (when there are keys; a request refused there has none of its body read), the body read up
 * to its protocol's bound, then the signature over it. Answers the body and the caller's key.
 */
async function readSigned(
  request: Request,
  query: boolean,
  keys: KeyRing | null,
  now: () => number,
  bodies: BodyBudget,
): Promise<{ body: Uint8Array<ArrayBuffer>; key: AccessKey | null }> {
  const claim = keys === null ? null : checkSignatureHeaders(request, { keys, nowMs: now() });
  const body = await readBody(request, query ? queryBodyBytesMax : requestBodyBytesMax, bodies);
  const key = claim === null ? null : await checkSignedBody(request, body, claim);
  return { body, key };
}

/** The queue a request's QueueUrl (or CreateQueue's QueueName) names, if it names one. */
function queueOfRequest(input: JsonObject | undefined): QueueRef | undefined {
  const { QueueUrl, QueueName } = input ?? {};
  if (typeof QueueName === "string") return parseQueueName(QueueName) ?? undefined;
  if (typeof QueueUrl !== "string") return undefined;
  try {
    return queueFromUrl(QueueUrl);
  } catch {
    return undefined; // Names no queue: the answer quotes none of it.
  }
}

/** The answer to a request that failed: SQS's error in the request's protocol. */
function failureResponse(error: unknown, failure: {
  query: boolean;
  queryRequest: QueryRequest | undefined;
  requestId: string;
  headers: Record<string, string>;
  now: () => number;
  logError: (message: string, error: unknown) => void;
  /** The node's log of what a failure of the server's was in the service's words. */
  report?: (line: string) => void;
  /** The queue the request names, whose SQS name the answer quotes. */
  queue?: QueueRef;
}): Response {
  const { requestId, headers } = failure;
  const reportBug = (bug: unknown) =>
    failure.logError(`SQS request ${requestId} failed: ${bug}`, bug);
  const sqsError = toSqsError(error, reportBug, { queue: failure.queue });
  const detail = sqsError.serverDetail;
  if (detail !== null) {
    failure.report?.(`SQS request ${requestId} answered ${sqsError.code}: ${detail}`);
  }
  const response = failure.query
    ? queryErrorResponse(inQueryTerms(sqsError, failure.queryRequest), requestId, headers)
    : errorResponse(sqsError, requestId, headers);
  // The clock signatures are checked against: an SDK whose clock is off corrects itself from
  // this header when told RequestExpired.
  response.headers.set("date", new Date(failure.now()).toUTCString());
  return response;
}

/** What `createSqsAdmission` decided: refuse with this answer, or relay these body bytes. */
export type SqsAdmission =
  | { refusal: Response }
  /** `keyId`: the `secretId` of the key that signed it (absent without keys). */
  | { refusal?: undefined; body: Uint8Array<ArrayBuffer>; keyId?: string };

/**
 * The door's checks before it runs anything, for a node that relays SQS requests to another
 * (a follower to its leader): the signature (when there are keys) and the body's bound, in the
 * door's order and with the door's answers. A refused request is answered as the door would
 * answer it (`headers` beside SQS's own, as `SqsAnswers` takes them); an admitted one comes
 * with its body, read once, to send on. The door that serves the request checks it again.
 *
 * @example
 * ```ts
 * const admit = createSqsAdmission({ keys: keyRing });
 * const admission = await admit(request, "req-1");
 * if (admission.refusal !== undefined) return admission.refusal;
 * ```
 */
export function createSqsAdmission(
  options: Pick<SqsDoorOptions, "keys" | "now" | "bodies" | "logError">,
): (
  request: Request,
  requestId: string,
  headers?: Record<string, string>,
) => Promise<SqsAdmission> {
  const now = options.now ?? Date.now;
  const bodies = options.bodies ?? new BodyBudget();
  const logError = options.logError ??
    ((message: string, error: unknown) => console.error(message, error));
  return async (request, requestId, headers = {}) => {
    const query = isQueryProtocol(request);
    try {
      const { body, key } = await readSigned(request, query, options.keys, now, bodies);
      return key === null ? { body } : { body, keyId: key.secretId };
    } catch (error) {
      const failure = { query, queryRequest: undefined, requestId, headers, now, logError };
      return { refusal: failureResponse(error, failure) };
    }
  };
}
