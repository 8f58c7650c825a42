/**
 * Security on real `main.ts` processes: protected mode refusing a non-loopback `--host`, the
 * credentials file (a bad one refuses to start, SIGHUP re-reads it and keeps the old keys when
 * the new file is bad), the SDK signing against a broker with credentials, a node joining a
 * cluster with credentials by proving the cluster key, and HTTPS with h2 (by ALPN) and HTTP/1.1 from real TLS clients. Certificates are
 * made by `openssl` in a temp dir (`makeCertificates`).
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { hasOpenssl, makeCertificates } from "../../broker/testing.ts";
import { CmqdClient, CmqdError, Http1Transport } from "../../sdk/mod.ts";
import { eventually, freePort, testClusterKeyText } from "./process.ts";

const root = new URL("../../", import.meta.url).pathname;

/** A `main.ts` process and what it printed. */
interface Program {
  pid: number;
  output(): string;
  /** Resolves once `text` was printed; rejects if the process exits first or after 60 s. */
  printed(text: string | RegExp): Promise<void>;
  /** Resolves with the exit code (the process ends by itself). */
  exited(): Promise<number>;
  /** SIGTERM (if still running) and wait. */
  stop(): Promise<void>;
}

function runMain(args: string[]): Program {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-no-legacy-abort", `${root}main.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CMQD_CLUSTER_KEY: testClusterKeyText },
  }).spawn();
  let text = "";
  let exitCode: number | null = null;
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then(async (result) => {
    await pumps;
    exitCode = result.code;
    return result.code;
  });
  return {
    pid: child.pid,
    output: () => text,
    async printed(expected) {
      const deadline = Date.now() + 60_000;
      const seen = () =>
        typeof expected === "string" ? text.includes(expected) : expected.test(text);
      while (!seen()) {
        if (exitCode !== null || Date.now() > deadline) {
          throw new Error(`never printed ${expected} (exit ${exitCode}):\n${text}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    exited: () => status,
    async stop() {
      if (exitCode === null) {
        try {
          Deno.kill(child.pid, "SIGTERM");
        } catch { /* already gone */ }
      }
      await status;
    },
  };
}

async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function credentials(keys: [secretId: string, secretKey: string, allow: string[]][]): string {
  return JSON.stringify({
    keys: keys.map(([secretId, secretKey, allow]) => ({ secretId, secretKey, allow })),
  });
}

/** This machine's first non-loopback IPv4 address, if it has one. */
function externalAddress(): string | undefined {
  return Deno.networkInterfaces().find((each) =>
    each.family === "IPv4" && !each.address.startsWith("127.")
  )?.address;
}

const serving = (scheme: string, host: string, port: number) =>
  `serving ${scheme}://${host}:${port}`;

Deno.test("a non-loopback --host without credentials refuses to start and says why", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain(["--host", "0.0.0.0", "--port", String(port), "--data-dir", dir]);
    assert.equal(await program.exited(), 2);
    assert.match(
      program.output(),
      /cmqd: refusing to listen on --host 0\.0\.0\.0 without a credentials file: anyone who can reach it could read, change and delete every queue\. Give --credentials FILE/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written");
  });
});

Deno.test("--insecure on 0.0.0.0 starts and serves a client on another address", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain([
      "--host",
      "0.0.0.0",
      "--insecure",
      "--port",
      String(port),
      "--data-dir",
      dir,
    ]);
    try {
      await program.printed(serving("http", "0.0.0.0", port));
      assert.match(program.output(), /--insecure: serving every client without credentials/);
      const address = externalAddress() ?? "127.0.0.1";
      const client = new CmqdClient({ baseUrl: `http://${address}:${port}` });
      await client.createQueue("open");
      assert.equal((await client.listQueues()).total, 1);
    } finally {
      await program.stop();
    }
  });
});

Deno.test("SIGHUP to a broker without a credentials file changes nothing and says so", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain(["--port", String(port), "--data-dir", dir]);
    try {
      await program.printed(serving("http", "127.0.0.1", port));
      // SIGHUP's default action ends a process that does not listen for it.
      Deno.kill(program.pid, "SIGHUP");
      await program.printed("SIGHUP: ignored, this broker runs without a credentials file");
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200, "still serving");
      await health.body?.cancel();
    } finally {
      await program.stop();
    }
  });
});

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

Deno.test("a bad or missing credentials file refuses to start, naming the place", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const file = `${dir}/credentials.json`;
    await Deno.writeTextFile(file, credentials([["AKIDa", "s", ["queue:x:write"]]]));
    const bad = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--credentials",
      file,
    ]);
    assert.equal(await bad.exited(), 2);
    assert.match(
      bad.output(),
      new RegExp(
        `cmqd: not starting: ${file}: keys\\[0\\]\\.allow\\[0\\]: unknown action 'write' for kind queue`,
      ),
    );
    const missing = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--credentials",
      `${dir}/nope.json`,
    ]);
    assert.equal(await missing.exited(), 2);
    assert.match(missing.output(), /nope\.json: cannot read the credentials file/);
    // Found before the data directory is touched: not created, not claimed for a node id.
    assert.equal(await exists(`${dir}/d`), false, "the data directory was created");
  });
});

