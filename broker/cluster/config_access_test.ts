/**
 * `parseConfig`'s access flags: credentials, --insecure, protected mode, TLS files and
 * --peer-tls, --push-deny-networks.
 */
import assert from "node:assert/strict";
import { parseConfig } from "./config.ts";

Deno.test("credentials, --insecure and TLS files are read from flags and the environment", () => {
  const config = parseConfig(
    ["--credentials", "/etc/cmqd/keys.json", "--tls-cert=/c.pem", "--tls-key", "/k.pem"],
    {},
  );
  assert.equal(config.credentials, "/etc/cmqd/keys.json");
  assert.equal(config.tlsCert, "/c.pem");
  assert.equal(config.tlsKey, "/k.pem");
  assert.equal(config.insecure, false);
  const fromEnv = parseConfig([], { CMQD_CREDENTIALS: "/k.json", CMQD_INSECURE: "true" });
  assert.equal(fromEnv.credentials, "/k.json");
  assert.equal(fromEnv.insecure, true);
  assert.equal(parseConfig([], {}).credentials, null);
});

Deno.test("--insecure is a switch: bare means true, and it takes no value from the next flag", () => {
  const config = parseConfig(["--insecure", "--port", "7000"], {});
  assert.equal(config.insecure, true);
  assert.equal(config.port, 7000);
  assert.equal(parseConfig(["--insecure=false"], {}).insecure, false);
  assert.equal(parseConfig(["--insecure=false"], { CMQD_INSECURE: "true" }).insecure, false);
  assert.throws(() => parseConfig(["--insecure=yes"], {}), /--insecure: expected true or false/);
});

Deno.test("a TLS certificate without its key, or a key without a certificate, is refused", () => {
  assert.throws(
    () => parseConfig(["--tls-cert", "/c.pem"], {}),
    /--tls-cert and --tls-key go together/,
  );
  assert.throws(() => parseConfig([], { CMQD_TLS_KEY: "/k.pem" }), /go together/);
});

Deno.test("protected mode: a non-loopback --host needs credentials or --insecure", () => {
  for (const host of ["0.0.0.0", "::", "10.0.0.4", "myhost.example"]) {
    assert.throws(
      () => parseConfig(["--host", host], {}),
      new RegExp(
        `^Error: refusing to listen on --host ${host.replaceAll(".", "\\.")} without a ` +
          "credentials file: anyone who can reach it could read, change and delete every queue\\.",
      ),
      host,
    );
    assert.equal(parseConfig(["--host", host, "--insecure"], {}).host, host);
    assert.equal(parseConfig(["--host", host, "--credentials", "/k.json"], {}).host, host);
  }
  for (const host of ["127.0.0.1", "::1", "localhost", "127.0.0.2"]) {
    assert.equal(parseConfig(["--host", host], {}).host, host);
  }
  assert.equal(parseConfig(["--host", "0.0.0.0", "--help"], {}).help, true, "help still works");
});

Deno.test("--peer-tls and --tls-ca come from flags or the environment (CMQD_PEER_TLS=1)", () => {
  // A cluster member: a lone node uses neither (see below).
  const tlsPair = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem", "--peers", "n1=127.0.0.1:9877"];
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  const config = parseConfig([...tlsPair, "--peer-tls", "--tls-ca", "/ca.pem"], key);
  assert.equal(config.peerTls, true);
  assert.equal(config.tlsCa, "/ca.pem");
  const fromEnv = parseConfig(tlsPair, { ...key, CMQD_PEER_TLS: "1", CMQD_TLS_CA: "/env-ca.pem" });
  assert.equal(fromEnv.peerTls, true);
  assert.equal(fromEnv.tlsCa, "/env-ca.pem");
  assert.equal(parseConfig(tlsPair, { ...key, CMQD_PEER_TLS: "0" }).peerTls, false);
  assert.equal(parseConfig(tlsPair, { ...key, CMQD_PEER_TLS: "true" }).peerTls, true);
  assert.equal(parseConfig([], {}).peerTls, false, "off by default");
  assert.equal(parseConfig([], {}).tlsCa, null);
  assert.throws(() => parseConfig([], { CMQD_PEER_TLS: "yes" }), /CMQD_PEER_TLS: expected true/);
  assert.throws(() => parseConfig(["--tls-ca", ""], {}), /--tls-ca: empty value/);
});

Deno.test("--peer-tls without a certificate and key refuses to start, saying what to give", () => {
  const cluster = ["--peers", "n1=127.0.0.1:9877,n2=127.0.0.1:9887"];
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  assert.throws(
    () => parseConfig([...cluster, "--peer-tls"], key),
    /^Error: --peer-tls serves this node's certificate on the peer port: give --tls-cert FILE and --tls-key FILE/,
  );
  assert.throws(
    () => parseConfig([...cluster, "--peer-tls", "--tls-ca", "/ca.pem"], key),
    /--peer-tls serves this node's certificate/,
    "a CA alone is not a certificate",
  );
});

Deno.test("--push-deny-networks takes CIDRs and keywords from the flag or the environment; none by default", () => {
  assert.deepEqual(parseConfig([], {}).pushDenyNetworks, []);
  assert.deepEqual(
    parseConfig(["--push-deny-networks", " loopback, 10.0.0.0/8,fd00::/8 "], {}).pushDenyNetworks,
    ["loopback", "10.0.0.0/8", "fd00::/8"],
  );
  const env = { CMQD_PUSH_DENY_NETWORKS: "private,link-local,192.0.2.1" };
  assert.deepEqual(parseConfig([], env).pushDenyNetworks, ["private", "link-local", "192.0.2.1"]);
  assert.deepEqual(parseConfig(["--push-deny-networks="], env).pushDenyNetworks, [], "flag wins");
});

Deno.test("a bad --push-deny-networks entry stops the start, naming the entry and what would do", () => {
  const cases: [string, RegExp][] = [
    [
      "10.0.0.1/8",
      /^Error: --push-deny-networks: '10\.0\.0\.1\/8' has bits set past its \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)$/,
    ],
    [
      "10.0.0.0/33",
      /^Error: --push-deny-networks: '10\.0\.0\.0\/33': an IPv4 prefix has at most 32 bits$/,
    ],
    ["::1/129", /'::1\/129': an IPv6 prefix has at most 128 bits$/],
    ["10.0.0.0/x", /'10\.0\.0\.0\/x': the prefix length is not a number$/],
    ["10.0.0.0/8,,loopback", /an empty entry in '10\.0\.0\.0\/8,,loopback'$/],
    [
      "internal",
      /'internal' is not an IPv4 or IPv6 network \(CIDR such as 10\.0\.0\.0\/8 or fc00::\/7\) nor one of loopback, private, link-local$/,
    ],
    ["fe80::1%eth0", /'fe80::1%eth0' is not an IPv4 or IPv6 network/],
    ["010.0.0.0/8", /'010\.0\.0\.0\/8' is not an IPv4 or IPv6 network/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseConfig(["--push-deny-networks", value], {}), message, value);
  }
  assert.throws(
    () => parseConfig([], { CMQD_PUSH_DENY_NETWORKS: "private,intranet" }),
    /^Error: CMQD_PUSH_DENY_NETWORKS: 'intranet' is not an IPv4/,
  );
});
