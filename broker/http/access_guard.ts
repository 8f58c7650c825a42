/**
 * Who may talk to this node (README, "Security"), as hono middleware and as the check a follower
 * runs before it forwards a request to the leader.
 *
 * - **Protected mode** (`loopbackOnly`, no credentials file): every path, every door, is served
 *   only to loopback clients; others get 403 `AccessDenied` saying why. The remote address is
 *   the connection's (`Deno.ServeHandlerInfo`, which `Deno.serve` passes as hono's `env`); a
 *   request without one is refused too (fails closed), Unix sockets are local.
 * - **Credentials** (a key ring): every `/v1` request proves a key (`Bearer` or
 *   `CMQD1-HMAC-SHA256`, see `auth/v1_auth.ts`) or gets 401 `Unauthenticated`; then the route's
 *   rule (`v1/access.ts`) checks the permission, 403 `AccessDenied`. The operations endpoints
 *   outside `/v1` (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`) stay open. Other
 *   doors (`/v2/index.php`, SQS) check their own signatures with the same ring.
 *
 * The signed form hashes the raw body, so the check reads it through `readBodyOnce` (bounded)
 * and the JSON reader decodes those same bytes. A `Bearer` or missing header is decided without
 * reading the body, and so is a signed header that can't pass whatever the body (malformed, an
 * unknown secretId, a timestamp outside the window): nobody without a key makes the node read a
 * body.
 *
 * Forwarding: a follower verifies the credentials before it relays a `/v1` request (no anonymous
 * traffic is relayed), and checks a CMQ or SQS request's signature with the door's own code
 * (`createCmqAdmission`, `createSqsAdmission`), but leaves the replay check to the leader, which
 * executes the request and verifies it again in full. The replay cache is per node, so the node
 * that executes a request is the one that must remember its nonce: if the follower remembered it
 * too, a node that forwards while stepping down and then receives its own forward as the new
 * leader would refuse a legitimate request as a replay. The forwarded marker header grants
 * nothing — anyone can send it — so the leader's checks never depend on it. Permissions are
 * checked by the leader only (its router knows the route); a follower refusing a key the leader
 * would refuse anyway adds no safety.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { matchedRoutes } from "hono/route";
import {
  type AccessKey,
  allowsEveryNameWithPrefix,
  AuthError,
  checkV1Replay,
  checkV1SignedHeader,
  isLoopbackAddress,
  isSignedAuthorization,
  type KeyRing,
  keyStillAllows,
  NonceCache,
  type ResourceKind,
  signedScheme,
  untilKeysChange,
  verifyV1Authorization,
} from "../auth/mod.ts";
import type { Action } from "../auth/mod.ts";
import { BrokerError } from "../service/mod.ts";
import { type BodyBytes, readBodyOnce, readBoundedBytes } from "./body.ts";
import { BodyBudget } from "../service/mod.ts";
import { type CmqAdmission, createCmqAdmission, isCmqDoorPath } from "./cmq_v2/mod.ts";
import { requestIdOf } from "./request_context.ts";
import { createSqsAdmission, isSqsRequest, type SqsAdmission } from "./sqs/mod.ts";
import {
  type AccessRule,
  type DoorEnv,
  errorBody,
  errorStatus,
  everyQueue,
  permissionText,
  v1AccessRules,
} from "./v1/mod.ts";

/** Options of an `AccessGuard`. */
export interface AccessGuardOptions {
  /** The credentials file's keys; null when the broker runs without one. */
  keyRing: KeyRing | null;
  /** Protected mode: serve loopback clients only. */
  loopbackOnly: boolean;
  /** The replay cache of signed requests; default a new one with the default bounds. */
  nonceCache?: NonceCache;
  /** The wall clock for signature timestamps (Unix ms); default `Date.now`. */
  nowMs?: () => number;
  /**
   * The node's budget of request bodies being read at once and their stall timeout, which every
   * door and the follower's check read bodies through; default a new one with the defaults.
   */
  bodies?: BodyBudget;
}

