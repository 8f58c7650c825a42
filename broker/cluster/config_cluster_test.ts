/**
 * `parseConfig`'s cluster flags: --peers, --join, the cluster key and id, the advertised host,
 * the peer port, --force-new-cluster, and a node that runs alone.
 */
import assert from "node:assert/strict";
import { advertisedHostOf, isClusterMember, parseConfig, usage } from "./config.ts";
import { forceNewClusterDirProblem } from "./force_new_cluster.ts";

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
