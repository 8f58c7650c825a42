/**
 * `CmqdClient` with `credentials`: every attempt is signed afresh, and each signature verifies
 * with the broker's own verifier as the request was sent (path, query, body).
 */
import { strict as assert } from "node:assert";
import { NonceCache, parseCredentials, verifyV1Authorization } from "../broker/auth/mod.ts";
import type { KeyRing } from "../broker/auth/mod.ts";
import { CmqdClient } from "./client.ts";

const secretId = "AKIDworker";
const secretKey = "worker-secret";
const keys = parseCredentials(JSON.stringify({ keys: [{ secretId, secretKey, allow: ["*"] }] }));
const keyRing: KeyRing = {
  find: (id) => keys.find((key) => key.secretId === id),
  allows: () => true,
};

interface Seen {
  method: string;
  url: string;
  body: Uint8Array;
  authorization: string | null;
}

/** A transport that records requests and answers them from `answers` in turn. */
function recordingFetch(answers: (() => Response)[]) {
  const seen: Seen[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push({
      method: request.method,
      url: request.url,
      body: new Uint8Array(await request.arrayBuffer()),
      authorization: request.headers.get("authorization"),
    });
    return answers[seen.length - 1]();
  };
  return { seen, fetch: fetch as typeof globalThis.fetch };
}

function verify(seen: Seen, nonceCache: NonceCache) {
  const url = new URL(seen.url);
  return verifyV1Authorization({
    method: seen.method,
    path: url.pathname,
    rawQuery: url.search.slice(1),
    body: seen.body,
    authorization: seen.authorization,
  }, { keyRing, nowMs: Date.now(), nonceCache });
}

const noLeader = () =>
  Response.json({ error: { code: "NoLeader", message: "election", requestId: "r" } }, {
    status: 503,
    headers: { "retry-after": "0" },
  });

Deno.test("with credentials every attempt is signed anew and verifies on the broker", async () => {
  const { seen, fetch } = recordingFetch([
    noLeader,
    () => Response.json({ messages: [{ id: "m1", sequence: 1 }] }),
    () => Response.json({ total: 0, queues: [] }),
  ]);
  const client = new CmqdClient({
    baseUrl: "http://127.0.0.1:9876",
    fetch,
    credentials: { secretId, secretKey },
    headers: { authorization: "Bearer stale:header" },
    sleep: () => Promise.resolve(),
  });
  await client.sendMessages("orders", [{ body: "héllo", dedupId: "d1" }]);
  await client.listQueues({ prefix: "ord", limit: 5 });
  assert.equal(seen.length, 3);
  const nonceCache = new NonceCache();
  for (const request of seen) {
    assert.match(request.authorization ?? "", /^CMQD1-HMAC-SHA256 Credential=AKIDworker, /);
    assert.equal(verify(request, nonceCache).secretId, secretId, request.url);
  }
  assert.notEqual(seen[0].authorization, seen[1].authorization, "a retry is not a replay");
  assert.equal(new URL(seen[2].url).search, "?prefix=ord&limit=5");
});

Deno.test("without credentials the client sends no Authorization of its own", async () => {
  const { seen, fetch } = recordingFetch([() => Response.json({ total: 0, queues: [] })]);
  await new CmqdClient({ baseUrl: "http://127.0.0.1:9876", fetch }).listQueues();
  assert.equal(seen[0].authorization, null);
});

Deno.test("unusable credentials are refused when the client is built", () => {
  const build = (credentials: { secretId: string; secretKey: string }) =>
    new CmqdClient({ baseUrl: "http://127.0.0.1:9876", credentials });
  assert.throws(() => build({ secretId: "AKID:x", secretKey: "k" }), {
    name: "TypeError",
    message: "credentials.secretId must be 1–128 of A-Z a-z 0-9 . _ -",
  });
  assert.throws(() => build({ secretId: "AKIDx", secretKey: "" }), {
    name: "TypeError",
    message: "credentials.secretKey must be a non-empty string",
  });
});
