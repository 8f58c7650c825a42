/**
 * Verification of the native v1 `Authorization` header (README, "Security"), free of any HTTP
 * framework: the door hands over the method, path, raw query, body bytes and the header.
 *
 * Two forms are accepted (scheme names case-insensitive, as HTTP says):
 * - `Bearer <secretId>:<secretKey>` — split at the first `:`; for curl over TLS or loopback.
 * - `CMQD1-HMAC-SHA256 Credential=<secretId>, Timestamp=<unix s>, Nonce=<n>, Signature=<sig>`
 *   — fields in any order, separated by `,` with optional spaces or tabs around each field,
 *   each exactly once, names case-sensitive. `Timestamp`: 1–12 decimal digits. `Nonce`: 1–64
 *   visible ASCII characters (U+0021–U+007E) other than `,`. `Signature`: standard padded
 *   base64 of the 32-byte HMAC-SHA256 (44 characters), keyed with the secret key's UTF-8 bytes,
 *   over the UTF-8 bytes of the string to sign:
 *
 * ```text
 * S = METHOD "\n" path "\n" canonicalQuery "\n" Timestamp "\n" Nonce "\n" hex(SHA-256(body))
 * ```
 *
 * - `METHOD`: the request method in ASCII upper case (`fetch` sends `patch` as written).
 * - `path`: the request target's path exactly as sent, percent-encoding untouched, no query
 *   (what `new URL(url).pathname` gives on both sides; WHATWG URL parsing is idempotent, so the
 *   client's pathname is the server's).
 * - `canonicalQuery`: the raw query without its `?` (`URL.search.slice(1)`), split at every
 *   `&`; empty pieces dropped; each piece kept byte for byte as sent (no decoding or
 *   re-encoding); pieces sorted by key (the text before the first `=`, the whole piece if it has
 *   none), then by the whole piece, both compared as UTF-16 code-unit strings (JavaScript's
 *   `<`); joined with `&`. No query gives the empty string.
 * - `Timestamp`, `Nonce`: exactly as they appear in the header.
 * - the body hash: lowercase hex SHA-256 of the body bytes as sent (of zero bytes when none).
 *
 * Checks, in order: the header's shape, the secretId, the timestamp (more than 300 s from
 * `nowMs` is refused), the signature, then the nonce: a (secretId, Nonce) pair already used with
 * the same Timestamp is refused (unless the caller asked to leave the replay check to another
 * node). A copy of a request carries its Timestamp, so it is refused by the nonce check while
 * that Timestamp is accepted and by the timestamp check after; the replay cache (`NonceCache`)
 * keeps each pair only that long. The nonce is remembered only after the signature verified,
 * so requests without a valid key can't fill the replay cache. Secrets and signatures are
 * compared in constant time.
 *
 * @module
 */
import { strict as assert } from "node:assert";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { AuthError } from "./errors.ts";
import type { NonceCache } from "./nonce_cache.ts";
import { quote } from "./permissions.ts";
import type { AccessKey, KeyRing } from "./types.ts";

/** The scheme name of the signed form. */
export const signedScheme = "CMQD1-HMAC-SHA256";
/** A timestamp further than this from the server's clock is refused (the API contract). */
export const timestampSkewSecondsMax = 300;
/** The longest nonce accepted (the API contract). */
export const nonceCharsMax = 64;

/** What the verifier needs of a request. */
export interface V1Request {
  /** The method as received (any case). */
  readonly method: string;
  /** The path as sent, without the query (`new URL(request.url).pathname`). */
  readonly path: string;
  /** The query as sent, without its leading `?` (`new URL(request.url).search.slice(1)`). */
  readonly rawQuery: string;
  /** The body bytes as received; empty when there is none. */
  readonly body: Uint8Array;
  /** The `Authorization` header, or null when it is absent. */
  readonly authorization: string | null;
}

/** The verifier's surroundings: the keys, the server's clock reading, the replay cache. */
export interface V1AuthContext {
  /** Where secretIds are looked up. */
  readonly keyRing: KeyRing;
  /** The server's wall clock, Unix epoch milliseconds. */
  readonly nowMs: number;
  /** Remembers the nonces of verified signed requests; shared by all requests of the node. */
  readonly nonceCache: NonceCache;
  /**
   * False to skip the replay check (the nonce is neither looked up nor remembered): for a
   * follower that verifies a request before forwarding it to the leader, which executes it and
   * checks the nonce there. Default true.
   */
  readonly checkReplay?: boolean;
}

