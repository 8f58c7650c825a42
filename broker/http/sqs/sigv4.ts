/**
 * AWS Signature Version 4 verification (the `Authorization` header form) against the broker's
 * key ring: the access key id is a key's `secretId`, the secret access key its `secretKey`.
 *
 * ```
 * Authorization: AWS4-HMAC-SHA256 Credential=<secretId>/<yyyymmdd>/<region>/sqs/aws4_request,
 *                SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<hex>
 * ```
 *
 * The door rebuilds the canonical request (method, path with each segment URI-encoded again as
 * non-S3 services sign it, sorted query, the signed headers lowercased with runs of blanks
 * collapsed, the signed header list, the payload's SHA-256), the string to sign
 * (`AWS4-HMAC-SHA256`, the `x-amz-date`, the credential scope, the canonical request's SHA-256),
 * derives the signing key (HMAC chain over date, region, `sqs`, `aws4_request`) and compares in
 * constant time. Any region is accepted: the scope's region is part of what is signed, so a
 * signature made for one region verifies only with it. `x-amz-date` (or `Date`) must be within
 * 15 minutes of the server's clock. The payload is always hashed here; an
 * `x-amz-content-sha256` header must agree with it (so `UNSIGNED-PAYLOAD` is refused: a queue
 * message is never left unauthenticated).
 *
 * @module
 */
import type { AccessKey, KeyRing } from "./broker_deps.ts";
import { SqsError } from "./errors.ts";

const algorithm = "AWS4-HMAC-SHA256";
const serviceName = "sqs";
const scopeTerminator = "aws4_request";
/** SigV4's allowed clock difference. */
const clockSkewMsMax = 15 * 60 * 1000;
const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const utf8 = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return await crypto.subtle.sign("HMAC", imported, utf8.encode(data));
}

/** RFC 3986 encoding as SigV4 wants it (everything but unreserved characters). */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (character) => "%" + character.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function incomplete(message: string): SqsError {
  return new SqsError("IncompleteSignature", message);
}

