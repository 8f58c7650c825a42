import assert from "node:assert/strict";
import { parseConfig } from "./config.ts";

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

Deno.test("bad flags are rejected with a precise message", () => {
  assert.throws(() => parseConfig(["--nope", "1"], {}), /unknown flag '--nope'/);
  assert.throws(() => parseConfig(["--port", "x"], {}), /--port: not a port: 'x'/);
  assert.throws(() => parseConfig(["--port", "70000"], {}), /not a port/);
  assert.throws(() => parseConfig(["--port"], {}), /--port needs a value/);
  assert.throws(() => parseConfig([], { CMQD_MMAP: "yes" }), /CMQD_MMAP: expected true or false/);
});

Deno.test("peers are parsed, must name this node, and exclude --join", () => {
  const config = parseConfig(
    ["--node-id", "n2", "--port", "9886", "--peers", "n1=127.0.0.1:9877,n2=127.0.0.1:9887"],
    {},
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

Deno.test("--min-free-disk-mb defaults to 512, takes the environment, and rejects non-counts", () => {
  assert.equal(parseConfig([], {}).minFreeDiskMb, 512);
  assert.equal(parseConfig([], { CMQD_MIN_FREE_DISK_MB: "0" }).minFreeDiskMb, 0);
  assert.equal(parseConfig(["--min-free-disk-mb", "2048"], {}).minFreeDiskMb, 2048);
  assert.throws(() => parseConfig(["--min-free-disk-mb", "-1"], {}), /not a whole number/);
  assert.throws(() => parseConfig(["--min-free-disk-mb", "1.5"], {}), /not a whole number/);
});