Deno.test({
  name: "with credentials: the SDK signs, wrong secrets get 401, SIGHUP swaps the keys",
  fn: async () => {
    await withTempDir("cmqd-sec-", async (dir) => {
      const file = `${dir}/credentials.json`;
      await Deno.writeTextFile(
        file,
        credentials([
          ["AKIDadmin", "admin-secret", ["*"]],
          ["AKIDworker", "worker-secret", ["queue:jobs:receive", "queue:jobs:send"]],
        ]),
      );
      await Deno.chmod(file, 0o644); // readable by others: warned about, still served
      const port = freePort();
      const program = runMain([
        "--host",
        "0.0.0.0",
        "--port",
        String(port),
        "--data-dir",
        `${dir}/d`,
        "--credentials",
        file,
      ]);
      try {
        await program.printed(serving("http", "0.0.0.0", port));
        assert.match(program.output(), /2 keys loaded from /);
        assert.match(
          program.output(),
          /WARNING: credentials file \S+ can be read by other users \(mode 644\); run: chmod 600 /,
        );
        const baseUrl = `http://${externalAddress() ?? "127.0.0.1"}:${port}`;
        const as = (secretId: string, secretKey: string) =>
          new CmqdClient({
            baseUrl,
            credentials: { secretId, secretKey },
            retry: { attemptsMax: 1 },
          });
        const admin = as("AKIDadmin", "admin-secret");
        const worker = as("AKIDworker", "worker-secret");
        await admin.createQueue("jobs");
        await worker.sendMessages("jobs", [{ body: "signed" }]);
        const { messages } = await worker.receiveMessages("jobs", { waitSeconds: 0 });
        assert.deepEqual(messages.map((message) => message.body), ["signed"]);
        await worker.deleteMessages("jobs", [messages[0].receiptHandle]);

        await assertRejectsWith(as("AKIDadmin", "wrong").getQueue("jobs"), "Unauthenticated", 401);
        await assertRejectsWith(
          new CmqdClient({ baseUrl }).getQueue("jobs"),
          "Unauthenticated",
          401,
        );
        await assertRejectsWith(worker.purge("jobs"), "AccessDenied", 403);
        await assertRejectsWith(worker.listQueues(), "AccessDenied", 403);
        const health = await fetch(`${baseUrl}/healthz`);
        assert.equal(health.status, 200, "health stays open");
        await health.body?.cancel();

        await Deno.writeTextFile(file, credentials([["AKIDnew", "new-secret", ["*"]]]));
        Deno.kill(program.pid, "SIGHUP");
        await program.printed(/SIGHUP: 1 keys reloaded from /);
        await assertRejectsWith(admin.getQueue("jobs"), "Unauthenticated", 401);
        assert.equal((await as("AKIDnew", "new-secret").getQueue("jobs")).name, "jobs");

        await Deno.writeTextFile(file, '{"keys": [{"secretId": "AKIDbroken"}]}');
        Deno.kill(program.pid, "SIGHUP");
        await program.printed(
          /SIGHUP: credentials not reloaded, the 1 keys in use stay: .*keys\[0\]: missing field 'secretKey'/,
        );
        assert.equal((await as("AKIDnew", "new-secret").getQueue("jobs")).name, "jobs");
      } finally {
        await program.stop();
      }
    });
  },
});

async function assertRejectsWith(promise: Promise<unknown>, code: string, status: number) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CmqdError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

Deno.test("a node joins a cluster whose members have credentials by proving the cluster key", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const file = `${dir}/credentials.json`;
    await Deno.writeTextFile(
      file,
      credentials([["AKIDapp", "app", ["queue:*:read"]], ["AKIDops", "ops", [
        "cluster:read",
        "cluster:manage",
      ]]]),
    );
    // The joiner's own file grants nothing on the cluster: the cluster key is what lets it in.
    const joinerFile = `${dir}/joiner.json`;
    await Deno.writeTextFile(joinerFile, credentials([["AKIDapp", "app", ["queue:*:read"]]]));
    const [port1, peer1, port2, peer2] = [freePort(), freePort(), freePort(), freePort()];
    const n1 = runMain([
      "--credentials",
      file,
      "--node-id",
      "n1",
      "--port",
      String(port1),
      "--peer-port",
      String(peer1),
      "--peers",
      `n1=127.0.0.1:${peer1}`,
      "--data-dir",
      `${dir}/n1`,
    ]);
    let n2: Program | undefined;
    try {
      await n1.printed(serving("http", "127.0.0.1", port1));
      n2 = runMain([
        "--credentials",
        joinerFile,
        "--node-id",
        "n2",
        "--port",
        String(port2),
        "--peer-port",
        String(peer2),
        "--join",
        `http://127.0.0.1:${port1}`,
        "--data-dir",
        `${dir}/n2`,
      ]);
      await n2.printed("n2: joined the cluster");
      const ops = new CmqdClient({
        baseUrl: `http://127.0.0.1:${port1}`,
        credentials: { secretId: "AKIDops", secretKey: "ops" },
      });
      const info = await ops.cluster();
      assert.deepEqual(info.nodes.map((node) => node.id).sort(), ["n1", "n2"]);
      // Without the cluster key's signature the same request needs cluster:manage.
      const unsigned = await fetch(`http://127.0.0.1:${port1}/v1/cluster/nodes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "n9", peerAddress: "127.0.0.1:1", clientUrl: "http://x:1" }),
      });
      assert.equal(unsigned.status, 401);
      await unsigned.body?.cancel();
    } finally {
      await n2?.stop();
      await n1.stop();
    }
  });
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
