/**
 * Unknown query parameters are refused on every v1 route, as unknown body fields are: routes that
 * declare a query schema (the listings) validate theirs; this answers `400 InvalidParameter`
 * naming the first parameter for every other route, so `POST …/messages?delaySeconds=60` is
 * refused instead of sending a message without its delay.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { invalidParameter } from "../../service/mod.ts";
import type { DoorEnv } from "./errors.ts";

/** A route as `createRoute` describes it (what this check reads of it). */
interface RouteShape {
  method: string;
  path: string;
  request?: object;
}

/** Adds the check to each of `routes` that declares no query parameters. */
export function installQueryChecks(app: OpenAPIHono<DoorEnv>, routes: readonly RouteShape[]): void {
  const noQuery: MiddlewareHandler<DoorEnv> = async (c, next) => {
    const url = c.req.url;
    const at = url.indexOf("?");
    if (at !== -1) {
      for (const name of new URLSearchParams(url.slice(at + 1)).keys()) {
        throw invalidParameter(name, "unknown query parameter (this route takes none)");
      }
    }
    await next();
  };
  for (const route of routes) {
    if (route.request !== undefined && "query" in route.request) continue;
    app.on(route.method.toUpperCase(), route.path.replaceAll(/\{([^}]+)\}/g, ":$1"), noQuery);
  }
}
