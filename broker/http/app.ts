/**
 * The HTTP app of a node: one hono app (from `@hono/zod-openapi`) serving the native v1 routes,
 * the CMQ v2 door (`/v2/index.php`), the SQS door (`POST /` with `X-Amz-Target`, and SQS's query
 * protocol at `/` and at queue URLs), the operations
 * routes, `/openapi.json` generated from the
 * v1 route definitions and `/docs`.
 *
 * Order of the middleware, outermost first: request id + leader hint + metrics, the declared
 * `content-length` limit, protected mode (every path), the credentials check (`/v1`), the
 * bounded JSON body reader (POST/PUT/PATCH under `/v1`; it decodes the bytes the credentials
 * check read, if it read them), the route's access rule, then the route's own validators and
 * handler. Every failure goes through the one error mapper of `errors.ts`.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import {
  messageLimits,
  type NodeStatus,
  type QueueService,
  type TopicService,
} from "../service/mod.ts";
import type { Metrics } from "./metrics.ts";
import { declaredLengthLimit, jsonBodyReader } from "./body.ts";
import { AccessGuard } from "./access_guard.ts";
import { renderDocsPage } from "./docs_page.ts";
import {
  createErrorHandler,
  createNotFoundHandler,
  createV1Routes,
  createV1TopicRoutes,
  type DoorEnv,
  type ErrorLogger,
  installQueryChecks,
  v1RouteDefinitions,
  v1TopicRouteDefinitions,
  validationHook,
} from "./v1/mod.ts";
import { createOpsRoutes, opsRouteDefinitions } from "./ops_routes.ts";
import { answerHeaders, requestContext, RequestRecorder } from "./request_context.ts";
import { createDirectRoutes } from "./direct.ts";
import { createDoorDirect, doorRoutes } from "./door_direct.ts";
import { cmqDoorPath, cmqPhpGetPath, createCmqAnswers, createCmqDoor } from "./cmq_v2/mod.ts";
import { createSqsAnswers, isSqsRequest, type MoveTaskTime, sqsContentType } from "./sqs/mod.ts";

/**
 * Room above the 4 MiB batch limit for JSON syntax and escaping, so that a batch whose bodies
 * add up to the limit still fits in one request.
 */
export const requestSlackBytes = 256 * 1024;

/** The version announced in the OpenAPI document. */
export const apiVersion = "1.0.0";

/** Options of `createApp`. */
export interface AppOptions {
  service: QueueService;
  /** The topic routes are served when given (every node gives them; some tests don't). */
  topics?: TopicService;
  status: NodeStatus;
  metrics: Metrics;
  /** Largest accepted request body; default 4 MiB + `requestSlackBytes`. */
  requestBytesMax?: number;
  /** Receives every 500 (message and error); default `console.error`. */
  logError?: ErrorLogger;
  /**
   * Where the doors tell what they did on their own (an SQS message move task that its node's
   * loss of leadership failed); default: not told.
   */
  report?: (message: string) => void;
  /**
   * The monotonic clock and timers the doors' own background work runs on (the pace of the SQS
   * message move tasks): the node's. Default `performance.now()` and `setTimeout`.
   */
  time?: MoveTaskTime;
  /**
   * Who may call: credentials (checked by every door) and protected mode. Default
   * `AccessGuard.open()` (anyone).
   */
  access?: AccessGuard;
  /**
   * Serve plainly valid sends, receives and deletes through the v1 fast path (default true;
   * false is the reference its equivalence test compares against, and turns `directRoutes`
   * off too unless it is given).
   */
  hotRoutes?: boolean;
  /**
   * Serve plainly valid sends, receives and deletes in front of hono (`direct.ts`); default
   * `hotRoutes`. False leaves them to hono (the reference of `direct_test.ts`).
   */
  directRoutes?: boolean;
  /**
   * Serve the CMQ and SQS doors in front of hono (`door_direct.ts`); default true. False leaves
   * them to hono (the reference of `door_direct_test.ts`).
   */
  doorDirect?: boolean;
}