/**
 * What the follower's check decided: refuse with this answer, or forward (these body bytes; the
 * `secretId` of the request's key as `keyId`, absent without credentials).
 */
export type Admission =
  | { refusal: Response }
  | { refusal?: undefined; local?: boolean; body: BodyBytes | null; keyId?: string };

/** `WWW-Authenticate` of every 401 (RFC 9110 asks for one): the two schemes v1 accepts. */
export const authChallenge = `Bearer realm="cmqd", ${signedScheme} realm="cmqd"`;

/**
 * The access checks of a node. `AccessGuard.open()` checks nothing (in-process tests, and the
 * `--insecure` broker without credentials).
 *
 * @example
 * ```ts
 * const guard = new AccessGuard({ keyRing: await FileKeyRing.load(path), loopbackOnly: false });
 * const app = createApp({ service, status, metrics, access: guard });
 * ```
 */
export class AccessGuard {
  /** The keys, or null when the broker has no credentials file. */
  readonly keyRing: KeyRing | null;
  /** True in protected mode. */
  readonly loopbackOnly: boolean;
  /** The wall clock signatures are checked against (Unix ms); every door uses the same one. */
  readonly nowMs: () => number;
  /** The budget every door reads request bodies through (one per node). */
  readonly bodies: BodyBudget;
  readonly #nonceCache: NonceCache;
  /** The rule checks installed by `installRules`, told apart from the routes' own handlers. */
  readonly #ruleHandlers = new WeakSet<object>();
  /** The last client address found to be loopback (protected mode checks every request). */
  #lastLoopback: string | undefined;
  /** The CMQ door's checks before an action, which a follower runs before relaying. */
  readonly #cmqAdmission: (request: Request, requestId: string) => Promise<CmqAdmission>;
  /** The SQS door's checks before an operation, which a follower runs before relaying. */
  readonly #sqsAdmission: (
    request: Request,
    requestId: string,
    headers: Record<string, string>,
  ) => Promise<SqsAdmission>;

  /** A guard over `options.keyRing` (null: no credentials) and protected mode. */
  constructor(options: AccessGuardOptions) {
    this.keyRing = options.keyRing;
    this.loopbackOnly = options.loopbackOnly;
    this.#nonceCache = options.nonceCache ?? new NonceCache();
    this.nowMs = options.nowMs ?? Date.now;
    this.bodies = options.bodies ?? new BodyBudget();
    const doorChecks = { keys: this.keyRing, now: this.nowMs, bodies: this.bodies };
    this.#cmqAdmission = createCmqAdmission(doorChecks);
    this.#sqsAdmission = createSqsAdmission(doorChecks);
  }

  /** A guard that lets everyone in (no key ring, not protected). */
  static open(): AccessGuard {
    return new AccessGuard({ keyRing: null, loopbackOnly: false });
  }

  /** Protected mode for every path: refuses clients that are not on loopback. */
  clientGate(): MiddlewareHandler<DoorEnv> {
    const clientGate: MiddlewareHandler<DoorEnv> = async (c, next) => {
      this.admitClient(c.env);
      await next();
    };
    return clientGate;
  }

  /**
   * Protected mode: throws 403 `AccessDenied` unless the connection (`Deno.ServeHandlerInfo`)
   * is local. Does nothing outside protected mode.
   */
  admitClient(info: unknown): void {
    if (this.loopbackOnly) this.#checkLoopback(info);
  }

  /**
   * Verifies a v1 request's credentials (`body`: the raw body for the signed form, may be empty
   * for the others) with the replay check; null without a key ring (everyone may call). Throws
   * `BrokerError` (401 `Unauthenticated`, or 503 `NotReady` when the replay cache is full); an
   * `Unauthenticated` answer carries `authChallenge` as `WWW-Authenticate`.
   */
  verifyCredentials(
    request: Request,
    body: Uint8Array,
    options: { checkReplay?: boolean } = {},
  ): AccessKey | null {
    if (this.keyRing === null) return null;
    const checkReplay = options.checkReplay ?? true;
    return this.#verify(request, request.headers.get("authorization"), body, checkReplay);
  }

  /**
   * Before a signed request's body is read: throws 401 `Unauthenticated` when its header alone
   * can't pass (its fields, its secretId, its timestamp window), so that nobody without a key
   * makes the node read a body. Does nothing without a key ring or for an unsigned request.
   */
  checkSignedHeader(request: Request): void {
    const authorization = request.headers.get("authorization");
    if (this.keyRing === null || !isSignedAuthorization(authorization)) return;
    try {
      checkV1SignedHeader(authorization as string, {
        keyRing: this.keyRing,
        nowMs: this.nowMs(),
      });
    } catch (error) {
      if (error instanceof AuthError) throw asBrokerError(error);
      throw error;
    }
  }

  /**
   * The replay check of a request `verifyCredentials` verified with `checkReplay: false`:
   * remembers a signed request's nonce, or throws what that check throws (401 for a replay, 503
   * `NotReady` when the cache is full). Nothing to do without a key ring or for Bearer.
   */
  checkReplay(request: Request, key: AccessKey | null): void {
    if (this.keyRing === null || key === null) return;
    try {
      checkV1Replay(request.headers.get("authorization"), key, {
        keyRing: this.keyRing,
        nowMs: this.nowMs(),
        nonceCache: this.#nonceCache,
      });
    } catch (error) {
      if (error instanceof AuthError) throw asBrokerError(error);
      throw error;
    }
  }

  /**
   * Throws 403 `AccessDenied` when `key` may not make a request of `rule` (no key ring: every
   * request may). `inputs` are what the rule looks at: path parameters, query, decoded body.
   * Checked against the keys serving now: a `Bearer` key is verified before the body is read,
   * and a reload while the body arrives that removed the key or changed its secret is 401
   * `Unauthenticated`, one that narrowed it 403.
   */
  checkRule(rule: AccessRule, key: AccessKey | null | undefined, inputs: RuleInputs): void {
    const keyRing = this.keyRing;
    if (keyRing === null) return;
    const verified = key as AccessKey;
    const current = keyRing.find(verified.secretId);
    if (
      current === undefined ||
      (current !== verified && current.secretKey !== verified.secretKey)
    ) {
      throw new BrokerError(
        "Unauthenticated",
        `key '${verified.secretId}' was removed or its secret changed (the credentials were ` +
          `reloaded while the request was read)`,
      );
    }
    const refusal = ruleRefusal(rule, keyRing, current, inputs);
    if (refusal !== null) throw new BrokerError("AccessDenied", refusal);
  }

  /**
   * The abort signal of a long poll made with a key: `signal()` (the client went away) or a
   * reload of the keys, after which the door calls `recheckKey` before it answers.
   */
  longPollAborts(signal: () => AbortSignal): { readonly signal: AbortSignal } {
    return untilKeysChange(signal, this.keyRing);
  }

  /**
   * After a request waited (a long poll): throws 401 `Unauthenticated` when a reload removed
   * `key` or changed its secret, 403 `AccessDenied` when it took away the permission, so that
   * no message reaches a key taken away meanwhile (the messages it locked come back when their
   * lock ends, as those of any lost answer). Does nothing without a key ring.
   */
  recheckKey(
    key: AccessKey | null | undefined,
    kind: ResourceKind,
    name: string,
    action: Action,
  ): void {
    const keyRing = this.keyRing;
    if (keyRing === null || key == null || keyStillAllows(keyRing, key, kind, name, action)) {
      return;
    }
    const current = keyRing.find(key.secretId);
    const why = "(the credentials were reloaded while the request waited)";
    if (current === undefined || current.secretKey !== key.secretKey) {
      throw new BrokerError(
        "Unauthenticated",
        `key '${key.secretId}' was removed or its secret changed ${why}`,
      );
    }
    throw new BrokerError(
      "AccessDenied",
      `key '${key.secretId}' lacks the permission '${permissionText(kind, name, action)}' ${why}`,
    );
  }

  /** For `/v1/*`: verifies the credentials and keeps the caller's key on the context. */
  authenticate(requestBytesMax: number): MiddlewareHandler<DoorEnv> {
    const authenticate: MiddlewareHandler<DoorEnv> = async (c, next) => {
      if (this.keyRing === null) return await next();
      try {
        let body = new Uint8Array(0);
        if (isSignedAuthorization(c.req.raw.headers.get("authorization"))) {
          this.checkSignedHeader(c.req.raw);
          body = await readBodyOnce(c, requestBytesMax, this.bodies);
        }
        c.set("accessKey", this.verifyCredentials(c.req.raw, body) as AccessKey);
      } catch (error) {
        if (error instanceof BrokerError && error.code === "Unauthenticated") {
          c.header("www-authenticate", authChallenge);
        }
        throw error;
      }
      await next();
    };
    return authenticate;
  }

  /**
   * Installs one check per rule on the rule's method and path, then the fail-closed check that
   * refuses any `/v1` route no rule covered. Call after `authenticate` and the JSON reader (the
   * rules that look into bodies read the decoded text) and before the routes.
   */
  installRules(app: OpenAPIHono<DoorEnv>, rules: readonly AccessRule[] = v1AccessRules): void {
    for (const rule of rules) {
      const check = this.#ruleCheck(rule);
      this.#ruleHandlers.add(check);
      app.on(rule.method, rule.path.replaceAll(/\{([^}]+)\}/g, ":$1"), check);
    }
    const ruleHandlers = this.#ruleHandlers;
    app.use("/v1/*", async function failClosed(c, next) {
      if (c.get("accessChecked") !== true) {
        const routed = matchedRoutes(c).some((route) =>
          route.method !== "ALL" && !ruleHandlers.has(route.handler)
        );
        // A route without a rule is a bug of the door; serving it would skip the permission.
        if (routed) throw new Error(`no access rule covers ${c.req.method} ${c.req.path}`);
      }
      await next();
    });
  }

  /**
   * The follower's check before it forwards `request` to the leader: protected mode, then the
   * credentials of a `/v1` request (without the replay check, which the leader makes), or what
   * the CMQ or SQS door checks before it runs a request (the body's bound and, with a key ring,
   * the signature), refused in the door's own shape. Returns the body bytes it had to read, for
   * the forwarder to send on: a door's body is read up to the door's bound (the SQS query
   * protocol's is about three times `requestBytesMax`), which the forwarder then keeps.
   */
  async admitForwarding(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
    requestBytesMax: number,
  ): Promise<Admission> {
    try {
      if (this.loopbackOnly) this.#checkLoopback(info);
      const path = routedPath(new URL(request.url).pathname);
      if (isCmqDoorPath(path)) return await this.#admitCmq(request);
      if (isSqsRequest(request)) {
        const requestId = requestIdOf(request);
        return await this.#sqsAdmission(request, requestId, { "x-request-id": requestId });
      }
      // No door serves it (the leader would answer 404 or 405): answered here, nothing relayed,
      // so nobody makes a follower buffer bodies for a path that leads nowhere.
      if (!isV1Path(path)) return { local: true, body: null };
      if (this.keyRing === null) return { body: null };
      const authorization = request.headers.get("authorization");
      this.checkSignedHeader(request);
      const body = isSignedAuthorization(authorization)
        ? await readBoundedBytes(request, requestBytesMax, this.bodies)
        : null;
      const key = this.#verify(request, authorization, body ?? new Uint8Array(0), false);
      return { body, keyId: key.secretId };
    } catch (error) {
      // Besides the refusals only reading the body can fail (the client went away mid-body).
      const refusal = error instanceof BrokerError ? error : new BrokerError(
        "MalformedRequest",
        `the request body could not be read: ${(error as Error).message}`,
      );
      return { refusal: refusalResponse(refusal) };
    }
  }

  async #admitCmq(request: Request): Promise<Admission> {
    const requestId = requestIdOf(request);
    const admission = await this.#cmqAdmission(request, requestId);
    if (admission.refusal === undefined) return admission;
    // Every CMQ answer is a 200; its `code` tells the refusal.
    const headers = { "content-type": "application/json", "x-request-id": requestId };
    return { refusal: new Response(JSON.stringify(admission.refusal), { headers }) };
  }

  #verify(
    request: Request,
    authorization: string | null,
    body: Uint8Array,
    checkReplay: boolean,
  ): AccessKey {
    const url = new URL(request.url);
    try {
      return verifyV1Authorization({
        method: request.method,
        path: url.pathname,
        rawQuery: url.search.slice(1),
        body,
        authorization,
      }, {
        keyRing: this.keyRing as KeyRing,
        nowMs: this.nowMs(),
        nonceCache: this.#nonceCache,
        checkReplay,
      });
    } catch (error) {
      if (error instanceof AuthError) throw asBrokerError(error);
      throw error;
    }
  }

  #checkLoopback(info: unknown): void {
    const address = (info as Partial<Deno.ServeHandlerInfo> | undefined)?.remoteAddr;
    if (address?.transport === "unix" || address?.transport === "unixpacket") return;
    const hostname = (address as Deno.NetAddr | undefined)?.hostname;
    if (hostname !== undefined && hostname === this.#lastLoopback) return;
    if (hostname !== undefined && isLoopbackAddress(hostname)) {
      this.#lastLoopback = hostname; // clients come from one or two addresses: parse each once
      return;
    }
    throw new BrokerError(
      "AccessDenied",
      `protected mode: this broker has no credentials file, so it serves only clients on its own ` +
        `machine (loopback), and ${
          hostname === undefined ? "this client's address is unknown" : `${hostname} is not one`
        }; start it with --credentials FILE to serve other clients`,
    );
  }

  /** Throws 403 `AccessDenied` unless `key` may send to `queue` (see `mayWriteQueue`). */
  #checkQueueWrite(key: AccessKey | undefined, queue: string): void {
    const keyRing = this.keyRing;
    if (keyRing === null) return;
    // A key a reload removed since the rule check may do nothing (fails closed).
    const current = key === undefined ? undefined : keyRing.find(key.secretId);
    if (current !== undefined && keyRing.allows(current, "queue", queue, "send")) return;
    throw new BrokerError(
      "AccessDenied",
      `key '${key?.secretId}' lacks the permission '${permissionText("queue", queue, "send")}' ` +
        `(the subscription's filter decides what goes into queue '${queue}')`,
    );
  }

  #ruleCheck(rule: AccessRule): MiddlewareHandler<DoorEnv> {
    const accessRule: MiddlewareHandler<DoorEnv> = async (c, next) => {
      challenged(c, () =>
        this.checkRule(rule, c.get("accessKey"), {
          param: (name) => c.req.param(name) ?? "",
          query: (name) => c.req.query(name) ?? "",
          bodyText: c.get("bodyText"),
        }));
      c.set("accessChecked", true);
      if (rule.queuesWrittenByState === true && this.keyRing !== null) {
        c.set("mayWriteQueue", (queue) => this.#checkQueueWrite(c.get("accessKey"), queue));
      }
      if (!isLongPoll(rule) || this.keyRing === null) return await next();
      c.set("longPollAborts", this.longPollAborts(() => c.req.raw.signal));
      await next();
      // Once the receive has answered: a key taken away meanwhile gets a refusal instead.
      if (c.res.status === 200) {
        challenged(
          c,
          () => this.recheckKey(c.get("accessKey"), "queue", c.req.param("queue") ?? "", "receive"),
        );
      }
    };
    return accessRule;
  }
}

