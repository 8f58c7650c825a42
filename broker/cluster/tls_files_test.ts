import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import {
  hasOpenssl,
  issueCertificate,
  makeCertificates,
  makeTestCa,
} from "../transport/testing/mod.ts";
import {
  certificateExpiryWarning,
  hostsNotNamed,
  loadTlsFiles,
  memberFetch,
  tlsFileBytesMax,
} from "./tls_files.ts";

const none = { tlsCert: null, tlsKey: null, tlsCa: null };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-tls-files-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("without TLS files nothing is read and the default roots are trusted", async () => {
  const read = () => Promise.reject(new Error("read nothing"));
  assert.deepEqual(await loadTlsFiles(none, read), { server: null, caCerts: undefined });
});

Deno.test({
  name: "a TLS file that is a device or a FIFO is refused without reading it, naming its flag",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    // /dev/zero was read until the heap ran out.
    await assert.rejects(
      loadTlsFiles({ ...none, tlsCert: "/dev/zero", tlsKey: "/dev/zero" }),
      /^Error: --tls-cert \/dev\/zero: cannot read it \(it is a character device, not a regular file\)$/,
    );
    await assert.rejects(
      loadTlsFiles({ ...none, tlsCa: "/dev/zero" }),
      /^Error: --tls-ca \/dev\/zero: cannot read it \(it is a character device/,
    );
  },
});

Deno.test({
  name: "the pair and the CA are read as PEM text",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const files = await makeCertificates(dir);
      const loaded = await loadTlsFiles({
        tlsCert: files.cert,
        tlsKey: files.key,
        tlsCa: files.ca,
      });
      assert.equal(loaded.server?.cert, await Deno.readTextFile(files.cert));
      assert.equal(loaded.server?.key, await Deno.readTextFile(files.key));
      assert.deepEqual(loaded.caCerts, [await Deno.readTextFile(files.ca)]);
    }),
});

Deno.test("a --tls-ca that can't be read, holds no certificate or a broken one is refused", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      loadTlsFiles({ ...none, tlsCa: `${dir}/missing.pem` }),
      new RegExp(`^Error: --tls-ca ${dir}/missing\\.pem: cannot read it \\(No such file`),
    );
    await Deno.writeTextFile(`${dir}/key.pem`, "-----BEGIN PRIVATE KEY-----\nAAAA\n");
    await assert.rejects(
      loadTlsFiles({ ...none, tlsCa: `${dir}/key.pem` }),
      /--tls-ca .*key\.pem: no PEM certificate in it \(no -----BEGIN CERTIFICATE-----\)/,
    );
    await Deno.writeTextFile(
      `${dir}/broken.pem`,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    await assert.rejects(
      loadTlsFiles({ ...none, tlsCa: `${dir}/broken.pem` }),
      /--tls-ca .*broken\.pem: not a usable certificate \(.*BadEncoding/,
    );
    await assert.rejects(
      loadTlsFiles(
        { ...none, tlsCa: "/ca.pem" },
        () => Promise.resolve("x".repeat(tlsFileBytesMax + 1)),
      ),
      /--tls-ca \/ca\.pem: over 4194304 bytes, not a PEM file/,
    );
  });
});

Deno.test("an unreadable certificate or key is refused, naming its flag", async () => {
  const read = (path: string) =>
    path === "/k.pem" ? Promise.reject(new Error("Permission denied")) : Promise.resolve("pem");
  await assert.rejects(
    loadTlsFiles({ ...none, tlsCert: "/c.pem", tlsKey: "/k.pem" }, read),
    /^Error: --tls-key \/k\.pem: cannot read it \(Permission denied\)$/,
  );
});

Deno.test({
  name: "the member fetch trusts --tls-ca for HTTPS members; the plain fetch does not",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const files = await makeCertificates(dir);
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(files.cert),
        key: await Deno.readTextFile(files.key),
        onListen: () => {},
      }, () => new Response("member"));
      const url = `https://127.0.0.1:${server.addr.port}/`;
      const trusting = memberFetch([await Deno.readTextFile(files.ca)]);
      const plain = memberFetch(undefined);
      try {
        const response = await trusting.fetch(url);
        assert.equal(await response.text(), "member");
        await assert.rejects(plain.fetch(url), /UnknownIssuer/);
      } finally {
        trusting.close();
        plain.close();
        await server.shutdown();
      }
    }),
});

