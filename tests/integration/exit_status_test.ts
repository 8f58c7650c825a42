/**
 * `main.ts` with `--version`, `--help` and `--force-new-cluster` in combination: each gives the
 * README's exit status (0 for what it prints, 2 for what it is given) with one precise line, and
 * none creates the data directory. Processes that exit at once; nothing listens.
 */
import assert from "node:assert/strict";
import { testClusterKeyText } from "./process.ts";

const root = new URL("../../", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-no-legacy-abort", `${root}main.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", ...env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("--version, --help and --force-new-cluster combinations: exit status and one precise line", async () => {
  const temp = await Deno.makeTempDir({ prefix: "cmqd-exit-status-" });
  try {
    const dataDir = `${temp}/data`;
    const key = { CMQD_CLUSTER_KEY: testClusterKeyText };
    const version = /^cmqd \d+\.\d+\.\d+ \(log record \d+, .*peer protocol \d+\)\n$/;
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [["--version"], {}, 0, version],
      // Printing touches nothing: the recovery's own checks (key, data) are not made.
      [["--version", "--force-new-cluster"], {}, 0, version],
      [["--force-new-cluster", "--version"], key, 0, version],
      [["--help", "--version"], {}, 0, /^usage/i],
      [
        ["--version=1"],
        {},
        2,
        /^cmqd: --version takes no value\n/,
      ],
      [["--help=all"], {}, 2, /^cmqd: --help takes no value\n/],
      [
        ["--force-new-cluster"],
        {},
        2,
        /^cmqd: --force-new-cluster needs the cluster key every member holds: /,
      ],
      [
        ["--force-new-cluster", "--join", "http://127.0.0.1:1"],
        key,
        2,
        /^cmqd: --force-new-cluster recovers the data of a surviving member and --join adds /,
      ],
      [
        ["--force-new-cluster", "--peers", "n1=127.0.0.1:2"],
        key,
        2,
        /^cmqd: --force-new-cluster makes this node the sole voter, whatever its log's /,
      ],
      // Not even --version is printed for a combination that can never run.
      [
        ["--version", "--force-new-cluster", "--join", "http://127.0.0.1:1"],
        key,
        2,
        /^cmqd: --force-new-cluster recovers the data of a surviving member/,
      ],
      [
        ["--force-new-cluster=maybe"],
        key,
        2,
        /^cmqd: --force-new-cluster: expected true or false \(or 1 or 0\), got 'maybe'\n/,
      ],
      [
        ["--force-new-cluster"],
        key,
        2,
        new RegExp(`^cmqd: --force-new-cluster: ${dataDir} does not exist, so there is nothing`),
      ],
    ];
    for (const [args, env, code, line] of cases) {
      const answer = await run([...args, "--data-dir", dataDir, "--port", "1"], env);
      const shown = `${args.join(" ")}: ${JSON.stringify(answer)}`;
      assert.equal(answer.code, code, shown);
      assert.match(code === 0 ? answer.stdout : answer.stderr, line, shown);
      if (code !== 0) assert.equal(answer.stdout, "", shown);
      assert.deepEqual([...Deno.readDirSync(temp)], [], `${shown}: the data directory was made`);
    }
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});

Deno.test("a CMQD_ variable the broker does not know is named in a warning at start; CMQD_FORCE_NEW_CLUSTER is refused", async () => {
  const temp = await Deno.makeTempDir({ prefix: "cmqd-exit-status-env-" });
  try {
    const dataDir = `${temp}/data`;
    // Were ignored: the broker started on its defaults (./data here) without a word.
    const cases: [Record<string, string>, RegExp][] = [
      [
        { CMQD_PEERTLS: "1" },
        /^cmqd: warning: unknown environment variable CMQD_PEERTLS, not used \(the nearest known one is CMQD_PEER_TLS;/m,
      ],
      [
        { CMQD_DATADIR: temp },
        /^cmqd: warning: unknown environment variable CMQD_DATADIR, not used \(.* CMQD_DATA_DIR;/m,
      ],
      [
        { CMQD_FORCE_NEW_CLUSTER: "1" },
        /^cmqd: CMQD_FORCE_NEW_CLUSTER: --force-new-cluster is a flag only/,
      ],
    ];
    for (const [env, line] of cases) {
      // `--host 0.0.0.0` without credentials is refused (exit 2): the process ends at once, after
      // the warnings (it would serve on port 1 as root).
      const answer = await run(["--data-dir", dataDir, "--port", "1", "--host", "0.0.0.0"], env);
      const shown = `${JSON.stringify(env)}: ${JSON.stringify(answer)}`;
      assert.equal(answer.code, 2, shown);
      assert.match(answer.stderr, line, shown);
      assert.equal(answer.stdout, "", shown);
      assert.deepEqual([...Deno.readDirSync(temp)], [], `${shown}: the data directory was made`);
    }
    // The project's other programs' variables are left alone.
    const others = { CMQD_URL: "http://127.0.0.1:1", CMQD_MAIN: "main.ts", CMQD_COMMAND: "cmqd" };
    const version = await run(["--version"], others);
    assert.equal(version.code, 0, JSON.stringify(version));
    assert.doesNotMatch(version.stderr, /warning/, JSON.stringify(version));
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});
