/**
 * The CLI's usage and output edges, each a `deno run sdk/cli/main.ts` process: a bad --url or
 * extra argument, no command, request signing with --secret-id/--secret-key, and a standard
 * output closed by its reader.
 */
import assert from "node:assert/strict";
import { startTestBroker } from "../../sdk/testing.ts";
import { cli, cliPath } from "./_cli.ts";

Deno.test("the CLI's usage errors before any request: a bad --url, an extra argument", async () => {
  // Nothing listens at this URL: every case fails before connecting.
  const url = "http://127.0.0.1:1";
  for (const bad of ["notaurl", "ftp://x", "http://", "127.0.0.1:9876"]) {
    const result = await cli(url, "--url", bad, "queue", "list");
    assert.equal(result.code, 2, `--url ${bad}: ${result.stderr}`);
    assert.match(result.stderr, /error: bad --url '.*': give a base URL/);
  }
  // Only http(s)://host[:port]: a path, query or fragment would be glued before every path.
  for (
    const bad of ["http://127.0.0.1:1/cmqd", "http://127.0.0.1:1/?x=1", "http://127.0.0.1:1#x"]
  ) {
    for (const [flag, env] of [[["--url", bad], {}], [[], { CMQD_URL: bad }]] as const) {
      const result = await cli(url, ...flag, "queue", "list", { env });
      const source = flag.length > 0 ? "--url" : "CMQD_URL";
      assert.equal(result.code, 2, `${source} ${bad}: ${result.stderr}`);
      assert.equal(
        result.stderr.split("\n")[0],
        `error: bad ${source} '${bad}': give a base URL like http://127.0.0.1:9876`,
      );
    }
  }
  // A key in the URL is refused, and its secret is not printed.
  for (const bad of ["http://AKIDx:s3cret-key@127.0.0.1:1", "http://s3cret-key@127.0.0.1:1"]) {
    const result = await cli(url, "--url", bad, "queue", "list");
    assert.equal(result.code, 2, result.stderr);
    assert.doesNotMatch(result.stderr + result.stdout, /s3cret/);
    assert.match(result.stderr, /^error: bad --url 'http:\/\/…@127\.0\.0\.1:1': a key goes in/);
  }
  for (
    const args of [["queue", "get", "a", "b"], ["cluster", "status", "x"], ["send", "q", "b", "c"]]
  ) {
    const result = await cli(url, ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`unexpected argument '${args.at(-1)}'`));
  }
});

Deno.test("the CLI without a command: the usage on stderr, exit 2, stdout empty (even with --json)", async () => {
  const url = "http://127.0.0.1:1";
  for (const args of [[], ["--json"]]) {
    const result = await cli(url, ...args);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stdout, "", `${args.join(" ")}: nothing on stdout`);
    assert.match(result.stderr, /^usage: deno task cli -- <command>/);
  }
  const help = await cli(url, "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: /, "--help: the usage is the output");
  assert.equal(help.stderr, "");
});

