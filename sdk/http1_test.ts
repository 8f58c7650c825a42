import assert from "node:assert/strict";
import { Http1Transport } from "./http1.ts";
import { defaultTransport, isConnectFailure } from "./transport.ts";
import { busyWait, ok, rawServer, request, withServer } from "./_http1_fixtures.ts";

Deno.test("requests carry method, path, host, headers and a byte-counted body; answers their status, headers and text", async () => {
  await withServer(
    (_request, index) =>
      index === 0
        ? ok('{"ok":"订单"}', "x-cmqd-leader: http://b:1\r\nvary: a\r\nVary: b\r\n")
        : "HTTP/1.1 204 No Content\r\n\r\n",
    async (server, transport) => {
      const answer = await transport.request(request(server.url));
      assert.equal(answer.status, 200);
      assert.equal(answer.header("X-Cmqd-Leader"), "http://b:1");
      assert.equal(answer.header("vary"), "a, b");
      assert.equal(answer.header("absent"), null);
      assert.equal(await answer.text(), '{"ok":"订单"}');
      const get = await transport.request(request(server.url, { method: "GET", body: undefined }));
      assert.equal(get.status, 204);
      assert.equal(await get.text(), "");
      const [post, bare] = server.requests;
      const port = new URL(server.url).port;
      assert.ok(post.startsWith(`POST /v1/queues/a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`));
      assert.match(post, /\r\ncontent-type: application\/json\r\nx-tag: m1\r\n/);
      assert.match(post, /\r\ncontent-length: 17\r\n\r\n\{"body":"héllo"\}$/, "17 bytes, 16 units");
      const getHead = `GET /v1/queues/a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`;
      assert.equal(bare, `${getHead}content-type: application/json\r\nx-tag: m1\r\n\r\n`);
      assert.equal(server.connections, 1, "the second request reused the connection");
    },
  );
});

Deno.test("the transport frames requests itself: the caller's framing headers are dropped, a bodiless POST says length 0", async () => {
  await withServer(() => ok(""), async (server, transport) => {
    const headers = { "content-length": "999", host: "evil", connection: "close", "x-a": "1" };
    await (await transport.request(request(server.url, { headers, body: undefined }))).text();
    assert.doesNotMatch(server.requests[0], /999|evil|connection/);
    assert.match(server.requests[0], /\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n$/);
    await assert.rejects(
      () => transport.request(request(server.url, { headers: { "x-a": "b\r\ninjected: 1" } })),
      TypeError,
    );
    await assert.rejects(
      () => transport.request(request(server.url, { method: "GET /" })),
      TypeError,
    );
    await assert.rejects(() => transport.request(request("ftp://127.0.0.1/")), TypeError);
    assert.equal(server.requests.length, 1, "refused requests send nothing");
  });
});

Deno.test("chunked, close-delimited and HEAD answers; 1xx skipped; close and HTTP/1.0 end the connection", async () => {
  const replies = [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\ntrailer: x\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nhi",
    "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.0 200 OK\r\n\r\nuntil close",
    "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
  ];
  await withServer((_request, index) => replies[index], async (server, transport) => {
    const texts = [];
    for (let index = 0; index < replies.length; index++) {
      const method = index === 2 ? "HEAD" : "POST";
      const answer = await transport.request(request(server.url, { method }));
      texts.push([answer.status, await answer.text()]);
    }
    assert.deepEqual(texts, [
      [200, "abcdefg"],
      [202, "hi"],
      [200, ""],
      [200, "ok"],
      [200, "until close"],
      [201, ""],
    ]);
    assert.equal(server.connections, 3, "the close and the HTTP/1.0 answer each ended one");
  });
});