Deno.test("the member fetch relays status, headers and byte bodies exactly, both ways", async () => {
  const seen: { method: string; type: string | null; forwarded: string | null; body: number[] }[] =
    [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    seen.push({
      method: r.method,
      type: r.headers.get("content-type"),
      forwarded: r.headers.get("x-cmqd-forwarded"),
      body: [...new Uint8Array(await r.arrayBuffer())],
    });
    const path = new URL(r.url).pathname;
    if (path === "/empty") return new Response(null, { status: 204, headers: { "x-a": "1" } });
    if (path === "/stream") {
      // No length: the member answers chunked; the relayed answer must not claim chunking.
      return new Response(ReadableStream.from([Uint8Array.of(0xff, 0xfe), Uint8Array.of(0)]));
    }
    return new Response(Uint8Array.of(0xc3, 0x28, 0x00), {
      status: 429,
      headers: { "retry-after": "1", "x-request-id": "r1" },
    });
  });
  const member = memberFetch(undefined);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const headers = new Headers({ "content-type": "text/plain", "x-cmqd-forwarded": "1" });
    const sent = Uint8Array.of(0xff, 0x00, 0xc3); // not UTF-8: must arrive byte for byte
    const answer = await member.fetch(`${base}/q`, { method: "POST", headers, body: sent });
    assert.equal(answer.status, 429);
    assert.equal(answer.headers.get("retry-after"), "1");
    assert.equal(answer.headers.get("x-request-id"), "r1");
    assert.deepEqual([...new Uint8Array(await answer.arrayBuffer())], [0xc3, 0x28, 0x00]);
    assert.deepEqual(seen[0], {
      method: "POST",
      type: "text/plain",
      forwarded: "1",
      body: [0xff, 0x00, 0xc3],
    });
    const empty = await member.fetch(`${base}/empty`, { method: "DELETE" });
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get("x-a"), "1");
    assert.equal(empty.body, null);
    const stream = await member.fetch(`${base}/stream`);
    assert.equal(stream.headers.get("transfer-encoding"), null);
    assert.deepEqual([...new Uint8Array(await stream.arrayBuffer())], [0xff, 0xfe, 0]);
    await assert.rejects(
      member.fetch(new Request(`${base}/q`)),
      /takes a URL/,
      "a Request input is refused, not half-relayed",
    );
    assert.equal(seen.length, 3);
  } finally {
    member.close();
    await server.shutdown();
  }
});

