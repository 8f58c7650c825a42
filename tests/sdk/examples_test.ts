/**
 * Every example of `sdk/examples/` runs, as a user would run it, against one real broker: each
 * a `deno run` process (in parallel; the examples use queues of their own) that must exit 0
 * within its time limit. An example checks its own outcome and exits non-zero otherwise.
 */
import assert from "node:assert/strict";
import { startTestBroker } from "../../sdk/testing.ts";

const examples = [
  "photo_workers.ts",
  "ingest_buffer.ts",
  "retry_ledger.ts",
  "replay_rewind.ts",
  "payment_fanout.ts",
];
/** Far above what each needs (a few seconds), to be kind to a loaded machine. */
const exampleTimeoutMs = 60_000;

Deno.test("the SDK examples run against a real broker and hold their promises", async () => {
  const broker = await startTestBroker();
  try {
    const results = await Promise.all(examples.map(async (example) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(`../../sdk/examples/${example}`, import.meta.url).pathname],
        env: { CMQD_URL: broker.url, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(exampleTimeoutMs),
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      return { example, success: output.success, text };
    }));
    for (const result of results) {
      assert.ok(result.success, `${result.example} failed:\n${result.text}`);
    }
    const [photos, ingest, ledger, replay, fanout] = results.map((result) => result.text);
    assert.match(photos, /the crashed job came back/);
    assert.match(ingest, /stored 2000 events/);
    assert.match(ledger, /dead-lettered after 3 deliveries/);
    assert.match(replay, /5 messages again/);
    assert.match(fanout, /risk-control got orders 7,8,9; marketing got orders 7,9/);
    assert.match(fanout, /merchant callback got 3 payments in [4-9]\d* requests \(delivered 3/);
  } finally {
    await broker.stop();
  }
});
