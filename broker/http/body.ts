/**
 * Reading request bodies with a bound. The size is enforced before anything is parsed: a
 * `content-length` over the limit is refused without reading a byte, and a body without one
 * (chunked) is read only up to the limit, so a client can't make the broker buffer more than
 * `requestBytesMax` whatever it sends; every body is read within the node's budget of bodies
 * being read at once and its stall timeout (`../service/body_budget.ts`).
 *
 * The body is read **once**, as bytes, by `readBodyOnce`, which keeps them on the context: the
 * signature check hashes those bytes and the JSON reader decodes the same bytes, then lets go of
 * them (so a 4 MiB body is not held twice while the route runs). The decoded text is handed to
 * hono's body cache, so the route validator parses the JSON exactly once and nobody reads the
 * stream twice.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { BrokerError } from "../service/mod.ts";
import type { DoorEnv } from "./v1/mod.ts";
import {
  type BodyBudget,
  type BodyBytes,
  BodyReadError,
  contentCodingProblem,
  jsonBoundsProblem,
} from "../service/mod.ts";

export type { BodyBytes };

/** `application/json` and `application/<anything>+json`, with parameters. */
const jsonMediaTypePattern = /^application\/([a-z0-9.-]+\+)?json\s*(;.*)?$/i;

const utf8 = new TextDecoder();

/** An empty JSON body means "all defaults", the same as `{}`. */
const emptyJsonText = "{}";
const emptyJsonPromise = Promise.resolve(emptyJsonText);

function tooLarge(requestBytesMax: number): BrokerError {
  return new BrokerError(
    "RequestTooLarge",
    `request body exceeds ${requestBytesMax} bytes`,
  );
}

/**
 * Refuses any request whose declared `content-length` exceeds `requestBytesMax` (413), before
 * its route runs. Cheap: one header read.
 */
export function declaredLengthLimit(requestBytesMax: number): MiddlewareHandler<DoorEnv> {
  return async function declaredLengthLimit(c, next) {
    checkDeclaredLength(c.req.raw, requestBytesMax);
    await next();
  };
}

/** Throws 413 `RequestTooLarge` when `request` declares a `content-length` over the limit. */
export function checkDeclaredLength(request: Request, requestBytesMax: number): void {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > requestBytesMax) throw tooLarge(requestBytesMax);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A body's bytes as text (a leading BOM dropped), or null when they are not UTF-8: decoded
 * leniently, they would become U+FFFD, another text than was sent (JSON is UTF-8). The strict
 * decoder costs about 7× the lenient one, so it runs only when the lenient text holds a U+FFFD
 * (sent as such, or standing for bytes that are not UTF-8).
 */
export function bodyText(bytes: Uint8Array): string | null {
  const text = utf8.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    strictUtf8.decode(bytes);
    return text;
  } catch {
    return null;
  }
}

/**
 * Decodes the body of POST/PUT/PATCH requests (read through `readBodyOnce`, bounded), checks it
 * is JSON and caches the text for the validator. Other methods pass through untouched.
 */
export function jsonBodyReader(
  requestBytesMax: number,
  budget: BodyBudget,
): MiddlewareHandler<DoorEnv> {
  return async function jsonBodyReader(c, next) {
    const method = c.req.method;
    if (method !== "POST" && method !== "PUT" && method !== "PATCH") return await next();
    const bytes = await readBodyOnce(c, requestBytesMax, budget);
    // From here on the text is the body; the bytes are no longer needed by anyone.
    c.set("bodyBytes", undefined);
    const contentType = c.req.raw.headers.get("content-type");
    const isJson = contentType !== null && jsonMediaTypePattern.test(contentType);
    if (bytes.byteLength === 0) {
      // No body: JSON routes see `{}`; without a content type the route's own gate decides,
      // and finds the (consumed) stream empty through the cache.
      if (isJson) cacheBody(c.req.bodyCache, "text", emptyJsonPromise);
      else cacheBody(c.req.bodyCache, "arrayBuffer", Promise.resolve(new ArrayBuffer(0)));
      return await next();
    }
    if (!isJson) {
      throw new BrokerError(
        "UnsupportedMediaType",
        `request body must be JSON (content-type: application/json), got ${
          contentType === null ? "no content-type" : JSON.stringify(contentType.slice(0, 100))
        }`,
      );
    }
    const text = bodyText(bytes);
    if (text === null) {
      throw new BrokerError("MalformedRequest", "request body is not valid UTF-8");
    }
    // Refused before anything parses it: one that would cost far more than its size.
    const problem = jsonBoundsProblem(text);
    if (problem !== null) throw new BrokerError("MalformedRequest", `request body is ${problem}`);
    c.set("bodyText", text);
    cacheBody(c.req.bodyCache, "text", Promise.resolve(text));
    await next();
  };
}

/**
 * The request's body bytes, read (bounded by `bytesMax`) on the first call and kept on the
 * context for later calls; empty when there is none. Any middleware that needs the raw body
 * (the signature check) reads it through here, so the stream is consumed exactly once.
 */
export async function readBodyOnce(
  c: Context<DoorEnv>,
  bytesMax: number,
  budget: BodyBudget,
): Promise<BodyBytes> {
  const kept = c.get("bodyBytes");
  if (kept !== undefined) return kept;
  const bytes = await readBoundedBytes(c.req.raw, bytesMax, budget);
  c.set("bodyBytes", bytes);
  return bytes;
}

/**
 * Puts a body into hono's request cache. hono stores the *promise* of each body type there
 * (its declared type says the value), so the cast only restates what hono does at run time.
 */
function cacheBody(
  cache: object,
  key: "text" | "arrayBuffer",
  body: Promise<string> | Promise<ArrayBuffer>,
): void {
  (cache as Record<string, unknown>)[key] = body;
}

/**
 * The whole body as bytes (empty when there is none), read through the node's `budget`. A body
 * over `bytesMax` is refused as soon as the first byte past the limit arrives (413
 * `RequestTooLarge`), one with a content coding (gzip, …) is refused unread (415
 * `UnsupportedMediaType`), one the budget can't hold at once is refused unread (503 `NotReady`, with
 * `Retry-After`), one that stops arriving is abandoned (408 `RequestTimeout`), and one that fails
 * to arrive (the client reset or closed the connection while sending it) is a malformed request,
 * not an internal error to log: nobody is left to read the answer. Outside hono (the follower's
 * check before it forwards) this is the same bounded read.
 */
export function readBoundedBytes(
  request: Request,
  bytesMax: number,
  budget: BodyBudget,
): Promise<BodyBytes> {
  const coding = contentCodingProblem(request);
  if (coding !== null) {
    return Promise.reject(new BrokerError("UnsupportedMediaType", `request ${coding}`));
  }
  return budget.read(request, bytesMax).catch((error) => {
    throw error instanceof BodyReadError ? asBrokerError(error) : error;
  });
}

/** The native door's error for a body that could not be read. */
export function asBrokerError(error: BodyReadError): BrokerError {
  switch (error.reason) {
    case "too_large":
      return new BrokerError("RequestTooLarge", error.message);
    case "busy":
      return new BrokerError("NotReady", error.message, { retryAfterSeconds: 1 });
    case "stalled":
      return new BrokerError("RequestTimeout", error.message);
    case "unreadable":
      return new BrokerError("MalformedRequest", error.message);
  }
}
