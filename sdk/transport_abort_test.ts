/**
 * The SDK's transports that say `settlesOnAbort` (the client then spares their requests its own
 * race against the abort) must keep that word in every phase of a request: aborted before it
 * starts, while the head is awaited, after the head before the body is read, and while the body
 * streams. A node that accepts the connection and then stalls stands for each phase.
 */
import assert from "node:assert/strict";
import { FetchTransport, type HttpTransport } from "./transport.ts";
import { NodeHttpTransport } from "./transport_node.ts";
import { Http1Transport } from "./http1.ts";
import { readHead } from "./_test_helpers.ts";

/**
 * A raw HTTP server: `/silent` reads the request and never answers; `/partial` sends a head
 * announcing 100 bytes of body and 10 of them, then stalls. Connections stay open until closed.
 */
function stallingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      connections.push(conn);
      void (async () => {
        const head = await readHead(conn);
        if (head === null || !head.startsWith("GET /partial")) return;
        const answer =
          "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n" +
          "0123456789";
        await conn.write(new TextEncoder().encode(answer)).catch(() => {});
      })();
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // closed by the client already
        }
      }
    },
  };
}

/**
 * `promise`'s rejection, or a failure when it neither rejects nor resolves within `guardMs`
 * (only so that a transport that never settles fails the test instead of hanging it).
 */
async function rejection(promise: Promise<unknown>, guardMs = 10_000): Promise<unknown> {
  let guard: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<string>((resolve) => {
    guard = setTimeout(() => resolve("still unsettled"), guardMs);
  });
  try {
    const outcome = await Promise.race([
      promise.then(() => "resolved", (error) => ({ error })),
      hang,
    ]);
    assert.equal(typeof outcome, "object", `the abort did not reject it: ${outcome}`);
    return (outcome as { error: unknown }).error;
  } finally {
    clearTimeout(guard);
  }
}

const transports: [string, () => HttpTransport][] = [
  ["FetchTransport", () => new FetchTransport()],
  ["NodeHttpTransport", () => new NodeHttpTransport()],
  ["Http1Transport", () => new Http1Transport()],
];

for (const [name, make] of transports) {
  Deno.test(`${name} says it settles on abort, and does in every phase of a request`, async (t) => {
    const server = stallingServer();
    const transport = make();
    /** A request, and a wait for its head (guarded against a hang). */
    const send = (path: string, signal: AbortSignal) => {
      let headArrived!: () => void;
      const head = new Promise<void>((resolve) => headArrived = resolve);
      const pending = transport.request({
        url: `${server.url}${path}`,
        method: "GET",
        headers: {},
        signal,
        onHead: () => headArrived(),
      });
      // A transport that never calls onHead has its head when request() resolves.
      void pending.then(() => headArrived(), () => {});
      return { pending, head: () => rejection(head.then(() => Promise.reject("head"))) };
    };
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    try {
      await t.step("aborted before it starts", async () => {
        const error = await rejection(
          send("/silent", AbortSignal.abort(new Error("early"))).pending,
        );
        assert.ok(error instanceof Error);
      });
      await t.step("aborted while the head is awaited", async () => {
        const controller = new AbortController();
        const { pending } = send("/silent", controller.signal);
        await pause();
        controller.abort(new Error("no head"));
        await rejection(pending);
      });
      await t.step("aborted after the head, before the body is read", async () => {
        const controller = new AbortController();
        const { pending, head } = send("/partial", controller.signal);
        await head();
        controller.abort(new Error("before the body"));
        await rejection(pending.then(async (response) => {
          assert.equal(response.status, 200);
          await pause();
          return await response.text();
        }));
      });
      await t.step("aborted while the body streams", async () => {
        const controller = new AbortController();
        const { pending, head } = send("/partial", controller.signal);
        await head();
        const body = pending.then((response) => response.text());
        await pause();
        controller.abort(new Error("mid-body"));
        await rejection(body);
      });
      assert.equal(transport.settlesOnAbort, true);
    } finally {
      transport.close?.();
      server.close();
    }
  });
}

Deno.test("FetchTransport on a fetch function deaf to its signal still settles when it aborts", async () => {
  // The head never comes; or it comes with a body that never ends: neither honours the signal.
  const bodies: ReadableStreamDefaultController<Uint8Array>[] = [];
  const deafFetch = (input: string | URL | Request): Promise<Response> => {
    if (String(input).endsWith("/silent")) return new Promise(() => {});
    const body = new ReadableStream<Uint8Array>({ start: (c) => void bodies.push(c) });
    return Promise.resolve(new Response(body, { status: 200 }));
  };
  const transport = new FetchTransport(deafFetch as typeof fetch);
  assert.equal(transport.settlesOnAbort, true);
  const send = (path: string, signal: AbortSignal) =>
    transport.request({ url: `http://node${path}`, method: "GET", headers: {}, signal });
  const headless = new AbortController();
  const pending = send("/silent", headless.signal);
  headless.abort(new Error("no head"));
  assert.match(String(await rejection(pending)), /no head/);
  const streaming = new AbortController();
  const response = await send("/streaming", streaming.signal);
  const body = response.text();
  streaming.abort(new Error("mid-body"));
  assert.match(String(await rejection(body)), /mid-body/);
  assert.match(String(await rejection(response.text())), /mid-body/, "and once aborted");
  for (const controller of bodies) controller.close();
});