const secretIdPattern = /^[A-Za-z0-9._-]{1,128}$/;
const timestampPattern = /^[0-9]{1,12}$/;
const noncePattern = /^[\x21-\x2b\x2d-\x7e]+$/;
const signaturePattern = /^[A-Za-z0-9+/]{43}=$/;
const signedFieldNames = ["Credential", "Timestamp", "Nonce", "Signature"] as const;
type SignedFields = Record<typeof signedFieldNames[number], string>;
const formsHint = "expected 'Bearer <secretId>:<secretKey>' or 'CMQD1-HMAC-SHA256 Credential=...'";

/** An Authorization header's scheme (lowercased) and the rest, split at the first space or tab. */
function splitAuthorization(header: string): { scheme: string; rest: string } {
  const trimmed = header.trim();
  const spaceAt = trimmed.search(/[ \t]/);
  return {
    scheme: (spaceAt === -1 ? trimmed : trimmed.slice(0, spaceAt)).toLowerCase(),
    rest: spaceAt === -1 ? "" : trimmed.slice(spaceAt).trimStart(),
  };
}

/**
 * True when `authorization` is the signed form (`CMQD1-HMAC-SHA256 …`), read exactly as
 * {@link verifyV1Authorization} reads it: the caller must then hand it the raw body, which the
 * signature covers. (Two readings of one header — a tab after the scheme taken as signed by one
 * and not by the other — once let a signature over an empty body pass with any body.)
 */
export function isSignedAuthorization(authorization: string | null): boolean {
  return authorization !== null &&
    splitAuthorization(authorization).scheme === signedScheme.toLowerCase();
}

/**
 * Checks a v1 request's `Authorization` header and returns the caller's key. Throws `AuthError`:
 * `Unauthenticated` for anything wrong, `NonceCacheFull` (retryable) when the replay cache has
 * no room. Permissions are not checked here (see `KeyRing.allows`).
 *
 * @example
 * ```ts
 * const url = new URL(request.url);
 * const key = verifyV1Authorization({
 *   method: request.method,
 *   path: url.pathname,
 *   rawQuery: url.search.slice(1),
 *   body: new Uint8Array(await request.arrayBuffer()),
 *   authorization: request.headers.get("authorization"),
 * }, { keyRing, nowMs: Date.now(), nonceCache });
 * ```
 */
export function verifyV1Authorization(request: V1Request, context: V1AuthContext): AccessKey {
  // A cache covering a narrower window would refuse (as out of its window) timestamps this
  // verifier accepts; never a replay (it forgets no timestamp it still takes).
  assert.ok(context.nonceCache.timestampSkewMs >= timestampSkewSecondsMax * 1000);
  const header = request.authorization?.trim() ?? "";
  if (header === "") throw unauthenticated(`missing Authorization header (${formsHint})`);
  const { scheme, rest } = splitAuthorization(header);
  // The scheme is never echoed: a header holding only a pasted secret would be all "scheme".
  if (scheme === "bearer") return verifyBearer(rest, context.keyRing);
  if (scheme === signedScheme.toLowerCase()) {
    return verifySigned(request, parseSignedFields(rest), context);
  }
  throw unauthenticated(`unsupported Authorization scheme (${formsHint})`);
}

/**
 * The replay check of a signed request that `verifyV1Authorization` verified with
 * `checkReplay: false`: remembers its nonce for `key`, or throws as that check would have
 * (`Unauthenticated` for a replay, `NonceCacheFull`). Does nothing for a Bearer header. Lets a
 * caller verify the signature before it looks at the body, and spend the nonce only once it
 * serves the request itself.
 */
export function checkV1Replay(
  authorization: string | null,
  key: AccessKey,
  context: V1AuthContext,
): void {
  if (!isSignedAuthorization(authorization)) return;
  const fields = parseSignedFields(splitAuthorization(authorization as string).rest);
  checkNonce(key.secretId, fields, context);
}

/**
 * The checks of a signed `authorization` (the `CMQD1-HMAC-SHA256` form) that need no body: its
 * fields, the secretId, the timestamp window. A door makes them before it reads a signed
 * request's body, so that nobody without a key makes the node read and hold a body;
 * `verifyV1Authorization` makes them again, in the same order with the same messages, before
 * the signature. Throws `AuthError` `Unauthenticated`.
 */