Deno.test("the member fetch drops the leader's hop-by-hop answer headers, and those its connection names", async () => {
  // A raw stub: `Deno.serve` would not send some of these itself.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    const head = [
      "HTTP/1.1 200 OK",
      "content-type: text/plain",
      "content-length: 2",
      "connection: close, X-Hop-One ,x-hop-two",
      "x-hop-one: for the follower only",
      "x-hop-two: same",
      "proxy-connection: keep-alive",
      "keep-alive: timeout=5",
      "te: trailers",
      "trailer: x-checksum",
      "upgrade: h2c",
      "x-request-id: r1",
      "x-cmqd-leader: http://leader.example",
    ];
    await conn.write(new TextEncoder().encode(head.join("\r\n") + "\r\n\r\nok"));
    conn.close();
  })();
  const member = memberFetch(undefined);
  try {
    const answer = await member.fetch(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/q`);
    assert.equal(await answer.text(), "ok");
    const names = [...answer.headers.keys()].sort();
    assert.deepEqual(names, ["content-length", "content-type", "x-cmqd-leader", "x-request-id"]);
  } finally {
    member.close();
    await served;
    listener.close();
  }
});

Deno.test({
  name: "a --tls-key that is not the --tls-cert's key is refused when the files are read",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      await Deno.mkdir(`${dir}/a`);
      await Deno.mkdir(`${dir}/b`);
      const a = await makeCertificates(`${dir}/a`);
      const b = await makeCertificates(`${dir}/b`);
      // Found before the data directory is locked, not when Deno.serve first listens.
      await assert.rejects(
        loadTlsFiles({ tlsCert: a.cert, tlsKey: b.key, tlsCa: null }),
        new RegExp(
          `^Error: --tls-cert ${a.cert} --tls-key ${b.key}: not a usable pair \\(.*KeyMismatch`,
        ),
      );
      const loaded = await loadTlsFiles({ tlsCert: a.cert, tlsKey: a.key, tlsCa: null });
      assert.ok(loaded.server !== null);
    }),
});

Deno.test({
  name: "a served certificate that expired, or expires within 14 days, is named at start",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const { cert } = await makeCertificates(dir);
      // A certificate of a year: no warning today.
      const longLived = await selfSigned(dir, "year", 365);
      const pem = await Deno.readTextFile(cert);
      const x509 = new X509Certificate(pem);
      const validTo = new Date(x509.validTo).getTime();
      const validFrom = new Date(x509.validFrom).getTime();
      const day = 86_400_000;
      // The test certificates live two days: one day before the end is within the warning.
      assert.match(
        certificateExpiryWarning(pem, validTo - day - 60_000) ?? "",
        /^the certificate expires in 1 day \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/,
      );
      assert.equal(certificateExpiryWarning(longLived, Date.now()), null);
      assert.match(
        certificateExpiryWarning(pem, validTo + day) ?? "",
        /^the certificate expired 1 day ago \(.*\): clients will refuse it/,
      );
      assert.match(
        certificateExpiryWarning(pem, validFrom - day) ?? "",
        /^the certificate is not valid before .*: clients will refuse it/,
      );
      assert.equal(certificateExpiryWarning("not a certificate", validTo), null);
    }),
});

/** Runs `openssl` with `args` in `dir`; throws with its stderr when it fails. */
async function openssl(dir: string, ...args: string[]): Promise<void> {
  const run = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
  if (!run.success) throw new Error(new TextDecoder().decode(run.stderr));
}

/** A self-signed P-256 certificate `name.pem` (key `name.key`) in `dir` for `days`; its PEM. */
async function selfSigned(dir: string, name: string, days: number): Promise<string> {
  await openssl(
    dir,
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
    ...[
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      String(days),
      "-subj",
      `/CN=${name}`,
    ],
  );
  return await Deno.readTextFile(`${dir}/${name}.pem`);
}

Deno.test({
  name:
    "a certificate or key file without what its flag takes is named alone, with the likely cause",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const { ca, cert, key } = await makeCertificates(dir);
      const escaped = (path: string) => path.replace(/[.]/g, "\\.");
      // The two flags swapped: each file holds what the other flag takes.
      await assert.rejects(
        loadTlsFiles({ tlsCert: key, tlsKey: cert, tlsCa: null }),
        new RegExp(
          `^Error: --tls-cert ${escaped(key)}: no PEM certificate in it, but a private key: ` +
            "are --tls-cert and --tls-key swapped\\?$",
        ),
      );
      // The certificate given twice: nothing is swapped, the key is missing.
      await assert.rejects(
        loadTlsFiles({ tlsCert: cert, tlsKey: cert, tlsCa: null }),
        new RegExp(
          `^Error: --tls-key ${escaped(cert)}: no PEM private key in it, but a certificate: ` +
            "--tls-key takes the private key the certificate was made with, not a certificate$",
        ),
      );
      // The key beside the certificate in the --tls-cert file, the certificate alone in --tls-key.
      await Deno.writeTextFile(
        `${dir}/both.pem`,
        (await Deno.readTextFile(cert)) + await Deno.readTextFile(key),
      );
      await assert.rejects(
        loadTlsFiles({ tlsCert: `${dir}/both.pem`, tlsKey: cert, tlsCa: null }),
        new RegExp(
          `^Error: --tls-key ${escaped(cert)}: no PEM private key in it, but a certificate: ` +
            "are --tls-cert and --tls-key swapped\\?$",
        ),
      );
      await Deno.writeTextFile(`${dir}/empty.key`, "");
      await assert.rejects(
        loadTlsFiles({ tlsCert: cert, tlsKey: `${dir}/empty.key`, tlsCa: null }),
        /^Error: --tls-key \S+empty\.key: no PEM private key in it \(no -----BEGIN PRIVATE KEY-----\)$/,
      );
      await Deno.writeTextFile(`${dir}/empty.pem`, "");
      await assert.rejects(
        loadTlsFiles({ tlsCert: `${dir}/empty.pem`, tlsKey: key, tlsCa: null }),
        /^Error: --tls-cert \S+empty\.pem: no PEM certificate in it \(no -----BEGIN CERTIFICATE-----\)$/,
      );
      // A key under a passphrase, in both of openssl's forms: the start can't ask for it.
      await openssl(dir, "pkcs8", "-topk8", "-in", key, "-passout", "pass:x", "-out", "p8.key");
      await openssl(dir, "ec", "-in", key, "-aes256", "-passout", "pass:x", "-out", "legacy.key");
      for (const encrypted of [`${dir}/p8.key`, `${dir}/legacy.key`]) {
        await assert.rejects(
          loadTlsFiles({ tlsCert: cert, tlsKey: encrypted, tlsCa: null }),
          new RegExp(
            `^Error: --tls-key ${escaped(encrypted)}: the key is encrypted \\(it has a ` +
              "passphrase\\), which cmqd can't ask for: write it out decrypted with `openssl pkey " +
              `-in ${escaped(encrypted)} -out NEW\\.key` + "` and keep NEW\\.key chmod 600$",
          ),
        );
      }
      // The CA's certificate before the server's: the key is not the first certificate's.
      await Deno.writeTextFile(
        `${dir}/reversed.pem`,
        (await Deno.readTextFile(ca)) + await Deno.readTextFile(cert),
      );
      await assert.rejects(
        loadTlsFiles({ tlsCert: `${dir}/reversed.pem`, tlsKey: key, tlsCa: null }),
        /: not a usable pair \(.*KeyMismatch.*\): the key must be the first certificate's \(this node's own, before its issuers\)$/,
      );
      // The right chain order is served.
      await Deno.writeTextFile(
        `${dir}/chain.pem`,
        (await Deno.readTextFile(cert)) + await Deno.readTextFile(ca),
      );
      const chain = await loadTlsFiles({ tlsCert: `${dir}/chain.pem`, tlsKey: key, tlsCa: null });
      assert.ok(chain.server !== null);
    }),
});

