/**
 * Signing of native v1 requests (README, "Security"), with WebCrypto only so it runs unchanged in
 * Deno, Node ≥ 20 and browsers. The broker's verifier (`broker/auth/v1_auth.ts`) states the same
 * rule; both sides' tests share a known-answer vector.
 *
 * The header: `CMQD1-HMAC-SHA256 Credential=<secretId>, Timestamp=<unix s>, Nonce=<nonce>,
 * Signature=<base64 HMAC-SHA256(secretKey, S)>`, where S is six lines joined with `\n`:
 *
 * 1. the method in ASCII upper case;
 * 2. the path exactly as sent (`new URL(url).pathname`, percent-encoding untouched);
 * 3. the query as sent without its `?`, split at `&`, empty pieces dropped, pieces kept byte for
 *    byte, sorted by key (text before the first `=`) then by the whole piece, as UTF-16 strings
 *    (JavaScript's `<`), joined with `&` — empty when there is no query;
 * 4. the timestamp, Unix seconds; 5. the nonce;
 * 6. the lowercase hex SHA-256 of the body bytes as sent (of zero bytes when there is none).
 *
 * Pass the path and query you actually put on the wire (`url.pathname`, `url.search`): the
 * broker signs what it receives, so a re-encoded query would not verify.
 *
 * @module
 */

/** The scheme name of a signed `Authorization` header. */
export const signingScheme = "CMQD1-HMAC-SHA256";

/** What `signRequest` signs and with which key. */
export interface SignRequestOptions {
  /** The HTTP method; signed in upper case. */
  method: string;
  /** The path as sent, without the query (`url.pathname`). */
  path: string;
  /**
   * The query as sent (`url.search`, a leading `?` is dropped), or the parameters that were
   * put on the URL with `url.search = params.toString()`. Default none.
   */
  query?: string | URLSearchParams;
  /** The body exactly as it will be sent (a string is sent as UTF-8). Default none. */
  body?: Uint8Array | string | null;
  /** The access key's id (the broker's credentials file names it). */
  secretId: string;
  /** The access key's secret; it is never sent, only used to sign. */
  secretKey: string;
  /** The client's clock, Unix epoch milliseconds. Default `Date.now()`. */
  nowMs?: number;
  /** 1–64 visible ASCII characters other than `,`. Default 32 random hex digits. */
  nonce?: string;
}

const secretIdPattern = /^[A-Za-z0-9._-]{1,128}$/;
const noncePattern = /^[\x21-\x2b\x2d-\x7e]{1,64}$/;
const nonceBytes = 16;
const encoder = new TextEncoder();

/**
 * The value of the `Authorization` header that signs this request.
 *
 * @example
 * ```ts
 * const url = new URL("http://127.0.0.1:9876/v1/queues/images/messages");
 * const body = JSON.stringify({ messages: [{ body: "photo 7" }] });
 * const authorization = await signRequest({
 *   method: "POST", path: url.pathname, query: url.search, body,
 *   secretId: "AKIDworker", secretKey: "…",
 * });
 * await fetch(url, { method: "POST", body, headers: { authorization } });
 * ```
 */
export async function signRequest(options: SignRequestOptions): Promise<string> {
  if (!secretIdPattern.test(options.secretId)) {
    throw new TypeError("secretId must be 1–128 of A-Z a-z 0-9 . _ -");
  }
  const nonce = options.nonce ?? randomNonce();
  if (!noncePattern.test(nonce)) {
    throw new TypeError("nonce must be 1–64 visible ASCII characters other than ','");
  }
  const nowMs = options.nowMs ?? Date.now();
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new TypeError(`nowMs is not a time: ${nowMs}`);
  const timestamp = String(Math.floor(nowMs / 1000));
  const bodyBytes = typeof options.body === "string"
    ? encoder.encode(options.body)
    : options.body ?? new Uint8Array();
  const toSign = stringToSign({
    method: options.method,
    path: options.path,
    rawQuery: rawQueryOf(options.query),
    timestamp,
    nonce,
    bodySha256Hex: hex(await crypto.subtle.digest("SHA-256", bufferSource(bodyBytes))),
  });
  const key = await hmacKey(options.secretKey);
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(toSign));
  return `${signingScheme} Credential=${options.secretId}, Timestamp=${timestamp}, ` +
    `Nonce=${nonce}, Signature=${base64(new Uint8Array(signature))}`;
}

/**
 * The plain `Bearer` header value, for tools and tests; it sends the secret key itself, so use
 * it only over TLS or on loopback.
 *
 * @example
 * ```ts
 * const headers = { authorization: bearer("AKIDadmin", "…") };
 * ```
 */
export function bearer(secretId: string, secretKey: string): string {
  if (!secretIdPattern.test(secretId)) {
    throw new TypeError("secretId must be 1–128 of A-Z a-z 0-9 . _ -");
  }
  return `Bearer ${secretId}:${secretKey}`;
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
 * The string a signed request signs (see the module doc); handy to compare with the one a
 * broker reports when a signature does not match.
 *
 * @example
 * ```ts
 * stringToSign({ method: "get", path: "/v1/queues", rawQuery: "offset=0&limit=5",
 *   timestamp: "1700000000", nonce: "n1", bodySha256Hex: "e3b0…" });
 * // "GET\n/v1/queues\nlimit=5&offset=0\n1700000000\nn1\ne3b0…"
 * ```
 */
export function stringToSign(parts: StringToSignParts): string {
  const pieces = parts.rawQuery.split("&").filter((piece) => piece !== "");
  pieces.sort(compareQueryPieces);
  return [
    parts.method.toUpperCase(),
    parts.path,
    pieces.join("&"),
    parts.timestamp,
    parts.nonce,
    parts.bodySha256Hex,
  ].join("\n");
}

function rawQueryOf(query: string | URLSearchParams | undefined): string {
  if (query === undefined) return "";
  const text = typeof query === "string" ? query : query.toString();
  return text.startsWith("?") ? text.slice(1) : text;
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

/** Importing a key costs a round through WebCrypto; a client signs with one key, so keep it. */
let lastKey: { secretKey: string; key: Promise<CryptoKey> } | undefined;

function hmacKey(secretKey: string): Promise<CryptoKey> {
  if (lastKey?.secretKey !== secretKey) {
    const key = crypto.subtle.importKey(
      "raw",
      encoder.encode(secretKey),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    lastKey = { secretKey, key };
  }
  return lastKey.key;
}

function randomNonce(): string {
  return hex(crypto.getRandomValues(new Uint8Array(nonceBytes)));
}

/**
 * WebCrypto takes only ArrayBuffer-backed views: a view of a SharedArrayBuffer is copied. The
 * cast keeps the emitted types readable by TypeScript versions before typed-array generics.
 */
function bufferSource(bytes: Uint8Array): BufferSource {
  return (bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice()) as BufferSource;
}

function hex(bytes: ArrayBuffer | Uint8Array): string {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += byte.toString(16).padStart(2, "0");
  return text;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
