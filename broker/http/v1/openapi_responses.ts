/**
 * The OpenAPI pieces every v1 route file builds its routes from: a JSON response or body, and
 * the error responses a route may send. 401, 403 (credentials, permissions, protected mode) and
 * 503 (no leader, not ready) can answer any route, so every route lists them.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import { ErrorBodySchema } from "./schemas.ts";

const sharedErrorDescriptions: Record<number, string> = {
  400: "InvalidParameter, MalformedRequest (the body is not JSON)",
  401: "Unauthenticated: credentials missing, wrong, expired or replayed (with a credentials file)",
  403: "AccessDenied: the key lacks the permission, or protected mode refused a remote client",
  413: "MessageTooLarge, BatchTooLarge, RequestTooLarge",
  415: "UnsupportedMediaType (a body that is not JSON)",
  503: "NoLeader, NotReady (retry after Retry-After)",
  507: "InsufficientStorage: free disk below --min-free-disk-mb (receives and deletes still work)",
};

/**
 * The error responses builder of one family of routes: `own` describes the statuses whose
 * codes differ by family (404, 409, 429).
 */
export function errorResponses(own: Record<number, string>) {
  const descriptions = { ...sharedErrorDescriptions, ...own };
  return (...statuses: number[]) => {
    const responses: Record<number, { description: string; content: object }> = {};
    for (const status of [...new Set([...statuses, 401, 403, 503])].sort((a, b) => a - b)) {
      responses[status] = {
        description: descriptions[status],
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