Deno.test({
  name: "the hosts a served certificate does not name are found as TLS clients check them",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const ca = await makeTestCa(dir);
      const { cert } = await issueCertificate(ca, dir, "node", [
        "DNS:n1.Example.com",
        "DNS:*.nodes.example.com",
        "IP:10.0.0.1",
        "IP:fd00::1",
      ]);
      const pem = await Deno.readTextFile(cert);
      assert.deepEqual(
        hostsNotNamed(pem, [
          "n1.example.com", // names are compared without case
          "N1.EXAMPLE.COM.", // a trailing dot is the same name
          "a.nodes.example.com",
          "10.0.0.1",
          "fd00:0:0::1", // the same IPv6 address written otherwise
          "[fd00::1]", // and in brackets, as the advertised host is
        ]),
        [],
      );
      assert.deepEqual(
        hostsNotNamed(pem, [
          "n2.example.com",
          "nodes.example.com", // a wildcard needs a label of its own
          "a.b.nodes.example.com", // and stands for one label only
          "10.0.0.2",
          "fd00::2",
          "node", // the common name is not looked at
        ]),
        [
          "n2.example.com",
          "nodes.example.com",
          "a.b.nodes.example.com",
          "10.0.0.2",
          "fd00::2",
          "node",
        ],
      );
      // A CA certificate has no subjectAltName: it names no host.
      assert.deepEqual(hostsNotNamed(await Deno.readTextFile(ca.cert), ["localhost"]), [
        "localhost",
      ]);
      assert.deepEqual(hostsNotNamed("not a certificate", ["localhost"]), []);
    }),
});

Deno.test({
  name:
    "the time a certificate has left is told to the nearest hour: `-days 9` made now expires in 9 days",
  ignore: !hasOpenssl(),
  fn: () =>
    withDir(async (dir) => {
      const pem = await selfSigned(dir, "twenty", 20);
      const validTo = new Date(new X509Certificate(pem).validTo).getTime();
      const [minute, hour, day] = [60_000, 3_600_000, 86_400_000];
      const told = (nowMs: number) =>
        (certificateExpiryWarning(pem, nowMs) ?? "").replace(/ \(.*$/, "");
      // As if made with `-days 9` a few seconds ago: was "in 8 days".
      assert.equal(told(validTo - 9 * day + 5_000), "the certificate expires in 9 days");
      assert.equal(
        told(validTo - 8 * day - 12 * hour),
        "the certificate expires in 8 days 12 hours",
      );
      assert.equal(
        told(validTo - day - 23 * hour - 50 * minute),
        "the certificate expires in 2 days",
      );
      assert.equal(told(validTo - day - hour), "the certificate expires in 1 day 1 hour");
      assert.equal(told(validTo - 5 * hour - 10 * minute), "the certificate expires in 5 hours");
      assert.equal(told(validTo - 40 * minute), "the certificate expires in 1 hour");
      assert.equal(told(validTo - 10 * minute), "the certificate expires within the hour");
      assert.equal(told(validTo + 3 * hour), "the certificate expired 3 hours ago");
      assert.equal(
        told(validTo + 2 * day + 2 * hour),
        "the certificate expired 2 days 2 hours ago",
      );
      assert.equal(told(validTo + 10 * minute), "the certificate expired within the last hour");
      // 14 days and more left (to the hour): no warning.
      assert.equal(certificateExpiryWarning(pem, validTo - 14 * day), null);
      assert.equal(
        told(validTo - 14 * day + 31 * minute),
        "the certificate expires in 13 days 23 hours",
      );
    }),
});
