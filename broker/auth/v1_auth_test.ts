import { strict as assert } from "node:assert";
import { createHash, createHmac } from "node:crypto";
import { parseCredentials } from "./credentials.ts";
import { AuthError } from "./errors.ts";
import { NonceCache } from "./nonce_cache.ts";
import type { KeyRing } from "./types.ts";
import {
  canonicalQuery,
  stringToSign,
  type V1AuthContext,
  type V1Request,
  verifyV1Authorization,
} from "./v1_auth.ts";

const secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const nowMs = 1_700_000_000_000;
const nowSeconds = nowMs / 1000;

function keyRing(): KeyRing {
  const keys = parseCredentials(JSON.stringify({
    keys: [{ secretId: "AKIDworker", secretKey, allow: ["queue:images:receive"] }],
  }));
  return {
    find: (secretId) => keys.find((key) => key.secretId === secretId),
    allows: () => false,
  };
}

function context(overrides: Partial<V1AuthContext> = {}): V1AuthContext {
  return { keyRing: keyRing(), nowMs, nonceCache: new NonceCache(), ...overrides };
}

const body = new TextEncoder().encode('{"maxMessages":4}');

function request(overrides: Partial<V1Request> = {}): V1Request {
  return {
    method: "POST",
    path: "/v1/queues/images/messages/receive",
    rawQuery: "",
    body,
    authorization: null,
    ...overrides,
  };
}

interface SignOptions {
  method?: string;
  path?: string;
  rawQuery?: string;
  body?: Uint8Array;
  timestamp?: number;
  nonce?: string;
  key?: string;
}

/** A signer written independently of the verifier, straight from the API contract and the module doc. */
function signedHeader(options: SignOptions = {}): string {
  const timestamp = String(options.timestamp ?? nowSeconds);
  const nonce = options.nonce ?? crypto.randomUUID();
  const toSign = [
    (options.method ?? "POST").toUpperCase(),
    options.path ?? "/v1/queues/images/messages/receive",
    sortedQuery(options.rawQuery ?? ""),
    timestamp,
    nonce,
    createHash("sha256").update(options.body ?? body).digest("hex"),
  ].join("\n");
  const signature = createHmac("sha256", options.key ?? secretKey).update(toSign).digest("base64");
  return `CMQD1-HMAC-SHA256 Credential=AKIDworker, Timestamp=${timestamp}, Nonce=${nonce}, ` +
    `Signature=${signature}`;
}

/** The query rule restated: pieces ordered by key, then by the whole piece. */
function sortedQuery(rawQuery: string): string {
  const keyed = rawQuery.split("&").filter((piece) => piece !== "")
    .map((piece) => [piece.split("=")[0], piece]);
  keyed.sort(([leftKey, left], [rightKey, right]) =>
    leftKey === rightKey ? (left < right ? -1 : 1) : (leftKey < rightKey ? -1 : 1)
  );
  return keyed.map(([, piece]) => piece).join("&");
}

function refusal(
  authorization: string | null,
  overrides: Partial<V1Request> = {},
  verifyContext = context(),
): AuthError {
  try {
    verifyV1Authorization(request({ authorization, ...overrides }), verifyContext);
  } catch (error) {
    assert.ok(error instanceof AuthError);
    assert.ok(!error.message.includes(secretKey), "a message shows the secret key");
    return error;
  }
  assert.fail("the request was accepted");
}

function accepted(
  authorization: string,
  overrides: Partial<V1Request> = {},
  verifyContext = context(),
) {
  return verifyV1Authorization(request({ authorization, ...overrides }), verifyContext);
}

Deno.test("a Bearer header with a known secretId and its key is accepted", () => {
  assert.equal(accepted(`Bearer AKIDworker:${secretKey}`).secretId, "AKIDworker");
  assert.equal(accepted(`bearer   AKIDworker:${secretKey}`).secretId, "AKIDworker");
});

Deno.test("a Bearer key is split at the first colon, so keys may contain colons", () => {
  const keys = parseCredentials(
    '{"keys":[{"secretId":"AKIDc","secretKey":"a:b:c","allow":[]}]}',
  );
  const ring: KeyRing = { find: () => keys[0], allows: () => false };
  assert.equal(accepted("Bearer AKIDc:a:b:c", {}, context({ keyRing: ring })).secretId, "AKIDc");
});