/** The hono app of a node. */
type HonoApp = OpenAPIHono<DoorEnv>;

/**
 * The app type `createApp` returns: the hono app, and `close()`, which its owner calls when it
 * stops serving, before closing the service: the SQS door's message move tasks (which run in the
 * background) stop, and the promise resolves once none is left running.
 */
export type App = HonoApp & { close(): Promise<void> };

/**
 * Builds the door over `service`. Serve it with `Deno.serve(app.fetch)` or test it with
 * `app.request()`.
 *
 * @example
 * ```ts
 * const app = createApp({ service: broker, status, metrics: new Metrics() });
 * const server = Deno.serve({ port: 8080 }, app.fetch);
 * // When done: `await app.close()`, then the server and the service.
 * ```
 */
export function createApp(options: AppOptions): App {
  const requestBytesMax = options.requestBytesMax ??
    messageLimits.requestBytesMax + requestSlackBytes;
  const logError = options.logError ??
    ((message: string, error: unknown) => console.error(message, error));
  const app: HonoApp = new OpenAPIHono<DoorEnv>({ defaultHook: validationHook });
  const recorder = new RequestRecorder(options.metrics);
  app.use("*", requestContext({ recorder, status: options.status }));
  const access = options.access ?? AccessGuard.open();
  // Protected mode holds for every door.
  app.use("*", access.clientGate());
  // The CMQ and SQS doors check signatures against the same keys and answer their own errors in
  // their own shapes, body limits included, so they are mounted before the native door's limits.
  const keys = access.keyRing;
  // Signatures' timestamps are checked against the guard's clock on every door.
  const now = access.nowMs;
  // One budget of request bodies being read at once for every door (and the follower's check).
  const bodies = access.bodies;
  const cmqOptions = {
    service: options.service,
    topics: options.topics,
    keys,
    now,
    bodies,
    logError,
  };
  for (const path of [cmqDoorPath, cmqPhpGetPath]) {
    app.all(path, (c, next) => {
      c.set("metricsRoute", doorRoutes.cmq);
      return next();
    });
  }
  app.route("/", createCmqDoor(cmqOptions));
  const sqsDoor = createSqsAnswers({
    service: options.service,
    keys,
    now,
    bodies,
    logError,
    report: options.report,
    time: options.time,
  });
  // `POST /` with an `AmazonSQS.` target, and query-protocol requests at `/` or a queue URL.
  app.use("*", (c, next) => {
    if (!isSqsRequest(c.req.raw)) return next();
    c.set("metricsRoute", doorRoutes.sqs);
    const requestId = c.get("requestId");
    return sqsDoor(c.req.raw, requestId, answerHeaders(sqsContentType, requestId, options.status));
  });
  app.use("*", declaredLengthLimit(requestBytesMax));
  app.use("/v1/*", access.authenticate(requestBytesMax));
  app.use("/v1/*", jsonBodyReader(requestBytesMax, bodies));
  access.installRules(app);
  installQueryChecks(app, [
    ...v1RouteDefinitions,
    ...v1TopicRouteDefinitions,
    ...opsRouteDefinitions,
  ]);
  app.route("/", createV1Routes(options.service, { hotRoutes: options.hotRoutes }));
  if (options.topics !== undefined) app.route("/", createV1TopicRoutes(options.topics));
  app.route("/", createOpsRoutes({ status: options.status, metrics: options.metrics }));

  registerSecuritySchemes(app);
  const documentConfig = {
    openapi: "3.1.0",
    info: {
      title: "cmqd",
      version: apiVersion,
      description: "Native v1 API of cmqd, a Raft-replicated message queue service.",
    },
    // Required when the broker has a credentials file; the open endpoints say `security: []`.
    security: [{ [bearerScheme]: [] }, { [signedSchemeName]: [] }] as Record<string, string[]>[],
  };
  // The routes are fixed once built, so the document and the page are rendered once.
  let document: ReturnType<HonoApp["getOpenAPI31Document"]> | undefined;
  let docsHtml: string | undefined;
  const openApiDocument = () => document ??= app.getOpenAPI31Document(documentConfig);
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/docs", (c) => c.html(docsHtml ??= renderDocsPage(openApiDocument())));

  app.onError(createErrorHandler(logError));
  app.notFound(createNotFoundHandler(allowedMethodsOf(openApiDocument)));
  // `app.request()` and `Deno.serve(app.fetch)` both go through `app.fetch`.
  const honoFetch = app.fetch;
  if (options.directRoutes ?? options.hotRoutes ?? true) {
    const direct = createDirectRoutes({
      service: options.service,
      topics: options.topics,
      status: options.status,
      access,
      recorder,
      requestBytesMax,
      logError,
      fallback: (request, info) => honoFetch(request, info),
    });
    app.fetch = (request, env) => direct(request, env);
  }
  if (options.doorDirect ?? true) {
    const inner = app.fetch;
    const doors = createDoorDirect({
      status: options.status,
      access,
      recorder,
      cmq: createCmqAnswers(cmqOptions),
      sqs: sqsDoor,
      next: (request, info) => inner(request, info),
      fallback: (request, info) => honoFetch(request, info),
    });
    app.fetch = (request, env) => doors(request, env);
  }
  // Each body counts against its connection's share of the budget (`env`: `Deno.serve`'s info).
  const served = app.fetch;
  app.fetch = (request, env, executionContext) => {
    bodies.noteConnection(request, env);
    return served(request, env, executionContext);
  };
  return Object.assign(app, { close: () => sqsDoor.close() });
}

