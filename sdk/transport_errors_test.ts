/**
 * Which errors of a transport the client takes for network failures (`NetworkError`, retried
 * where repeating is safe) and which it passes to the caller unchanged, once (`isNetworkFailure`).
 */
import assert from "node:assert/strict";
import { CmqdClient } from "./client.ts";
import { CmqdError, TransportError } from "./errors.ts";
import { Http1Transport } from "./http1.ts";
import { readHead } from "./_test_helpers.ts";
import { NodeHttpTransport } from "./transport_node.ts";
import {
  FetchTransport,
  type HttpResponse,
  type HttpTransport,
  isNetworkFailure,
} from "./transport.ts";

const ok: HttpResponse = {
  status: 200,
  header: () => null,
  text: () => Promise.resolve('{"name":"q"}'),
};

/** A client over a transport that throws `failures` in turn, then answers `{"name":"q"}`. */
function clientThrowing(failures: unknown[], options: { fetch?: boolean } = {}) {
  const calls: string[] = [];
  const sleeps: number[] = [];
  const next = (url: string) => {
    calls.push(url);
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
  };
  const transport: HttpTransport = options.fetch
    ? new FetchTransport((input) => {
      next(String(input));
      return Promise.resolve(new Response('{"name":"q"}'));
    })
    : {
      request: (request) => {
        next(request.url);
        return Promise.resolve(ok);
      },
    };
  const client = new CmqdClient({
    baseUrl: "http://node-a:8080",
    transport,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  return { client, calls, sleeps };
}

Deno.test("an error of a custom transport's own code reaches the caller unchanged, not retried", async (t) => {
  const bugs = [
    new TypeError("Cannot read properties of undefined (reading 'headers')"),
    new RangeError("Invalid array length"),
    new Error("my transport is misconfigured"),
  ];
  for (const bug of bugs) {
    await t.step(`${bug.name}: ${bug.message}`, async () => {
      const { client, calls, sleeps } = clientThrowing([bug]);
      // A GET is repeatable: a network failure would be retried.
      const error = await client.getQueue("q").catch((caught) => caught);
      assert.equal(error, bug, "the very error, not a NetworkError");
      assert.equal(calls.length, 1);
      assert.deepEqual(sleeps, []);
    });
  }
  await t.step("a FetchTransport's fetch function throwing other than a TypeError", async () => {
    const bug = new RangeError("my fetch wrapper is broken");
    const { client, calls } = clientThrowing([bug], { fetch: true });
    assert.equal(await client.getQueue("q").catch((caught) => caught), bug);
    assert.equal(calls.length, 1);
  });
});

Deno.test("a network failure of a transport is a NetworkError, retried where repeating is safe", async (t) => {
  const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
  const failures: [string, unknown][] = [
    ["a TransportError", new TransportError("connection closed before the response")],
    [
      "an error whose cause is a TransportError",
      new Error("x", { cause: new TransportError("y") }),
    ],
    ["a Deno network error", new Deno.errors.ConnectionReset("connection reset by peer")],
    ["a Deno network error as a cause", new Error("x", { cause: new Deno.errors.BrokenPipe("y") })],
    ["a Node socket error code", reset],
    ["a Node socket error code as a cause", new Error("x", { cause: reset })],
  ];
  for (const [name, failure] of failures) {
    await t.step(name, async () => {
      assert.ok(isNetworkFailure(failure));
      const { client, calls, sleeps } = clientThrowing([failure]);
      assert.deepEqual(await client.getQueue("q"), { name: "q" });
      assert.equal(calls.length, 2);
      assert.equal(sleeps.length, 1);
      const lost = clientThrowing([failure]);
      // A receive is not repeatable: the failure comes back typed, with the original as cause.
      const error = await lost.client.receiveMessages("q", { waitSeconds: 0 }).catch((e) => e);
      assert.ok(error instanceof CmqdError);
      assert.equal(error.code, "NetworkError");
      assert.equal(error.cause, failure);
      assert.equal(lost.calls.length, 1);
    });
  }
  await t.step(
    "a FetchTransport's fetch rejecting with a TypeError (the Fetch standard's)",
    async () => {
      const { client, calls } = clientThrowing([new TypeError("fetch failed")], { fetch: true });
      assert.deepEqual(await client.getQueue("q"), { name: "q" });
      assert.equal(calls.length, 2);
    },
  );
});

Deno.test("isNetworkFailure: what is not a network failure", () => {
  for (
    const error of [
      new TypeError("x"),
      new Error("connection refused"), // a message alone marks nothing
      Object.assign(new Error("x"), { code: "ERR_INVALID_ARG_TYPE" }),
      new Deno.errors.PermissionDenied("net access"),
      "ECONNRESET",
      undefined,
    ]
  ) {
    assert.equal(isNetworkFailure(error), false, String(error));
  }
});

Deno.test("the client's own abort wins over whatever the transport rejects with", async () => {
  const controller = new AbortController();
  const transport: HttpTransport = {
    request: () => {
      controller.abort();
      return Promise.reject(new TypeError("my transport saw the abort"));
    },
  };
  const client = new CmqdClient({ baseUrl: "http://node-a:8080", transport });
  const error = await client.getQueue("q", { signal: controller.signal }).catch((e) => e);
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "Aborted");
});

Deno.test("the SDK's own transports mark their network failures: refused, cut off, not HTTP", async (t) => {
  // A server that answers each connection with `answer` (nothing: closes at once) and closes it.
  const serve = (answer: string) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const served = (async () => {
      for await (const conn of listener) {
        await readHead(conn);
        await conn.write(new TextEncoder().encode(answer)).catch(() => 0);
        conn.close();
      }
    })();
    return {
      url: `http://127.0.0.1:${listener.addr.port}/healthz`,
      close: async () => {
        listener.close();
        await served.catch(() => {});
      },
    };
  };
  const refused = serve("");
  const refusedUrl = refused.url;
  await refused.close();
  const transports: [string, () => HttpTransport][] = [
    ["Http1Transport", () => new Http1Transport()],
    ["NodeHttpTransport", () => new NodeHttpTransport()],
    ["FetchTransport", () => new FetchTransport()],
  ];
  for (const [name, make] of transports) {
    await t.step(name, async () => {
      const transport = make();
      const cut = serve("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort");
      const garbage = serve("garbage, not HTTP\r\n\r\n");
      try {
        for (const url of [refusedUrl, cut.url, garbage.url]) {
          const error = await transport.request({
            url,
            method: "GET",
            headers: {},
            signal: AbortSignal.timeout(10_000),
          }).then((response) => response.text()).then(
            (text) => assert.fail(`${url} answered ${text}`),
            (caught) => caught,
          );
          assert.ok(isNetworkFailure(error), `${url}: ${error}`);
        }
      } finally {
        transport.close?.();
        await cut.close();
        await garbage.close();
      }
    });
  }
});

