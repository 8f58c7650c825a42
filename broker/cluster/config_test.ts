import assert from "node:assert/strict";
import { advertisedHostOf, envWarnings, isClusterMember, parseConfig, usage } from "./config.ts";
import { forceNewClusterDirProblem } from "./force_new_cluster.ts";

Deno.test("defaults apply when nothing is given", () => {
  const config = parseConfig([], {});
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 9876);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.nodeId, "n1");
  assert.equal(config.mmap, true);
});

Deno.test("flags override environment variables which override defaults", () => {
  const env = { CMQD_PORT: "7000", CMQD_NODE_ID: "env-node" };
  const config = parseConfig(["--port", "8000", "--data-dir=/tmp/x"], env);
  assert.equal(config.port, 8000);
  assert.equal(config.nodeId, "env-node");
  assert.equal(config.dataDir, "/tmp/x");
});

Deno.test("a leading -- (what `deno task start -- --port 9000` passes on) is skipped", () => {
  const config = parseConfig(["--", "--port", "9000", "--data-dir", "/tmp/x"], {});
  assert.equal(config.port, 9000);
  assert.equal(config.dataDir, "/tmp/x");
  assert.equal(parseConfig(["--"], {}).port, 9876);
  // Only where the task runner puts it: anywhere else it is no flag.
  assert.throws(() => parseConfig(["--port", "9000", "--"], {}), /unknown flag '--'/);
});

Deno.test("bad flags are rejected with a precise message", () => {
  assert.throws(() => parseConfig(["--nope", "1"], {}), /unknown flag '--nope'/);
  assert.throws(() => parseConfig(["--port", "x"], {}), /--port: not a port: 'x'/);
  assert.throws(() => parseConfig(["--port", "70000"], {}), /not a port/);
  assert.throws(() => parseConfig(["--port"], {}), /--port needs a value/);
  // Known flags that take no value (was: "unknown flag '--version'").
  assert.throws(() => parseConfig(["--version=1"], {}), /^Error: --version takes no value$/);
  assert.throws(() => parseConfig(["--help=all"], {}), /^Error: --help takes no value$/);
  assert.throws(() => parseConfig(["-h="], {}), /^Error: -h takes no value$/);
  assert.throws(() => parseConfig([], { CMQD_MMAP: "yes" }), /CMQD_MMAP: expected true or false/);
});

Deno.test("peers are parsed, must name this node, and exclude --join", () => {
  const config = parseConfig(
    ["--node-id", "n2", "--port", "9886", "--peers", "n1=127.0.0.1:9877,n2=127.0.0.1:9887"],
    { CMQD_CLUSTER_KEY: "k".repeat(32) },
  );
  assert.deepEqual(config.peers, [
    { id: "n1", peerAddress: "127.0.0.1:9877" },
    { id: "n2", peerAddress: "127.0.0.1:9887" },
  ]);
  assert.equal(config.peerPort, 9887, "the peer port defaults to the client port + 1");
  assert.throws(() => parseConfig(["--peers", "n2=h:1"], {}), /must include this node \('n1'\)/);
  assert.throws(() => parseConfig(["--peers", "n1=h:1,n1=h:2"], {}), /appears twice/);
  assert.throws(() => parseConfig(["--peers", "n1=h"], {}), /expected id=host:port, got 'n1=h'/);
  assert.throws(
    () => parseConfig(["--peers", "n1=h:1", "--join", "http://h:2"], {}),
    /exclude each other/,
  );
  assert.throws(() => parseConfig(["--join", "ftp://x"], {}), /not a base URL/);
});

Deno.test("a cluster member on --port 65535 must give --peer-port: port + 1 is no port", () => {
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  // Was accepted: the peer listener then threw "Invalid port (out of range): 65536" with a stack
  // trace and exit status 1, after the data directory was locked and claimed.
  assert.throws(
    () => parseConfig(["--port", "65535", "--peers", "n1=127.0.0.1:9877"], key),
    /^Error: --port 65535: the peer port defaults to the client port \+ 1, and 65536 is no port: give --peer-port$/,
  );
  assert.throws(
    () => parseConfig(["--join", "http://127.0.0.1:9876"], { ...key, CMQD_PORT: "65535" }),
    /^Error: CMQD_PORT 65535: the peer port defaults to the client port \+ 1, and 65536 is no port: give --peer-port$/,
  );
  const given = parseConfig(
    ["--port", "65535", "--peer-port", "9877", "--peers", "n1=h:9877"],
    key,
  );
  assert.equal(given.peerPort, 9877);
  assert.equal(parseConfig(["--port", "65535"], {}).port, 65535, "a lone node has no peer port");
});