Deno.test("Bearer refusals name the problem without showing the key", () => {
  const cases: [string, string][] = [
    [`Bearer AKIDnobody:${secretKey}`, "unknown secretId 'AKIDnobody'"],
    ["Bearer AKIDworker:wrong-key", "wrong secretKey for secretId 'AKIDworker'"],
    [`Bearer AKIDworker:${secretKey}x`, "wrong secretKey for secretId 'AKIDworker'"],
    ["Bearer AKIDworker:", "wrong secretKey for secretId 'AKIDworker'"],
    [`Bearer ${secretKey}`, "Bearer credentials must be <secretId>:<secretKey>"],
    ["Bearer", "Bearer credentials must be <secretId>:<secretKey>"],
    [
      `Bearer AKID worker:${secretKey}`,
      "Bearer credentials: malformed secretId (1–128 of A-Z a-z 0-9 . _ -)",
    ],
    [`Bearer :${secretKey}`, "Bearer credentials: malformed secretId (1–128 of A-Z a-z 0-9 . _ -)"],
  ];
  for (const [header, message] of cases) {
    const error = refusal(header);
    assert.equal(error.code, "Unauthenticated");
    assert.equal(error.message, message, header);
  }
});

Deno.test("a missing, empty or unknown-scheme header is refused without echoing it", () => {
  const hint = "expected 'Bearer <secretId>:<secretKey>' or 'CMQD1-HMAC-SHA256 Credential=...'";
  assert.equal(refusal(null).message, `missing Authorization header (${hint})`);
  assert.equal(refusal("  ").message, `missing Authorization header (${hint})`);
  assert.equal(refusal(secretKey).message, `unsupported Authorization scheme (${hint})`);
  assert.equal(
    refusal(`Basic ${btoa(`AKIDworker:${secretKey}`)}`).message,
    `unsupported Authorization scheme (${hint})`,
  );
});

Deno.test("a correctly signed request is accepted and returns the caller's key", () => {
  assert.equal(accepted(signedHeader()).secretId, "AKIDworker");
});

Deno.test("a signed request with an empty body, a query and a lower-case method is accepted", () => {
  const empty = new Uint8Array();
  const header = signedHeader({
    method: "get",
    path: "/v1/queues",
    rawQuery: "limit=5&prefix=im",
    body: empty,
  });
  const key = accepted(header, {
    method: "get",
    path: "/v1/queues",
    rawQuery: "limit=5&prefix=im",
    body: empty,
  });
  assert.equal(key.secretId, "AKIDworker");
});

Deno.test("the query may arrive in any order: pieces are sorted before signing", () => {
  const header = signedHeader({ rawQuery: "a=1&b=2&c=3" });
  assert.ok(accepted(header, { rawQuery: "c=3&a=1&b=2" }));
});

Deno.test("a signed request is refused when anything signed was changed", () => {
  const changes: [string, Partial<V1Request>][] = [
    ["the body", { body: new TextEncoder().encode('{"maxMessages":5}') }],
    ["the path", { path: "/v1/queues/other/messages/receive" }],
    ["the method", { method: "PUT" }],
    ["a query value", { rawQuery: "a=2" }],
    ["the query encoding", { rawQuery: "a=%31" }],
  ];
  for (const [what, change] of changes) {
    const header = signedHeader({ rawQuery: change.rawQuery === undefined ? "" : "a=1" });
    const error = refusal(header, change);
    assert.ok(error.message.startsWith("signature does not match; the string to sign was "), what);
  }
});

Deno.test("a signature made with the wrong key is refused and shows the string to sign", () => {
  const error = refusal(signedHeader({ key: "not-the-key", nonce: "n-1" }));
  const bodyHash = createHash("sha256").update(body).digest("hex");
  assert.equal(
    error.message,
    "signature does not match; the string to sign was " +
      JSON.stringify(`POST\n/v1/queues/images/messages/receive\n\n${nowSeconds}\nn-1\n${bodyHash}`),
  );
});

Deno.test("an unknown Credential is refused by name", () => {
  const header = signedHeader().replace("Credential=AKIDworker", "Credential=AKIDnobody");
  assert.equal(refusal(header).message, "unknown secretId 'AKIDnobody'");
});

