/**
 * The CMQ v2 compatible door: `GET` and `POST /v2/index.php?Action=…`, so that applications
 * written against Tencent CMQ's official SDKs (Python, Java, PHP) work against cmqd by changing
 * the endpoint and the key. It translates and nothing else: every action is one call of the
 * `QueueService` or `TopicService` the native door uses.
 *
 * A request runs through, in order: the method (GET or POST, else 4000 `(10410)`), the bounded
 * body (form-encoded whatever its Content-Type; `cmq-nodejs-sdk`'s JSON object, `nodejs_body.ts`),
 * the parameters (query string and body merged, no name twice), the signature (when a key ring
 * is configured), the action (unknown names, and topic actions when no topic service is given,
 * are 4000 `(10280)`), the permission, then the action itself.
 * Every answer is HTTP 200 with CMQ's `{code, message, requestId, …}`.
 *
 * @example
 * ```ts
 * const door = createCmqDoor({ service: broker, keys: null });
 * app.route("/", door); // serves /v2/index.php
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import type { CmqAction, CmqTopicAction } from "./action_types.ts";
import { formText, readFormBytes } from "./body.ts";
import { isJsonBody, parseJsonBody, undefinedSignedNames } from "./nodejs_body.ts";
import { BodyBudget } from "../../service/mod.ts";
import { cmqCode, CmqError, invalidParameter, moduleCode, toCmqError } from "./errors.ts";
import { messageActions } from "./message_actions.ts";
import { nameParam, parseParams, queueNameParam, requiredText } from "./params.ts";
import type { CmqParams } from "./params.ts";
import { queueActions } from "./queue_actions.ts";
import { subscriptionActions } from "./subscription_actions.ts";
import { topicActions } from "./topic_actions.ts";
import { authenticate } from "./signature.ts";
import {
  type AccessKey,
  type KeyRing,
  keyStillAllows,
  messageLimits,
  type PermissionAction,
  type QueueService,
  type ResourceKind,
  type TopicService,
  untilKeysChange,
} from "./deps.ts";

export { cmqCode, moduleCode } from "./errors.ts";
export { timestampSkewSecondsMax } from "./signature.ts";

/** Where CMQ's SDKs send every request. */
export const cmqDoorPath = "/v2/index.php";

/**
 * Where the PHP SDK sends a GET: its HTTP class appends the path to a base that already ends in
 * it. It signs the request over `cmqDoorPath`, as every SDK does; so does the door, at either
 * path. (CMQ's own server, a PHP script, took the second `/v2/index.php` as path info.)
 */
export const cmqPhpGetPath = cmqDoorPath + cmqDoorPath;

/** Whether the door serves `path` (a request's decoded path). */
export function isCmqDoorPath(path: string): boolean {
  return path === cmqDoorPath || path === cmqPhpGetPath;
}

/**
 * Room above the 4 MiB batch limit for the other parameters and the form encoding, so that a
 * batch of ASCII bodies adding up to the limit still fits in one request. Non-ASCII text
 * grows threefold when percent-encoded, and meets the bound sooner.
 */
export const requestSlackBytes = 256 * 1024;

/** Options of `createCmqDoor`. */
export interface CmqDoorOptions {
  service: QueueService;
  /** The topics; absent: topic actions answer 4000 `(10280)` as actions that do not exist. */
  topics?: TopicService;
  /** The credentials; null when none are configured: signatures are then not checked. */
  keys: KeyRing | null;
  /** The clock the `Timestamp` window is checked against, in ms (default `Date.now`). */
  now?: () => number;
  /** Largest accepted body; default 4 MiB + `requestSlackBytes`. */
  requestBytesMax?: number;
  /** The node's budget of bodies being read at once (`BodyBudget`); default a door's own. */
  bodies?: BodyBudget;
  /** Receives every unexpected failure (answered 6000); default `console.error`. */
  logError?: (message: string, error: unknown) => void;
}

/** The hono environment of the door: a request id set by an outer middleware, if any. */
export interface CmqDoorEnv {
  Variables: { requestId: string };
}

/** What the checks before an action need. */
interface DoorChecks {
  keys: KeyRing | null;
  now: () => number;
  requestBytesMax: number;
  bodies: BodyBudget;
  logError: (message: string, error: unknown) => void;
}

interface Door extends DoorChecks {
  service: QueueService;
  topics: TopicService | null;
}

const actions: ReadonlyMap<string, CmqAction> = new Map([...queueActions, ...messageActions]);

const topicAndSubscriptionActions: ReadonlyMap<string, CmqTopicAction> = new Map([
  ...topicActions,
  ...subscriptionActions,
]);

/**
 * Builds the door as a hono app serving `cmqDoorPath` (and `cmqPhpGetPath`). Mount it with `app.route("/", door)`,
 * or serve it alone with `Deno.serve(door.fetch)`.
 *
 * @example
 * ```ts
 * const door = createCmqDoor({ service: broker, keys: keyRing, now: () => clock.now() });
 * const response = await door.request("/v2/index.php?Action=ListQueue");
 * ```
 */
