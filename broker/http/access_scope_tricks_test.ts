/**
 * A key scoped to some names can't reach others by how it writes the request: a listing prefix
 * given twice (one signature covers both orders of the pieces), the parameter's name
 * percent-encoded, dot segments and encoded slashes in the path, HEAD for GET. Each is refused
 * before the service runs, and the permission checked is the one for the name the route serves.
 */
import assert from "node:assert/strict";
import { canonicalQuery } from "../auth/mod.ts";
import { door, errorOf, secretOf, signedFor } from "./_access_fixtures.ts";

const bearer = (secretId: string) => `Bearer ${secretId}:${secretOf(secretId)}`;

Deno.test("a listing prefix given twice is refused in either order, under one signature", async () => {
  const { app, calls } = await door({ keys: { AKIDlister: ["queue:orders-*:read"] } });
  const orders = ["prefix=orders-&prefix=", "prefix=&prefix=orders-"];
  // The signature sorts the pieces: whichever value the check read first, the other order
  // verifies too, so the route must refuse the pair rather than pick one.
  assert.equal(canonicalQuery(orders[0]), canonicalQuery(orders[1]));
  for (const [index, query] of orders.entries()) {
    const path = `/v1/queues?${query}`;
    const nonce = `twice-${index}`;
    const signed = await signedFor({ method: "GET", path, permission: "" }, "AKIDlister", {
      nonce,
    });
    for (const authorization of [signed, bearer("AKIDlister")]) {
      const response = await app.request(path, { headers: { authorization } });
      assert.ok(
        response.status === 400 || response.status === 403,
        `${query}: ${response.status}`,
      );
      await response.body?.cancel();
    }
  }
  assert.equal(calls.length, 0);
});

Deno.test("a listing prefix whose name is percent-encoded counts as the prefix it decodes to", async () => {
  const { app, calls } = await door({ keys: { AKIDlister: ["queue:orders-*:read"] } });
  const headers = { authorization: bearer("AKIDlister") };
  for (
    const query of [
      "pre%66ix=&prefix=orders-",
      "prefix=orders-&pre%66ix=",
      "pre%66ix=",
      "prefix=orders-&Prefix=",
    ]
  ) {
    const response = await app.request(`/v1/queues?${query}`, { headers });
    assert.ok(response.status === 400 || response.status === 403, `${query}: ${response.status}`);
    await response.body?.cancel();
  }
  assert.equal(calls.length, 0);
  const encoded = await app.request("/v1/queues?pre%66ix=orders%2D", { headers });
  assert.equal(encoded.status, 200);
  assert.deepEqual(calls.map((call) => call.args), [[{ prefix: "orders-" }]]);
});

Deno.test("dot segments and encoded slashes in a path never reach another queue unchecked", async () => {
  const { app, calls } = await door({
    keys: { AKIDorders: ["queue:orders:send", "queue:orders:read"] },
  });
  const headers = { authorization: bearer("AKIDorders"), "content-type": "application/json" };
  const body = JSON.stringify({ messages: [{ body: "x" }] });
  const cases: [string, string, RegExp][] = [
    ["GET", "/v1/queues/orders/../other", /'queue:other:read'/],
    ["GET", "/v1/queues/orders/%2e%2e/other", /'queue:other:read'/],
    ["GET", "/v1/queues/orders%2f..%2fother", /'queue:orders\/\.\.\/other:read'/],
    ["HEAD", "/v1/queues/other", /./],
    ["POST", "/v1/queues/%6Fther/messages", /'queue:other:send'/],
    ["POST", "/v1/queues/orders/messages;/../../other/messages", /'queue:other:send'/],
  ];
  for (const [method, path, permission] of cases) {
    const response = await app.request(path, {
      method,
      headers,
      body: method === "POST" ? body : undefined,
    });
    assert.equal(response.status, 403, `${method} ${path}`);
    if (method !== "HEAD") {
      const error = await errorOf(response);
      assert.equal(error.code, "AccessDenied");
      assert.match(error.message, permission, `${method} ${path}`);
    }
  }
  assert.equal(calls.length, 0);
});
