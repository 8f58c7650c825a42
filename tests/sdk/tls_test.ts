/**
 * The SDK's default transport trusting a private CA (`defaultTransport({ caCertificates })`) in
 * Deno, directly and through the proxy of `HTTPS_PROXY` (then on `fetch`), against a TLS server
 * whose certificate openssl made at run time. (Node: `node_smoke_test.ts`.)
 */
import assert from "node:assert/strict";
import { hasOpenssl, makeCertificates } from "../../broker/testing.ts";
import { defaultTransport, type HttpTransport } from "../../sdk/mod.ts";

async function withTlsServer(
  fn: (url: string, ca: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-sdk-tls-" });
  try {
    const files = await makeCertificates(dir);
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(files.cert),
      key: await Deno.readTextFile(files.key),
      onListen: () => {},
    }, () => Response.json({ status: "ok" }));
    try {
      await fn(`https://localhost:${server.addr.port}/healthz`, await Deno.readTextFile(files.ca));
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function get(transport: HttpTransport, url: string): Promise<string> {
  try {
    const answer = await transport.request({
      url,
      method: "GET",
      headers: {},
      signal: AbortSignal.timeout(30_000),
    });
    return `${answer.status} ${await answer.text()}`;
  } finally {
    transport.close?.();
  }
}

/**
 * A forward proxy of `CONNECT` requests only, as `HTTPS_PROXY` names one; `tunnels` counts the
 * tunnels it opened.
 */
function connectProxy(): { url: string; tunnels(): number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let tunnels = 0;
  const conns: Deno.Conn[] = [];
  const serve = async (client: Deno.Conn) => {
    const buffer = new Uint8Array(4096);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const read = await client.read(buffer);
      if (read === null) return client.close();
      head += new TextDecoder().decode(buffer.subarray(0, read));
    }
    const [method, target] = head.split(" ");
    const colon = target.lastIndexOf(":");
    if (method !== "CONNECT") return client.close();
    const upstream = await Deno.connect({
      hostname: target.slice(0, colon),
      port: Number(target.slice(colon + 1)),
    });
    conns.push(upstream);
    tunnels++;
    await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    await Promise.all([
      client.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(client.writable).catch(() => {}),
    ]);
  };
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      serve(conn).catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    tunnels: () => tunnels,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by its pipe */ }
      }
    },
  };
}

Deno.test({
  name: "defaultTransport trusts the caCertificates it is given, and only then a private CA",
  ignore: !hasOpenssl(),
  fn: () =>
    withTlsServer(async (url, ca) => {
      assert.equal(
        await get(defaultTransport({ caCertificates: [ca] }), url),
        '200 {"status":"ok"}',
      );
      await assert.rejects(get(defaultTransport(), url), /UnknownIssuer/);
    }),
});

Deno.test({
  name: "with HTTPS_PROXY set, defaultTransport goes through the proxy and still trusts its CA",
  ignore: !hasOpenssl(),
  // The proxy's piped connections end with the test; their operations are not leaks of the SDK.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withTlsServer(async (url, ca) => {
      const proxy = connectProxy();
      Deno.env.set("HTTPS_PROXY", proxy.url);
      try {
        assert.equal(
          await get(defaultTransport({ caCertificates: [ca] }), url),
          '200 {"status":"ok"}',
        );
        assert.equal(proxy.tunnels(), 1, "the request went through the proxy");
        // Without it the same tunnel is opened and the certificate refused inside it.
        await assert.rejects(get(defaultTransport(), url), /^TransportError: fetch failed$/);
        assert.equal(proxy.tunnels(), 2);
      } finally {
        Deno.env.delete("HTTPS_PROXY");
        proxy.close();
      }
    }),
});
