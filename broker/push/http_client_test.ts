import assert from "node:assert/strict";
import { PushHttpClient } from "./http_client.ts";

const init = (signal = new AbortController().signal) => ({
  method: "POST",
  headers: { "content-type": "application/json", "x-cmq-message-id": "m1" },
  body: '{"msgBody":"héllo"}',
  signal,
});

/** A raw TCP server answering each request with `answer(requestText, index)`. */
function rawServer(
  answer: (request: string, index: number) => string | null,
  options: { oneShot?: boolean } = {},
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  let requests = 0;
  (async () => {
    for await (const conn of listener) {
      connections.push(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        let text = "";
        try {
          for (;;) {
            const read = await conn.read(buffer);
            if (read === null) break;
            text += new TextDecoder().decode(buffer.subarray(0, read));
            const end = text.indexOf("\r\n\r\n");
            if (end < 0) continue;
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
            // The body is counted in bytes (it holds a non-ASCII character).
            if (new TextEncoder().encode(text).length < end + 4 + length) continue;
            const reply = answer(text, requests++);
            text = "";
            if (reply === null) continue; // hang
            await conn.write(new TextEncoder().encode(reply));
            if (reply.includes("connection: close") || reply.startsWith("HTTP/1.0")) break;
            if (options.oneShot) break;
          }
        } catch { /* closed by the client */ }
        try {
          conn.close();
        } catch { /* already closed */ }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}/notify?x=1`,
    get connections() {
      return connections.length;
    },
    close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const conn of connections) {
        try {
          conn.close();
        } catch { /* done */ }
      }
    },
  };
}

Deno.test("a push reaches a real server with its headers and body, over one kept-alive connection", async () => {
  const peers = new Set<string>();
  const seen: { path: string; id: string | null; body: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      peers.add(`${info.remoteAddr.port}`);
      const url = new URL(request.url);
      seen.push({
        path: url.pathname + url.search,
        id: request.headers.get("x-cmq-message-id"),
        body: await request.text(),
      });
      const status = seen.length === 2 ? 500 : seen.length === 3 ? 200 : 204;
      return new Response(status === 200 ? "ok" : null, { status });
    },
  );
  const client = new PushHttpClient();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/cb?a=b`;
    const statuses = [];
    for (let index = 0; index < 4; index++) statuses.push((await client.fetch(url, init())).status);
    assert.deepEqual(statuses, [204, 500, 200, 204]);
    assert.deepEqual(seen[0], { path: "/cb?a=b", id: "m1", body: '{"msgBody":"héllo"}' });
    assert.equal(peers.size, 1, "every request went over the same connection");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("chunked bodies are read through and the connection is reused", async () => {
  const server = rawServer(() =>
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\ntrailer: x\r\n\r\n"
  );
  const client = new PushHttpClient();
  try {
    assert.equal((await client.fetch(server.url, init())).status, 200);
    assert.equal((await client.fetch(server.url, init())).status, 200);
    assert.equal(server.connections, 1);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("a 100 Continue is skipped; close-delimited, HTTP/1.0 and connection: close answers end the connection", async () => {
  const replies = [
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.0 200 OK\r\n\r\n",
    "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
  ];
  const server = rawServer((_request, index) => replies[index]);
  const client = new PushHttpClient();
  try {
    const statuses = [];
    for (let index = 0; index < replies.length; index++) {
      statuses.push((await client.fetch(server.url, init())).status);
    }
    assert.deepEqual(statuses, [202, 200, 200, 201]);
    assert.equal(server.connections, 3, "the close and the HTTP/1.0 answer each ended one");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("a garbage answer is an error; a redirect is just a status", async () => {
  const server = rawServer((_request, index) =>
    index === 0
      ? "SMTP ready\r\n\r\n"
      : "HTTP/1.1 302 Found\r\nlocation: /x\r\ncontent-length: 0\r\n\r\n"
  );
  const client = new PushHttpClient();
  try {
    await assert.rejects(() => client.fetch(server.url, init()), /status line/);
    assert.equal((await client.fetch(server.url, init())).status, 302);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("an idle connection the server closed is replaced, the request sent again once", async () => {
  // Each connection carries one answer, then the server closes it without saying so.
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", { oneShot: true });
  const client = new PushHttpClient();
  try {
    assert.equal((await client.fetch(server.url, init())).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the server's close arrives
    assert.equal((await client.fetch(server.url, init())).status, 200);
    assert.equal(server.connections, 2);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("the signal aborts a request the server never answers", async () => {
  const server = rawServer(() => null);
  const client = new PushHttpClient();
  try {
    const controller = new AbortController();
    const pending = client.fetch(server.url, init(controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await assert.rejects(pending, (error: Error) => error.name === "AbortError");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("a refused connection is an error, and a header with a line break is refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new PushHttpClient();
  await assert.rejects(() => client.fetch(`http://127.0.0.1:${port}/`, init()));
  const bad = { ...init(), headers: { "x-a": "b\r\ninjected: 1" } };
  await assert.rejects(() => client.fetch(`http://127.0.0.1:${port}/`, bad), TypeError);
});

Deno.test("answers larger than the read buffer (long headers, long bodies) are read through on one connection", async () => {
  // 12 KB of headers and a 40 KB body: the connection's 16 KB read buffer compacts and grows.
  const filler = `x-filler: ${"f".repeat(12 * 1024)}\r\n`;
  const body = "b".repeat(40 * 1024);
  const server = rawServer((_request, index) =>
    `HTTP/1.1 ${200 + index} OK\r\n${filler}content-length: ${body.length}\r\n\r\n${body}`
  );
  const client = new PushHttpClient();
  try {
    const statuses = [];
    for (let index = 0; index < 3; index++) {
      statuses.push((await client.fetch(server.url, init())).status);
    }
    assert.deepEqual(statuses, [200, 201, 202]);
    assert.equal(server.connections, 1);
    const tooLong = new PushHttpClient({ headerBytesMax: 4 * 1024 });
    await assert.rejects(() => tooLong.fetch(server.url, init()), /headers too large/);
    tooLong.close();
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("ASCII and non-ASCII bodies and header values arrive byte for byte, with their content-length", async () => {
  const seen: { length: string | null; tag: string | null; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    seen.push({
      length: request.headers.get("content-length"),
      tag: request.headers.get("x-tag"),
      body: new TextDecoder().decode(bytes),
    });
    return new Response(null, { status: 204 });
  });
  const client = new PushHttpClient();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const cases = [
      { body: "plain ascii", tag: "a" },
      { body: "订单 😀", tag: "a" },
      { body: "plain", tag: "t\u00e9" }, // a non-ASCII header value: the slower path, same bytes
    ];
    for (const { body, tag } of cases) {
      const answer = await client.fetch(url, { ...init(), headers: { "x-tag": tag }, body });
      assert.equal(answer.status, 204);
    }
    assert.deepEqual(
      seen.map((item) => [item.body, Number(item.length)]),
      cases.map(({ body }) => [body, new TextEncoder().encode(body).length]),
    );
    assert.equal(seen[0].tag, "a");
  } finally {
    client.close();
    await server.shutdown();
  }
});
