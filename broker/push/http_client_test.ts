import assert from "node:assert/strict";
import { readHead } from "../../sdk/_test_helpers.ts";
import { PushHttpClient } from "./http_client.ts";

const init = (signal = new AbortController().signal) => ({
  method: "POST",
  headers: { "content-type": "application/json", "x-cmq-message-id": "m1" },
  body: '{"msgBody":"héllo"}',
  signal,
});

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

Deno.test("only POST is sent; an answer's body is dropped, a long one ends the connection but keeps its status", async () => {
  const peers = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => {
      peers.add(info.remoteAddr.port);
      const long = new URL(request.url).pathname === "/long";
      return new Response(long ? "x".repeat(2048) : "short", { status: long ? 202 : 200 });
    },
  );
  const client = new PushHttpClient({ bodyBytesMax: 1024 });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    await assert.rejects(() => client.fetch(base, { ...init(), method: "PUT" }), TypeError);
    assert.deepEqual(await client.fetch(`${base}/long`, init()), { status: 202, body: null });
    assert.equal((await client.fetch(`${base}/a`, init())).status, 200);
    assert.equal((await client.fetch(`${base}/a`, init())).status, 200);
    assert.equal(peers.size, 2, "the long answer ended its connection, the short ones shared one");
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("a push that fails on a reused connection before any answer byte is sent again once", async () => {
  // The first connection answers one push, then closes on reading the second, unanswered.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let received = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(65536);
        try {
          while ((await conn.read(buffer)) !== null) {
            received++;
            if (received === 2) break;
            const ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            await conn.write(new TextEncoder().encode(ok));
          }
        } catch { /* closed by the client */ }
        conn.close();
      })();
    }
  })();
  const client = new PushHttpClient();
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
    assert.equal((await client.fetch(url, init())).status, 200);
    assert.equal((await client.fetch(url, init())).status, 200);
    assert.equal(received, 3);
  } finally {
    client.close();
    listener.close();
    await serving.catch(() => {});
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

Deno.test("an answer whose body never ends still gives its status once bodyWaitMs has passed", async () => {
  // A raw server: a 200 head promising more body than it ever sends, the connection kept open.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      const buffer = new Uint8Array(4096);
      await conn.read(buffer);
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc"),
      );
    }
  })();
  const client = new PushHttpClient({ bodyWaitMs: 20 });
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/cb`;
    // Without the bound the request would wait for the caller's signal (a timeout: a failed push,
    // retried, though the endpoint took the message).
    const answer = await client.fetch(url, init(AbortSignal.timeout(20_000)));
    assert.equal(answer.status, 200);
  } finally {
    client.close();
    listener.close();
    for (const conn of open) conn.close();
    await serving.catch(() => {});
  }
});

Deno.test("a malformed answer is a failed push at once; a bare-LF one is read like any other", async () => {
  // A raw server that answers each request with the next reply and keeps the connection open.
  const replies = [
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 10\r\n\r\nok",
    "HTTP/1.1 200 OK\ncontent-length: 2\n\nok",
  ];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  let answered = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      (async () => {
        const buffer = new Uint8Array(4096);
        while ((await conn.read(buffer).catch(() => null)) !== null) {
          await conn.write(new TextEncoder().encode(replies[answered++]));
        }
      })();
    }
  })();
  // bodyWaitMs far past the requests' signal: only the reader can end the first request with
  // its status or an error before the signal does (which would fail it with a TimeoutError).
  const client = new PushHttpClient({ bodyWaitMs: 600_000 });
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/cb`;
    // Before: the first waited for bodyWaitMs and passed with the status (here: the signal
    // ends it, a TimeoutError); the second waited until the request's signal (a TimeoutError).
    await assert.rejects(
      () => client.fetch(url, init(AbortSignal.timeout(20_000))),
      /conflicting content-length values in the answer: 2, 10/,
    );
    assert.equal((await client.fetch(url, init(AbortSignal.timeout(20_000)))).status, 200);
    // The connection of the refused answer was ended, not reused.
    assert.equal(open.length, 2);
  } finally {
    client.close();
    listener.close();
    for (const conn of open) conn.close();
    await serving.catch(() => {});
  }
});

Deno.test("an endpoint that answers before reading a long body and stops reading: its answer counts", async () => {
  // A raw server: reads the head of the request, answers 200 at once, then reads nothing more
  // and keeps the connection open. The 4 MiB body is far more than the socket buffers hold.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  let connections = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      connections++;
      (async () => {
        const text = await readHead(conn);
        if (text === null) return;
        await conn.write(
          new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        );
      })();
    }
  })();
  const client = new PushHttpClient();
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/cb`;
    const body = "x".repeat(4 * 1024 * 1024);
    // Before: the client wrote the whole body before reading, the write waited on a full socket
    // buffer, and the request's signal ended it (a push's timeout: a failed push, retried).
    const answer = await client.fetch(url, { ...init(AbortSignal.timeout(10_000)), body });
    assert.deepEqual(answer, { status: 200, body: null });
    // The connection of an answer given before its request was written whole is not reused.
    assert.equal((await client.fetch(url, init(AbortSignal.timeout(10_000)))).status, 200);
    assert.equal(connections, 2);
  } finally {
    client.close();
    listener.close();
    for (const conn of open) conn.close();
    await serving.catch(() => {});
  }
});

/** A raw endpoint answering every push with `answer`; counts the connections the client ended. */
function rawEndpoint(answer: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  let clientCloses = 0;
  let onClientClose = () => {};
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        const buffer = new Uint8Array(65536);
        try {
          while ((await conn.read(buffer)) !== null) {
            await conn.write(new TextEncoder().encode(answer));
          }
          clientCloses++;
          onClientClose();
        } catch { /* closed here */ }
        conn.close();
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    get connections() {
      return connections;
    },
    /** Resolves once the client ended `count` connections; rejects after 20 s (a hang). */
    async untilClientCloses(count: number): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${clientCloses} closed, not ${count}`)), 20_000);
      });
      try {
        while (clientCloses < count) {
          await Promise.race([new Promise<void>((resolve) => onClientClose = resolve), hung]);
        }
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

Deno.test("an idle push connection is closed after idleTimeoutMs, or sooner when the endpoint's keep-alive says", async () => {
  const ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
  const endpoint = rawEndpoint(ok);
  const client = new PushHttpClient({ idleTimeoutMs: 100 });
  try {
    assert.equal((await client.fetch(endpoint.url, init())).status, 200);
    await endpoint.untilClientCloses(1);
  } finally {
    client.close();
    await endpoint.close();
  }
  // The default client (4 s) and an endpoint that keeps idle connections 1 s: closed after 0.5 s.
  const hinted = rawEndpoint(
    "HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 0\r\n\r\n",
  );
  const defaults = new PushHttpClient();
  try {
    assert.equal((await defaults.fetch(hinted.url, init())).status, 200);
    await hinted.untilClientCloses(1);
    assert.equal(hinted.connections, 1);
  } finally {
    defaults.close();
    await hinted.close();
  }
});
