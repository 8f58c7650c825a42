/**
 * Certificates for TLS tests, made by `openssl` at run time in a directory the test owns: a CA,
 * and certificates it signs for the names a test needs (by default `localhost` and 127.0.0.1).
 * Nothing is checked in, so nothing expires in the repository. Test-only.
 *
 * @module
 */

/** A CA made by `makeTestCa`. */
export interface TestCa {
  /** PEM certificate file (what `--tls-ca` takes). */
  cert: string;
  /** PEM private key file. */
  key: string;
}

/** A certificate and its key, as files. */
export interface TestCertificate {
  /** PEM certificate file (what `--tls-cert` takes). */
  cert: string;
  /** PEM private key file (what `--tls-key` takes). */
  key: string;
}

/** Days the test certificates are valid unless told otherwise (a test run is far shorter). */
const defaultValidityDays = 2;

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function openssl(dir: string, args: string[]): Promise<void> {
  const result = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
  if (!result.success) {
    throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(result.stderr)}`);
  }
}

/**
 * A self-signed CA in `dir`, its files named after `name`.
 *
 * @example
 * ```ts
 * const ca = await makeTestCa(dir);
 * const server = await issueCertificate(ca, dir, "server");
 * ```
 */
export async function makeTestCa(
  dir: string,
  name = "ca",
  validityDays = defaultValidityDays,
): Promise<TestCa> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  await openssl(dir, [
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    String(validityDays),
    "-subj",
    `/CN=cmqd test ${name}`,
  ]);
  return { cert, key };
}

/**
 * A server certificate signed by `ca` for `altNames` (openssl's subjectAltName syntax), its files
 * named after `name` in `dir`.
 */
export async function issueCertificate(
  ca: TestCa,
  dir: string,
  name: string,
  altNames: string[] = ["DNS:localhost", "IP:127.0.0.1"],
  validityDays = defaultValidityDays,
): Promise<TestCertificate> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  const request = `${dir}/${name}.csr`;
  const extensions = `${dir}/${name}.ext`;
  await openssl(dir, ["req", ...ecKey, "-keyout", key, "-out", request, "-subj", `/CN=${name}`]);
  await Deno.writeTextFile(
    extensions,
    `subjectAltName=${altNames.join(",")}\nbasicConstraints=CA:FALSE\n` +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    request,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    String(validityDays),
    "-extfile",
    extensions,
  ]);
  return { cert, key };
}

/**
 * A CA and a server certificate for `localhost` and 127.0.0.1 in `dir`, valid for `validityDays`:
 * `ca` is the CA's certificate file, `cert` and `key` the server's.
 */
export async function makeCertificates(
  dir: string,
  validityDays = defaultValidityDays,
): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await makeTestCa(dir, "ca", validityDays);
  const server = await issueCertificate(ca, dir, "server", undefined, validityDays);
  return { ca: ca.cert, cert: server.cert, key: server.key };
}

/** Whether `openssl` runs here; says why a TLS test is skipped when it does not. */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    console.log("skipping TLS tests: openssl is not installed (apt-get install openssl)");
    return false;
  }
}
