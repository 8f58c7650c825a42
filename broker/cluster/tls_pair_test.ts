import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { hasOpenssl, makeCertificates } from "../transport/testing/mod.ts";
import { certificateExpiryWarning, loadTlsFiles } from "./tls_files.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-tls-pair-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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
      await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          `${dir}/year.key`,
          "-out",
          `${dir}/year.pem`,
          "-days",
          "365",
          "-subj",
          "/CN=year",
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      const longLived = await Deno.readTextFile(`${dir}/year.pem`);
      const pem = await Deno.readTextFile(cert);
      const x509 = new X509Certificate(pem);
      const validTo = new Date(x509.validTo).getTime();
      const validFrom = new Date(x509.validFrom).getTime();
      const day = 86_400_000;
      // The test certificates live two days: one day before the end is within the warning.
      assert.match(
        certificateExpiryWarning(pem, validTo - day - 60_000) ?? "",
        /^the certificate expires in 1 days \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/,
      );
      assert.equal(certificateExpiryWarning(longLived, Date.now()), null);
      assert.match(
        certificateExpiryWarning(pem, validTo + day) ?? "",
        /^the certificate expired 1 days ago \(.*\): clients will refuse it/,
      );
      assert.match(
        certificateExpiryWarning(pem, validFrom - day) ?? "",
        /^the certificate is not valid before .*: clients will refuse it/,
      );
      assert.equal(certificateExpiryWarning("not a certificate", validTo), null);
    }),
});
