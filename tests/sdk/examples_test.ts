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

/**
 * A broker stand-in for `payment_fanout.ts`: answers its queue, topic and subscription PUTs and
 * its DELETEs, and its publish with `publish()`; records each request.
 */
function fanoutStub(publish: () => Response) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    seen.push(`${request.method} ${path}`);
    if (request.method === "DELETE") return new Response(null, { status: 204 });
    if (request.method === "POST" && /^\/v1\/topics\/[^/]+\/messages$/.test(path)) return publish();
    return Response.json({ name: path.split("/").at(-1) }, { status: 201 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
}

/** Runs `payment_fanout.ts` against `url`: its exit code and stderr. */
async function runFanout(url: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../sdk/examples/payment_fanout.ts", import.meta.url).pathname],
    env: { CMQD_URL: url, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(exampleTimeoutMs),
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("payment_fanout reports a publish that failed, or that a subscription refused, cleans up and exits 1", async (t) => {
  await t.step("the publish fails", async () => {
    const stub = fanoutStub(() =>
      Response.json({ error: { code: "TopicNotFound", message: "no such topic" } }, {
        status: 404,
      })
    );
    try {
      const { code, stderr } = await runFanout(stub.url);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /^publishing 3 payments to payments-\S+ failed: TopicNotFound: no such topic\n$/,
      );
      assert.equal(stub.seen.filter((line) => line.startsWith("DELETE")).length, 3, "cleaned up");
    } finally {
      await stub.close();
    }
  });
  await t.step("a subscription refuses a payment", async () => {
    const stub = fanoutStub(() =>
      Response.json({
        messages: [7, 8, 9].map((order) => ({
          id: `m${order}`,
          fannedOut: order === 8 ? 1 : 3,
          failures: order === 8
            ? [{ subscription: "risk", code: "BacklogFull", message: "the queue is full" }]
            : [],
        })),
      })
    );
    try {
      const { code, stderr } = await runFanout(stub.url);
      assert.equal(code, 1, stderr);
      assert.equal(
        stderr,
        "the payment of order 8 (message m8) did not reach subscription risk: BacklogFull: " +
          "the queue is full\n",
      );
      assert.equal(stub.seen.filter((line) => line.startsWith("DELETE")).length, 3, "cleaned up");
    } finally {
      await stub.close();
    }
  });
});
