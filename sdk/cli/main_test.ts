/**
 * `main` in-process: how the CLI reports what goes wrong — an answer that is not the API's (the
 * broker's fault, or another service at that URL) apart from a bug of the CLI's own, and a node
 * that can't be reached.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { CmqdClient } from "../client.ts";
import { parseArgs, UsageError } from "./args.ts";
import { clientOf, main } from "./main.ts";

/**
 * Runs `main(argv)`, collecting what it writes on stdout and stderr; `failWrite` may throw instead
 * of a write (an error injected where the CLI writes).
 */
async function run(
  argv: string[],
  failWrite: (text: string) => void = () => {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: "", stderr: "" };
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const stream of ["stdout", "stderr"] as const) {
    process[stream].write = ((text: string) => {
      failWrite(text);
      written[stream] += text;
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    const code = await main(argv);
    return { code, ...written };
  } finally {
    process.stdout.write = originals.stdout;
    process.stderr.write = originals.stderr;
  }
}

/** A server answering every request with `body` (status 200), for the duration of `use`. */
async function answering(body: string, use: (url: string) => Promise<void>): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(body, { headers: { "content-type": "application/json" } }),
  );
  try {
    await use(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("an answer of another shape is an unexpected response, exit 1, never printed as if valid", async () => {
  const commands = [
    ["queue", "get", "q"],
    ["queue", "get", "q", "--json"],
    ["queue", "create", "q"],
    ["queue", "list"],
    ["queue", "purge", "q"],
    ["cluster", "status"],
    ["send", "q", "hello"],
    ["receive", "q", "--wait-seconds", "0"],
    ["tail", "q", "--wait-seconds", "0"],
    ["tail", "q", "--wait-seconds", "0", "--delete"],
    ["delete", "q", "handle"],
    ["rewind", "q", "--sequence", "0"],
    ["topic", "create", "t"],
    ["topic", "subscribe", "t", "s", "--queue", "q"],
    ["topic", "publish", "t", "hello"],
  ];
  for (const body of ["{}", "[]", '{"name": 7}', "null"]) {
    await answering(body, async (url) => {
      for (const argv of commands) {
        const { code, stdout, stderr } = await run([...argv, "--url", url]);
        const what = `${argv.join(" ")} answered ${body}`;
        assert.equal(code, 1, `${what}: ${stderr}`);
        assert.equal(stdout, "", `${what}: nothing printed as the answer`);
        assert.match(stderr, /^error: UnexpectedResponse: .+; is --url a cmqd node\?\n$/, what);
      }
    });
  }
});

Deno.test("send --count with answers of another shape: each send failed as an unexpected response", async () => {
  await answering("{}", async (url) => {
    const { code, stderr } = await run(["send", "q", "--count", "3", "--url", url]);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /error: UnexpectedResponse: /);
    assert.doesNotMatch(stderr, /TypeError/);
  });
});

Deno.test("a TypeError in the CLI's own code is a bug: said so with its stack, exit 70, not the broker's fault", async () => {
  const getQueue = CmqdClient.prototype.getQueue;
  CmqdClient.prototype.getQueue = () => {
    throw new TypeError("Cannot read properties of undefined (reading 'name')");
  };
  try {
    const { code, stdout, stderr } = await run([
      "queue",
      "get",
      "q",
      "--url",
      "http://127.0.0.1:1",
    ]);
    assert.equal(code, 70, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, /^error: a bug in the CLI/);
    assert.match(stderr, /TypeError: Cannot read properties of undefined \(reading 'name'\)/);
    assert.match(stderr, /\n\s+at /, "the stack is printed");
    assert.doesNotMatch(stderr, /UnexpectedResponse|is --url a cmqd node/);
  } finally {
    CmqdClient.prototype.getQueue = getQueue;
  }
});

Deno.test("an error of the CLI's own while it builds the client is a bug: said so with its stack, exit 70, not uncaught", async () => {
  // The first write clientOf makes (its note on --secret-key) fails with an error no code path
  // expects: it must not escape `main` (Deno's uncaught-error report, exit 1).
  let failed = false;
  const { code, stdout, stderr } = await run(
    ["queue", "get", "q", "--url", "http://127.0.0.1:1", "--secret-id", "a", "--secret-key", "b"],
    (text) => {
      if (failed || !text.startsWith("note: --secret-key")) return;
      failed = true;
      throw new TypeError("Cannot read properties of undefined (reading 'write')");
    },
  );
  assert.ok(failed, "the error was injected");
  assert.equal(code, 70, stderr);
  assert.equal(stdout, "");
  assert.match(stderr, /^error: a bug in the CLI/);
  assert.match(stderr, /TypeError: Cannot read properties of undefined \(reading 'write'\)/);
  assert.match(stderr, /\n\s+at /, "the stack is printed");
  assert.doesNotMatch(stderr, /--help/, "not worded as bad usage");
});

Deno.test("credentials the client refuses are bad usage: exit 2 naming what is wrong, nothing sent", async () => {
  const { code, stdout, stderr } = await run(
    ["queue", "get", "q", "--url", "http://127.0.0.1:1", "--secret-id", "a b", "--secret-key", "k"],
  );
  assert.equal(code, 2, stderr);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /^error: bad --url or credentials: credentials\.secretId must be 1–128 of /m,
  );
});