Deno.test("timestamps up to 300 s either side are accepted, beyond that refused", () => {
  for (const offsetSeconds of [-300, -299, 0, 299, 300]) {
    assert.ok(
      accepted(signedHeader({ timestamp: nowSeconds + offsetSeconds })),
      `${offsetSeconds}`,
    );
  }
  assert.equal(
    refusal(signedHeader({ timestamp: nowSeconds - 301 })).message,
    `Timestamp ${nowSeconds - 301} is 301 s behind the server's clock (${nowSeconds}); ` +
      "at most 300 s is allowed",
  );
  assert.equal(
    refusal(signedHeader({ timestamp: nowSeconds + 301 })).message,
    `Timestamp ${nowSeconds + 301} is 301 s ahead of the server's clock (${nowSeconds}); ` +
      "at most 300 s is allowed",
  );
});

Deno.test("a replayed nonce is refused, and the nonce of a refused request is not used up", () => {
  const verifyContext = context();
  refusal(signedHeader({ nonce: "once", key: "wrong" }), {}, verifyContext);
  const header = signedHeader({ nonce: "once" });
  assert.ok(accepted(header, {}, verifyContext));
  assert.equal(
    refusal(header, {}, verifyContext).message,
    `Nonce 'once' was already used with secretId 'AKIDworker' and Timestamp ${nowSeconds} (replay)`,
  );
  // A new request may use the nonce again: its Timestamp, and so its signature, differ.
  const later = context({ nowMs: nowMs + 1_000, nonceCache: verifyContext.nonceCache });
  assert.ok(accepted(signedHeader({ nonce: "once", timestamp: nowSeconds + 1 }), {}, later));
});

Deno.test("a copy is refused while its Timestamp is accepted, and by the timestamp check after", () => {
  const nonceCache = new NonceCache();
  const header = signedHeader({ nonce: "captured" });
  assert.ok(accepted(header, {}, context({ nonceCache })));
  // Sent again at every point of the window, while other requests move the cache on.
  for (let afterMs = 0; afterMs <= 300_000; afterMs += 30_000) {
    const at = context({ nowMs: nowMs + afterMs, nonceCache });
    const timestamp = nowSeconds + afterMs / 1000;
    assert.ok(accepted(signedHeader({ nonce: `other${afterMs}`, timestamp }), {}, at));
    assert.match(refusal(header, {}, at).message, /\(replay\)$/);
  }
  // Once the window has passed, the cache forgets the pair; the copy is refused all the same.
  const after = context({ nowMs: nowMs + 300_001, nonceCache });
  assert.equal(
    refusal(header, {}, after).message,
    `Timestamp ${nowSeconds} is 300.001 s behind the server's clock (${
      (nowMs + 300_001) / 1000
    }); ` +
      "at most 300 s is allowed",
  );
  const farLater = context({ nowMs: nowMs + 400_000, nonceCache });
  assert.ok(accepted(signedHeader({ nonce: "tick", timestamp: nowSeconds + 400 }), {}, farLater));
  assert.match(refusal(header, {}, farLater).message, /^Timestamp \d+ is 400 s behind/);
  // The pair is forgotten: the cache no longer covers its Timestamp.
  assert.equal(
    nonceCache.remember("AKIDworker", "captured", nowSeconds, nowMs + 400_000),
    "outOfWindow",
  );
});

Deno.test("after the server's clock stepped back a forgotten Timestamp is refused, not taken", () => {
  const nonceCache = new NonceCache();
  const header = signedHeader({ nonce: "captured" });
  assert.ok(accepted(header, {}, context({ nonceCache })));
  const ahead = context({ nowMs: nowMs + 320_000, nonceCache });
  assert.ok(accepted(signedHeader({ timestamp: nowSeconds + 320 }), {}, ahead));
  // The clock steps back 30 s: the copy passes the timestamp check, the cache forgot its pair.
  const stepped = context({ nowMs: nowMs + 290_000, nonceCache });
  const error = refusal(header, {}, stepped);
  assert.equal(error.code, "Unauthenticated");
  assert.equal(
    error.message,
    `Timestamp ${nowSeconds} is outside the replay cache's window at the server's clock ` +
      `(${(nowMs + 290_000) / 1000}); sign the request again with the current time`,
  );
});

