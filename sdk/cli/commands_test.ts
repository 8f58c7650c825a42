/**
 * The CLI's commands on a stub client (no broker): what each does with a failing broker and
 * with flags it does not take.
 */
import assert from "node:assert/strict";
import type { CmqdClient } from "../client.ts";
import { CmqdError } from "../errors.ts";
import { booleanFlags, parseArgs, UsageError, valueFlags } from "./args.ts";
import { type CommandContext, commandFlags, runCommand } from "./commands.ts";
import { usage } from "./main.ts";

/** A context for `argv` whose client answers every call with `answer(method)`. */
function contextOf(argv: string[], answer: (method: string) => Promise<unknown>) {
  const calls: string[] = [];
  const client = new Proxy({}, {
    get: (_target, method: string) => (..._args: unknown[]) => {
      calls.push(method);
      return answer(method);
    },
  }) as CmqdClient;
  const out: string[] = [];
  const notes: string[] = [];
  const interrupt = new AbortController();
  const context: CommandContext = {
    client,
    args: parseArgs(argv),
    json: argv.includes("--json"),
    out: (text) => out.push(text),
    note: (text) => notes.push(text),
    progress: () => {},
    signal: interrupt.signal,
  };
  return { context, calls, out, notes, interrupt };
}

for (
  const [what, error] of [
    ["refused (403)", new CmqdError("AccessDenied", "not allowed", { status: 403 })],
    ["missing queue (404)", new CmqdError("QueueNotFound", "no queue", { status: 404 })],
    ["down", new CmqdError("NetworkError", "connection refused", { status: 0 })],
  ] as const
) {
  Deno.test(`tail --delete ends with the broker's error when a receive is ${what}, as tail does`, async () => {
    for (const argv of [["tail", "q"], ["tail", "q", "--delete"]]) {
      const { context, interrupt } = contextOf(argv, () => Promise.reject(error));
      // Ctrl-C after a while, so that a tail that swallows the error ends the test too.
      const guard = setTimeout(() => interrupt.abort(), 5_000);
      try {
        await assert.rejects(runCommand(context), (thrown) => thrown === error, argv.join(" "));
      } finally {
        clearTimeout(guard);
      }
    }
  });
}

Deno.test("tail --count N receives (and so locks) no more messages than it has left to print", async () => {
  const asked: number[] = [];
  let sequence = 0;
  const message = () => ({
    id: `m${++sequence}`,
    sequence,
    body: "x",
    receiptHandle: `h${sequence}`,
    enqueuedAt: 0,
    firstReceivedAt: 0,
    receiveCount: 1,
    visibleAt: 0,
  });
  const client = {
    receiveMessages: (_queue: string, request: { maxMessages: number }) => {
      asked.push(request.maxMessages);
      // At most 7 at a time: the tail must shrink its next ask to what is left to print.
      const count = Math.min(7, request.maxMessages);
      return Promise.resolve({ messages: Array.from({ length: count }, message) });
    },
  } as unknown as CmqdClient;
  const cases: [string[], number[]][] = [
    [["tail", "q", "--count", "20"], [16, 13, 6]],
    [["tail", "q", "--count", "5"], [5]],
    [["tail", "q", "--count", "5", "--max", "3"], [3, 2]],
  ];
  for (const [argv, expected] of cases) {
    asked.length = 0;
    const out: string[] = [];
    await runCommand({
      client,
      args: parseArgs(argv),
      json: false,
      out: (text) => out.push(text),
      note: () => {},
      progress: () => {},
      signal: new AbortController().signal,
    });
    assert.deepEqual(asked, expected, argv.join(" "));
    assert.equal(out.length, Number(argv[3]), argv.join(" "));
  }
});

Deno.test("a flag the command does not take is a usage error, before any request", async () => {
  const cases = [
    ["receive", "q", "--count", "5"],
    ["queue", "list", "--fifo"],
    ["queue", "get", "q", "--limit", "3"],
    ["queue", "delete", "q", "--prefix", "x"],
    ["cluster", "status", "--max", "2"],
    ["send", "q", "hi", "--max", "3"],
    ["delete", "q", "handle", "--delete"],
    ["topic", "publish", "t", "body", "--queue", "q"],
    ["topic", "create", "t", "--tags", "a"],
    ["topic", "subscribe", "t", "s", "--queue", "q", "--routing-key", "k"],
    // Flags that only count beside another one.
    ["queue", "create", "q", "--max-receive-count", "3"],
    ["queue", "create", "q", "--max-time-to-live-seconds", "600"],
    ["tail", "q", "--concurrency", "4"],
    ["tail", "q", "--delete", "--max", "3"],
  ];
  for (const argv of cases) {
    const { context, calls } = contextOf(argv, () => Promise.resolve({}));
    await assert.rejects(runCommand(context), UsageError, argv.join(" "));
    assert.deepEqual(calls, [], `${argv.join(" ")}: no request`);
  }
});

Deno.test("--help lists, for each command, exactly the flags it takes", () => {
  const global = ["url", "secret-id", "secret-key", "request-timeout-seconds", "head-timeout-ms"];
  const lines = usage.split("\n");
  const commandsAt = lines.indexOf("commands:");
  const flagsAt = lines.indexOf("flags:");
  const listed = new Map<string, Set<string>>();
  let current: Set<string> | null = null;
  for (const line of lines.slice(commandsAt + 1, flagsAt)) {
    const head = /^ {2}([a-z]+(?: [a-z]+)?)(?= [A-Z[]|$)/.exec(line);
    const key = head === null ? null : /^(queue|topic|cluster) /.test(head[1]) ||
        !head[1].includes(" ")
      ? head[1]
      : head[1].split(" ")[0];
    if (key !== null) listed.set(key, current = new Set());
    for (const flag of line.matchAll(/--([a-z-]+)/g)) current?.add(flag[1]);
  }
  assert.deepEqual([...listed.keys()].sort(), Object.keys(commandFlags).sort());
  for (const [key, flags] of Object.entries(commandFlags)) {
    assert.deepEqual([...listed.get(key)!].sort(), [...flags].sort(), key);
  }
  const globalListed = [...usage.slice(usage.indexOf("flags:")).matchAll(/^ {2}--([a-z-]+)/gm)]
    .map((match) => match[1]);
  assert.deepEqual(globalListed.sort(), [...global, "json"].sort());
  for (const flag of [...Object.values(commandFlags).flat(), ...global, "json", "help"]) {
    assert.ok(valueFlags.has(flag) || booleanFlags.has(flag), `--${flag} is parsed`);
  }
  for (const flag of [...valueFlags, ...booleanFlags]) {
    assert.ok(
      [...Object.values(commandFlags).flat(), ...global, "json", "help"].includes(flag),
      `--${flag} is taken by some command`,
    );
  }
});
