/**
 * The environment's `CMQD_` variables `parseConfig` warns of: unknown ones (with the nearest
 * known), and a bad one a flag overrides.
 */
import assert from "node:assert/strict";
import { envWarnings, parseConfig, usage } from "./config.ts";

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
