/**
 * Raw query-protocol requests signed with SigV4 (the `Authorization` header form), for tests
 * that send bytes no SDK would build (garbled form bodies, odd query strings) to a door that
 * checks signatures, so the input gets past the signature check to the query reader. Written
 * from the SigV4 description (canonical request, string to sign, HMAC chain), independent of
 * the door's verifier; signs `host` and `x-amz-date`, and the payload's SHA-256.
 *
 * @module
 */

const utf8 = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key: ArrayBuffer | Uint8Array<ArrayBuffer>, text: string) {
  const imported = await crypto.subtle.importKey(
    "raw",
    key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return await crypto.subtle.sign("HMAC", imported, utf8.encode(text));
}

/** RFC 3986 encoding: everything but the unreserved characters. */
function escape(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (character) => "%" + character.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** The canonical query string of `search` (without `?`), each part decoded and re-encoded. */
function canonicalQuery(search: string): string {
  const pairs = search.split("&").filter((part) => part !== "").map((part) => {
    const split = part.indexOf("=");
    const name = decodeURIComponent(split < 0 ? part : part.slice(0, split));
    const value = split < 0 ? "" : decodeURIComponent(part.slice(split + 1));
    return `${escape(name)}=${escape(value)}`;
  });
  return pairs.sort().join("&");
}

/** What `signedForm` sends. */
export interface SignedFormRequest {
  /** `POST` (the default) or `GET`. */
  method?: string;
  /** The path (default `/`); segments must need no escaping. */
  path?: string;
  /** The query string without `?`, valid percent-encoding (default none). */
  query?: string;
  /** The form body of a POST, as text or bytes (default empty). */
  body?: string | Uint8Array<ArrayBuffer>;
  /** The query string sent instead of the signed `query` (a request changed after signing). */
  sentQuery?: string;
  /**
   * More headers, sent and signed (`x-amz-target` and `content-type` of a JSON-protocol
   * request); a `content-type` given here replaces the form's.
   */
  headers?: Record<string, string>;
  /** What sends it (default the global `fetch`; an HTTP/2 client's, say). */
  fetch?: typeof fetch;
  /** Aborts the request (a client that gives up). */
  signal?: AbortSignal;
}

/**
 * Sends `request` to `endpoint` signed with `key` (region eu-west-1, the current time) and
 * answers the status and the body's text.
 *
 * @example
 * ```ts
 * const { status, text } = await signedForm(door.endpoint, adminKey, { body: "Action=ListQueues" });
 * ```
 */
export async function signedForm(
  endpoint: string,
  key: { secretId: string; secretKey: string },
  request: SignedFormRequest,
): Promise<{ status: number; text: string }> {
  const method = request.method ?? "POST";
  const path = request.path ?? "/";
  const query = request.query ?? "";
  const body = typeof request.body === "string"
    ? utf8.encode(request.body)
    : request.body ?? new Uint8Array(0);
  const host = new URL(endpoint).host;
  const extra = Object.entries(request.headers ?? {}).map(([name, value]) =>
    [name.toLowerCase(), value] as const
  );
  const signed = [["host", host] as const, ...extra].sort(([a], [b]) => a < b ? -1 : 1);
  const signedNames = [...signed.map(([name]) => name), "x-amz-date"].sort().join(";");
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/eu-west-1/sqs/aws4_request`;
  const canonical = [
    method,
    path,
    canonicalQuery(query),
    ...[...signed, ["x-amz-date", amzDate] as const].sort(([a], [b]) => a < b ? -1 : 1)
      .map(([name, value]) => `${name}:${value.trim()}`),
    "",
    signedNames,
    await sha256Hex(body),
  ].join("\n");
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    await sha256Hex(utf8.encode(canonical)),
  ].join("\n");
  let signingKey = await hmac(utf8.encode("AWS4" + key.secretKey), day);
  for (const part of ["eu-west-1", "sqs", "aws4_request"]) {
    signingKey = await hmac(signingKey, part);
  }
  const signature = hex(await hmac(signingKey, stringToSign));
  const headers: Record<string, string> = {
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${key.secretId}/${scope}, ` +
      `SignedHeaders=${signedNames}, Signature=${signature}`,
  };
  if (method === "POST") headers["content-type"] = "application/x-www-form-urlencoded";
  for (const [name, value] of extra) headers[name] = value;
  const sent = request.sentQuery ?? query;
  const send = request.fetch ?? fetch;
  const response = await send(`${endpoint}${path}${sent === "" ? "" : "?" + sent}`, {
    method,
    headers,
    body: method === "POST" ? body : undefined,
    signal: request.signal,
  });
  return { status: response.status, text: await response.text() };
}
