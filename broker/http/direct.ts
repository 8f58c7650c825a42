/**
 * The direct path of the routes that carry nearly all traffic — `POST
 * /v1/queues/{queue}/messages`, `/messages/receive` and `/messages/delete`, and a topic's
 * publish, `POST /v1/topics/{topic}/messages` — served in front of hono, in one function:
 * hono's routing and its chain of middleware cost several times what the engine does per
 * request.
 *
 * It does what the hono path does for these routes, in the same order and through the same
 * functions: request id, leader hint and metrics (`request_context.ts`), protected mode, the
 * declared `content-length` limit, the credentials (`AccessGuard.verifyCredentials`: bearer, or
 * the signed form with its replay check), the bounded body read, the route's access rule
 * (`v1AccessRules`), the service call, and the JSON answer. Errors are answered as the door's
 * error mapper answers them (same status, body and headers).
 *
 * It serves only what it can serve plainly: any other method, path (a query, a `%`-escape, a
 * trailing slash), a content type other than exactly `application/json`, or a body the hot
 * recognizers refuse goes to hono untouched, or — once the body was read — rebuilt from the
 * same bytes. A signed request's signature is verified before its body is parsed, but its nonce
 * is spent only once the request is served here, so it is still unused when hono checks it.
 * `direct_test.ts` holds both paths to the same answers.
 *
 * @module
 */
import { type AccessKey, isSignedAuthorization } from "../auth/mod.ts";
import {
  BrokerError,
  jsonBoundsProblem,
  type NodeStatus,
  type QueueService,
  type TopicService,
} from "../service/mod.ts";
import {
  type AccessRule,
  errorBody,
  type ErrorLogger,
  errorStatus,
  hotRoutePaths,
  jsonAnswerBody,
  plainDeleteRequest,
  plainPublishRequest,
  plainQueueName,
  plainReceiveRequest,
  plainSendRequest,
  v1AccessRules,
} from "./v1/mod.ts";
import { type AccessGuard, authChallenge } from "./access_guard.ts";
import { bodyText, checkDeclaredLength, readBoundedBytes } from "./body.ts";
import { answerHeaders, requestIdOf, type RequestRecorder } from "./request_context.ts";

/** What serves a request: `app.fetch`'s shape (`info`: the connection, hono's `env`). */
export type FetchHandler = (request: Request, info?: unknown) => Response | Promise<Response>;

/** Options of `createDirectRoutes`. */
export interface DirectRoutesOptions {
  service: QueueService;
  /** The topics, when the app serves them (their publish route is served directly too). */
  topics?: TopicService;
  status: NodeStatus;
  access: AccessGuard;
  /** The app's HTTP metrics (shared with hono's request-context middleware). */
  recorder: RequestRecorder;
  requestBytesMax: number;
  logError: ErrorLogger;
  /** Serves every request the direct path leaves alone (the hono app's own `fetch`). */
  fallback: FetchHandler;
}

/** One hot route: its metric label, access rule, recognizer and service call. */
interface DirectRoute {
  /** The route pattern hono reports, so both paths count into the same metric children. */
  readonly pattern: string;
  readonly rule: AccessRule;
  /** The request as the route's schema returns it, or null when it is not plainly valid. */
  recognize(body: unknown): object | null;
  /**
   * `name`: the queue or topic of the path. `aborts`: the HTTP request (or the long poll's
   * signal source), whose `signal` only a receive reads (see `receive` below).
   */
  call(
    name: string,
    request: object,
    aborts: { readonly signal: AbortSignal },
    key: AccessKey | null,
  ): Promise<unknown>;
  /** A long poll: its key is checked again before it answers (a reload may take it away). */
  readonly longPoll?: boolean;
}

/** The only media type served directly; hono's gates decide every other one. */
const plainJsonType = "application/json";
const queuesPrefix = "/v1/queues/";
const topicsPrefix = "/v1/topics/";
/** The publish route's pattern as hono reports it (the metrics label). */
const publishPattern = "/v1/topics/:topic/messages";
const noBytes = new Uint8Array(0);

/**
 * The direct path over `options.fallback`: a `fetch` that serves plainly valid sends, receives,
 * deletes and (with `options.topics`) publishes itself and hands everything else to the fallback.
 *
 * @example
 * ```ts
 * const honoFetch = app.fetch;
 * app.fetch = createDirectRoutes({ service, status, access, recorder, requestBytesMax,
 *   logError, fallback: honoFetch });
 * ```
 */
