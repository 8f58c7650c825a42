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
  type CounterChild,
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
  metrics: Metrics;
  status: NodeStatus;
}

interface RouteMetrics {
  duration: HistogramChild;
  /** method → status → counter. */
  requests: Map<string, Map<number, CounterChild>>;
}

/** The request-id, leader-hint and metrics middleware. */
export function requestContext(options: RequestContextOptions): MiddlewareHandler<DoorEnv> {
  const { metrics, status } = options;
  const requestsTotal = metrics.counter(
    "cmqd_http_requests_total",
    "HTTP requests answered, by route pattern, method and status.",
  );
  const duration = metrics.histogram(
    "cmqd_http_request_duration_seconds",
    "Time from request to response headers, by route pattern.",
    latencyBucketsSeconds,
  );
  const routes = new Map<string, RouteMetrics>();

  function routeMetrics(route: string): RouteMetrics {
    let entry = routes.get(route);
    if (entry === undefined) {
      entry = { duration: duration.labels({ route }), requests: new Map() };
      routes.set(route, entry);
    }
    return entry;
  }

  function countRequest(route: string, method: string, code: number): CounterChild {
    const byMethod = routeMetrics(route).requests;
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let counter = byStatus.get(code);
    if (counter === undefined) {
      // Unknown methods would be unbounded label values; they are all 404/405 anyway.
      const methodLabel = knownMethods.has(method) ? method : "OTHER";
      counter = requestsTotal.labels({ route, method: methodLabel, status: String(code) });
      byStatus.set(code, counter);
    }
    return counter;
  }

  return async function requestContext(c, next) {
    const started = performance.now();
    const incoming = c.req.raw.headers.get("x-request-id");
    const requestId = incoming !== null && requestIdPattern.test(incoming)
      ? incoming
      : crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("x-request-id", requestId);
    const leaderUrl = status.leaderUrl?.();
    if (leaderUrl) c.header("x-cmqd-leader", leaderUrl);
    await next();
    const route = routeOf(c);
    const method = knownMethods.has(c.req.method) ? c.req.method : "OTHER";
    countRequest(route, method, c.res.status).inc();
    routeMetrics(route).duration.observe((performance.now() - started) / 1000);
  };
}

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

// deno-lint-ignore no-explicit-any
function routeOf(c: any): string {
  const matched = matchedRoutes(c);
  const last = matched[matched.length - 1];
  // Middleware is registered for every method ("ALL"); a route handler has its own method.
  return last === undefined || last.method === "ALL" ? unmatchedRoute : last.path;
}
