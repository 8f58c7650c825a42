/**
 * Bad callbacks against a real node and real sockets (README, "Topics": "What a callback
 * receives", "Push destinations", "Isolation"): a redirect, a 404, a certificate no root vouches
 * for, headers past the bound, a hung endpoint, one that drips its status line, a refused port
 * and a denied network each get their documented outcome in `lastError`, keep every message
 * pending for its retries (nothing dropped), and never stop the node or another subscription; a
 * huge or never-ending body after a 2xx is a delivery (the status counts).
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { hasOpenssl, issueCertificate, makeTestCa } from "../transport/testing/mod.ts";
import { startOneNode, until } from "./testing/mod.ts";

const encoder = new TextEncoder();

/**
 * A raw HTTP endpoint: reads a request's first bytes, then `answer` writes what it likes. Its
 * connections stay open until `close()` (a hung endpoint holds them).
 */
function rawEndpoint(answer: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let requests = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        while ((await conn.read(buffer)) !== null) {
          requests++;
          await answer(conn);
        }
      })().catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed by the client */ }
      });
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/notify`,
    get requests() {
      return requests;
    },
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await serving;
    },
  };
}

const never = new Promise<void>(() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test({
  name: "each bad callback gets its documented outcome, keeps its messages, and holds up no one",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  // Short, so the hung and dripping endpoints time out within the test (the default is 15 s).
  const requestTimeoutMs = 3_000;
  let stopped = false;
  const endpoints = {
    redirect: rawEndpoint((conn) =>
      conn.write(encoder.encode("HTTP/1.1 302 Found\r\nlocation: /\r\ncontent-length: 0\r\n\r\n"))
        .then(() => {})
    ),
    missing: rawEndpoint((conn) =>
      conn.write(encoder.encode("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")).then(
        () => {},
      )
    ),
    hugeHeaders: rawEndpoint((conn) =>
      conn.write(
        encoder.encode(
          `HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(100_000)}\r\ncontent-length: 0\r\n\r\n`,
        ),
      ).then(() => {})
    ),
    hung: rawEndpoint(() => never),
    dripStatus: rawEndpoint(async (conn) => {
      for (const char of "HTTP/1.1 200 OK\r\nx-slow: " + "y".repeat(10_000)) {
        if (stopped) return;
        await conn.write(encoder.encode(char));
        await sleep(50);
      }
    }),
    hugeBody: rawEndpoint(async (conn) => {
      await conn.write(encoder.encode("HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n"));
      const chunk = new Uint8Array(64 * 1024);
      for (let sent = 0; sent < 160 && !stopped; sent++) await conn.write(chunk);
    }),
    endlessBody: rawEndpoint(async (conn) => {
      await conn.write(encoder.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"));
      while (!stopped) {
        await conn.write(encoder.encode("1\r\na\r\n"));
        await sleep(50);
      }
    }),
  };
  const good = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      await request.arrayBuffer();
      return new Response(null, { status: 204 });
    },
  );
  const refusedPort = (() => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    return port;
  })();
  const dir = await Deno.makeTempDir({ prefix: "cmqd-push-tls-" });
  let tls: Deno.HttpServer<Deno.NetAddr> | undefined;
  if (hasOpenssl()) {
    // Issued by a CA of this test only: no root the push client trusts vouches for it.
    const certificate = await issueCertificate(await makeTestCa(dir), dir, "callback");
    tls = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(certificate.cert),
      key: await Deno.readTextFile(certificate.key),
      onListen() {},
    }, () => new Response("ok"));
  }
  const node = await startOneNode(new SimFileSystem(), {
    pushLimits: { requestTimeoutMs },
    pushDenyNetworks: ["10.0.0.0/8"],
  });
  try {
    const urls: Record<string, string> = {
      good: `http://127.0.0.1:${good.addr.port}/notify`,
      refused: `http://127.0.0.1:${refusedPort}/notify`,
      denied: "http://10.1.2.3:8080/notify",
    };
    for (const [name, endpoint] of Object.entries(endpoints)) urls[name] = endpoint.url;
    if (tls !== undefined) urls.untrustedTls = `https://localhost:${tls.addr.port}/notify`;
    await node.topics.createTopic("t", {});
    for (const [name, url] of Object.entries(urls)) {
      await node.topics.subscribe("t", name, { endpoint: { url } });
    }
    const bodies = ["a", "b", "c"].map((body) => ({ body }));
    await node.topics.publish("t", bodies);
    const view = (name: string) => node.machine.topics.getSubscription("t", name)!;

    for (const name of ["good", "hugeBody", "endlessBody"]) {
      await until(() => view(name).pendingMessages === 0, `${name}: every push delivered`);
      assert.equal(view(name).deliveredMessages, 3, name);
      assert.equal(view(name).failedMessages, 0, name);
    }
    const expected: Record<string, RegExp> = {
      redirect: /^HTTP 302$/,
      missing: /^HTTP 404$/,
      hugeHeaders: /^request failed: .*headers too large/,
      hung: new RegExp(`^timeout after ${requestTimeoutMs} ms$`),
      dripStatus: new RegExp(`^timeout after ${requestTimeoutMs} ms$`),
      refused: new RegExp(`^request failed: tcp connect error: 127\\.0\\.0\\.1:${refusedPort}: `),
      denied:
        /^request failed: push to 10\.1\.2\.3 port 8080 refused: 10\.1\.2\.3 is in 10\.0\.0\.0\/8, which --push-deny-networks excludes$/,
      untrustedTls: /^request failed: .*certificate/i,
    };
    for (const [name, error] of Object.entries(expected)) {
      if (!(name in urls)) continue;
      await until(() => (view(name).lastError ?? null) !== null, `${name}: a failed attempt`);
      assert.match(view(name).lastError!.message, error, name);
      assert.equal(view(name).pendingMessages, 3, `${name}: every message kept for a retry`);
      assert.equal(view(name).failedMessages, 0, `${name}: nothing dropped`);
      assert.equal(view(name).deliveredMessages, 0, name);
    }
    // The node still serves: a later publish reaches the good callback too.
    await node.topics.publish("t", [{ body: "d" }]);
    await until(() => view("good").deliveredMessages === 4, "the next push");
    assert.ok(node.replica.isLeader);
  } finally {
    stopped = true;
    await node.close();
    for (const endpoint of Object.values(endpoints)) await endpoint.close();
    await good.shutdown();
    await tls?.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
