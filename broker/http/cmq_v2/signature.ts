/**
 * CMQ's request signature (Tencent Cloud API 2.0 "签名方法 v1"), checked exactly as the
 * official SDKs compute it:
 *
 * ```text
 * METHOD + Host + path + "?" + k1=v1&k2=v2…    (every parameter but Signature, sorted by name,
 *                                              "_" → "." in names, values as sent, not encoded)
 * Signature = base64(HMAC-SHA1 or HMAC-SHA256(secretKey, that string))
 * ```
 *
 * The C++ SDK, by default, names HmacSHA256 and signs with HMAC-SHA1: from it (`SDK_CPP_…`),
 * an HmacSHA256 request also verifies with SHA-1 (`hashesOf`).
 *
 * `Host` is the request's Host header as the client sent it, port included: the SDKs sign the
 * host of their endpoint (`127.0.0.1:9876`), and HTTP clients send the same text. A proxy in
 * front of cmqd must pass the Host header through unchanged. The Node.js SDK `cmq-nodejs-sdk`
 * signs an `http://` endpoint with its scheme: from it alone, `http://` + host verifies too
 * (`signsHttpScheme`).
 *
 * The Python and PHP SDKs (and the Node.js SDK `cmq-nodejs-sdk`, which copies them) leave out
 * of the signature, on POST only, every parameter whose value begins with "@" (a relic of PHP's
 * curl file uploads); the Java, C++ and Go SDKs sign everything. A POST is accepted in that form
 * only when its (signed) `RequestClient` names one of the former (`SDK_Python_1.3`,
 * `SDK_PHP_1.3`, `CMQ_NODEJS_SDK_1.3`), so a message body starting with "@" works from every SDK
 * — and, from those, is not covered by the signature, as with CMQ itself. Any other client's
 * request must sign every parameter: else "@" parameters added to a captured request (a second
 * `msgBody.2=@…`) would pass unsigned.
 *
 * `Timestamp` must be within 300 seconds of the server clock (Tencent Cloud's documented
 * window); Unix seconds, or, from `cmq-nodejs-sdk` alone, 13 digits of Unix milliseconds. `Nonce` is required but not remembered: the PHP SDK draws it from 1–65535, so a busy
 * PHP client repeats nonces within minutes and a replay cache would refuse its honest requests.
 * Replays inside the window are therefore possible over plain HTTP; use TLS. Values are not
 * encoded in the string to sign, so a value holding `&name=` could stand for two parameters: a
 * request whose signature can't tell which is refused (`signed_split.ts`).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { cmqCode, CmqError } from "./errors.ts";
import type { CmqParams } from "./params.ts";
import { signedSplitOf } from "./signed_split.ts";
import { namesNodeSdk } from "./nodejs_body.ts";
import type { AccessKey, KeyRing } from "./deps.ts";

/** The signature methods CMQ defines; the name is the value of `SignatureMethod`. */
export type SignatureMethod = "HmacSHA1" | "HmacSHA256";

const hashOf: Record<SignatureMethod, string> = { HmacSHA1: "sha1", HmacSHA256: "sha256" };

/** How far `Timestamp` may be from the server clock, either way (Tencent Cloud's 5 minutes). */
export const timestampSkewSecondsMax = 300;

/** What a signature covers. */
export interface SignedRequest {
  /** `GET` or `POST`, upper case. */
  method: string;
  /** The Host header as sent (`127.0.0.1:9876`). */
  host: string;
  /** The request path (`/v2/index.php`). */
  path: string;
  params: CmqParams;
  /**
   * Names the client may have signed as `name=undefined` without sending them
   * (`cmq-nodejs-sdk`'s CreateQueue from its JSON body, `undefinedSignedNames`); default none.
   */
  undefinedNames?: readonly string[];
}

/**
 * The string the client signed. With `skipFileValues`, POST parameters whose value starts
 * with "@" are left out, as the Python and PHP SDKs do.
 *
 * @example
 * ```ts
 * stringToSign({ method: "GET", host: "h:1", path: "/v2/index.php", params }, {
 *   skipFileValues: false,
 * }); // "GETh:1/v2/index.php?Action=ListQueue&Nonce=7&…"
 * ```
 */
