import { strict as assert } from "node:assert";
import {
  AuthError,
  NonceCache,
  parseCredentials,
  verifyV1Authorization,
} from "../broker/auth/mod.ts";
import type { KeyRing } from "../broker/auth/mod.ts";
import { bearer, signRequest, stringToSign } from "./signing.ts";

const secretId = "AKIDworker";
const secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const nowMs = 1_700_000_000_000;

const keys = parseCredentials(JSON.stringify({ keys: [{ secretId, secretKey, allow: ["*"] }] }));
const keyRing: KeyRing = {
  find: (id) => keys.find((key) => key.secretId === id),
  allows: () => true,
};

/** Signs with the SDK, verifies with the broker, as the request would arrive at `url`. */
async function roundTrip(
  method: string,
  href: string,
  body: Uint8Array | string | undefined,
  nonceCache = new NonceCache(),
) {
  const url = new URL(href);
  const authorization = await signRequest({
    method,
    path: url.pathname,
    query: url.search,
    body,
    secretId,
    secretKey,
    nowMs,
  });
  // The broker parses the URL again from what arrived on the wire.
  const arrived = new URL(url.href);
  return verifyV1Authorization({
    method,
    path: arrived.pathname,
    rawQuery: arrived.search.slice(1),
    body: typeof body === "string" ? new TextEncoder().encode(body) : body ?? new Uint8Array(),
    authorization,
  }, { keyRing, nowMs: nowMs + 1_234, nonceCache });
}

Deno.test("the signer produces the known-answer header the broker's tests verify", async () => {
  const header = await signRequest({
    method: "post",
    path: "/v1/queues/images/messages",
    query: "?trace=1&debug=0",
    body: new Uint8Array([0, 1, 2, 253, 254, 255]),
    secretId,
    secretKey,
    nowMs: nowMs + 999,
    nonce: "0123456789abcdef",
  });
  assert.equal(
    header,
    "CMQD1-HMAC-SHA256 Credential=AKIDworker, Timestamp=1700000000, Nonce=0123456789abcdef, " +
      "Signature=3bEQzu3+mmQUnaQ0mxu2UD5BHMpxCeXL1VbR/D8onnY=",
  );
});

Deno.test("a signed request with a binary body and an unsorted query verifies at the broker", async () => {
  const body = new Uint8Array(256).map((_, index) => 255 - index);
  const key = await roundTrip("POST", "http://h:1/v1/queues/images/messages?z=1&a=2&a=1&m", body);
  assert.equal(key.secretId, secretId);
});

Deno.test("a signed request with an encoded path and query verifies at the broker", async () => {
  const href = "http://h:1/v1/queues/a b/messages?prefix=ü x&tag=a+b&q=%2F&empty=";
  assert.ok(await roundTrip("PATCH", href, '{"body":"héllo ✓"}'));
  assert.ok(await roundTrip("get", "http://h:1/v1/queues?", undefined));
});

Deno.test("a query given as URLSearchParams signs what the URL carries", async () => {
  const params = new URLSearchParams({ offset: "0", limit: "5", prefix: "a b&c" });
  const url = new URL("http://h:1/v1/queues");
  url.search = params.toString();
  const authorization = await signRequest({
    method: "GET",
    path: url.pathname,
    query: params,
    secretId,
    secretKey,
    nowMs,
  });
  const key = verifyV1Authorization({
    method: "GET",
    path: url.pathname,
    rawQuery: url.search.slice(1),
    body: new Uint8Array(),
    authorization,
  }, { keyRing, nowMs, nonceCache: new NonceCache() });
  assert.equal(key.secretId, secretId);
});

Deno.test("each signature gets its own random nonce, so two equal requests both verify", async () => {
  const nonceCache = new NonceCache();
  await roundTrip("POST", "http://h:1/v1/queues/q/purge", undefined, nonceCache);
  await roundTrip("POST", "http://h:1/v1/queues/q/purge", undefined, nonceCache);
  const header = await signRequest({ method: "GET", path: "/", secretId, secretKey, nowMs });
  assert.match(header, /, Nonce=[0-9a-f]{32}, /);
});

Deno.test("a body changed after signing is refused by the broker", async () => {
  const authorization = await signRequest({
    method: "POST",
    path: "/v1/queues/q/messages",
    body: "original",
    secretId,
    secretKey,
    nowMs,
  });
  assert.throws(
    () =>
      verifyV1Authorization({
        method: "POST",
        path: "/v1/queues/q/messages",
        rawQuery: "",
        body: new TextEncoder().encode("tampered"),
        authorization,
      }, { keyRing, nowMs, nonceCache: new NonceCache() }),
    (error: unknown) => error instanceof AuthError && error.message.startsWith("signature"),
  );
});

Deno.test("the bearer header verifies at the broker", () => {
  const key = verifyV1Authorization({
    method: "GET",
    path: "/v1/queues",
    rawQuery: "",
    body: new Uint8Array(),
    authorization: bearer(secretId, secretKey),
  }, { keyRing, nowMs, nonceCache: new NonceCache() });
  assert.equal(key.secretId, secretId);
});

Deno.test("the signer refuses nonces and secretIds the broker would refuse", async () => {
  const base = { method: "GET", path: "/", secretId, secretKey, nowMs };
  for (const nonce of ["", "n".repeat(65), "a,b", "a b", "é"]) {
    await assert.rejects(signRequest({ ...base, nonce }), TypeError, nonce);
  }
  await assert.rejects(signRequest({ ...base, secretId: "AKID:x" }), TypeError);
  assert.throws(() => bearer("AKID:x", secretKey), TypeError);
});

Deno.test("the SDK's string to sign matches the rule: query sorted by key, then by piece", () => {
  assert.equal(
    stringToSign({
      method: "delete",
      path: "/v1/queues/q",
      rawQuery: "a-b=2&&a=1",
      timestamp: "1",
      nonce: "n",
      bodySha256Hex: "h",
    }),
    "DELETE\n/v1/queues/q\na=1&a-b=2\n1\nn\nh",
  );
});
