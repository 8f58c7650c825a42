/**
 * The README's "Configuration" table is the program's flags: every row names a flag and an
 * environment variable `parseConfig` knows, with the default it applies, and every flag the program
 * knows has its row. A flag that exists only in the docs, or a default that drifted, fails here.
 */
import assert from "node:assert/strict";
import { advertisedHostOf, clusterKeyEnv, flagOnly, parseConfig, usage } from "./config.ts";
import { versionText } from "./release_info.ts";

interface Row {
  flags: string[];
  /** Environment variables, each with the value the README writes beside it (`=true`), if any. */
  envs: { name: string; value: string | null }[];
  defaultText: string;
}

async function readmeRows(): Promise<Row[]> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.split("\n## Configuration\n")[1].split("\n## ")[0];
  const rows: Row[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (cells.length !== 4 || !/^`|^$/.test(cells[0])) continue;
    // A flag without an environment variable says so in that column, as `--help` does.
    if (!cells[1].startsWith("`") && cells[1] !== flagOnly) continue;
    const codes = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
    rows.push({
      flags: codes(cells[0]),
      envs: codes(cells[1]).map((text) => {
        const [name, value] = text.split("=");
        return { name, value: value ?? null };
      }),
      defaultText: cells[2].replaceAll("`", ""),
    });
  }
  return rows;
}

/**
 * The program's flags, each with its environment variable (null for a flag only) and default
 * (from `--help`).
 */
function programFlags(): Map<string, { env: string | null; defaultJson: string }> {
  const flags = new Map<string, { env: string | null; defaultJson: string }>();
  for (const line of usage.split("\n")) {
    const match = /^ {2}(--[a-z-]+)(?: \S+)? +(CMQD_[A-Z_]+|\(flag only\)) .*\(default (.*)\)$/
      .exec(line);
    if (match) {
      flags.set(match[1], { env: match[2] === flagOnly ? null : match[2], defaultJson: match[3] });
    }
  }
  return flags;
}

Deno.test("every flag of the README's Configuration table exists, and every flag has its row", async () => {
  const rows = await readmeRows();
  const program = programFlags();
  assert.ok(program.size >= 18, `${program.size} flags read from --help`);
  const documented = rows.flatMap((row) => row.flags);
  assert.deepEqual([...documented].sort(), [...program.keys()].sort());
  for (const row of rows) {
    const envNames = row.envs.map((env) => env.name);
    if (row.flags.length === 0) {
      assert.deepEqual(envNames, [clusterKeyEnv], "the one variable without a flag");
      continue;
    }
    const programEnvs = row.flags.flatMap((flag) => program.get(flag)!.env ?? []);
    assert.deepEqual(envNames, programEnvs, row.flags[0]);
  }
});

Deno.test("the README's defaults are the ones applied when nothing is given", async () => {
  const program = programFlags();
  const given = parseConfig([], {});
  // Defaults the table writes in words.
  const inWords: Record<string, (flag: string) => void> = {
    none: (flag) => assert.ok(["none", "[]"].includes(program.get(flag)!.defaultJson), flag),
    off: (flag) => assert.equal(program.get(flag)!.defaultJson, "false", flag),
    "port + 1": () => assert.equal(given.peerPort, given.port + 1),
    "--host": () => assert.equal(advertisedHostOf(given), given.host),
  };
  for (const row of await readmeRows()) {
    for (const flag of row.flags) {
      const check = inWords[row.defaultText];
      if (check !== undefined) check(flag);
      else {
        const json = program.get(flag)!.defaultJson;
        assert.equal(String(JSON.parse(json)), row.defaultText, `${flag}: the program's ${json}`);
      }
    }
  }
});

Deno.test("an environment variable the README writes with its value turns its switch on", async () => {
  const tlsPair = { CMQD_TLS_CERT: "/c.pem", CMQD_TLS_KEY: "/k.pem" };
  // A cluster member: a lone node leaves CMQD_PEER_TLS unused.
  const member = { CMQD_PEERS: "n1=127.0.0.1:9877", CMQD_CLUSTER_KEY: "k".repeat(32) };
  const keyOf: Record<string, "insecure" | "peerTls"> = {
    CMQD_INSECURE: "insecure",
    CMQD_PEER_TLS: "peerTls",
  };
  let checked = 0;
  for (const row of await readmeRows()) {
    for (const env of row.envs) {
      if (env.value === null) continue;
      const config = parseConfig([], { ...member, ...tlsPair, [env.name]: env.value });
      assert.equal(config[keyOf[env.name]], true, `${env.name}=${env.value}`);
      checked++;
    }
  }
  assert.equal(checked, 2);
});

Deno.test("the README's --version line is the one the program prints", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.split("\n## Configuration\n")[1].split("\n## ")[0];
  // The example is in backticks, wrapped across lines.
  const shown = /`(cmqd \d+\.\d+\.\d+ \([^`]*\))`/.exec(section);
  assert.ok(shown !== null, "no --version example in the Configuration section");
  assert.equal(shown[1].replace(/\s+/g, " "), versionText());
});
