import assert from "node:assert/strict";
import { CmqdClient } from "./client.ts";
import { FetchTransport, type HttpTransport, isConnectFailure, runsInNode } from "./transport.ts";
import { NodeHttpTransport } from "./transport_node.ts";

/** A plain server on a free port: echoes method, path, body and a header back as JSON. */
function echoServer() {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/hang") await new Promise((resolve) => setTimeout(resolve, 2_000));
      if (url.pathname === "/empty") return new Response(null, { status: 204 });
      const body = await request.text();
      return Response.json(
        { method: request.method, path: url.pathname, body, probe: request.headers.get("x-probe") },
        {
          status: url.pathname.endsWith("/missing") ? 404 : 200,
          headers: { "x-cmqd-leader": "http://l:1" },
        },
      );
    },
  );
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

for (
  const [name, make] of [
    ["NodeHttpTransport", (): HttpTransport => new NodeHttpTransport()],
    ["FetchTransport", (): HttpTransport => new FetchTransport()],
  ] as const
) {
  Deno.test(`${name} carries method, headers, a UTF-8 body and the answer`, async () => {
    const server = echoServer();
    const transport = make();
    try {
      const body = JSON.stringify({ text: "grüße 🙂" });
      const response = await transport.request({
        url: `${server.url}/echo`,
        method: "POST",
        headers: { "content-type": "application/json", "x-probe": "p1" },
        body,
        signal: new AbortController().signal,
      });
      assert.equal(response.status, 200);
      assert.equal(response.header("x-cmqd-leader"), "http://l:1");
      assert.equal(response.header("absent"), null);
      assert.deepEqual(JSON.parse(await response.text()), {
        method: "POST",
        path: "/echo",
        body,
        probe: "p1",
      });
      const empty = await transport.request({
        url: `${server.url}/empty`,
        method: "DELETE",
        headers: {},
        signal: new AbortController().signal,
      });
      assert.equal(empty.status, 204);
      assert.equal(await empty.text(), "");
    } finally {
      transport.close?.();
      await server.close();
    }
  });

  Deno.test(`${name} rejects when its signal aborts`, async () => {
    const server = echoServer();
    const transport = make();
    try {
      const controller = new AbortController();
      const pending = transport.request({
        url: `${server.url}/hang`,
        method: "GET",
        headers: {},
        signal: controller.signal,
      });
      controller.abort();
      await assert.rejects(pending);
    } finally {
      transport.close?.();
      await server.close();
    }
  });

  Deno.test(`${name}: a refused connection is recognised as never sent`, async () => {
    const server = echoServer();
    const url = server.url;
    await server.close();
    const transport = make();
    try {
      const error = await transport.request({
        url: `${url}/x`,
        method: "GET",
        headers: {},
        signal: new AbortController().signal,
      }).catch((caught) => caught);
      assert.ok(error instanceof Error);
      assert.ok(isConnectFailure(error), `not recognised: ${error}`);
    } finally {
      transport.close?.();
    }
  });
}

Deno.test("the client over NodeHttpTransport maps errors and follows the leader hint", async () => {
  const server = echoServer();
  const client = new CmqdClient({
    baseUrl: server.url,
    transport: new NodeHttpTransport(),
  });
  try {
    await assert.rejects(client.getQueue("missing"), { code: "UnexpectedResponse", status: 404 });
    assert.equal(client.leaderUrl, "http://l:1");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("Deno is not mistaken for Node, so the default transport is fetch", () => {
  assert.equal(runsInNode(), false);
});

Deno.test("a reset or a timeout is not a connect failure", () => {
  assert.equal(isConnectFailure(new Error("socket hang up")), false);
  assert.equal(isConnectFailure(Object.assign(new Error("x"), { code: "ECONNRESET" })), false);
  assert.equal(
    isConnectFailure(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })),
    false,
    "a cause that is not an Error is not inspected",
  );
  assert.equal(
    isConnectFailure(
      new TypeError("fetch failed", {
        cause: Object.assign(new Error("c"), { code: "ECONNREFUSED" }),
      }),
    ),
    true,
  );
});

Deno.test("NodeHttpTransport: a request goes out while 80 long polls hold their connections", async () => {
  // A consumer's long polls hold a connection each for their wait; a cap on connections per host
  // shared with them would hold deletes and lock renewals behind the polls (a lock could run out).
  let releaseHeld!: (why: string) => void;
  const released = new Promise<string>((resolve) => (releaseHeld = resolve));
  const fallback = setTimeout(() => releaseHeld("timer"), 10_000);
  let held = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (new URL(request.url).pathname === "/poll") {
        held++;
        await released;
        return new Response("polled");
      }
      releaseHeld("the quick request was served");
      return new Response("quick");
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const transport = new NodeHttpTransport();
  const request = (path: string) =>
    transport.request({
      url: url + path,
      method: "GET",
      headers: {},
      signal: new AbortController().signal,
    })
      .then((response) => response.text());
  try {
    const polls = Array.from({ length: 80 }, () => request("/poll"));
    while (held < 64) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await request("/quick"), "quick");
    assert.equal(await released, "the quick request was served");
    assert.equal((await Promise.all(polls)).length, 80);
  } finally {
    clearTimeout(fallback);
    releaseHeld("finally");
    transport.close();
    await server.shutdown();
  }
});