function mismatch(message: string): SqsError {
  return new SqsError("SignatureDoesNotMatch", message);
}

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
interface AuthorizationHeader {
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

/**
 * An HTTP header name (RFC 9110's token). SigV4 lists them in lower case; one in upper case is
 * looked up as any header name is, and signs as it is written.
 */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseAuthorization(header: string): AuthorizationHeader {
  if (!header.startsWith(algorithm + " ")) {
    throw incomplete(`Only ${algorithm} signatures in the Authorization header are supported.`);
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(algorithm.length).split(",")) {
    const split = part.indexOf("=");
    if (split > 0) fields.set(part.slice(0, split).trim(), part.slice(split + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incomplete(
      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
    );
  }
  const scope = credential.split("/");
  if (scope.length !== 5 || scope.some((part) => part === "")) {
    throw incomplete(
      "Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request.",
    );
  }
  const [accessKeyId, scopeDate, region, service, terminator] = scope;
  const names = signedHeaders.split(";");
  // Each is looked up among the request's headers: a name no header can have is malformed.
  const invalid = names.find((name) => !headerName.test(name));
  if (invalid !== undefined) {
    throw incomplete(
      `SignedHeaders must be header names separated by ';', not '${invalid.slice(0, 64)}'.`,
    );
  }
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    terminator,
    signedHeaders: names,
    signature,
  };
}

/** The request time (`x-amz-date`, else `Date`) as `yyyymmddThhmmssZ` and epoch ms. */
function requestTime(headers: Headers): { amzDate: string; epochMs: number } {
  let amzDate = headers.get("x-amz-date");
  if (amzDate === null) {
    const date = headers.get("date");
    const parsed = date === null ? NaN : Date.parse(date);
    if (Number.isNaN(parsed)) {
      throw incomplete("A signed request needs an 'X-Amz-Date' or a 'Date' header.");
    }
    amzDate = new Date(parsed).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }
  const match = amzDatePattern.exec(amzDate);
  if (match === null) {
    throw incomplete(`X-Amz-Date ${amzDate.slice(0, 40)} is not yyyymmddThhmmssZ.`);
  }
  const [, year, month, day, hour, minute, second] = match.map(Number);
  return { amzDate, epochMs: Date.UTC(year, month - 1, day, hour, minute, second) };
}

function canonicalPath(pathname: string): string {
  const segments: string[] = [];
  for (const segment of pathname.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && pathname.endsWith("/") ? "/" : "";
  return "/" + segments.map(escapeUri).join("/") + trailing;
}

/**
 * A query part decoded as the query reader decodes it (form encoding: `+` is a space), so that
 * what is signed is what the door acts on: decoded as a literal `+`, a `1+1` the door reads as
 * `1 1` verified with the signature of `1%2B1`.
 */
function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw mismatch("The query string is not valid percent-encoding.");
  }
}

function canonicalQuery(search: string): string {
  const pairs: [string, string][] = [];
  for (const part of search.replace(/^\?/, "").split("&")) {
    if (part === "") continue;
    const split = part.indexOf("=");
    const key = decodeQueryPart(split < 0 ? part : part.slice(0, split));
    const value = split < 0 ? "" : decodeQueryPart(part.slice(split + 1));
    if (key !== "X-Amz-Signature") pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort(([leftKey, leftValue], [rightKey, rightValue]) =>
    leftKey < rightKey ? -1 : leftKey > rightKey ? 1 : leftValue < rightValue ? -1 : 1
  );
  return pairs.map(([key, value]) => `${key}=${value}`).join("&");
}

function canonicalHeaderValue(value: string): string {
  return value.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
}

/**
 * A signed header's value as sent. HTTP/2 has no `Host` header: the host travels as the
 * `:authority` pseudo-header, which Deno puts in the request's URL and not in its headers, so
 * `host` is the URL's host when the header is absent (as the AWS SDKs sign it over h2).
 */
function signedHeaderValue(request: Request, url: URL, name: string): string {
  const value = request.headers.get(name);
  if (value === null && name === "host") return url.host;
  return value ?? "";
}

async function canonicalRequest(
  request: Request,
  signedHeaders: string[],
  payloadHash: string,
): Promise<string> {
  const url = new URL(request.url);
  const headerLines = signedHeaders.map((name) =>
    `${name}:${canonicalHeaderValue(signedHeaderValue(request, url, name))}`
  );
  const text = [
    request.method,
    canonicalPath(url.pathname),
    canonicalQuery(url.search),
    ...headerLines,
    "",
    signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
  return await sha256Hex(text);
}

/** Compares two strings in time independent of where they differ. */
function equalConstantTime(left: string, right: string): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) {
    difference |= left.charCodeAt(index) ^ right.charCodeAt(index);
  }
  return difference === 0;
}

function checkScope(parsed: AuthorizationHeader, amzDate: string): void {
  if (parsed.service !== serviceName) {
    throw mismatch(`Credential should be scoped to correct service: '${serviceName}'.`);
  }
  if (parsed.terminator !== scopeTerminator) {
    throw mismatch(`Credential should be scoped with a valid terminator: '${scopeTerminator}'.`);
  }
  if (parsed.scopeDate !== amzDate.slice(0, 8)) {
    throw mismatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ` +
        `'${parsed.scopeDate}' != '${amzDate.slice(0, 8)}'.`,
    );
  }
  if (!parsed.signedHeaders.includes("host")) {
    throw mismatch("'Host' must be a signed header.");
  }
}

/**
 * The operation is chosen by `X-Amz-Target`, so it must be signed: else a captured request (a
 * GetQueueAttributes, say) could be sent again within the 15 minutes as a PurgeQueue of the same
 * queue. The AWS SDKs sign every `x-amz-*` header they send.
 */
function checkTargetSigned(parsed: AuthorizationHeader, request: Request): void {
  if (request.headers.has("x-amz-target") && !parsed.signedHeaders.includes("x-amz-target")) {
    throw mismatch("'X-Amz-Target' must be a signed header.");
  }
}

/** What `checkSignatureHeaders` found: the key the request claims, and its signature's terms. */
export interface SignatureClaim {
  readonly key: AccessKey;
  readonly parsed: AuthorizationHeader;
  readonly amzDate: string;
}

/**
 * The checks of a signature that need no body: the `Authorization` header, its key, its scope,
 * the signed `X-Amz-Target`, the 15-minute window. A request refused here is refused before a
 * byte of its body is read. Throws the SQS error a client gets: `MissingAuthenticationToken`,
 * `IncompleteSignature`, `InvalidClientTokenId`, `RequestExpired` or `SignatureDoesNotMatch`.
 */
export function checkSignatureHeaders(
  request: Request,
  options: { keys: KeyRing; nowMs: number },
): SignatureClaim {
  const header = request.headers.get("authorization");
  if (header === null) {
    throw new SqsError("MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  const parsed = parseAuthorization(header);
  const key = options.keys.find(parsed.accessKeyId);
  if (key === undefined) {
    throw new SqsError(
      "InvalidClientTokenId",
      "The security token included in the request is invalid.",
    );
  }
  const { amzDate, epochMs } = requestTime(request.headers);
  checkScope(parsed, amzDate);
  checkTargetSigned(parsed, request);
  if (Math.abs(options.nowMs - epochMs) > clockSkewMsMax) {
    throw new SqsError(
      "RequestExpired",
      `Request has expired: ${amzDate} is more than 15 minutes from the server's time.`,
    );
  }
  return { key, parsed, amzDate };
}

/**
 * The rest of the check of a request `checkSignatureHeaders` passed, over its body: the
 * payload's hash and the signature itself. Answers the caller's key; throws
 * `SignatureDoesNotMatch`.
 */
export async function checkSignedBody(
  request: Request,
  body: Uint8Array,
  claim: SignatureClaim,
): Promise<AccessKey> {
  const { key, parsed, amzDate } = claim;
  const payloadHash = await sha256Hex(body);
  const declared = request.headers.get("x-amz-content-sha256");
  if (declared !== null && declared !== payloadHash) {
    throw mismatch("The provided 'x-amz-content-sha256' header does not match the body.");
  }
  const scope = [parsed.scopeDate, parsed.region, serviceName, scopeTerminator].join("/");
  const stringToSign = [
    algorithm,
    amzDate,
    scope,
    await canonicalRequest(request, parsed.signedHeaders, payloadHash),
  ].join("\n");
  let signingKey = await hmac(utf8.encode("AWS4" + key.secretKey), parsed.scopeDate);
  for (const part of [parsed.region, serviceName, scopeTerminator]) {
    signingKey = await hmac(signingKey, part);
  }
  if (!equalConstantTime(hex(await hmac(signingKey, stringToSign)), parsed.signature)) {
    throw mismatch(
      "The request signature we calculated does not match the signature you provided. " +
        "Check your AWS Secret Access Key and signing method.",
    );
  }
  return key;
}

/**
 * Verifies the signature of `request` (whose body is `body`) and answers the caller's key:
 * `checkSignatureHeaders`, then `checkSignedBody`.
 */
export async function verifySignature(
  request: Request,
  body: Uint8Array,
  options: { keys: KeyRing; nowMs: number },
): Promise<AccessKey> {
  return await checkSignedBody(request, body, checkSignatureHeaders(request, options));
}