Deno.test("--join must be a URL a member can be reached at: a port past 65535 is refused at once", () => {
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  // Was accepted: the join then retried "Invalid URL" for 50 s and died with a stack trace.
  assert.throws(
    () => parseConfig(["--join", "http://127.0.0.1:99999"], key),
    /^Error: --join: not a base URL: 'http:\/\/127.0.0.1:99999'$/,
  );
  assert.throws(
    () => parseConfig([], { ...key, CMQD_JOIN: "http://[zz]:1" }),
    /^Error: CMQD_JOIN: not a base URL: 'http:\/\/\[zz\]:1'$/,
  );
  assert.equal(
    parseConfig(["--join", "https://node1.internal:9876/"], key).join,
    "https://node1.internal:9876",
  );
  assert.equal(parseConfig(["--join", "http://[::1]:9876"], key).join, "http://[::1]:9876");
});

Deno.test("--scrub-mb-per-s defaults to 32, takes the environment, 0 turns it off, and rejects non-counts", () => {
  assert.equal(parseConfig([], {}).scrubMbPerS, 32);
  assert.equal(parseConfig([], { CMQD_SCRUB_MB_PER_S: "0" }).scrubMbPerS, 0);
  assert.equal(parseConfig(["--scrub-mb-per-s", "100"], {}).scrubMbPerS, 100);
  assert.throws(() => parseConfig(["--scrub-mb-per-s", "-1"], {}), /not a whole number/);
});

Deno.test("--request-body-budget-mb: 256 by default, from the flag or CMQD_REQUEST_BODY_BUDGET_MB, at least 16", () => {
  assert.equal(parseConfig([], {}).requestBodyBudgetMb, 256);
  assert.equal(
    parseConfig([], { CMQD_REQUEST_BODY_BUDGET_MB: "64" }).requestBodyBudgetMb,
    64,
  );
  assert.equal(parseConfig(["--request-body-budget-mb", "1024"], {}).requestBodyBudgetMb, 1024);
  assert.throws(
    () => parseConfig(["--request-body-budget-mb", "15"], {}),
    /--request-body-budget-mb: at least 16 \(MiB\), for the largest request body, got 15/,
  );
  assert.throws(() => parseConfig(["--request-body-budget-mb", "1.5"], {}), /not a whole number/);
});

Deno.test("--min-free-disk-mb defaults to 512, takes the environment, and rejects non-counts", () => {
  assert.equal(parseConfig([], {}).minFreeDiskMb, 512);
  assert.equal(parseConfig([], { CMQD_MIN_FREE_DISK_MB: "0" }).minFreeDiskMb, 0);
  assert.equal(parseConfig(["--min-free-disk-mb", "2048"], {}).minFreeDiskMb, 2048);
  assert.throws(() => parseConfig(["--min-free-disk-mb", "-1"], {}), /not a whole number/);
  assert.throws(() => parseConfig(["--min-free-disk-mb", "1.5"], {}), /not a whole number/);
});