Deno.test("a bug in the client's constructor is no bad usage: it goes through to be reported as a bug (exit 70)", () => {
  const args = parseArgs(["queue", "get", "q", "--url", "http://127.0.0.1:1"]);
  const bug = new TypeError("Cannot read properties of undefined (reading 'map')");
  assert.throws(
    () =>
      clientOf(args, () => {
        throw bug;
      }),
    (error) => error === bug,
  );
  // A refusal of the client's own checks stays bad usage, whatever builds the client.
  const refused = parseArgs([
    "queue",
    "get",
    "q",
    "--url",
    "http://127.0.0.1:1",
    "--secret-id",
    "a",
    "--secret-key",
    "",
  ]);
  assert.throws(() => clientOf(refused, () => assert.fail("not built")), UsageError);
});

Deno.test("send --count to a node that is down says it could not be reached, exit 1", async () => {
  // A port nothing listens on: the connection is refused.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  for (
    const argv of [["send", "q", "--count", "3"], ["send", "q", "hello"], ["queue", "get", "q"]]
  ) {
    const { code, stderr } = await run([...argv, "--url", url]);
    assert.equal(code, 1, `${argv.join(" ")}: ${stderr}`);
    assert.match(stderr, new RegExp(`could not reach ${url}`), argv.join(" "));
  }
});

Deno.test("send --count with a bad --delay-seconds is bad usage, exit 2, nothing sent", async () => {
  // The flag is read for each message: its UsageError was counted as a failed send, exit 1.
  const { code, stderr } = await run(
    ["send", "q", "--count", "3", "--delay-seconds", "-1", "--url", "http://127.0.0.1:1"],
  );
  assert.equal(code, 2, stderr);
  assert.match(stderr, /^error: --delay-seconds /);
  assert.doesNotMatch(stderr, /sends failed/);
});

Deno.test("topic subscribe answered an endpoint without queue or url is an unexpected response, not '→ undefined'", async () => {
  for (
    const endpoint of ["{}", '{"queue": 7}', '{"url": null}', '{"queue": null, "url": "x"}']
  ) {
    await answering(`{"name": "s", "endpoint": ${endpoint}}`, async (url) => {
      for (const json of [[], ["--json"]]) {
        const { code, stdout, stderr } = await run(
          ["topic", "subscribe", "t", "s", "--queue", "q", "--url", url, ...json],
        );
        const what = `endpoint ${endpoint} ${json.join(" ")}`;
        assert.equal(code, 1, `${what}: ${stderr}`);
        assert.equal(stdout, "", `${what}: nothing printed as the answer`);
        assert.match(
          stderr,
          /^error: UnexpectedResponse: the answer to topic subscribe is not the API's: endpoint\.(queue|url) is .+; is --url a cmqd node\?\n$/,
          what,
        );
      }
    });
  }
  for (
    const [endpoint, printed] of [
      ['{"queue": "q"}', "→ queue q"],
      ['{"url": "https://merchant.example/notify"}', "→ https://merchant.example/notify"],
    ]
  ) {
    await answering(`{"name": "s", "endpoint": ${endpoint}}`, async (url) => {
      const { code, stdout, stderr } = await run(
        ["topic", "subscribe", "t", "s", "--queue", "q", "--url", url],
      );
      assert.equal(code, 0, stderr);
      assert.equal(stdout, `exists (same attributes): s ${printed}\n`);
    });
  }
});