export function checkV1SignedHeader(
  authorization: string,
  context: Pick<V1AuthContext, "keyRing" | "nowMs">,
): void {
  const fields = parseSignedFields(splitAuthorization(authorization).rest);
  checkSignedFieldSyntax(fields);
  findKey(context.keyRing, fields.Credential);
  checkTimestamp(fields.Timestamp, context.nowMs);
}

function verifyBearer(credentials: string, keyRing: KeyRing): AccessKey {
  const colonAt = credentials.indexOf(":");
  if (colonAt === -1) {
    throw unauthenticated("Bearer credentials must be <secretId>:<secretKey>");
  }
  const secretId = credentials.slice(0, colonAt);
  if (!secretIdPattern.test(secretId)) {
    throw unauthenticated("Bearer credentials: malformed secretId (1–128 of A-Z a-z 0-9 . _ -)");
  }
  const key = findKey(keyRing, secretId);
  if (!constantTimeEqual(digest(credentials.slice(colonAt + 1)), digest(key.secretKey))) {
    throw unauthenticated(`wrong secretKey for secretId ${quote(secretId)}`);
  }
  return key;
}

/** Splits the signed form's fields; every shape error is refused with what was expected. */
function parseSignedFields(text: string): SignedFields {
  const fields = new Map<string, string>();
  for (const piece of text.split(",")) {
    const field = piece.trim();
    const equalsAt = field.indexOf("=");
    if (equalsAt <= 0) {
      throw unauthenticated(
        `${signedScheme}: expected comma-separated name=value fields ${
          signedFieldNames.join(", ")
        }`,
      );
    }
    const name = field.slice(0, equalsAt);
    if (!(signedFieldNames as readonly string[]).includes(name)) {
      throw unauthenticated(
        `${signedScheme}: unknown field ${quote(name)} (expected ${signedFieldNames.join(", ")})`,
      );
    }
    if (fields.has(name)) throw unauthenticated(`${signedScheme}: duplicate field '${name}'`);
    fields.set(name, field.slice(equalsAt + 1));
  }
  for (const name of signedFieldNames) {
    if (!fields.has(name)) throw unauthenticated(`${signedScheme}: missing field '${name}'`);
  }
  return Object.fromEntries(fields) as SignedFields;
}

function verifySigned(
  request: V1Request,
  fields: SignedFields,
  context: V1AuthContext,
): AccessKey {
  checkSignedFieldSyntax(fields);
  const key = findKey(context.keyRing, fields.Credential);
  checkTimestamp(fields.Timestamp, context.nowMs);
  const toSign = stringToSign({
    method: request.method,
    path: request.path,
    rawQuery: request.rawQuery,
    timestamp: fields.Timestamp,
    nonce: fields.Nonce,
    bodySha256Hex: createHash("sha256").update(request.body).digest("hex"),
  });
  const expected = createHmac("sha256", key.secretKey).update(toSign, "utf8").digest("base64");
  if (!constantTimeEqual(asciiBytes(fields.Signature), asciiBytes(expected))) {
    throw unauthenticated(
      `signature does not match; the string to sign was ${JSON.stringify(toSign)}`,
    );
  }
  if (context.checkReplay !== false) checkNonce(key.secretId, fields, context);
  return key;
}

function checkSignedFieldSyntax(fields: SignedFields): void {
  if (!secretIdPattern.test(fields.Credential)) {
    throw unauthenticated(
      `${signedScheme}: Credential must be a secretId (1–128 of A-Z a-z 0-9 . _ -)`,
    );
  }
  if (!timestampPattern.test(fields.Timestamp)) {
    throw unauthenticated(`${signedScheme}: Timestamp must be Unix seconds (1–12 digits)`);
  }
  const nonce = fields.Nonce;
  if (nonce.length === 0 || nonce.length > nonceCharsMax || !noncePattern.test(nonce)) {
    throw unauthenticated(
      `${signedScheme}: Nonce must be 1–${nonceCharsMax} visible ASCII characters other than ',' ` +
        `(got ${nonce.length} characters)`,
    );
  }
  if (!signaturePattern.test(fields.Signature)) {
    throw unauthenticated(
      `${signedScheme}: Signature must be the base64 of 32 bytes (44 characters ending in '=')`,
    );
  }
}