Deno.test("a redirect is an UnexpectedResponse that names where it points (redirects are not followed)", async () => {
  const client = new CmqdClient({
    baseUrl: "http://node-a:8080",
    fetch: () =>
      Promise.resolve(
        new Response(null, {
          status: 307,
          headers: { location: "http://node-b:8080/v1/queues/q" },
        }),
      ),
  });
  const error = await client.getQueue("q").catch((error) => error);
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "UnexpectedResponse");
  assert.equal(error.status, 307);
  assert.match(error.message, /^HTTP 307, a redirect to http:\/\/node-b:8080\/v1\/queues\/q: /);
  assert.match(error.message, /not followed/);
  client.close();
});

Deno.test("a FetchTransport on the global fetch does not follow a redirect: a POST is not resent as a GET", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    seen.push(`${request.method} ${path}`);
    if (path === "/elsewhere") return new Response("{}");
    return new Response(null, { status: 302, headers: { location: "/elsewhere" } });
  });
  const client = new CmqdClient({
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    transport: new FetchTransport(),
  });
  try {
    const error = await client.sendMessages("q", [{ body: "x" }]).catch((error) => error);
    assert.ok(error instanceof CmqdError, String(error));
    assert.equal(error.status, 302);
    assert.match(error.message, /a redirect to \/elsewhere: redirects are not followed/);
    assert.deepEqual(seen, ["POST /v1/queues/q/messages"]);
  } finally {
    client.close();
    await server.shutdown();
  }
});
