/**
 * Reading request bodies with a bound. The size is enforced before anything is parsed: a
 * `content-length` over the limit is refused without reading a byte, and a body without one
 * (chunked) is read only up to the limit, so a client can't make the broker buffer more than
 * `requestBytesMax` whatever it sends.
 *
 * The decoded text is handed to hono's body cache, so the route validator parses the JSON
 * exactly once and nobody reads the stream twice.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BrokerError } from "../service/mod.ts";
import type { DoorEnv } from "./v1/mod.ts";

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
    const declared = c.req.raw.headers.get("content-length");
    if (declared !== null && Number(declared) > requestBytesMax) {
      throw tooLarge(requestBytesMax);
    }
    await next();
  };
}

/**
 * Reads the body of POST/PUT/PATCH requests (bounded), checks it is JSON and caches the text
 * for the validator. Other methods pass through untouched.
 */
export function jsonBodyReader(requestBytesMax: number): MiddlewareHandler<DoorEnv> {
  return async function jsonBodyReader(c, next) {
    const method = c.req.method;
    if (method !== "POST" && method !== "PUT" && method !== "PATCH") return await next();
    const text = await readBounded(c.req.raw, requestBytesMax);
    const contentType = c.req.raw.headers.get("content-type");
    const isJson = contentType !== null && jsonMediaTypePattern.test(contentType);
    if (text === "") {
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
    c.set("bodyText", text);
    cacheBody(c.req.bodyCache, "text", Promise.resolve(text));
    await next();
  };
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
 * The whole body as text ("" when there is none). A body over `bytesMax` is refused as soon as
 * the first byte past the limit arrives. Bytes that are not UTF-8 become U+FFFD, as in
 * `Response.text()`: the strict decoder costs 15× more on the hot path and the JSON that
 * results is still checked by the parser and the schema.
 */
async function readBounded(request: Request, bytesMax: number): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && request.headers.get("transfer-encoding") === null) {
    // The transport delivers exactly content-length bytes, checked against the limit above.
    if (Number(declared) > bytesMax) throw tooLarge(bytesMax);
    // `text()` before touching `request.body`: reading `.body` makes Deno build a stream and
    // costs ~20 µs more per request.
    return await request.text();
  }
  const stream = request.body;
  return stream === null ? "" : utf8.decode(await readStreamBounded(stream, bytesMax));
}

async function readStreamBounded(
  stream: ReadableStream<Uint8Array>,
  bytesMax: number,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      // Stop the sender instead of draining the rest of an oversized body.
      await reader.cancel().catch(() => {});
      throw tooLarge(bytesMax);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