Deno.test("the CLI signs with --secret-id/--secret-key, and a wrong or missing key is refused", async () => {
  const credentials = { secretId: "AKIDcli", secretKey: "cli-secret-0123456789" };
  const broker = await startTestBroker({ credentials });
  try {
    const signed = ["--secret-id", credentials.secretId, "--secret-key", credentials.secretKey];
    const flagged = await cli(broker.url, "queue", "create", "signed", ...signed);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.match(flagged.stdout, /created/);
    // A key on the command line is readable by any user of the machine (ps): the CLI says so.
    assert.equal(
      flagged.stderr,
      "note: --secret-key is visible to other users of this machine (ps); " +
        "give it in CMQD_SECRET_KEY instead\n",
    );
    // The environment variables sign the same way, without the note.
    const fromEnv = await cli(broker.url, "queue", "get", "signed", "--json", {
      env: { CMQD_SECRET_ID: credentials.secretId, CMQD_SECRET_KEY: credentials.secretKey },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(JSON.parse(fromEnv.stdout).name, "signed");
    assert.equal(fromEnv.stderr, "");
    const unsigned = await cli(broker.url, "queue", "list");
    assert.equal(unsigned.code, 1);
    assert.match(unsigned.stderr, /error: Unauthenticated/);
    const wrong = await cli(
      broker.url,
      "queue",
      "list",
      "--secret-id",
      "AKIDcli",
      "--secret-key",
      "nope",
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /error: Unauthenticated/);
    const half = await cli(broker.url, "queue", "list", "--secret-id", "AKIDcli");
    assert.equal(half.code, 2);
  } finally {
    await broker.stop();
  }
});

Deno.test("the CLI whose standard output is closed by its reader (| head) stops with one line, exit 1", async () => {
  // A node that answers every receive with 100 messages of 3 KB and records what is deleted.
  let answering!: () => void;
  let mayAnswer = Promise.resolve();
  const deleted: string[] = [];
  let sequence = 0;
  const message = () => ({
    id: `m${++sequence}`,
    sequence,
    body: "x".repeat(3000),
    receiptHandle: `h${sequence}`,
    enqueuedAt: 0,
    firstReceivedAt: 0,
    receiveCount: 1,
    visibleAt: 0,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = request.body === null ? {} : await request.json().catch(() => ({}));
    const path = new URL(request.url).pathname;
    await mayAnswer;
    if (path === "/v1/queues/q/messages/receive") {
      deleted.push(...(body.deleteReceiptHandles ?? []));
      return Response.json({
        messages: Array.from({ length: Math.min(body.maxMessages ?? 1, 100) }, message),
        deleted: body.deleteReceiptHandles?.length ?? 0,
        failures: [],
      });
    }
    if (path === "/v1/queues/q/messages/delete") {
      deleted.push(...body.receiptHandles);
      return Response.json({ deleted: body.receiptHandles.length, failures: [] });
    }
    if (path === "/v1/queues/q/messages/visibility") {
      return Response.json({ entries: [], failures: [] });
    }
    return Response.json({ error: { code: "NotFound", message: path } }, { status: 404 });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    for (
      const args of [
        ["receive", "q", "--max", "100", "--json"],
        ["tail", "q", "--json"],
        ["tail", "q", "--delete", "--json"],
      ]
    ) {
      mayAnswer = new Promise<void>((resolve) => answering = resolve);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", cliPath, ...args],
        env: { CMQD_URL: url, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // The reader goes away before the first line (the node answers only after that).
      await child.stdout.cancel();
      answering();
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
      ]);
      assert.equal(stderr, "error: standard output was closed; stopped\n", args.join(" "));
      assert.equal(status.code, 1, args.join(" "));
    }
    // No line of `tail --delete` was printed, so none of its messages was deleted.
    assert.deepEqual(deleted, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the CLI's -h and help print the usage as --help does: on stdout, exit 0", async () => {
  for (const args of [["-h"], ["help"], ["queue", "list", "-h"]]) {
    const result = await cli("http://127.0.0.1:1", ...args);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stdout, /^usage: /, `${args.join(" ")}: the usage is the output`);
    assert.equal(result.stderr, "");
  }
  // After `--` it is a word like any other: a message body.
  const body = await cli("http://127.0.0.1:1", "send", "q", "--", "-h");
  assert.equal(body.code, 1, "sent (to a node that is down), not taken for help");
});

Deno.test("the CLI names a group's actions when one is missing, and refuses an empty name", async () => {
  const url = "http://127.0.0.1:1";
  const cases: [string[], RegExp][] = [
    [["queue"], /error: queue needs an action: create, list, get, delete, purge\n/],
    [["topic"], /error: topic needs an action: create, subscribe, publish\n/],
    [["cluster"], /error: cluster needs an action: status\n/],
    [["queue", "frobnicate"], /error: unknown command 'queue frobnicate'/],
    [["queue", "get", ""], /error: empty queue name\n/],
    [["send", "", "hello"], /error: empty queue name\n/],
    [["topic", "publish", "", "hello"], /error: empty topic name\n/],
    [["topic", "subscribe", "t", "", "--queue", "q"], /error: empty subscription name\n/],
  ];
  for (const [args, expected] of cases) {
    const result = await cli(url, ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, expected, args.join(" "));
    assert.equal(result.stdout, "");
  }
});

Deno.test("the CLI pointed at a server that is not cmqd: one error line, exit 1, no stack trace", async () => {
  // A JSON answer of another shape (some other service on that port) or a redirect.
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    if (new URL(request.url).pathname.endsWith("/cluster")) {
      return new Response(null, { status: 301, headers: { location: "https://elsewhere:8443/" } });
    }
    return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    for (const args of [["queue", "list"], ["receive", "q"], ["send", "q", "hi"], ["tail", "q"]]) {
      const result = await cli(url, ...args);
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /^error: UnexpectedResponse: .*is --url a cmqd node\?/);
      assert.doesNotMatch(result.stderr, /Uncaught|\n\s+at /, "no stack trace");
    }
    const redirect = await cli(url, "cluster", "status");
    assert.equal(redirect.code, 1);
    assert.match(redirect.stderr, /HTTP 301, a redirect to https:\/\/elsewhere:8443\//);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the CLI run without Deno's net or env permission says which one to grant, exit 2, not a bug", async () => {
  /** `deno run` with only `permissions` (no prompt: a terminal would ask instead). */
  const run = async (permissions: string[], ...args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...permissions, cliPath, ...args],
      // Nothing listens there: the connection is never tried.
      env: { CMQD_URL: "http://127.0.0.1:1", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  };
  const cases: [string[], string[], string][] = [
    [["--allow-env"], ["queue", "get", "q"], "net"],
    [["--allow-env"], ["send", "q", "--count", "3"], "net"],
    [["--allow-env"], ["tail", "q", "--delete"], "net"],
    [[], ["queue", "list"], "env"],
    [["--allow-net", "--allow-env=CMQD_URL"], ["cluster", "status"], "env"],
  ];
  for (const [permissions, args, missing] of cases) {
    const what = `${permissions.join(" ") || "no permission"}: ${args.join(" ")}`;
    const result = await run(permissions, ...args);
    assert.equal(result.code, 2, `${what}: ${result.stderr}`);
    assert.equal(result.stdout, "", what);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${what}: one line, no stack: ${result.stderr}`);
    assert.match(
      lines[0],
      new RegExp(
        `^error: Deno's ${missing} permission is missing: Requires ${missing} access to .+; ` +
          "run the CLI with --allow-net --allow-env \\(deno task cli does\\)$",
      ),
      what,
    );
  }
});
