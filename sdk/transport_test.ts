import assert from "node:assert/strict";
import { CmqdClient } from "./client.ts";
import { FetchTransport, type HttpTransport, isConnectFailure, runsInNode } from "./transport.ts";
import { NodeHttpTransport } from "./transport_node.ts";
import { Http1Transport } from "./http1.ts";
import { TransportError } from "./errors.ts";

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

/**
 * A raw HTTP/1.1 server: `/declared` announces a body one byte over 256 MiB (and sends 2 bytes of
 * it), `/chunked` sends 2048 bytes in chunks, `/fits` 1024 bytes.
 */
function rawServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const replies: Record<string, string> = {
    "/declared": `HTTP/1.1 200 OK\r\ncontent-length: ${256 * 1024 * 1024 + 1}\r\n\r\nxx`,
    "/chunked": "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
      `400\r\n${"y".repeat(1024)}\r\n400\r\n${"y".repeat(1024)}\r\n0\r\n\r\n`,
    "/fits": `HTTP/1.1 200 OK\r\ncontent-length: 1024\r\n\r\n${"z".repeat(1024)}`,
  };
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        let text = "";
        while (true) {
          const read = await conn.read(buffer).catch(() => null);
          if (read === null) return;
          text += new TextDecoder().decode(buffer.subarray(0, read));
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) continue;
          const path = text.split(" ")[1];
          text = text.slice(end + 4);
          await conn.write(new TextEncoder().encode(replies[path])).catch(() => {});
        }
      })();
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed already */ }
      }
      await serving;
    },
  };
}

for (
  const [name, make] of [
    ["Http1Transport", (bodyBytesMax?: number) => new Http1Transport({ bodyBytesMax })],
    ["NodeHttpTransport", (bodyBytesMax?: number) => new NodeHttpTransport({ bodyBytesMax })],
  ] as const
) {
  Deno.test(`${name} refuses a response body over bodyBytesMax (default 256 MiB) as the other transport does`, async () => {
    const server = rawServer();
    const get = (transport: HttpTransport, path: string) =>
      transport.request({
        url: server.url + path,
        method: "GET",
        headers: {},
        signal: new AbortController().signal,
      });
    const bounded = make(1024);
    const unbounded = make();
    try {
      const refused = async (transport: HttpTransport, path: string, bytesMax: number) => {
        const response = await get(transport, path);
        assert.equal(response.status, 200, "the status arrives");
        const error = await response.text().then(() => undefined, (caught) => caught);
        assert.ok(error instanceof TransportError, `${path}: ${error}`);
        assert.equal(error.message, `response body over ${bytesMax} bytes`);
      };
      for (const bad of [0, -1, Number.NaN, "1024" as unknown as number]) {
        assert.throws(() => make(bad), RangeError, `bodyBytesMax ${String(bad)}`);
      }
      await refused(unbounded, "/declared", 256 * 1024 * 1024);
      await refused(bounded, "/chunked", 1024);
      assert.equal((await (await get(bounded, "/fits")).text()).length, 1024);
    } finally {
      bounded.close();
      unbounded.close();
      await server.close();
    }
  });
}