/**
 * Runs a check of the key; a 401 it throws (a key a reload removed) carries `authChallenge`, as
 * every 401 does.
 */
function challenged(c: Context<DoorEnv>, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof BrokerError && error.code === "Unauthenticated") {
      c.header("www-authenticate", authChallenge);
    }
    throw error;
  }
}

/** The receive route: a long poll, whose key is checked again before it answers. */
function isLongPoll(rule: AccessRule): boolean {
  return rule.method === "POST" && rule.path === "/v1/queues/{queue}/messages/receive";
}

/** What a rule check sees of the request. */
export interface RuleInputs {
  param(name: string): string;
  query(name: string): string;
  bodyText: string | undefined;
}

/** Why `key` may not make this request, or null when it may. */
function ruleRefusal(
  rule: AccessRule,
  keyRing: KeyRing,
  key: AccessKey,
  inputs: RuleInputs,
): string | null {
  const { kind, action, name } = rule;
  const who = `key '${key.secretId}'`;
  if (name !== null && "listingPrefixQuery" in name) {
    const prefix = inputs.query(name.listingPrefixQuery);
    if (allowsEveryNameWithPrefix(keyRing, key, kind, prefix, action)) return null;
    return `${who} may not list ${kind} names starting with ${JSON.stringify(prefix)}: listing ` +
      `needs one permission granting ${action} on all of them, such as ` +
      `'${kind}:${prefix}*:${action}'`;
  }
  const resource = name === null ? "" : inputs.param(name.param);
  if (!keyRing.allows(key, kind, resource, action)) {
    return `${who} lacks the permission '${permissionText(kind, resource, action)}'`;
  }
  const written = writtenQueues(rule, inputs.bodyText);
  if (written === everyQueue) {
    if (allowsEveryNameWithPrefix(keyRing, key, "queue", "", "send")) return null;
    return `${who} lacks the permission 'queue:*:send' (without a destination, a redrive moves ` +
      `messages back into whichever queues they came from; name a destination the key may ` +
      `send to)`;
  }
  for (const queue of written) {
    if (!keyRing.allows(key, "queue", queue, "send")) {
      return `${who} lacks the permission '${
        permissionText("queue", queue, "send")
      }' (the request moves messages into queue '${queue}')`;
    }
  }
  return null;
}