function checkTimestamp(timestamp: string, nowMs: number): void {
  const skewMs = nowMs - Number(timestamp) * 1000;
  if (Math.abs(skewMs) <= timestampSkewSecondsMax * 1000) return;
  const direction = skewMs > 0 ? "behind" : "ahead of";
  throw unauthenticated(
    `Timestamp ${timestamp} is ${Math.abs(skewMs) / 1000} s ${direction} the server's clock ` +
      `(${nowMs / 1000}); at most ${timestampSkewSecondsMax} s is allowed`,
  );
}

function checkNonce(secretId: string, fields: SignedFields, context: V1AuthContext): void {
  const { Nonce: nonce, Timestamp: timestamp } = fields;
  const cache = context.nonceCache;
  const verdict = cache.remember(secretId, nonce, Number(timestamp), context.nowMs);
  if (verdict === "fresh") return;
  if (verdict === "replayed") {
    throw unauthenticated(
      `Nonce ${quote(nonce)} was already used with secretId ${quote(secretId)} and Timestamp ` +
        `${timestamp} (replay)`,
    );
  }
  if (verdict === "outOfWindow") {
    // Only after the server's clock stepped (the timestamp check passed): sign again.
    throw unauthenticated(
      `Timestamp ${timestamp} is outside the replay cache's window at the server's clock ` +
        `(${context.nowMs / 1000}); sign the request again with the current time`,
    );
  }
  const shareFull = verdict === "shareFull";
  const waitMs = cache.msUntilOldestExpires(context.nowMs, shareFull ? secretId : undefined);
  throw new AuthError(
    "NonceCacheFull",
    shareFull
      ? `secretId ${quote(secretId)} holds ${cache.noncesPerSecretIdMax} nonces of the replay ` +
        `cache, its share; retry later`
      : `the replay cache holds ${cache.noncesMax} nonces and has no room; retry later`,
    { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) },
  );
}

function findKey(keyRing: KeyRing, secretId: string): AccessKey {
  const key = keyRing.find(secretId);
  if (key === undefined) throw unauthenticated(`unknown secretId ${quote(secretId)}`);
  return key;
}

/** The inputs of the string to sign. */
export interface StringToSignParts {
  /** The HTTP method, any case. */
  method: string;
  /** The path as sent. */
  path: string;
  /** The query as sent, without its leading `?`. */
  rawQuery: string;
  /** The header's Timestamp as written (Unix seconds). */
  timestamp: string;
  /** The header's Nonce. */
  nonce: string;
  /** Lowercase hex SHA-256 of the body bytes. */
  bodySha256Hex: string;
}

/**
 * The string an HMAC-signed v1 request signs (the rule is in this module's doc).
 *
 * @example
 * ```ts
 * stringToSign({ method: "post", path: "/v1/queues/orders/messages", rawQuery: "b=2&a=1",
 *   timestamp: "1700000000", nonce: "n1", bodySha256Hex: "e3b0…" });
 * // "POST\n/v1/queues/orders/messages\na=1&b=2\n1700000000\nn1\ne3b0…"
 * ```
 */
export function stringToSign(parts: StringToSignParts): string {
  return [
    parts.method.toUpperCase(),
    parts.path,
    canonicalQuery(parts.rawQuery),
    parts.timestamp,
    parts.nonce,
    parts.bodySha256Hex,
  ].join("\n");
}

/**
 * The query as signed: raw `&`-pieces, empty ones dropped, sorted by key then by piece, encoding
 * kept as sent.
 *
 * @example
 * ```ts
 * canonicalQuery("prefix=a%20b&limit=10&offset=0"); // "limit=10&offset=0&prefix=a%20b"
 * ```
 */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === "") return "";
  const pieces = rawQuery.split("&").filter((piece) => piece !== "");
  pieces.sort(compareQueryPieces);
  return pieces.join("&");
}

function compareQueryPieces(left: string, right: string): number {
  const leftKey = queryKey(left);
  const rightKey = queryKey(right);
  if (leftKey !== rightKey) return leftKey < rightKey ? -1 : 1;
  return left < right ? -1 : left > right ? 1 : 0;
}

function queryKey(piece: string): string {
  const equalsAt = piece.indexOf("=");
  return equalsAt === -1 ? piece : piece.slice(0, equalsAt);
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

const encoder = new TextEncoder();

function asciiBytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Compares in time independent of where the inputs differ; unequal lengths are simply false. */
function constantTimeEqual(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && timingSafeEqual(left, right);
}

function unauthenticated(message: string): AuthError {
  return new AuthError("Unauthenticated", message);
}
