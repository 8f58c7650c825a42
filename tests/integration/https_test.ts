/**
 * HTTPS on real `main.ts` processes: h2 (by ALPN) and HTTP/1.1 from real TLS clients, the SDK
 * signing over TLS, SIGHUP not re-reading the certificate, bad TLS files refusing to start, and
 * the wrong protocol on either port refused without leaking sockets. Certificates are made by
 * `openssl` in a temp dir (`makeCertificates`).
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { hasOpenssl, makeCertificates } from "../../broker/testing.ts";
import { CmqdClient, Http1Transport } from "../../sdk/mod.ts";
import { eventually, freePort } from "./process.ts";
import { credentials, exists, runMain, serving, withTempDir } from "./_main_program.ts";

Deno.test({
  name: "SIGHUP to a TLS broker says its certificate is not re-read, and it keeps serving it",
  ignore: !hasOpenssl(),
  fn: async () => {
    await withTempDir("cmqd-tls-", async (dir) => {
      const files = await makeCertificates(dir);
      const port = freePort();
      const args = ["--tls-cert", files.cert, "--tls-key", files.key];
      const program = runMain(["--port", String(port), "--data-dir", `${dir}/d`, ...args]);
      const httpClient = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.ca)] });
      try {
        await program.printed(serving("https", "127.0.0.1", port));
        // An operator who renewed the files and sent SIGHUP, as for other servers, is told.
        Deno.kill(program.pid, "SIGHUP");
        await program.printed(
          `cmqd: SIGHUP: the TLS files are not re-read (--tls-cert ${files.cert}, --tls-key ` +
            `${files.key}): restart the node to serve a renewed certificate`,
        );
        await program.printed("SIGHUP: ignored, this broker runs without a credentials file");
        const health = await fetch(`https://127.0.0.1:${port}/healthz`, { client: httpClient });
        assert.equal(health.status, 200, "still serving");
        await health.body?.cancel();
      } finally {
        httpClient.close();
        await program.stop();
      }
    });
  },
});

/** One h2 GET with node:http2 (a real h2 client); the status, body and negotiated protocol. */
function http2Get(url: string, ca: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; alpn: string | false | undefined }>(
    (resolve, reject) => {
      const session = http2.connect(new URL(url).origin, { ca });
      session.on("error", reject);
      const request = session.request({
        ":method": "GET",
        ":path": new URL(url).pathname,
        ...headers,
      });
      let status = 0;
      let body = "";
      request.setEncoding("utf8");
      request.on("response", (responseHeaders) => status = Number(responseHeaders[":status"]));
      request.on("data", (chunk: string) => body += chunk);
      request.on("error", reject);
      request.on("end", () => {
        const alpn = session.alpnProtocol;
        session.close();
        resolve({ status, body, alpn });
      });
      request.end();
    },
  );
}

/** One HTTP/1.1 GET over a TLS connection that offered only http/1.1 by ALPN. */
async function http1Get(
  port: number,
  ca: string,
  path: string,
): Promise<{ alpn: string | null; head: string }> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [ca],
    alpnProtocols: ["http/1.1"],
  });
  try {
    const { alpnProtocol } = await conn.handshake();
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buffer = new Uint8Array(4096);
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, read));
    }
    return { alpn: alpnProtocol, head: text.split("\r\n")[0] };
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test({
  name: "HTTPS: h2 by ALPN, HTTP/1.1 still accepted, the SDK signs over TLS",
  ignore: !hasOpenssl(),
  fn: async () => {
    await withTempDir("cmqd-tls-", async (dir) => {
      const files = await makeCertificates(dir);
      const ca = await Deno.readTextFile(files.ca);
      await Deno.writeTextFile(
        `${dir}/credentials.json`,
        credentials([["AKIDadmin", "s3cret", ["*"]]]),
      );
      const port = freePort();
      const program = runMain([
        "--port",
        String(port),
        "--data-dir",
        `${dir}/d`,
        "--tls-cert",
        files.cert,
        "--tls-key",
        files.key,
        "--credentials",
        `${dir}/credentials.json`,
      ]);
      const httpClient = Deno.createHttpClient({ caCerts: [ca] });
      try {
        await program.printed(serving("https", "127.0.0.1", port));
        const baseUrl = `https://127.0.0.1:${port}`;

        const h2 = await http2Get(`${baseUrl}/healthz`, ca);
        assert.deepEqual(h2, { status: 200, body: '{"status":"ok"}', alpn: "h2" });
        const h2Denied = await http2Get(`${baseUrl}/v1/queues`, ca);
        assert.equal(h2Denied.status, 401);
        const h2Bearer = await http2Get(`${baseUrl}/v1/queues`, ca, {
          authorization: "Bearer AKIDadmin:s3cret",
        });
        assert.equal(h2Bearer.status, 200);

        const http1 = await http1Get(port, ca, "/healthz");
        assert.deepEqual(http1, { alpn: "http/1.1", head: "HTTP/1.1 200 OK" });

        const client = new CmqdClient({
          baseUrl,
          credentials: { secretId: "AKIDadmin", secretKey: "s3cret" },
          fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
        });
        await client.createQueue("secure");
        await client.sendMessages("secure", [{ body: "over TLS" }]);
        const { messages } = await client.receiveMessages("secure", { waitSeconds: 0 });
        assert.deepEqual(messages.map((message) => message.body), ["over TLS"]);

        // The raw HTTP/1.1 transport (the default in Deno) over TLS, trusting the CA it is given.
        const raw = new CmqdClient({
          baseUrl,
          credentials: { secretId: "AKIDadmin", secretKey: "s3cret" },
          transport: new Http1Transport({ caCertificates: [ca] }),
        });
        try {
          await raw.sendMessages("secure", [{ body: "raw over TLS" }]);
          const raws = await raw.receiveMessages("secure", { waitSeconds: 0 });
          assert.deepEqual(raws.messages.map((message) => message.body), ["raw over TLS"]);
        } finally {
          raw.close();
        }
        const untrusting = new CmqdClient({ baseUrl, transport: new Http1Transport() });
        await assert.rejects(
          untrusting.getQueue("secure"),
          /certificate/i,
          "a raw transport without the CA refuses the certificate",
        );
        untrusting.close();

        await assert.rejects(
          fetch(`${baseUrl}/healthz`),
          "a client without the CA refuses the certificate",
        );
        const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (response) => response.status,
          () => "refused",
        );
        assert.notEqual(plain, 200, "plain HTTP is not served on the TLS port");
      } finally {
        httpClient.close();
        await program.stop();
      }
    });
  },
});