export function createDirectRoutes(options: DirectRoutesOptions): FetchHandler {
  const { service, topics, fallback } = options;
  const queueRoutes = new Map<string, DirectRoute>([
    ["/messages", {
      pattern: hotRoutePaths.send,
      rule: ruleOf("/v1/queues/{queue}/messages"),
      recognize: plainSendRequest,
      call: (queue, request) => service.sendMessages(queue, (request as { messages: [] }).messages),
    }],
    ["/messages/receive", {
      pattern: hotRoutePaths.receive,
      rule: ruleOf("/v1/queues/{queue}/messages/receive"),
      recognize: plainReceiveRequest,
      // The signal aborts a long poll when the client goes away. Only receives touch it: once
      // read, Deno aborts it when the answer is sent, and that abort (a DOMException with its
      // stack) costs several µs per request.
      // The key: one key's long polls hold at most a share of the receives the node parks.
      call: (queue, request, aborts, key) =>
        service.receiveMessages(queue, request, aborts, { keyId: key?.secretId }),
      longPoll: true,
    }],
    ["/messages/delete", {
      pattern: hotRoutePaths.delete,
      rule: ruleOf("/v1/queues/{queue}/messages/delete"),
      recognize: plainDeleteRequest,
      call: (queue, request) =>
        service.deleteMessages(queue, (request as { receiptHandles: string[] }).receiptHandles),
    }],
  ]);
  const topicRoutes = new Map<string, DirectRoute>();
  if (topics !== undefined) {
    topicRoutes.set("/messages", {
      pattern: publishPattern,
      rule: ruleOf("/v1/topics/{topic}/messages"),
      recognize: plainPublishRequest,
      call: (topic, request) => topics.publish(topic, (request as { messages: [] }).messages),
    });
  }
  return function directRoutes(request, info) {
    if (request.method !== "POST") return fallback(request, info);
    const url = request.url;
    const pathStart = url.indexOf("/", url.indexOf(":") + 4);
    if (pathStart === -1) return fallback(request, info);
    let routes: Map<string, DirectRoute>;
    let nameStart: number;
    if (url.startsWith(queuesPrefix, pathStart)) {
      routes = queueRoutes;
      nameStart = pathStart + queuesPrefix.length;
    } else if (url.startsWith(topicsPrefix, pathStart)) {
      routes = topicRoutes;
      nameStart = pathStart + topicsPrefix.length;
    } else {
      return fallback(request, info);
    }
    const nameEnd = url.indexOf("/", nameStart);
    // Everything after the name must be one of the suffixes exactly: a query, a fragment, a
    // `%`-escape or a trailing slash is left to hono's router.
    const route = nameEnd === -1 ? undefined : routes.get(url.slice(nameEnd));
    // Topics and queues share the name rule.
    const name = route === undefined ? null : plainQueueName(url.slice(nameStart, nameEnd));
    if (
      route === undefined || name === null ||
      request.headers.get("content-type") !== plainJsonType
    ) {
      return fallback(request, info);
    }
    return serveDirect(options, route, name, request, info);
  };
}

function ruleOf(path: string): AccessRule {
  const rule = v1AccessRules.find((candidate) =>
    candidate.method === "POST" && candidate.path === path
  );
  // A hot route without a rule would be served unchecked: refuse to build the door.
  if (rule === undefined) throw new Error(`no access rule covers POST ${path}`);
  return rule;
}

