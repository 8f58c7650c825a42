/**
 * The OpenAPI pieces every route file builds its routes from: a JSON response or body, and the
 * error responses a route may send. Besides the statuses a route lists itself, each lists what
 * the middleware in front of it can answer (`middlewareStatuses`, by where it is served), so
 * the document never leaves out an answer a client can get. `openapi_errors_test.ts` provokes
 * each of them on every route.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import { ErrorBodySchema } from "./schemas.ts";

/**
 * Where a route is served: under `/v1` (credentials, query check), or an open operations
 * endpoint outside it (`/healthz`, `/readyz`, `/metrics`).
 */
export type RouteScope = "v1" | "open";

/**
 * What the middleware (`app.ts`) and the node's client port can answer on any route of a scope:
 * protected mode (403), a declared `content-length` over the limit (413, whatever the method)
 * and, from the port, `NotReady` before the node serves and while it shuts down (503)
 * everywhere; under `/v1` also an unknown query parameter (400), credentials (401, 403), a body
 * that stopped arriving (408: the JSON reader, or the signed form's check, which reads the body
 * of any method) and a full replay cache of signed requests, a full budget of request bodies or,
 * through a follower, no leader (503). 415 (a body that
 * is not JSON) holds only for POST, PUT and PATCH, which list it themselves.
 */
export const middlewareStatuses: Readonly<Record<RouteScope, readonly number[]>> = {
  open: [403, 413, 503],
  v1: [400, 401, 403, 408, 413, 503],
};

const sharedErrorDescriptions: Record<number, string> = {
  400:
    "InvalidParameter, MalformedRequest (the body is not JSON, its bytes are not UTF-8, or it nests or holds too many arrays and objects)",
  401: "Unauthenticated: credentials missing, wrong, expired or replayed (with a credentials file)",
  403: "AccessDenied: the key lacks the permission, or protected mode refused a remote client",
  408: "RequestTimeout: the request body made no progress for 30 s and was abandoned",
  413: "MessageTooLarge, BatchTooLarge, RequestTooLarge",
  415: "UnsupportedMediaType (a body that is not JSON)",
  503: "NoLeader, NotReady (retry after Retry-After; also the node's budget of request bodies " +
    "being read at once is full, or the request was held past --held-request-max-s by a frozen " +
    "node, nothing done); NodeRemoved: this node is no longer a member of its cluster " +
    "(ask another node)",
  507: "InsufficientStorage: free disk below --min-free-disk-mb (receives and deletes still work)",
};

/** How a status the route does not list itself comes about: only through the middleware. */
const middlewareDescriptions: Record<RouteScope, Record<number, string>> = {
  open: {
    403: "AccessDenied: protected mode refused a remote client",
    413: "RequestTooLarge: a declared content-length (any method) or a body over the limit",
    503: "NotReady: the node is starting or shutting down (retry after Retry-After)",
  },
  v1: {
    400: "InvalidParameter: an unknown query parameter",
    413: "RequestTooLarge: a declared content-length (any method) or a body over the limit",
  },
};

/** Options of `errorResponses`. */
export interface ErrorResponsesOptions {
  /** Where the routes are served; default `"v1"`. */
  scope?: RouteScope;
}

/**
 * The error responses builder of one family of routes: `own` describes the statuses whose
 * codes differ by family (404, 409, 429) or by route (a 503 that can only be `NotReady`). The
 * builder answers the statuses given plus the scope's `middlewareStatuses`.
 *
 * @example
 * ```ts
 * const errors = errorResponses({ 404: "QueueNotFound" });
 * createRoute({ ..., responses: { 200: json(QueueSchema, "The queue"), ...errors(400, 404) } });
 * ```
 */
export function errorResponses(own: Record<number, string>, options: ErrorResponsesOptions = {}) {
  const scope = options.scope ?? "v1";
  const listed = { ...sharedErrorDescriptions, ...own };
  const implied = { ...sharedErrorDescriptions, ...middlewareDescriptions[scope], ...own };
  return (...statuses: number[]) => {
    const responses: Record<number, { description: string; content: object }> = {};
    const all = new Set([...statuses, ...middlewareStatuses[scope]]);
    for (const status of [...all].sort((a, b) => a - b)) {
      responses[status] = {
        description: statuses.includes(status) ? listed[status] : implied[status],
        content: { "application/json": { schema: ErrorBodySchema } },
      };
    }
    return responses;
  };
}

/** A JSON response of `schema`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body of `schema`. */
export function jsonBody<T extends z.ZodType>(schema: T, required: boolean) {
  return { required, content: { "application/json": { schema } } };
}