export function stringToSign(
  request: SignedRequest,
  options: { skipFileValues: boolean; withUndefined?: boolean },
) {
  // Names as sent (`subscriptionName ` from the Go SDK), which is what the client signed.
  const sent = new Map(request.params.signedEntries());
  if (options.withUndefined === true) {
    for (const name of request.undefinedNames ?? []) {
      if (!sent.has(name)) sent.set(name, "undefined");
    }
  }
  const names = [...sent.keys()].filter((name) => name !== "Signature").sort();
  const pairs: string[] = [];
  for (const name of names) {
    const value = sent.get(name)!;
    if (options.skipFileValues && request.method === "POST" && value.startsWith("@")) continue;
    pairs.push(`${name.replaceAll("_", ".")}=${value}`);
  }
  return `${request.method}${request.host}${request.path}?${pairs.join("&")}`;
}

/**
 * base64 of the HMAC of `text` with `secretKey`, as the SDKs compute `Signature`.
 *
 * @example
 * ```ts
 * sign("GETh/v2/index.php?a=1", "secret", "HmacSHA256");
 * ```
 */
export function sign(text: string, secretKey: string, method: SignatureMethod): string {
  return createHmac(hashOf[method], secretKey).update(text, "utf8").digest("base64");
}

function failed(reason: string): CmqError {
  return new CmqError(cmqCode.authenticationFailed, `authentication failed: ${reason}`);
}

function sameText(left: string, right: string): boolean {
  const leftBytes = new TextEncoder().encode(left);
  const rightBytes = new TextEncoder().encode(right);
  return leftBytes.length === rightBytes.length && timingSafeEqual(leftBytes, rightBytes);
}

function signatureMethodOf(params: CmqParams): SignatureMethod {
  const name = params.get("SignatureMethod") ?? "HmacSHA1";
  if (name !== "HmacSHA1" && name !== "HmacSHA256") {
    throw failed(`SignatureMethod '${name.slice(0, 32)}' is not HmacSHA1 or HmacSHA256`);
  }
  return name;
}

/**
 * Checks `Timestamp` against the window: Unix seconds, or, from `cmq-nodejs-sdk` (which sends
 * `new Date().getTime()`), 13 digits of Unix milliseconds, held to the same 300 s.
 */
function checkTimestamp(params: CmqParams, nowMs: number): void {
  const text = params.get("Timestamp")!;
  const inMs = /^[0-9]{13}$/.test(text) && namesNodeSdk(params);
  if (!inMs && !/^[0-9]{1,12}$/.test(text)) throw failed("Timestamp is not Unix seconds");
  const skewSeconds = inMs
    ? Math.abs(Number(text) - nowMs) / 1000
    : Math.abs(Number(text) - Math.floor(nowMs / 1000));
  if (skewSeconds > timestampSkewSecondsMax) {
    throw failed(
      `Timestamp is ${skewSeconds} s from the server clock (at most ${timestampSkewSecondsMax} s)`,
    );
  }
}

/**
 * True when the request names an SDK that leaves "@" values out of its signature: Python, PHP,
 * and the Node.js SDK on npm as `cmq-nodejs-sdk` (`CMQ_NODEJS_SDK_1.3`).
 */
function signsWithoutFileValues(params: CmqParams): boolean {
  const client = params.get("RequestClient")?.toLowerCase() ?? "";
  return client.startsWith("sdk_python") || client.startsWith("sdk_php") ||
    client.startsWith("cmq_nodejs_sdk");
}

/**
 * The hashes a signature naming `method` may have been made with: that one and, from the C++ SDK
 * (`RequestClient` `SDK_CPP_…`), SHA-1 for HmacSHA256 too. Its client starts with no sign
 * method, and then names HmacSHA256 but signs with HMAC-SHA1, unless the application called
 * `setSignMethod`. Still an HMAC with the key: only the name of the method is taken loosely.
 */
function hashesOf(params: CmqParams, method: SignatureMethod): SignatureMethod[] {
  const client = params.get("RequestClient")?.toLowerCase() ?? "";
  return method === "HmacSHA256" && client.startsWith("sdk_cpp") ? [method, "HmacSHA1"] : [method];
}