Deno.test("with checkReplay false the nonce is neither checked nor remembered, the rest is", () => {
  const nonceCache = new NonceCache();
  const forwarding = context({ nonceCache, checkReplay: false });
  const header = signedHeader({ nonce: "relayed" });
  assert.ok(accepted(header, {}, forwarding));
  assert.ok(accepted(header, {}, forwarding));
  assert.equal(nonceCache.size, 0);
  // The node that executes the request still refuses the second use.
  const executing = context({ nonceCache });
  assert.ok(accepted(header, {}, executing));
  assert.match(refusal(header, {}, executing).message, /\(replay\)$/);
  // Everything but the replay check still applies.
  assert.match(refusal(signedHeader({ key: "wrong" }), {}, forwarding).message, /^signature/);
  const stale = signedHeader({ timestamp: nowSeconds - 301 });
  assert.match(refusal(stale, {}, forwarding).message, /^Timestamp/);
});

Deno.test("a full replay cache refuses signed requests with a retryable error", () => {
  const nonceCache = new NonceCache({ noncesMax: 1 });
  accepted(signedHeader(), {}, context({ nonceCache }));
  const error = refusal(signedHeader(), {}, context({ nonceCache, nowMs: nowMs + 100_000 }));
  assert.equal(error.code, "NonceCacheFull");
  assert.equal(error.message, "the replay cache holds 1 nonces and has no room; retry later");
  assert.equal(error.retryable, true);
  // The first request's second is dropped 310 s after it (the window and the clock margin).
  assert.equal(error.retryAfterSeconds, 211);
  assert.ok(accepted(`Bearer AKIDworker:${secretKey}`, {}, context({ nonceCache })));
});

Deno.test("a key past its share of the replay cache gets the retryable error", () => {
  const nonceCache = new NonceCache({ noncesMax: 4, secretIdShare: 0.5 });
  accepted(signedHeader(), {}, context({ nonceCache }));
  accepted(signedHeader({ timestamp: nowSeconds + 5 }), {}, context({ nonceCache }));
  const error = refusal(signedHeader(), {}, context({ nonceCache, nowMs: nowMs + 10_000 }));
  assert.equal(error.code, "NonceCacheFull");
  assert.equal(
    error.message,
    "secretId 'AKIDworker' holds 2 nonces of the replay cache, its share; retry later",
  );
  assert.equal(error.retryAfterSeconds, 301);
  assert.equal(nonceCache.size, 2);
});

Deno.test("nonces of 1 to 64 visible characters are accepted, others refused", () => {
  assert.ok(accepted(signedHeader({ nonce: "x" })));
  assert.ok(accepted(signedHeader({ nonce: "n".repeat(64) })));
  assert.ok(accepted(signedHeader({ nonce: "a=b+/~!" })));
  const tooLong = refusal(signedHeader({ nonce: "n".repeat(65) }));
  assert.equal(
    tooLong.message,
    "CMQD1-HMAC-SHA256: Nonce must be 1–64 visible ASCII characters other than ',' (got 65 characters)",
  );
  assert.ok(refusal(signedHeader({ nonce: "two words" })).message.includes("Nonce must be"));
  assert.ok(refusal(signedHeader({ nonce: "é" })).message.includes("Nonce must be"));
});

Deno.test("signed fields may come in any order with any spacing", () => {
  const header = signedHeader({ nonce: "n-order" });
  const fields = header.slice("CMQD1-HMAC-SHA256 ".length).split(", ");
  const shuffled = `cmqd1-hmac-sha256\t${
    [fields[3], fields[1], fields[0], fields[2]].join(" ,\t")
  }`;
  assert.ok(accepted(shuffled));
});