export function createCmqDoor(options: CmqDoorOptions): Hono<CmqDoorEnv> {
  const answer = createCmqAnswers(options);
  const app = new Hono<CmqDoorEnv>();
  for (const path of [cmqDoorPath, cmqPhpGetPath]) {
    app.all(
      path,
      async (c) =>
        c.json(
          await answer(
            c.req.raw,
            (c.get("requestId") as string | undefined) ?? crypto.randomUUID(),
          ),
        ),
    );
  }
  return app;
}

/**
 * The door without hono: the JSON body answering one request of `cmqDoorPath` (every CMQ
 * answer is a 200 whose `code` tells success from failure), with `requestId` in it. What the
 * hono app of `createCmqDoor` answers, for a caller that serves the path in front of hono.
 *
 * @example
 * ```ts
 * const answer = createCmqAnswers({ service: broker, keys: null });
 * const body = await answer(new Request("http://h/v2/index.php?Action=ListQueue"), "req-1");
 * ```
 */
export function createCmqAnswers(
  options: CmqDoorOptions,
): (request: Request, requestId: string) => Promise<Record<string, unknown>> {
  const door: Door = {
    service: options.service,
    topics: options.topics ?? null,
    ...checksOf(options),
  };
  return (request, requestId) => answerOf(request, door, requestId);
}

/** What `createCmqAdmission` decided: refuse with this answer body, or relay these bytes. */
export type CmqAdmission =
  | { refusal: Record<string, unknown> }
  /** `keyId`: the `secretId` of the key that signed it (absent without keys). */
  | { refusal?: undefined; body: Uint8Array<ArrayBuffer> | null; keyId?: string };

/**
 * The door's checks before it runs anything, for a node that relays CMQ requests to another (a
 * follower to its leader): the method, the bounded body, the parameters and the signature (when
 * there are keys), in the door's order. A refused request gets the door's answer body (a
 * CMQ answer is always HTTP 200); an admitted one comes with its body bytes (a POST's), read
 * once, to send on. Signatures are not remembered (the door keeps no nonces), and the door that
 * serves the request checks it again, with the permission.
 *
 * @example
 * ```ts
 * const admit = createCmqAdmission({ keys: keyRing });
 * const admission = await admit(request, "req-1");
 * if (admission.refusal !== undefined) return Response.json(admission.refusal);
 * ```
 */
export function createCmqAdmission(
  options: Pick<CmqDoorOptions, "keys" | "now" | "requestBytesMax" | "bodies" | "logError">,
): (request: Request, requestId: string) => Promise<CmqAdmission> {
  const door = checksOf(options);
  return async (request, requestId) => {
    try {
      const read = await readRequest(request, door);
      let key: AccessKey | null;
      try {
        key = keyOf(request, read, door);
      } catch (error) {
        throw toCmqError(error, read.params) ?? error;
      }
      return key === null ? { body: read.body } : { body: read.body, keyId: key.secretId };
    } catch (error) {
      return { refusal: failureAnswer(error, door, requestId) };
    }
  };
}

function checksOf(
  options: Pick<CmqDoorOptions, "keys" | "now" | "requestBytesMax" | "bodies" | "logError">,
): DoorChecks {
  return {
    keys: options.keys,
    now: options.now ?? Date.now,
    requestBytesMax: options.requestBytesMax ?? messageLimits.requestBytesMax + requestSlackBytes,
    bodies: options.bodies ?? new BodyBudget(),
    logError: options.logError ??
      ((message: string, error: unknown) => console.error(message, error)),
  };
}

async function answerOf(
  request: Request,
  door: Door,
  requestId: string,
): Promise<Record<string, unknown>> {
  try {
    const fields = await dispatch(request, door);
    return { code: cmqCode.success, message: "", requestId, ...fields };
  } catch (error) {
    return failureAnswer(error, door, requestId);
  }
}

/** The answer to a request that failed with `error`: CMQ's, or 6000 for what is a bug. */
function failureAnswer(
  error: unknown,
  door: DoorChecks,
  requestId: string,
): Record<string, unknown> {
  const failure = toCmqError(error);
  if (failure === null) {
    door.logError(`CMQ request ${requestId} failed: ${error}`, error);
    return {
      code: cmqCode.internalError,
      message: "internal error; see the server log for the request id",
      requestId,
    };
  }
  return { code: failure.code, message: failure.message, requestId, ...failure.fields };
}

/** A request read as far as its parameters: the URL, the body's bytes (a POST's) and both. */
interface ReadRequest {
  url: URL;
  body: Uint8Array<ArrayBuffer> | null;
  params: CmqParams;
  /** The body was `cmq-nodejs-sdk`'s JSON text (`nodejs_body.ts`). */
  jsonBody: boolean;
}