Deno.test("an unreadable or invalid TLS file refuses to start, naming it", async () => {
  await withTempDir("cmqd-tls-", async (dir) => {
    const program = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--tls-cert",
      `${dir}/missing.pem`,
      "--tls-key",
      `${dir}/missing.key`,
    ]);
    assert.equal(await program.exited(), 2);
    assert.match(program.output(), /cmqd: --tls-cert .*missing\.pem: cannot read it/);
    await Deno.writeTextFile(`${dir}/garbage.pem`, "not a certificate\n");
    const garbage = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--tls-cert",
      `${dir}/garbage.pem`,
      "--tls-key",
      `${dir}/garbage.pem`,
    ]);
    assert.equal(await garbage.exited(), 2);
    // Found when the files are read, before the data directory is created or claimed.
    assert.match(
      garbage.output(),
      /cmqd: --tls-cert .*garbage\.pem: no PEM certificate in it \(no -----BEGIN CERTIFICATE-----\)/,
    );
    assert.equal(await exists(`${dir}/d`), false, "the data directory was not created");
  });
});

/** Open file descriptors of process `pid` (Linux: its `/proc` entry). */
function openFds(pid: number): number {
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
}

/**
 * 20 connections of each kind that speak the wrong protocol, or nothing, and close: plain HTTP
 * requests, the start of a TLS ClientHello, silent ones.
 */
async function wrongProtocolConnections(port: number): Promise<void> {
  const encoder = new TextEncoder();
  const openings = [
    encoder.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x50, 0x01, 0x00, 0x00, 0x4c, 0x03, 0x03),
    null,
  ];
  for (const opening of openings) {
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      if (opening !== null) await conn.write(opening).catch(() => {});
      conn.close();
    }
  }
}

Deno.test({
  name: "plain HTTP to the TLS port and TLS to a plain port are refused; no socket is left open",
  ignore: !hasOpenssl() || Deno.build.os !== "linux",
  fn: async () => {
    await withTempDir("cmqd-tls-", async (dir) => {
      const files = await makeCertificates(dir);
      const ca = await Deno.readTextFile(files.ca);
      const tlsPort = freePort();
      const plainPort = freePort();
      const tls = runMain([
        "--port",
        String(tlsPort),
        "--data-dir",
        `${dir}/tls`,
        "--tls-cert",
        files.cert,
        "--tls-key",
        files.key,
      ]);
      const plain = runMain(["--port", String(plainPort), "--data-dir", `${dir}/plain`]);
      const httpClient = Deno.createHttpClient({ caCerts: [ca] });
      try {
        await tls.printed(serving("https", "127.0.0.1", tlsPort));
        await plain.printed(serving("http", "127.0.0.1", plainPort));
        const before = { tls: openFds(tls.pid), plain: openFds(plain.pid) };
        const refused = (url: string, client?: Deno.HttpClient) =>
          fetch(url, { client }).then(
            async (response) => {
              await response.body?.cancel();
              return response.status;
            },
            (error: Error) => error.name,
          );
        assert.equal(await refused(`http://127.0.0.1:${tlsPort}/healthz`), "TypeError");
        assert.equal(
          await refused(`https://127.0.0.1:${plainPort}/healthz`, httpClient),
          "TypeError",
        );
        await wrongProtocolConnections(tlsPort);
        await wrongProtocolConnections(plainPort);
        // Each connection is closed once its peer closed it: the counts come back.
        await eventually(
          "the TLS node's sockets closed",
          () => Promise.resolve(openFds(tls.pid) <= before.tls ? true : undefined),
        );
        await eventually(
          "the plain node's sockets closed",
          () => Promise.resolve(openFds(plain.pid) <= before.plain ? true : undefined),
        );
        // Both still serve, and neither logged a crash.
        assert.equal(await refused(`https://127.0.0.1:${tlsPort}/healthz`, httpClient), 200);
        assert.equal(await refused(`http://127.0.0.1:${plainPort}/healthz`), 200);
        for (const program of [tls, plain]) {
          assert.doesNotMatch(program.output(), /error|uncaught|panic/i, program.output());
        }
      } finally {
        httpClient.close();
        await tls.stop();
        await plain.stop();
      }
    });
  },
});