Deno.test("a chunked body arrives whole across chunks, with multi-byte characters split between them", async () => {
  const bytes = new TextEncoder().encode("订单😀");
  const ascii = (text: string) => new TextEncoder().encode(text);
  const reply = [
    ascii("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n"),
    bytes.subarray(0, 4), // "订" and the first byte of "单"
    ascii(`\r\n${(bytes.length - 4).toString(16)}\r\n`),
    bytes.subarray(4),
    ascii("\r\n0\r\n\r\n"),
  ];
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await server.accept();
    await conn.read(new Uint8Array(4096));
    for (const part of reply) await conn.write(part);
    return conn;
  })();
  const transport = new Http1Transport();
  try {
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
    const answer = await transport.request(request(url));
    assert.equal(await answer.text(), "订单😀");
  } finally {
    transport.close();
    (await serving).close();
    server.close();
  }
});

Deno.test("a garbage answer is an error; a redirect is an answer; headers over the bound fail", async () => {
  const filler = `x-filler: ${"f".repeat(12 * 1024)}\r\n`;
  await withServer(
    (_request, index) =>
      index === 0
        ? "SMTP ready\r\n\r\n"
        : index === 1
        ? "HTTP/1.1 302 Found\r\nlocation: /x\r\ncontent-length: 0\r\n\r\n"
        : ok("x", filler),
    async (server, transport) => {
      await assert.rejects(() => transport.request(request(server.url)), /status line/);
      const redirect = await transport.request(request(server.url));
      assert.equal(redirect.status, 302);
      assert.equal(redirect.header("location"), "/x");
      await assert.rejects(() => transport.request(request(server.url)), /headers too large/);
    },
    { transport: { headerBytesMax: 4 * 1024 } },
  );
});

Deno.test("answers larger than the read buffer are read through on one connection", async () => {
  const filler = `x-filler: ${"f".repeat(12 * 1024)}\r\n`;
  const body = "b".repeat(300 * 1024);
  await withServer(() => ok(body, filler), async (server, transport) => {
    for (let index = 0; index < 3; index++) {
      assert.equal(await (await transport.request(request(server.url))).text(), body);
    }
    assert.equal(server.connections, 1);
  }, { transport: { readBufferBytes: 4 * 1024 } });
});

Deno.test("a body over the bound or cut off: the status arrives, text() rejects, the connection ends", async () => {
  const replies = [
    ok("x".repeat(2048)),
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n800\r\n" + "y".repeat(2048) +
    "\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nshort",
    ok("fine"),
  ];
  await withServer((_request, index) => replies[index], async (server, transport) => {
    const over = await transport.request(request(server.url));
    assert.equal(over.status, 200);
    await assert.rejects(() => over.text(), /over 1024 bytes/);
    const chunked = await transport.request(request(server.url));
    await assert.rejects(() => chunked.text(), /over 1024 bytes/);
    const cut = await transport.request(request(server.url));
    await assert.rejects(() => cut.text(), /closed in the body/);
    assert.equal(await (await transport.request(request(server.url))).text(), "fine");
    assert.equal(server.connections, 4, "every failed body ended its connection");
  }, { transport: { bodyBytesMax: 1024 } });
});

Deno.test("an idle connection the server closed is seen closed and not used again", async () => {
  // Each connection carries one answer, then the server closes it without saying so.
  await withServer(() => ok("x"), async (server, transport) => {
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    await new Promise((resolve) => setTimeout(resolve, 20)); // the server's close arrives
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    assert.equal(server.connections, 2);
    assert.equal(server.requests.length, 2, "nothing was sent on the closed connection");
  }, { oneShot: true });
});

Deno.test("a pooled connection idle for idleTimeoutMs is closed by the client, and its origin forgotten", async () => {
  await withServer(() => ok("x"), async (server, transport) => {
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    assert.equal(transport.idleOrigins, 1);
    await server.untilClientCloses(1);
    assert.equal(transport.idleOrigins, 0, "the origin's entry went with its connection");
    // The transport goes on: the next request opens a connection, which is closed in turn.
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    assert.equal(server.connections, 2);
    await server.untilClientCloses(2);
    assert.equal(server.requests.length, 2);
  }, { transport: { idleTimeoutMs: 100 } });
});