Deno.test("garbled signed headers are refused with what is wrong", () => {
  const valid = signedHeader({ nonce: "n-garbled" });
  const signature = valid.slice(valid.indexOf("Signature=") + "Signature=".length);
  const fields = `Credential=AKIDworker, Timestamp=${nowSeconds}, Nonce=n-garbled`;
  const prefix = "CMQD1-HMAC-SHA256: ";
  const shape =
    `${prefix}expected comma-separated name=value fields Credential, Timestamp, Nonce, Signature`;
  const cases: [string, string][] = [
    ["CMQD1-HMAC-SHA256", shape],
    [`CMQD1-HMAC-SHA256 ${fields}`, `${prefix}missing field 'Signature'`],
    [`CMQD1-HMAC-SHA256 ${fields}, Signature=${signature},`, shape],
    [`CMQD1-HMAC-SHA256 ${fields},, Signature=${signature}`, shape],
    [`CMQD1-HMAC-SHA256 ${fields}, =x, Signature=${signature}`, shape],
    [
      `CMQD1-HMAC-SHA256 ${fields}, Nonce=again, Signature=${signature}`,
      `${prefix}duplicate field 'Nonce'`,
    ],
    [
      `CMQD1-HMAC-SHA256 ${fields}, signature=${signature}`,
      `${prefix}unknown field 'signature' (expected Credential, Timestamp, Nonce, Signature)`,
    ],
    [
      `CMQD1-HMAC-SHA256 ${fields}, Region=x, Signature=${signature}`,
      `${prefix}unknown field 'Region' (expected Credential, Timestamp, Nonce, Signature)`,
    ],
    [
      valid.replace("Credential=AKIDworker", "Credential="),
      `${prefix}Credential must be a secretId (1–128 of A-Z a-z 0-9 . _ -)`,
    ],
    [
      valid.replace(`Timestamp=${nowSeconds}`, `Timestamp=${nowSeconds}.5`),
      `${prefix}Timestamp must be Unix seconds (1–12 digits)`,
    ],
    [
      valid.replace(`Timestamp=${nowSeconds}`, "Timestamp=-1"),
      `${prefix}Timestamp must be Unix seconds (1–12 digits)`,
    ],
    [
      valid.replace(`Timestamp=${nowSeconds}`, "Timestamp="),
      `${prefix}Timestamp must be Unix seconds (1–12 digits)`,
    ],
    [
      valid.replace("Nonce=n-garbled", "Nonce="),
      `${prefix}Nonce must be 1–64 visible ASCII characters other than ',' (got 0 characters)`,
    ],
    [
      valid.slice(0, -2) + "=",
      `${prefix}Signature must be the base64 of 32 bytes (44 characters ending in '=')`,
    ],
    [
      valid.slice(0, -1),
      `${prefix}Signature must be the base64 of 32 bytes (44 characters ending in '=')`,
    ],
    [
      valid.replace(signature, `${"A".repeat(42)}-=`),
      `${prefix}Signature must be the base64 of 32 bytes (44 characters ending in '=')`,
    ],
  ];
  for (const [header, message] of cases) {
    const error = refusal(header);
    assert.equal(error.code, "Unauthenticated");
    assert.ok(error.message.startsWith(message), `${header}\n→ ${error.message}`);
  }
});

Deno.test("the query is sorted by key, then by piece, with its encoding kept", () => {
  assert.equal(canonicalQuery(""), "");
  assert.equal(canonicalQuery("b=2&a=1"), "a=1&b=2");
  // Sorting whole pieces would put "a-b=2" first ('-' < '='); the key "a" sorts before "a-b".
  assert.equal(canonicalQuery("a-b=2&a=1"), "a=1&a-b=2");
  assert.equal(canonicalQuery("a=2&a=1&a"), "a&a=1&a=2");
  assert.equal(canonicalQuery("&&x=%20y&&b=+&"), "b=+&x=%20y");
  assert.equal(canonicalQuery("Z=1&a=1"), "Z=1&a=1");
});

Deno.test("the string to sign has six lines: method, path, query, timestamp, nonce, body hash", () => {
  assert.equal(
    stringToSign({
      method: "patch",
      path: "/v1/queues/a%20b",
      rawQuery: "y=2&x=1",
      timestamp: "1700000000",
      nonce: "n1",
      bodySha256Hex: "e3b0",
    }),
    "PATCH\n/v1/queues/a%20b\nx=1&y=2\n1700000000\nn1\ne3b0",
  );
});

Deno.test("a known signed request verifies (the vector the SDK's tests share)", () => {
  const header = "CMQD1-HMAC-SHA256 Credential=AKIDworker, Timestamp=1700000000, " +
    "Nonce=0123456789abcdef, Signature=" + knownSignature;
  const key = accepted(header, {
    method: "POST",
    path: "/v1/queues/images/messages",
    rawQuery: "trace=1&debug=0",
    body: new Uint8Array([0, 1, 2, 253, 254, 255]),
  });
  assert.equal(key.secretId, "AKIDworker");
});

const knownSignature = "3bEQzu3+mmQUnaQ0mxu2UD5BHMpxCeXL1VbR/D8onnY=";