Deno.test("a cluster member refuses to start without the cluster key, saying how to make one", () => {
  const peers = ["--peers", "n1=127.0.0.1:9877,n2=127.0.0.1:9887"];
  assert.throws(
    () => parseConfig(peers, {}),
    /--peers needs the cluster key every member holds: --cluster-key-file FILE or CMQD_CLUSTER_KEY \(make one with: openssl rand -hex 32/,
  );
  assert.throws(
    () => parseConfig(["--join", "http://10.0.0.1:9876"], {}),
    /--join needs the cluster key/,
  );
  assert.equal(
    parseConfig([...peers, "--cluster-key-file", "/etc/cmqd/key"], {}).clusterKeyFile,
    "/etc/cmqd/key",
  );
  assert.equal(parseConfig(peers, { CMQD_CLUSTER_KEY_FILE: "/k" }).clusterKeyFile, "/k");
  const key = "a".repeat(64);
  assert.equal(parseConfig(peers, { CMQD_CLUSTER_KEY: key }).clusterKey, key);
  assert.equal(parseConfig([], {}).clusterKey, null, "a lone node needs none");
});

Deno.test("a cluster key given twice or of a bad length is refused", () => {
  assert.throws(
    () => parseConfig(["--cluster-key-file", "/k"], { CMQD_CLUSTER_KEY: "a".repeat(64) }),
    /both give a cluster key; give one/,
  );
  assert.throws(
    () => parseConfig([], { CMQD_CLUSTER_KEY: "short" }),
    /CMQD_CLUSTER_KEY: a cluster key has 32–4096 characters, got 5/,
  );
  assert.throws(() => parseConfig(["--cluster-key-file", ""], {}), /empty value/);
});

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

Deno.test("--advertise-host: required beside a wildcard --host in a cluster, never a wildcard", () => {
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  const cluster = ["--insecure", "--peers", "n1=10.0.0.1:9877"];
  assert.throws(
    () => parseConfig(["--host", "0.0.0.0", ...cluster], key),
    /--host 0\.0\.0\.0 listens on every interface.*--advertise-host/,
  );
  assert.throws(
    () => parseConfig(["--host", "::", ...cluster], key),
    /--advertise-host/,
  );
  assert.throws(
    () => parseConfig(["--advertise-host", "0.0.0.0"], {}),
    /--advertise-host: '0\.0\.0\.0' can't be dialled/,
  );
  const config = parseConfig(
    ["--host", "0.0.0.0", "--advertise-host", "10.0.0.1", ...cluster],
    key,
  );
  assert.equal(advertisedHostOf(config), "10.0.0.1");
  assert.equal(config.host, "0.0.0.0", "it still listens where --host says");
  // A lone node on a wildcard needs no peers to reach it.
  assert.equal(advertisedHostOf(parseConfig(["--host", "0.0.0.0", "--insecure"], {})), "0.0.0.0");
  assert.equal(advertisedHostOf(parseConfig([], { CMQD_ADVERTISE_HOST: "node1" })), "node1");
});

Deno.test("a --host or --advertise-host that is no URL's host (a port, a user) is refused", () => {
  // `--advertise-host localhost:8080` ended the start with an uncaught TypeError (Invalid URL).
  for (const host of ["localhost:8080", "10.0.0.1:9876", "1:2", "user@node1", "node1?x", "a^b"]) {
    assert.throws(
      () => parseConfig(["--advertise-host", host], {}),
      new RegExp(`^Error: --advertise-host: '${host.replace(/[?^]/g, "\\$&")}' is not a host `),
      host,
    );
  }
  assert.throws(
    () => parseConfig(["--host", "localhost:8080", "--insecure"], {}),
    /^Error: --host: 'localhost:8080' is not a host name or address \(no port/,
  );
  for (const host of ["fd00::5", "[fd00::5]", "::ffff:10.0.0.1", "node1.internal", "10.0.0.1"]) {
    assert.equal(parseConfig(["--advertise-host", host], {}).advertiseHost, host);
  }
});

Deno.test("an IPv6 host is advertised in brackets, as a member's join and --peers take it", () => {
  // Unbracketed, the join's peer address `fd00::5:9877` was refused (400 peerAddress).
  assert.equal(advertisedHostOf(parseConfig(["--host", "::1"], {})), "[::1]");
  assert.equal(
    advertisedHostOf(
      parseConfig(["--host", "::", "--advertise-host", "fd00::5", "--insecure"], {}),
    ),
    "[fd00::5]",
  );
  assert.equal(
    advertisedHostOf(parseConfig(["--host", "[::1]"], {})),
    "[::1]",
    "already bracketed",
  );
  assert.equal(advertisedHostOf(parseConfig(["--host", "localhost"], {})), "localhost");
});

Deno.test("--node-id is a letter, then letters, digits, - and _, at most 64 characters", () => {
  for (const id of ["n1", "a", "node_2-eu", "N" + "x".repeat(63)]) {
    assert.equal(parseConfig(["--node-id", id], {}).nodeId, id);
  }
  assert.equal(parseConfig([], { CMQD_NODE_ID: "env-node" }).nodeId, "env-node");
  for (const id of ["1n", "-n", "n 1", " n1", "n1 ", "n/../x", "n.1", "nœ", "N" + "x".repeat(64)]) {
    assert.throws(
      () => parseConfig(["--node-id", id], {}),
      /--node-id: a node id is a letter, then letters, digits, '-' or '_', at most 64 characters/,
      JSON.stringify(id),
    );
  }
  assert.throws(() => parseConfig([], { CMQD_NODE_ID: "n:1" }), /^Error: CMQD_NODE_ID: a node id/);
  assert.throws(() => parseConfig(["--node-id", ""], {}), /--node-id: empty value/);
});

Deno.test("with --peers and --port 0 the peer port must be given: a free one nobody could dial is refused", () => {
  const env = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  const peers = ["--peers", "n1=127.0.0.1:9877,n2=127.0.0.1:9887"];
  // --port 0 left the peer port at 0: the node listened on a random one and nobody could dial it.
  assert.throws(
    () => parseConfig(["--port", "0", ...peers], env),
    /--peers names this node's peer address 127\.0\.0\.1:9877, but with --port 0 it would listen for peers on a free port: give --peer-port 9877/,
  );
  assert.equal(parseConfig(["--port", "0", "--peer-port", "9877", ...peers], env).peerPort, 9877);
  // Another port than the entry's may be a container's or a NAT's mapping: left alone.
  assert.equal(
    parseConfig(["--port", "9000", "--peer-port", "9001", ...peers], env).peerPort,
    9001,
  );
  assert.equal(parseConfig(["--port", "0"], {}).peerPort, 0, "a lone node listens for no peers");
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

Deno.test("--force-new-cluster is a flag only, needs the cluster key, and excludes --peers and --join", () => {
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  const config = parseConfig(["--force-new-cluster", "--node-id", "n2"], key);
  assert.equal(config.forceNewCluster, true);
  assert.equal(isClusterMember(config), true, "it listens for the nodes that join it later");
  assert.equal(parseConfig([], key).forceNewCluster, false);
  // No environment variable: one left in a unit file would remove the regrown members later.
  // Refused, not ignored: whoever set it believes the recovery is on.
  assert.throws(
    () => parseConfig([], { ...key, CMQD_FORCE_NEW_CLUSTER: "1" }),
    /^Error: CMQD_FORCE_NEW_CLUSTER: --force-new-cluster is a flag only, on purpose: .*Unset it/,
  );
  assert.match(usage, /^ {2}--force-new-cluster +\(flag only\) +make this survivor/m);
  assert.throws(
    () => parseConfig(["--force-new-cluster", "--join", "http://h:2"], key),
    (error: Error) =>
      error.message ===
        "--force-new-cluster recovers the data of a surviving member and --join adds an empty " +
          "node to a running group: give one of them (join the fresh nodes to the recovered one " +
          "once it runs)",
  );
  assert.throws(
    () => parseConfig(["--force-new-cluster", "--peers", "n1=h:1,n2=h:2"], key),
    (error: Error) =>
      error.message ===
        "--force-new-cluster makes this node the sole voter, whatever its log's membership; " +
          "--peers would name initial voters, which only a new data directory uses: drop " +
          "--peers (the node listens for peers on --peer-port)",
  );
  assert.throws(
    () => parseConfig(["--force-new-cluster"], {}),
    /^Error: --force-new-cluster needs the cluster key every member holds: --cluster-key-file/,
  );
});

Deno.test("a data directory without a log is refused for --force-new-cluster, before any write", async () => {
  const root = await Deno.makeTempDir({ prefix: "cmqd-force-dir-" });
  try {
    const missing = `${root}/missing`;
    assert.equal(
      forceNewClusterDirProblem(missing),
      `--force-new-cluster: ${missing} does not exist, so there is nothing to recover: give the ` +
        "data directory of a surviving member (a new node joins with --join instead)",
    );
    await Deno.mkdir(`${root}/empty/log`, { recursive: true });
    assert.match(
      forceNewClusterDirProblem(`${root}/empty`)!,
      new RegExp(
        `^--force-new-cluster: ${root}/empty holds no log \\(no segment in ${root}/empty/log\\)`,
      ),
    );
    await Deno.writeTextFile(`${root}/empty/log/00000000000000000001.log`, "");
    assert.equal(forceNewClusterDirProblem(`${root}/empty`), null);
    assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), ["empty"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--help gives a flag without a default value as none, and --advertise-host's as --host", () => {
  const line = (flag: string) => usage.split("\n").find((text) => text.startsWith(`  ${flag} `))!;
  assert.match(line("--join"), /\(default none\)$/);
  assert.match(line("--advertise-host"), /reach this node by \(default --host\)$/);
  assert.match(line("--port"), /\(default 9876\)$/);
  assert.doesNotMatch(usage, /default null|\(default: /);
});

Deno.test("--cluster-id takes a name, none, or CMQD_CLUSTER_ID; anything else is refused", () => {
  assert.equal(parseConfig([], {}).clusterId, null);
  assert.equal(parseConfig(["--cluster-id", "prod-eu.1"], {}).clusterId, "prod-eu.1");
  assert.equal(parseConfig(["--cluster-id", "none"], {}).clusterId, "none");
  assert.equal(parseConfig([], { CMQD_CLUSTER_ID: "abc" }).clusterId, "abc");
  for (const bad of ["", "a b", "x/y", "a".repeat(65)]) {
    assert.throws(
      () => parseConfig(["--cluster-id", bad], {}),
      /--cluster-id: (a cluster id is 1 to 64 letters|empty value)/,
      bad,
    );
  }
});

Deno.test("a CMQD_ variable the broker does not know is named in a warning with the nearest known one", () => {
  // Were ignored: the broker ran on its defaults (./data, no peer TLS) without a word.
  const cases: [string, string][] = [
    ["CMQD_PEERTLS", "CMQD_PEER_TLS"],
    ["CMQD_DATADIR", "CMQD_DATA_DIR"],
    ["CMQD_CLUSTERKEY", "CMQD_CLUSTER_KEY"],
    ["CMQD_CREDENTAILS", "CMQD_CREDENTIALS"],
    ["cmqd_port", "CMQD_PORT"],
    ["Cmqd_Peers", "CMQD_PEERS"],
  ];
  for (const [name, nearest] of cases) {
    assert.deepEqual(envWarnings({ [name]: "1", PATH: "/bin" }), [
      `unknown environment variable ${name}, not used (the nearest known one is ${nearest}; ` +
      "--help lists the broker's variables)",
    ]);
    // Not a refusal: the environment is shared with other programs (an application's own).
    assert.equal(parseConfig(["--port", "9000"], { [name]: "1" }).port, 9000, name);
  }
  assert.deepEqual(envWarnings({ CMQD_PORT: "1", CMQD_FORCE_NEW_CLUSTER: "1" }), []);
});

Deno.test("the CMQD_ variables of the project's other programs, and other variables, are left alone", () => {
  const env = {
    // The CLI's and the SDK examples' (a shell that runs the CLI may start a broker too).
    CMQD_URL: "http://127.0.0.1:1",
    CMQD_SECRET_ID: "AKID",
    CMQD_SECRET_KEY: "secret",
    // The test helpers' (`sdk/testing.ts`, `tests/integration/process.ts`).
    CMQD_COMMAND: "cmqd",
    CMQD_MAIN: "dist/cmqd.js",
    // Not the broker's prefix.
    CMQD: "x",
    XCMQD_PORT: "x",
    PATH: "/bin",
  };
  assert.equal(parseConfig([], env).port, 9876);
  assert.deepEqual(envWarnings(env), []);
  // Every variable --help lists is known.
  const listed = [...usage.matchAll(/ (CMQD_[A-Z_]+) /g)].map((match) => match[1]);
  assert.ok(listed.length > 15, usage);
  for (const name of listed) {
    // Its value may be refused (empty), never its name.
    const refusal = (() => {
      try {
        parseConfig([], { [name]: "" });
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    assert.doesNotMatch(refusal, /unknown environment variable/, name);
    assert.deepEqual(envWarnings({ [name]: "" }), [], name);
  }
});

Deno.test("a node that runs alone refuses a cluster-only flag, and leaves a cluster-only variable unused", () => {
  const tls = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem"];
  // Were taken and ignored (--peer-tls, --peer-port, --tls-ca) or read for nothing
  // (--cluster-key-file: a missing file stopped the start).
  for (
    const flag of [["--peer-tls"], ["--peer-port", "9877"], ["--tls-ca", "/ca.pem"], [
      "--cluster-key-file",
      "/missing.key",
    ]]
  ) {
    assert.throws(
      () => parseConfig([...tls, ...flag], {}),
      (error: Error) =>
        error.message ===
          `${flag[0]}: only a cluster member uses it, and without --peers, --join or ` +
            "--force-new-cluster this node runs alone: add --peers (this node's own entry alone " +
            `makes a cluster of one that others can --join), or drop ${flag[0]}`,
      flag[0],
    );
  }
  // --help and --version refuse nothing.
  assert.equal(parseConfig(["--peer-tls", "--version"], {}).version, true);
  // The environment every node of a deployment shares: left unused, named.
  const shared = {
    CMQD_PEER_TLS: "1",
    CMQD_PEER_PORT: "7000",
    CMQD_TLS_CA: "/ca.pem",
    CMQD_CLUSTER_KEY_FILE: "/missing.key",
  };
  const lone = parseConfig(tls, shared);
  assert.deepEqual(lone.unusedEnv, [
    "CMQD_PEER_PORT",
    "CMQD_PEER_TLS",
    "CMQD_TLS_CA",
    "CMQD_CLUSTER_KEY_FILE",
  ]);
  assert.equal(lone.peerTls, false);
  assert.equal(lone.tlsCa, null);
  assert.equal(lone.clusterKeyFile, null);
  assert.equal(lone.peerPort, 9877, "the default: the client port + 1");
  const keyed = parseConfig([], { CMQD_CLUSTER_KEY: "k".repeat(32) });
  assert.deepEqual([keyed.clusterKey, keyed.unusedEnv], [null, ["CMQD_CLUSTER_KEY"]]);
  // A bad value is still refused, unused or not.
  assert.throws(() => parseConfig([], { CMQD_CLUSTER_KEY: "short" }), /got 5/);
  assert.throws(() => parseConfig([], { CMQD_PEER_PORT: "x" }), /CMQD_PEER_PORT: not a port/);
  // Any of --peers, --join, --force-new-cluster makes it a member: the flags are its own.
  const key = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  for (
    const member of [["--peers", "n1=127.0.0.1:9877"], ["--join", "http://h:1"], [
      "--force-new-cluster",
    ]]
  ) {
    const config = parseConfig([...member, ...tls, "--peer-tls", "--tls-ca", "/ca.pem"], key);
    assert.deepEqual([config.peerTls, config.tlsCa, config.unusedEnv], [true, "/ca.pem", []]);
  }
  assert.equal(parseConfig([], {}).unusedEnv.length, 0);
});

Deno.test("a flag missing its value does not take the next flag as its value", () => {
  // `--data-dir --insecure` made a data directory named `--insecure`, and served.
  assert.throws(
    () => parseConfig(["--data-dir", "--insecure"], {}),
    /^Error: --data-dir needs a value, got the flag '--insecure' \(write --data-dir=--insecure /,
  );
  // A cluster id may hold '-': it took the next flag too.
  assert.throws(
    () => parseConfig(["--cluster-id", "--port", "1"], {}),
    /--cluster-id needs a value/,
  );
  assert.throws(
    () => parseConfig(["--node-id", "-h"], {}),
    /--node-id needs a value, got the flag '-h'/,
  );
  assert.throws(() => parseConfig(["--credentials", "--help"], {}), /--credentials needs a value/);
  assert.throws(() => parseConfig(["--port", "--"], {}), /--port needs a value, got the flag '--'/);
  // A value that starts with '--' is given with '='; a negative number is no flag.
  assert.equal(parseConfig(["--data-dir=--odd"], {}).dataDir, "--odd");
  assert.throws(() => parseConfig(["--port", "-1"], {}), /^Error: --port: not a port: '-1'$/);
});

Deno.test("a bad value is named with what would do", () => {
  assert.throws(
    () => parseConfig(["--mmap", "maybe"], {}),
    /^Error: --mmap: expected true or false, got 'maybe'$/,
  );
  assert.throws(
    () => parseConfig([], { CMQD_INSECURE: "yes" }),
    /^Error: CMQD_INSECURE: expected true or false \(or 1 or 0\), got 'yes'$/,
  );
  // A whole number past the limit is not called "not a whole number".
  assert.throws(
    () => parseConfig(["--request-body-budget-mb", "9999999999"], {}),
    /^Error: --request-body-budget-mb: at most 999999999, got '9999999999'$/,
  );
  assert.throws(
    () => parseConfig(["--min-free-disk-mb", "512MB"], {}),
    /^Error: --min-free-disk-mb: not a whole number \(no unit\): '512MB'$/,
  );
  assert.equal(parseConfig(["--scrub-mb-per-s", "999999999"], {}).scrubMbPerS, 999_999_999);
  // An argument that is no flag at all (a value whose flag was left out).
  assert.throws(
    () => parseConfig(["/var/lib/cmqd"], {}),
    /^Error: unexpected argument '\/var\/lib\/cmqd': cmqd takes flags only \(--help lists them\)$/,
  );
});

Deno.test("a flag given twice takes its last value, as the README says", () => {
  const config = parseConfig(["--port", "7000", "--data-dir", "/a", "--port=7001"], {});
  assert.equal(config.port, 7001);
  assert.equal(config.dataDir, "/a");
  assert.equal(parseConfig(["--insecure", "--insecure=false"], {}).insecure, false);
});

Deno.test("--help lists --help and --version, and says which flag has no variable", () => {
  assert.match(usage, /^ {2}--help, -h {2,}print this text$/m);
  assert.match(usage, /^ {2}--version {2,}print the release and its format versions$/m);
  assert.match(usage, /^usage: cmqd \[flags\]\s+\(every flag but --force-new-cluster also as /);
});

Deno.test("--help lines up its columns, the longest flag and variable included", () => {
  const lines = usage.split("\n").slice(1);
  const envColumns = new Set(
    lines.map((line) => line.search(/ (CMQD_|\(flag only\))/)).filter((at) => at >= 0),
  );
  assert.equal(envColumns.size, 1, [...envColumns].join(", "));
  const [envColumn] = envColumns;
  for (const line of lines) {
    // Each column is followed by at least one space: no flag or variable runs into the next one.
    assert.equal(line[envColumn], " ", line);
    const help = line.slice(envColumn + 1).match(/^(\(flag only\)|\S*) +/);
    assert.ok(
      help !== null && envColumn + 1 + help[0].length === helpColumn(lines, envColumn),
      line,
    );
  }
});

/** Where the help text starts in the first line that has a variable. */
function helpColumn(lines: string[], envColumn: number): number {
  const first = lines.find((line) => line.slice(envColumn + 1).startsWith("CMQD_"))!;
  return envColumn + 1 + first.slice(envColumn + 1).match(/^\S+ +/)![0].length;
}

Deno.test("a cluster member's peer port can't be its client port", () => {
  const member = { CMQD_CLUSTER_KEY: "k".repeat(32) };
  // It was refused only once the client port listened, as "Address already in use".
  assert.throws(
    () => parseConfig(["--port", "9000", "--peer-port", "9000", "--peers", "n1=h:9000"], member),
    /^Error: --peer-port 9000 is the client port \(--port\) too: the client and peer listeners need a port each \(the peer port defaults to --port \+ 1\)$/,
  );
  assert.throws(
    () =>
      parseConfig(["--peers", "n1=h:9000"], {
        ...member,
        CMQD_PORT: "9000",
        CMQD_PEER_PORT: "9000",
      }),
    /^Error: CMQD_PEER_PORT 9000 is the client port \(CMQD_PORT\) too: /,
  );
  // The default (port + 1), and another port, are fine.
  assert.equal(parseConfig(["--port", "9000", "--peers", "n1=h:9001"], member).peerPort, 9001);
  assert.equal(
    parseConfig(["--port", "9000", "--peer-port", "7000", "--peers", "n1=h:7000"], member).peerPort,
    7000,
  );
});

Deno.test("a bad variable a flag overrides does not stop the start: it is named in a warning", () => {
  // The flag wins, so the variable's value is never used: a unit file's stale CMQD_PORT=abc
  // beside --port 9000 used to stop the start.
  const config = parseConfig(["--port", "9000", "--insecure=false"], {
    CMQD_PORT: "abc",
    CMQD_INSECURE: "yes",
    CMQD_NODE_ID: "n2",
  });
  assert.equal(config.port, 9000);
  assert.equal(config.insecure, false);
  assert.equal(config.nodeId, "n2");
  assert.deepEqual(config.overriddenEnv, [
    "CMQD_INSECURE: expected true or false (or 1 or 0), got 'yes' (not used: --insecure " +
    "overrides it; fix or unset it before dropping the flag)",
    "CMQD_PORT: not a port: 'abc' (not used: --port overrides it; fix or unset it before " +
    "dropping the flag)",
  ]);
  // A good variable a flag overrides is no news; a bad one no flag overrides still stops it.
  assert.deepEqual(parseConfig(["--port", "9000"], { CMQD_PORT: "7000" }).overriddenEnv, []);
  assert.throws(
    () => parseConfig(["--host", "127.0.0.1"], { CMQD_PORT: "abc" }),
    /^Error: CMQD_PORT: not a port: 'abc'$/,
  );
});