/**
 * True when the request names the Node.js SDK `cmq-nodejs-sdk` (`CMQ_NODEJS_SDK_…`), which signs
 * its endpoint as written with only `https://` taken off: an `http://` endpoint is signed with
 * its scheme (`POSThttp://cmqd.internal:9876/v2/index.php?…`). Real CMQ is HTTPS-only, so this
 * showed only against a plain-HTTP cmqd; from that client alone, the host signed may also carry
 * `http://` (lower case only: the SDK keeps the scheme as the application wrote it). Still an HMAC
 * with the key over the same host, path and parameters: only the scheme's text is added. POST
 * only, the one method that SDK sends.
 */
function signsHttpScheme(request: SignedRequest): boolean {
  const client = request.params.get("RequestClient")?.toLowerCase() ?? "";
  return request.method === "POST" && client.startsWith("cmq_nodejs_sdk");
}

/** A Host header that ends in a port (`h:9876`, `[::1]:80`; not `[::1]`). */
const hostWithPort = /:[0-9]*$/;

/**
 * The hosts a request whose Host header is `host` may have been signed with: that host and, when
 * it names no port, the host with a default port (`:80`, `:443`). The SDKs sign the endpoint as
 * the application wrote it (`http://cmqd.internal:80` signs `cmqd.internal:80`), and their HTTP
 * libraries (Python's httplib, Java's HttpURLConnection, PHP's curl) leave a default port out
 * of the Host header they send. Any other port, and the host itself, must match. From
 * `cmq-nodejs-sdk` (`signsHttpScheme`), also `http://` + the host as sent, or + it with `:80`
 * when it names no port.
 */
function signedHosts(request: SignedRequest): string[] {
  const host = request.host;
  const hosts = hostWithPort.test(host) ? [host] : [host, `${host}:80`, `${host}:443`];
  if (!signsHttpScheme(request)) return hosts;
  // Plain HTTP's own forms only: the endpoint as sent, or with `:80` (not `http://h:443`).
  const plain = hostWithPort.test(host) ? [host] : [host, `${host}:80`];
  return [...hosts, ...plain.map((form) => `http://${form}`)];
}

/**
 * `key`, unless the signature that verified also stands for other parameters than `params`
 * (`signed_split.ts`): then 4100.
 */
function unambiguous(key: AccessKey, params: CmqParams): AccessKey {
  const split = signedSplitOf(params);
  if (split !== null) throw failed(split);
  return key;
}

/**
 * Checks the request's signature against `keys` and returns the key that signed it. Any
 * failure — a missing signing parameter, an unknown SecretId, an unknown SignatureMethod, a
 * Timestamp outside the window, a signature that does not match — is CMQ's 4100.
 */
export function authenticate(request: SignedRequest, keys: KeyRing, nowMs: number): AccessKey {
  const params = request.params;
  for (const name of ["SecretId", "Timestamp", "Nonce", "Signature"]) {
    if (!params.get(name)) throw failed(`the request carries no ${name}`);
  }
  const method = signatureMethodOf(params);
  checkTimestamp(params, nowMs);
  const secretId = params.get("SecretId")!;
  const key = keys.find(secretId);
  if (key === undefined) throw failed(`SecretId '${secretId.slice(0, 64)}' is not known`);
  // base64 has no spaces: a "+" sent unencoded became one when the form was decoded.
  const given = params.get("Signature")!.replaceAll(" ", "+");
  const hasFileValues = request.method === "POST" && signsWithoutFileValues(params) &&
    [...params.entries()].some(([name, value]) => name !== "Signature" && value.startsWith("@"));
  const hashes = hashesOf(params, method);
  for (const host of signedHosts(request)) {
    const signed = { ...request, host };
    const texts: string[] = [];
    for (const withUndefined of request.undefinedNames?.length ? [false, true] : [false]) {
      texts.push(stringToSign(signed, { skipFileValues: false, withUndefined }));
      if (hasFileValues) {
        texts.push(stringToSign(signed, { skipFileValues: true, withUndefined }));
      }
    }
    for (const text of texts) {
      for (const hash of hashes) {
        if (sameText(sign(text, key.secretKey, hash), given)) return unambiguous(key, params);
      }
    }
  }
  throw failed(
    `Signature does not match the request, signed as "${request.method}${request.host}` +
      `${request.path}?…" with ${method}`,
  );
}