/** The method, the bounded body, the parameters: what every request goes through first. */
async function readRequest(request: Request, door: DoorChecks): Promise<ReadRequest> {
  const method = request.method;
  if (method !== "GET" && method !== "POST") {
    throw invalidParameter(
      moduleCode.methodNotSupported,
      `unexpected http ${method.slice(0, 16)} only GET or POST is supported`,
    );
  }
  const url = new URL(request.url);
  // A GET's parameters are its query string; SDKs send no body with it.
  const body = method === "POST"
    ? await readFormBytes(request, door.requestBytesMax, door.bodies)
    : null;
  const text = body === null ? "" : formText(body);
  const jsonBody = isJsonBody(text);
  const params = jsonBody ? parseJsonBody(url.search, text) : parseParams(url.search, text);
  return { url, body, params, jsonBody };
}

/** The key that signed the request; null without keys (signatures are not checked). */
function keyOf(
  request: Request,
  { url, params, jsonBody }: ReadRequest,
  door: DoorChecks,
): AccessKey | null {
  if (door.keys === null) return null;
  const host = request.headers.get("host") ?? url.host;
  // Signed over `cmqDoorPath` at either path the door serves (`cmqPhpGetPath`).
  const undefinedNames = jsonBody ? undefinedSignedNames(params) : [];
  const signed = { method: request.method, host, path: cmqDoorPath, params, undefinedNames };
  return authenticate(signed, door.keys, door.now());
}

/** Runs one request up to the answer's fields; throws what is answered as an error. */
async function dispatch(request: Request, door: Door): Promise<Record<string, unknown>> {
  const read = await readRequest(request, door);
  try {
    return await dispatchParsed(request, read, door);
  } catch (error) {
    // The service's field names as this request's parameters (`messages.0.body` → `msgBody.0`).
    throw toCmqError(error, read.params) ?? error;
  }
}

async function dispatchParsed(
  request: Request,
  read: ReadRequest,
  door: Door,
): Promise<Record<string, unknown>> {
  const { params } = read;
  const key = keyOf(request, read, door);
  const name = requiredText(params, "Action");
  const topicAction = topicAndSubscriptionActions.get(name);
  if (topicAction !== undefined && door.topics !== null) {
    return await runTopicAction(topicAction, params, door.topics, door.keys, key);
  }
  const action = actionOf(name);
  const queueName = action.scope === "queue" ? queueNameParam(params) : "";
  if (door.keys !== null && key !== null) authorize(door.keys, key, action, queueName);
  const longPoll = action.longPoll === true && door.keys !== null && key !== null;
  const aborts = longPoll ? untilKeysChange(() => request.signal, door.keys) : request;
  const run = action.run({
    service: door.service,
    params,
    queueName,
    keyId: key?.secretId,
    // Read only by the receives: the first read of `request.signal` makes Deno build a signal
    // that it aborts, with a DOMException and its stack, when the answer is sent.
    get signal() {
      return aborts.signal;
    },
  });
  if (!longPoll) return await run;
  // A key that a reload took away while the receive waited gets no message, and is told so
  // rather than "no message" (a reload ends the wait).
  const outcome = await run.then((result) => ({ result }), (error) => ({ error }));
  if (!keyStillAllows(door.keys, key, "queue", queueName, action.permission)) {
    throw new CmqError(
      cmqCode.accessDenied,
      `access denied: key '${key!.secretId}' was removed or lacks queue:${queueName}:` +
        `${action.permission} since the credentials were reloaded while the receive waited`,
    );
  }
  if ("error" in outcome) throw outcome.error;
  return outcome.result;
}

async function runTopicAction(
  action: CmqTopicAction,
  params: CmqParams,
  topics: TopicService,
  keys: KeyRing | null,
  key: AccessKey | null,
): Promise<Record<string, unknown>> {
  const topicName = action.scope === "topic" ? nameParam(params, "topicName") : "";
  if (keys !== null && key !== null) {
    const resource = action.scope === "topic" ? topicName : "*";
    requirePermission(keys, key, "topic", resource, action.permission);
    for (const queue of action.queuesWritten?.(params) ?? []) {
      requirePermission(keys, key, "queue", queue, "send");
    }
  }
  const mayWriteQueue = keys === null || key === null
    ? undefined
    : (queue: string) => requirePermission(keys, key, "queue", queue, "send");
  return await action.run({ topics, params, topicName, mayWriteQueue });
}

function actionOf(name: string): CmqAction {
  const action = actions.get(name);
  if (action !== undefined) return action;
  const reason = topicAndSubscriptionActions.has(name)
    ? "topics are not served by this cmqd"
    : "the request's operation does not exist";
  throw invalidParameter(
    moduleCode.actionNotExisting,
    `action is not existed: '${name.slice(0, 64)}' (${reason})`,
  );
}

/** Account actions (ListQueue) read every queue: they need the permission on all of them. */
function authorize(keys: KeyRing, key: AccessKey, action: CmqAction, queueName: string): void {
  const resource = action.scope === "queue" ? queueName : "*";
  requirePermission(keys, key, "queue", resource, action.permission);
}

function requirePermission(
  keys: KeyRing,
  key: AccessKey,
  kind: ResourceKind,
  resource: string,
  permission: PermissionAction,
): void {
  if (keys.allows(key, kind, resource, permission)) return;
  throw new CmqError(
    cmqCode.accessDenied,
    `access denied: key '${key.secretId}' lacks ${kind}:${resource}:${permission}`,
  );
}