const bearerScheme = "bearer";
const signedSchemeName = "cmqdHmac";

/** The two ways a v1 request proves a key, as OpenAPI security schemes. */
function registerSecuritySchemes(app: HonoApp): void {
  app.openAPIRegistry.registerComponent("securitySchemes", bearerScheme, {
    type: "http",
    scheme: "bearer",
    description: "`Authorization: Bearer <secretId>:<secretKey>`; use over TLS or on loopback.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", signedSchemeName, {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description: "`CMQD1-HMAC-SHA256 Credential=<secretId>, Timestamp=<unix s>, Nonce=<n>, " +
      "Signature=<base64 HMAC-SHA256>` over METHOD, path, sorted query, Timestamp, Nonce and " +
      "the body's SHA-256 (see the README, Security); what the SDK sends.",
  });
}

/**
 * For the 405 answer: the methods a path supports, matched against the document's templates
 * (`/v1/queues/{queue}`), with HEAD after GET (hono answers a HEAD as the GET, without the
 * body). Built on first use; only error paths pay for it.
 */
function allowedMethodsOf(
  openApiDocument: () => { paths?: Record<string, unknown> },
): (path: string) => string[] {
  let templates: { pattern: RegExp; methods: string[] }[] | undefined;
  return (path) => {
    templates ??= Object.entries(openApiDocument().paths ?? {}).map(([template, item]) => ({
      pattern: new RegExp(
        `^${template.replaceAll(/[.+?^$()[\]\\|]/g, "\\$&").replaceAll(/\{[^}]+\}/g, "[^/]+")}$`,
      ),
      methods: Object.keys(item as object).flatMap((method) =>
        method === "get" ? ["GET", "HEAD"] : [method.toUpperCase()]
      ),
    }));
    const getOnly = ["GET", "HEAD"];
    const fixed: Record<string, string[]> = { "/openapi.json": getOnly, "/docs": getOnly };
    if (fixed[path] !== undefined) return fixed[path];
    return templates.filter((template) => template.pattern.test(path))
      .flatMap((template) => template.methods);
  };
}