/** Serves one request of `route`; the steps and their order are those of the hono chain. */
async function serveDirect(
  options: DirectRoutesOptions,
  route: DirectRoute,
  name: string,
  request: Request,
  info: unknown,
): Promise<Response> {
  const { access, requestBytesMax } = options;
  const started = performance.now();
  const requestId = requestIdOf(request);
  // Taken when the request arrives, as the hono chain does (a long poll may outlive a leader).
  const headers = answerHeaders(plainJsonType, requestId, options.status);
  const refusal = { challenge: false };
  let response: Response;
  try {
    access.admitClient(info);
    checkDeclaredLength(request, requestBytesMax);
    // The signed form hashes the body, so its signature is checked once the body is read (its
    // header's fields, key and timestamp before); the others (and their refusals) come before
    // the read, as in the hono chain.
    const signed = access.keyRing !== null &&
      isSignedAuthorization(request.headers.get("authorization"));
    let key = signed
      ? precheck(access, request, refusal)
      : verify(access, request, noBytes, refusal);
    const bytes = await readBoundedBytes(request, requestBytesMax, access.bodies);
    // A signature is verified before the body is parsed, as in the hono chain (nobody without a
    // key makes the node parse a body), but its nonce is spent only below: a request handed to
    // hono is verified there again, with its nonce still unused.
    if (signed) key = verify(access, request, bytes, refusal, false);
    // Null when empty, not UTF-8, or too costly to parse (hono refuses it: `body.ts`).
    const decoded = bytes.byteLength === 0 ? null : bodyText(bytes);
    const text = decoded === null || jsonBoundsProblem(decoded) !== null ? null : decoded;
    const input = text === null ? null : route.recognize(parseOrNull(text));
    if (input === null || text === null) {
      // Not plainly valid: hono answers it from the same bytes (nonce still unused), read
      // again against the same connection's share.
      const again = rebuilt(request, bytes);
      access.bodies.carryConnection(request, again);
      return await options.fallback(again, info);
    }
    if (signed) replayCheck(access, request, key, refusal);
    access.checkRule(route.rule, key, {
      param: () => name,
      query: () => "",
      bodyText: text,
    });
    const longPoll = route.longPoll === true && access.keyRing !== null;
    const aborts = longPoll ? access.longPollAborts(() => request.signal) : request;
    const result = await route.call(name, input, aborts, key);
    // A key that a reload took away while the receive waited gets no message.
    if (longPoll) access.recheckKey(key, "queue", name, "receive");
    response = new Response(jsonAnswerBody(result), { headers });
  } catch (error) {
    // Every 401 carries the challenge, also a key a reload removed (the rule or the recheck).
    if (
      refusal.challenge || (error instanceof BrokerError && error.code === "Unauthenticated")
    ) {
      headers["www-authenticate"] = authChallenge;
    }
    response = errorResponse(options, error, requestId, headers, request);
  }
  options.recorder.record(route.pattern, "POST", response.status, started);
  return response;
}

function verify(
  access: AccessGuard,
  request: Request,
  body: Uint8Array,
  refusal: { challenge: boolean },
  checkReplay = true,
): AccessKey | null {
  try {
    return access.verifyCredentials(request, body, { checkReplay });
  } catch (error) {
    refusal.challenge = error instanceof BrokerError && error.code === "Unauthenticated";
    throw error;
  }
}

/** A signed request's header, before its body is read (`AccessGuard.checkSignedHeader`). */
function precheck(
  access: AccessGuard,
  request: Request,
  refusal: { challenge: boolean },
): null {
  try {
    access.checkSignedHeader(request);
    return null;
  } catch (error) {
    refusal.challenge = error instanceof BrokerError && error.code === "Unauthenticated";
    throw error;
  }
}

function replayCheck(
  access: AccessGuard,
  request: Request,
  key: AccessKey | null,
  refusal: { challenge: boolean },
): void {
  try {
    access.checkReplay(request, key);
  } catch (error) {
    refusal.challenge = error instanceof BrokerError && error.code === "Unauthenticated";
    throw error;
  }
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** `request` with its body replaced by the bytes already read from it. */
function rebuilt(request: Request, bytes: Uint8Array<ArrayBuffer>): Request {
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: bytes.byteLength === 0 ? null : bytes,
    signal: request.signal,
  });
}

/** The answer the door's error mapper gives `error` (500 and a log line for a bug). */
function errorResponse(
  options: DirectRoutesOptions,
  error: unknown,
  requestId: string,
  headers: Record<string, string>,
  request: Request,
): Response {
  let apiError: BrokerError;
  if (error instanceof BrokerError) {
    apiError = error;
  } else {
    apiError = new BrokerError(
      "InternalError",
      "internal error; see the server log for the request id",
    );
    const path = new URL(request.url).pathname;
    options.logError(
      `request ${requestId} ${request.method} ${path} failed: ${(error as Error)?.message}`,
      error,
    );
  }
  if (apiError.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(Math.max(0, Math.ceil(apiError.retryAfterSeconds)));
  }
  const body = errorBody(apiError.code, apiError.message, {
    requestId,
    field: apiError.field,
    outcomeUnknown: apiError.outcomeUnknown,
  });
  return new Response(JSON.stringify(body), { status: errorStatus[apiError.code], headers });
}