Deno.test("an answer's keep-alive: timeout=1 lowers the idle timeout (to half a second)", async () => {
  await withServer(
    () => ok("x", "Keep-Alive: timeout=1, max=100\r\n"),
    async (server, transport) => {
      assert.equal(await (await transport.request(request(server.url))).text(), "x");
      await server.untilClientCloses(1); // not 60 s
      assert.equal(transport.idleOrigins, 0);
    },
    { transport: { idleTimeoutMs: 60_000 } },
  );
});

Deno.test("a connection found past its idle time when taken (the timer late) is not used", async () => {
  await withServer(() => ok("x"), async (server, transport) => {
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    busyWait(150); // the sweep can't run: the take must see the expiry itself
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    assert.equal(server.connections, 2, "a new connection");
  }, { transport: { idleTimeoutMs: 100 } });
});

Deno.test("unreadable keep-alive timeouts are ignored; timeout=0 keeps no connection", async () => {
  const headers = [
    "keep-alive: timeout=abc",
    "keep-alive: timeout=",
    "keep-alive: timeout=-1",
    "keep-alive: timeout=0.2",
    "keep-alive: timeout=1s",
    "keep-alive: max=5, time=1",
    "keep-alive: timeout=1", // the control: lowered to 500 ms, so gone after the wait below
  ];
  await withServer(
    (text) => ok("x", headers[Number(/\/h(\d+)/.exec(text)![1])] + "\r\n"),
    async (server, transport) => {
      const { port } = new URL(server.url);
      const urls = headers.map((_, i) => `http://origin-${i}.test:${port}/h${i}`);
      // One connection per origin, all pooled at once; then 600 ms pass with no timer run.
      await Promise.all(
        urls.map(async (url) => await (await transport.request(request(url))).text()),
      );
      assert.equal(server.connections, headers.length);
      busyWait(600);
      for (const url of urls) await (await transport.request(request(url))).text();
      assert.equal(server.connections, headers.length + 1, "only the control's was replaced");
      const zero = `http://zero.test:${port}/h0`;
      headers[0] = "keep-alive: timeout=0";
      await (await transport.request(request(zero))).text();
      await (await transport.request(request(zero))).text();
      assert.equal(server.connections, headers.length + 3, "timeout=0: not kept");
    },
    {
      transport: { connectTcp: (_hostname, port) => Deno.connect({ hostname: "127.0.0.1", port }) },
    },
  );
});

Deno.test("the idle sweep never closes a connection in use", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  await withServer(
    (_text, index) => index === 2 ? held.then(() => ok("late")) : ok("x"),
    async (server, transport) => {
      // Two connections pooled; the third request takes one, and is answered only once the
      // client closed the other: the sweep ran while this one was in use, past its idle time.
      await Promise.all(
        [0, 1].map(async () => (await transport.request(request(server.url))).text()),
      );
      assert.equal(server.connections, 2);
      const late = transport.request(request(server.url));
      await server.untilClientCloses(1);
      busyWait(150); // past the taken connection's idle time too
      await new Promise((resolve) => setTimeout(resolve, 150)); // sweeps may run
      release();
      assert.equal(await (await late).text(), "late");
      assert.equal(server.clientCloses, 1, "the connection in use stayed open");
      await server.untilClientCloses(2); // then idle, then closed
    },
    { transport: { idleTimeoutMs: 100 } },
  );
});

Deno.test({
  name: "close() clears the idle timer (no timer left behind)",
  sanitizeOps: true,
  fn: async () => {
    await withServer(() => ok("x"), async (server, transport) => {
      assert.equal(await (await transport.request(request(server.url))).text(), "x");
      assert.equal(transport.idleOrigins, 1);
    }, { transport: { idleTimeoutMs: 60_000 } });
  },
});

Deno.test("idleTimeoutMs must be a positive number of ms", () => {
  for (const idleTimeoutMs of [0, -1, NaN, Infinity]) {
    assert.throws(() => new Http1Transport({ idleTimeoutMs }), /idleTimeoutMs must be a positive/);
  }
});