Deno.test("the system refusing a connection (PermissionDenied) is the user's setup, exit 1, not a bug", async () => {
  const getQueue = CmqdClient.prototype.getQueue;
  CmqdClient.prototype.getQueue = () => {
    throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  };
  try {
    const url = "http://127.0.0.1:1";
    const { code, stdout, stderr } = await run(["queue", "get", "q", "--url", url]);
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "error: PermissionDenied: the system refused: Permission denied (os error 13); " +
        `is this process allowed to connect to ${url}?\n`,
    );
  } finally {
    CmqdClient.prototype.getQueue = getQueue;
  }
});

Deno.test("tail --delete with standard output closed: stops, deletes only what it printed, gives the rest back, exit 1", async () => {
  const deleted: string[] = [];
  const visibility: { receiptHandle: string; visibilityTimeoutSeconds: number }[] = [];
  let receives = 0;
  const message = (n: number) => ({
    id: `m${n}`,
    sequence: n,
    body: `body ${n}`,
    receiptHandle: `h${n}`,
    enqueuedAt: 0,
    firstReceivedAt: 0,
    receiveCount: 1,
    visibleAt: 0,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const body = await request.json();
      if (path.endsWith("/messages/receive")) {
        const handles: string[] = body.deleteReceiptHandles ?? [];
        deleted.push(...handles);
        const messages = receives++ === 0 ? [message(1), message(2), message(3)] : [];
        if (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        return Response.json({ messages, deleted: handles.length, failures: [] });
      }
      if (path.endsWith("/messages/delete")) {
        deleted.push(...body.receiptHandles);
        return Response.json({ deleted: body.receiptHandles.length, failures: [] });
      }
      if (path.endsWith("/messages/visibility")) {
        visibility.push(...body.entries);
        return Response.json({ changed: body.entries.length, failures: [] });
      }
      return Response.json({ code: "NotFound", message: path }, { status: 404 });
    },
  );
  // The reader goes away after the first line: the second line's write fails (EPIPE).
  const descriptor = Object.getOwnPropertyDescriptor(process.stdout, "errored");
  let lines = 0;
  try {
    const { code, stdout, stderr } = await run(
      ["tail", "q", "--delete", "--url", `http://127.0.0.1:${server.addr.port}`],
      (text) => {
        if (!text.startsWith("1970-") || ++lines < 2) return;
        Object.defineProperty(process.stdout, "errored", {
          configurable: true,
          get: () => new Error("EPIPE"),
        });
      },
    );
    // The stub keeps the second line too: its write is the one that failed.
    assert.equal(stdout.split("\n").filter((line) => line !== "").length, 2, stdout);
    assert.equal(stderr, "error: standard output was closed; stopped\n");
    assert.equal(code, 1);
    assert.deepEqual(deleted, ["h1"], "only the message whose line was written is deleted");
    // The others are given back at once (lock 0), not failed and hidden for a retry delay.
    assert.deepEqual(visibility.map((entry) => entry.receiptHandle).sort(), ["h2", "h3"]);
    for (const entry of visibility) {
      assert.equal(entry.visibilityTimeoutSeconds, 0, JSON.stringify(visibility));
    }
  } finally {
    if (descriptor === undefined) delete (process.stdout as { errored?: unknown }).errored;
    else Object.defineProperty(process.stdout, "errored", descriptor);
    await server.shutdown();
  }
});
