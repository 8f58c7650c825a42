/**
 * A load run whose broker goes away (killed during the prefill, or never there) ends with one
 * clear error and a non-zero exit instead of retrying for as long as the operator waits.
 */
import assert from "node:assert/strict";
import { parseLoadArgs } from "./load.ts";
import { groupPlan, prefill } from "./load_shapes.ts";

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("a prefill whose broker can't be reached ends with an error once nothing was accepted for --ready-timeout-seconds", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const options = parseLoadArgs([
    "--url",
    url,
    "--threads",
    "0",
    "--producers",
    "1",
    "--ready-timeout-seconds",
    "0.5",
  ]);
  // A bound on the test, not on the code: before the fix the prefill retried for ever.
  let guard: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    guard = setTimeout(() => reject(new Error("the prefill still retries after 60 s")), 60_000);
  });
  try {
    await assert.rejects(
      Promise.race([prefill(options, groupPlan(options, "bench-gone", "consume"), 100), stuck]),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `^prefill: ${url} accepted no message for 0\\.5 s \\(--ready-timeout-seconds\\); ` +
              "0 of 100 sent, \\d+ failed requests: is the broker up\\?$",
          ),
        );
        return true;
      },
    );
  } finally {
    clearTimeout(guard);
  }
});

Deno.test("bench/load.ts against a broker that isn't there exits 1 with one line, no stack trace", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./load.ts", import.meta.url).pathname,
      "--url",
      url,
      "--shape",
      "consume",
      "--threads",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  assert.match(stderr, /^load: .+\n$/);
  assert.equal(new TextDecoder().decode(output.stdout), "");
});

Deno.test("a prefill of 0 messages fills nothing and returns at once (a budget of 0 is no limit to the producers)", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const options = parseLoadArgs(["--url", url, "--threads", "0", "--ready-timeout-seconds", "0.5"]);
  const filled = await prefill(options, groupPlan(options, "bench-none", "consume"), 0);
  assert.deepEqual(filled, { messages: 0, seconds: 0, errors: 0 });
});