Deno.test("an origin is forgotten with its last idle connection: many origins come and go, none stays", async () => {
  // Every origin reaches the one server (as a push worker reaches ever new subscription URLs).
  const server = rawServer(() => ok("x"), { oneShot: true });
  const { port } = new URL(server.url);
  const transport = new Http1Transport({
    connectTcp: (_hostname, _port, _signal) => Deno.connect({ hostname: "127.0.0.1", port: +port }),
  });
  try {
    for (let i = 0; i < 50; i++) {
      const url = `http://origin-${i}.test:${port}/`;
      assert.equal(await (await transport.request(request(url))).text(), "x");
      await new Promise((resolve) => setTimeout(resolve, 20)); // the server's close arrives
      assert.equal(transport.idleOrigins, 0, `origin ${i}: its closed connection left no entry`);
    }
  } finally {
    transport.close();
    server.close();
  }
});

Deno.test("an origin whose only idle connection was taken and then failed keeps no entry", async () => {
  // A kept-alive server whose answer to /bad can't be read: that connection is closed, not pooled.
  await withServer(
    (text) =>
      text.startsWith("POST /bad") ? "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n" : ok("x"),
    async (server, transport) => {
      for (let i = 0; i < 20; i++) {
        const origin = `http://origin-${i}.test:${new URL(server.url).port}`;
        assert.equal(await (await transport.request(request(`${origin}/`))).text(), "x");
        assert.equal(transport.idleOrigins, 1);
        await assert.rejects(() => transport.request(request(`${origin}/bad`)));
        assert.equal(transport.idleOrigins, 0, `origin ${i}: no entry left behind`);
      }
    },
    {
      transport: {
        connectTcp: (_hostname, port) => Deno.connect({ hostname: "127.0.0.1", port }),
      },
    },
  );
});

Deno.test("resendOnStale: a reused connection that fails before any answer byte is replaced once", async () => {
  // The server reads the second request on the first connection and closes it unanswered.
  await withServer((_request, index) => index === 1 ? "" : ok("x"), async (server, transport) => {
    await (await transport.request(request(server.url))).text();
    assert.equal(await (await transport.request(request(server.url))).text(), "x");
    assert.equal(server.requests.length, 3, "sent again once");
  }, { transport: { resendOnStale: true } });
  await withServer((_request, index) => index === 1 ? "" : ok("x"), async (server, transport) => {
    await (await transport.request(request(server.url))).text();
    // Without the option, the failure is reported: the server may have acted on the request.
    await assert.rejects(() => transport.request(request(server.url)), /closed before/);
    assert.equal(server.requests.length, 2);
  });
});

Deno.test("a refused connection and an unknown host are connect failures (never sent)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const transport = new Http1Transport();
  for (const url of [`http://127.0.0.1:${port}/`, "http://no-such-host.invalid/"]) {
    await assert.rejects(() => transport.request(request(url)), (error: Error) => {
      assert.ok(isConnectFailure(error), `not a connect failure: ${error}`);
      return true;
    });
  }
});

Deno.test("an explicit port 0 is port 0 (a connect failure), never the scheme's default port", async () => {
  const transport = new Http1Transport();
  for (const url of ["http://127.0.0.1:0/", "https://127.0.0.1:0/"]) {
    await assert.rejects(() => transport.request(request(url)), (error: Error) => {
      assert.ok(isConnectFailure(error), `not a connect failure: ${error}`);
      assert.match(error.message, /127\.0\.0\.1:0:/);
      return true;
    });
  }
});

