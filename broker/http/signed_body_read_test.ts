/**
 * A signed v1 request whose header alone says it can't pass — malformed fields, an unknown
 * secretId, a timestamp outside the window — is refused before a byte of its body is read, on
 * the hono chain, on the direct path and in a follower's check before forwarding: nobody without
 * a key makes the node read (and hold) a body of up to the request bound, as the SQS door already
 * refuses such a request before its body.
 */
import assert from "node:assert/strict";
import { door, errorOf, nowMs, secretOf } from "./_access_fixtures.ts";

/** A body that never ends, counting the reads it was asked for. */
function endlessBody(): { stream: ReadableStream<Uint8Array>; reads: { count: number } } {
  const reads = { count: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      reads.count++;
      controller.enqueue(new Uint8Array(4096));
    },
  }, { highWaterMark: 0 });
  return { stream, reads };
}

const seconds = Math.floor(nowMs / 1000);
const signature = "A".repeat(43) + "=";

/** Signed headers refused without the body: each would be refused after reading it too. */
const hopeless: [string, string][] = [
  [
    "unknown secretId",
    `CMQD1-HMAC-SHA256 Credential=AKIDnobody, Timestamp=${seconds}, Nonce=n1, Signature=${signature}`,
  ],
  [
    "timestamp 301 s behind",
    `CMQD1-HMAC-SHA256 Credential=AKIDadmin, Timestamp=${
      seconds - 301
    }, Nonce=n1, Signature=${signature}`,
  ],
  [
    "timestamp 301 s ahead",
    `CMQD1-HMAC-SHA256 Credential=AKIDadmin, Timestamp=${
      seconds + 301
    }, Nonce=n1, Signature=${signature}`,
  ],
  ["no fields", "CMQD1-HMAC-SHA256"],
  ["missing Signature", `CMQD1-HMAC-SHA256 Credential=AKIDadmin, Timestamp=${seconds}, Nonce=n1`],
  [
    "malformed Signature",
    `CMQD1-HMAC-SHA256 Credential=AKIDadmin, Timestamp=${seconds}, Nonce=n1, Signature=x`,
  ],
];

/** A route hono serves, and one the direct path serves (a plain JSON send). */
const routes = [
  { method: "PUT", path: "/v1/queues/orders" },
  { method: "POST", path: "/v1/queues/orders/messages" },
];

function request(method: string, path: string, authorization: string, body: ReadableStream) {
  return new Request(`http://localhost${path}`, {
    method,
    headers: { authorization, "content-type": "application/json" },
    body,
  });
}

Deno.test("a signed request whose header can't pass is refused 401 before its body is read", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] }, requestBytesMax: 64 * 1024 });
  for (const { method, path } of routes) {
    for (const [what, authorization] of hopeless) {
      const { stream, reads } = endlessBody();
      const response = await app.request(request(method, path, authorization, stream));
      assert.equal(response.status, 401, `${method} ${path}: ${what}`);
      assert.equal((await errorOf(response)).code, "Unauthenticated");
      assert.match(response.headers.get("www-authenticate") ?? "", /CMQD1-HMAC-SHA256/);
      assert.equal(reads.count, 0, `${method} ${path}: ${what}: the body was read`);
    }
  }
  assert.deepEqual(calls, []);
});

Deno.test("the follower's check refuses a signed header that can't pass before reading the body", async () => {
  const { access } = await door({ keys: { AKIDadmin: ["*"] } });
  for (const [what, authorization] of hopeless) {
    const { stream, reads } = endlessBody();
    const admission = await access.admitForwarding(
      request("PUT", "/v1/queues/orders", authorization, stream),
      undefined,
      64 * 1024,
    );
    assert.equal(admission.refusal?.status, 401, what);
    assert.equal(reads.count, 0, `${what}: the body was read`);
  }
});

Deno.test("a signed request with a good header still has its body read and its signature checked", async () => {
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] } });
  const { signRequest } = await import("../../sdk/signing.ts");
  const body = JSON.stringify({ messages: [{ body: "x" }] });
  const authorization = await signRequest({
    method: "POST",
    path: "/v1/queues/orders/messages",
    query: "",
    body,
    secretId: "AKIDadmin",
    secretKey: secretOf("AKIDadmin"),
    nowMs,
  });
  const tampered = await app.request("/v1/queues/orders/messages", {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ body: "y" }] }),
  });
  assert.equal(tampered.status, 401);
  assert.match((await errorOf(tampered)).message, /^signature does not match/);
  const served = await app.request("/v1/queues/orders/messages", {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body,
  });
  assert.equal(served.status, 200);
  assert.equal(calls.length, 1);
});
