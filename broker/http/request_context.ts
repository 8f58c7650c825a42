/**
 * The outermost middleware of the door: gives every request an id (kept from the client when
 * it looks sane), stamps `x-request-id` and the leader hint on every response — errors and 404s
 * included, since the error mapper answers through the same context — and records the HTTP
 * metrics.
 *
 * Metrics are labelled by the route *pattern* (`/v1/queues/:queue/messages`), never the raw
 * path, so a scan of random URLs can't create unbounded series. The labelled children are
 * cached per route, method and status so the hot path does no string building.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import {
  type Counter,
  type CounterChild,
  type Histogram,
  type HistogramChild,
  latencyBucketsSeconds,
  type Metrics,
} from "./metrics.ts";
import type { NodeStatus } from "../service/mod.ts";
import type { DoorEnv } from "./v1/mod.ts";

/** A client's request id is echoed only when it is short and plain. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The route label of requests that matched no route. */
const unmatchedRoute = "unmatched";

/** Options of `requestContext`. */
export interface RequestContextOptions {
  status: NodeStatus;
  /** Where answered requests are counted (shared with the direct path of `direct.ts`). */
  recorder: RequestRecorder;
}

interface RouteMetrics {
  duration: HistogramChild;
  /** method → status → counter. */
  requests: Map<string, Map<number, CounterChild>>;
}

/**
 * The HTTP metrics of one app: `cmqd_http_requests_total` by route pattern, method and status,
 * and `cmqd_http_request_duration_seconds` by route pattern. One per app, shared by the hono
 * middleware and the direct path so both count into the same children.
 */
export class RequestRecorder {
  readonly #requestsTotal: Counter;
  readonly #duration: Histogram;
  readonly #routes = new Map<string, RouteMetrics>();

  /** Registers the two metrics on `metrics`. */
  constructor(metrics: Metrics) {
    this.#requestsTotal = metrics.counter(
      "cmqd_http_requests_total",
      "HTTP requests answered, by route pattern, method and status.",
    );
    this.#duration = metrics.histogram(
      "cmqd_http_request_duration_seconds",
      "Time from request to response headers, by route pattern.",
      latencyBucketsSeconds,
    );
  }

  /** Counts one answer of `route` and its time since `startedMs` (`performance.now()`). */
  record(route: string, method: string, code: number, startedMs: number): void {
    const entry = this.#routeMetrics(route);
    this.#counter(entry, route, methodLabel(method), code).inc();
    entry.duration.observe((performance.now() - startedMs) / 1000);
  }

  #routeMetrics(route: string): RouteMetrics {
    let entry = this.#routes.get(route);
    if (entry === undefined) {
      entry = { duration: this.#duration.labels({ route }), requests: new Map() };
      this.#routes.set(route, entry);
    }
    return entry;
  }

  #counter(entry: RouteMetrics, route: string, method: string, code: number): CounterChild {
    let byStatus = entry.requests.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      entry.requests.set(method, byStatus);
    }
    let counter = byStatus.get(code);
    if (counter === undefined) {
      counter = this.#requestsTotal.labels({ route, method, status: String(code) });
      byStatus.set(code, counter);
    }
    return counter;
  }
}

/** The request id of `request`: the client's when it is short and plain, else a new UUID. */
export function requestIdOf(request: Request): string {
  const incoming = request.headers.get("x-request-id");
  return incoming !== null && requestIdPattern.test(incoming) ? incoming : crypto.randomUUID();
}

/**
 * The headers of an answer a door builds itself, with what hono's middleware puts on the answers
 * hono builds: the request id and the leader hint (its URL as of this call).
 */
export function answerHeaders(
  contentType: string,
  requestId: string,
  status: NodeStatus,
): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": contentType,
    "x-request-id": requestId,
  };
  const leaderUrl = status.leaderUrl?.();
  if (leaderUrl) headers["x-cmqd-leader"] = leaderUrl;
  return headers;
}

/** The request-id, leader-hint and metrics middleware. */
export function requestContext(options: RequestContextOptions): MiddlewareHandler<DoorEnv> {
  const { status, recorder } = options;
  return async function requestContext(c, next) {
    const started = performance.now();
    const requestId = requestIdOf(c.req.raw);
    c.set("requestId", requestId);
    c.header("x-request-id", requestId);
    const leaderUrl = status.leaderUrl?.();
    if (leaderUrl) c.header("x-cmqd-leader", leaderUrl);
    await next();
    // A door that answers for a whole path (CMQ, SQS) names its route: hono reports it as a
    // handler of every method, which `routeOf` can't tell from middleware.
    const route = c.get("metricsRoute") ?? routeOf(c);
    recorder.record(route, c.req.method, c.res.status, started);
  };
}

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * The metrics' method label: unknown methods would be unbounded label values (and cache keys);
 * they are all 404/405 anyway, so they share one.
 */
function methodLabel(method: string): string {
  return knownMethods.has(method) ? method : "OTHER";
}

// deno-lint-ignore no-explicit-any
function routeOf(c: any): string {
  const matched = matchedRoutes(c);
  const last = matched[matched.length - 1];
  // Middleware is registered for every method ("ALL"); a route handler has its own method.
  return last === undefined || last.method === "ALL" ? unmatchedRoute : last.path;
}