Deno.test("an idle pooled connection does not keep the program alive", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("x"),
  );
  try {
    const script = `
      import { Http1Transport } from ${JSON.stringify(new URL("./http1.ts", import.meta.url).href)};
      // A long idle timeout: its timer must not hold the program either.
      const transport = new Http1Transport({ idleTimeoutMs: 60_000 });
      const answer = await transport.request({
        url: "http://127.0.0.1:${server.addr.port}/", method: "GET", headers: {},
        signal: new AbortController().signal,
      });
      console.log(await answer.text());
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const output = await child.output();
    clearTimeout(timer);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "x");
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  } finally {
    await server.shutdown();
  }
});

Deno.test("defaultTransport in Deno is Http1Transport", () => {
  assert.ok(defaultTransport() instanceof Http1Transport);
});

Deno.test("byte bodies go out byte for byte; answers give every header and their bytes", async () => {
  await withServer(() => ok("ab", "x-one: 1\r\nx-two: 2\r\n"), async (server, transport) => {
    const body = Uint8Array.of(0xff, 0x00, 0x41);
    const answer = await transport.request(request(server.url, { body }));
    assert.deepEqual([...answer.headers], [["x-one", "1"], ["x-two", "2"], [
      "content-length",
      "2",
    ]]);
    assert.deepEqual([...await answer.bytes()], [0x61, 0x62]);
    assert.equal(await answer.text(), "ab");
    assert.match(server.requests[0], /\r\ncontent-length: 3\r\n\r\n/);
  });
});

Deno.test("conflicting or unreadable content-length fails at once; one value repeated is one length", async () => {
  // The server keeps every connection open: a client that trusted one of the lengths would wait
  // for bytes that never come, until the signal ends it.
  const answer = (lengths: string) => `HTTP/1.1 200 OK\r\n${lengths}\r\n\r\nok`;
  const replies = [
    answer("content-length: 2\r\ncontent-length: 10"),
    answer("content-length: 10\r\ncontent-length: 2"),
    answer("content-length: 2, 10"),
    answer("content-length: abc"),
    answer("content-length: -2"),
    answer("content-length: 2\r\ncontent-length: 2"),
    answer("Content-Length: 2, 2"),
    // Chunked framing wins over a length; such an answer is not trusted with the next request.
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 9\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    answer("content-length: 2"),
  ];
  await withServer((_request, index) => replies[index], async (server, transport) => {
    const send = () =>
      transport.request(request(server.url, { signal: AbortSignal.timeout(3_000) }));
    const failures = [
      /conflicting content-length values in the answer: 2, 10$/,
      /conflicting content-length values in the answer: 10, 2$/,
      /conflicting content-length values in the answer: 2, 10$/,
      /content-length of the answer is not a length: 'abc'$/,
      /content-length of the answer is not a length: '-2'$/,
    ];
    for (const failure of failures) {
      const started = performance.now();
      await assert.rejects(send, failure);
      assert.ok(performance.now() - started < 1_000, "failed at once");
    }
    for (let index = 0; index < 4; index++) assert.equal(await (await send()).text(), "ok");
    assert.equal(server.connections, 7, "every refused answer and the chunked one ended theirs");
  });
});

Deno.test("bare-LF line ends are read like CRLF ones: status line, headers, chunk lines, trailers", async () => {
  const replies = [
    "HTTP/1.1 200 OK\ncontent-length: 2\nx-a: 1\n\nok",
    "HTTP/1.1 200 OK\ntransfer-encoding: chunked\n\n3\nabc\n2;x=y\r\nde\n0\ntrailer: t\n\n",
    "HTTP/1.1 100 Continue\n\nHTTP/1.1 201 Created\r\ncontent-length: 1\n\r\nz",
    "HTTP/1.1 204 No Content\r\nx-b: 2\r\n\n",
    ok("fine"),
  ];
  await withServer((_request, index) => replies[index], async (server, transport) => {
    const send = () =>
      transport.request(request(server.url, { signal: AbortSignal.timeout(3_000) }));
    const first = await send();
    assert.deepEqual([first.status, first.header("x-a"), await first.text()], [200, "1", "ok"]);
    assert.equal(await (await send()).text(), "abcde");
    const created = await send();
    assert.deepEqual([created.status, await created.text()], [201, "z"]);
    const empty = await send();
    assert.deepEqual([empty.status, empty.header("x-b")], [204, "2"]);
    assert.equal(await (await send()).text(), "fine");
    assert.equal(server.connections, 1, "every answer was read through and the connection kept");
  });
});
