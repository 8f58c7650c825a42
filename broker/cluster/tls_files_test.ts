import assert from "node:assert/strict";
import { hasOpenssl, makeCertificates } from "../transport/testing/mod.ts";
import { loadTlsFiles, memberFetch, tlsFileBytesMax } from "./tls_files.ts";

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
        await assert.rejects(plain.fetch(url), (error: Error) => {
          assert.match(String(error.cause), /UnknownIssuer/);
          return true;
        });
      } finally {
        trusting.close();
        plain.close();
        await server.shutdown();
      }
    }),
});
