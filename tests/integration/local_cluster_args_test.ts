/**
 * `deno task cluster` (tests/local_cluster.ts) answers `--help` and refuses unknown or incomplete
 * flags before it makes a directory or starts a node.
 */
import assert from "node:assert/strict";

const script = new URL("../local_cluster.ts", import.meta.url).pathname;

async function runScript(args: string[], cwd: string) {
  const command = new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, ...args], cwd });
  const { code, stdout, stderr } = await command.output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

Deno.test("local cluster script: --help prints the flags, bad flags exit 2, nothing is started or made", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "cmqd-cluster-args-" });
  try {
    const help = await runScript(["--help"], cwd);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: deno task cluster/);
    assert.match(help.stdout, /--base-port N/);
    const cases: [string[], RegExp][] = [
      [["--bogus"], /unknown option '--bogus'/],
      [["--base-port"], /--base-port needs a value/],
      [["--data-dir", "--peer-tls"], /--data-dir needs a value/],
      [["--base-port", "abc"], /--base-port must be 1\.\.65514/],
      [["--base-port", "65530"], /--base-port must be 1\.\.65514/],
    ];
    for (const [args, message] of cases) {
      const result = await runScript(args, cwd);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /usage: deno task cluster/);
      assert.doesNotMatch(result.stdout, /cluster: n1/);
    }
    const made = [];
    for await (const entry of Deno.readDir(cwd)) made.push(entry.name);
    assert.deepEqual(made, [], "no data directory is made for refused flags");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
