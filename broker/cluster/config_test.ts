/**
 * `parseConfig` and `--help`: defaults, where a value comes from, a bad or missing value named
 * with what would do, the help text's columns. Cluster flags: `config_cluster_test.ts`; access
 * and TLS: `config_access_test.ts`; the environment's unknown variables: `config_env_test.ts`.
 */
import assert from "node:assert/strict";
import { parseConfig, usage } from "./config.ts";

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

Deno.test("--help gives a flag without a default value as none, and --advertise-host's as --host", () => {
  const line = (flag: string) => usage.split("\n").find((text) => text.startsWith(`  ${flag} `))!;
  assert.match(line("--join"), /\(default none\)$/);
  assert.match(line("--advertise-host"), /reach this node by \(default --host\)$/);
  assert.match(line("--port"), /\(default 9876\)$/);
  assert.doesNotMatch(usage, /default null|\(default: /);
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

Deno.test("--held-request-max-s: 60 by default, from the flag or CMQD_HELD_REQUEST_MAX_S, at least 1", () => {
  assert.equal(parseConfig([], {}).heldRequestMaxS, 60);
  assert.equal(parseConfig(["--held-request-max-s", "5"], {}).heldRequestMaxS, 5);
  assert.equal(parseConfig([], { CMQD_HELD_REQUEST_MAX_S: "120" }).heldRequestMaxS, 120);
  assert.throws(
    () => parseConfig(["--held-request-max-s", "0"], {}),
    /^Error: --held-request-max-s: at least 1, got 0$/,
  );
  assert.throws(
    () => parseConfig(["--held-request-max-s", "1.5"], {}),
    /--held-request-max-s.*not a whole number|not a whole number.*--held-request-max-s/,
  );
  assert.throws(
    () => parseConfig([], { CMQD_HELD_REQUEST_MAX_S: "soon" }),
    /CMQD_HELD_REQUEST_MAX_S|--held-request-max-s/,
  );
});