function writtenQueues(
  rule: AccessRule,
  bodyText: string | undefined,
): string[] | typeof everyQueue {
  if (rule.queuesWrittenByBody === undefined) return [];
  // No body is an empty request (a redrive without one has no destination either).
  if (bodyText === undefined || bodyText === "") return rule.queuesWrittenByBody(undefined);
  try {
    return rule.queuesWrittenByBody(JSON.parse(bodyText));
  } catch {
    // Not JSON: the route's validator refuses it before anything runs.
    return [];
  }
}

/**
 * A path decoded as the router decodes it (`/%761/queues` is `/v1/queues` to hono). Only the
 * follower's check uses this; the leader's router decides there.
 */
function routedPath(rawPath: string): string {
  try {
    return decodeURI(rawPath);
  } catch {
    // Undecodable: hono keeps such sequences as they are, so does this check.
    return rawPath;
  }
}

/** Whether a (decoded) path is routed to the v1 door. */
function isV1Path(path: string): boolean {
  return path === "/v1" || path.startsWith("/v1/");
}

function asBrokerError(error: AuthError): BrokerError {
  if (error.code === "NonceCacheFull") {
    // Not executed, safe to send again (re-signed): the retryable 503 clients already handle.
    return new BrokerError("NotReady", error.message, {
      retryAfterSeconds: error.retryAfterSeconds,
    });
  }
  return new BrokerError(error.code, error.message);
}

/** A refusal outside hono, shaped like the door's errors. */
function refusalResponse(error: BrokerError): Response {
  const requestId = crypto.randomUUID();
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (error.code === "Unauthenticated") headers["www-authenticate"] = authChallenge;
  if (error.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(Math.ceil(error.retryAfterSeconds));
  }
  return Response.json(errorBody(error.code, error.message, { requestId }), {
    status: errorStatus[error.code],
    headers,
  });
}
