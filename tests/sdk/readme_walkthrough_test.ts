/**
 * The README's SDK snippet and its CLI block run as a newcomer runs them, against a fresh real
 * broker: the snippet saved to a file and run with `deno run` (its import pointed at this
 * repository's `sdk/mod.ts`, its URL at the broker), the CLI block line by line in `bash` with
 * `CMQD_URL` set. Each must exit 0 and do what the README says it does.
 */
import assert from "node:assert/strict";
import { startTestBroker } from "../../sdk/testing.ts";

const repo = new URL("../../", import.meta.url);
const readme = Deno.readTextFileSync(new URL("README.md", repo));
/** Far above what each step needs, to be kind to a loaded machine. */
const stepTimeoutMs = 60_000;

/** The first fenced block of `language` after the heading line `heading`. */
function blockAfter(heading: string, language: string): string {
  const start = readme.split("\n").indexOf(heading);
  assert.ok(start >= 0, `README has no heading '${heading}'`);
  const rest = readme.split("\n").slice(start + 1);
  const open = rest.indexOf("```" + language);
  assert.ok(open >= 0, `no \`\`\`${language} block after '${heading}'`);
  const close = rest.indexOf("```", open + 1);
  return rest.slice(open + 1, close).join("\n");
}

async function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(args[0], {
    args: args.slice(1),
    cwd: repo,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(stepTimeoutMs),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("README: the SDK snippet handles the message it sends and exits", async () => {
  const snippet = blockAfter("## The SDK", "ts");
  assert.match(snippet, /from "\.\/sdk\/mod\.ts"/);
  const broker = await startTestBroker();
  const dir = await Deno.makeTempDir({ prefix: "cmqd-readme-" });
  try {
    const file = `${dir}/snippet.ts`;
    await Deno.writeTextFile(
      file,
      snippet
        .replace('"./sdk/mod.ts"', JSON.stringify(new URL("sdk/mod.ts", repo).href))
        .replace("http://127.0.0.1:9876", broker.url),
    );
    const result = await run([Deno.execPath(), "run", "-A", "--no-config", file], {});
    assert.equal(result.code, 0, result.stdout + result.stderr);
    // The message it sent was handled and deleted.
    const queue = await broker.client.getQueue("images");
    assert.equal(queue.activeMessages + queue.inflightMessages + queue.delayedMessages, 0);
    assert.match(result.stdout, /making photo 7: thumbnail/);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README: every line of the CLI block exits 0 on a fresh broker", async () => {
  const lines = blockAfter("### CLI", "sh").split("\n").filter((line) => line.trim() !== "");
  const cliPrefix = "deno task cli -- ";
  const broker = await startTestBroker();
  try {
    let handle: string | undefined;
    for (const written of lines) {
      if (written.startsWith("HANDLE=")) continue; // the reader fills it in: the test does below
      assert.ok(written.startsWith(cliPrefix), `not a CLI line: ${written}`);
      // The 100,000-message send only takes longer; the rest runs exactly as written.
      const line = written.replace("--count 100000", "--count 1000");
      const result = await run(["bash", "-c", line], {
        CMQD_URL: broker.url,
        PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`,
        HOME: Deno.env.get("HOME") ?? "/tmp",
        ...(handle === undefined ? {} : { HANDLE: handle }),
      });
      assert.equal(result.code, 0, `${written}\n${result.stdout}${result.stderr}`);
      if (/^deno task cli -- receive /.test(written)) {
        // The table's last column is the receipt handle (a receive of 10 gets some).
        handle = result.stdout.split("\n")[1]?.trim().split(/\s+/).at(-1);
        assert.ok(handle, `no message received:\n${result.stdout}`);
      }
      if (/ delete orders "\$HANDLE"/.test(written)) assert.match(result.stdout, /deleted 1/);
      if (/ rewind orders /.test(written)) assert.match(result.stdout, /1 messages to deliver/);
      if (/ topic publish /.test(written)) assert.match(result.stdout, /to 2 subscription/);
    }
    assert.ok(handle !== undefined, "the block has no receive");
  } finally {
    await broker.stop();
  }
});
