/**
 * The CLI's commands on a stub client (no broker): what each does with a failing broker and
 * with flags it does not take; `rewind` also on a real broker (`startTestBroker`).
 */
import assert from "node:assert/strict";
import type { CmqdClient } from "../client.ts";
import { CmqdError } from "../errors.ts";
import { FakeQueue } from "../_fake_queue.ts";
import { startTestBroker } from "../testing.ts";
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

Deno.test("tail --delete --count N with a wider --concurrency releases at once the messages past N", async () => {
  // A receive asks for the free slots (4), not for the 2 left to print: the 2 others are given
  // back at once (visibility 0), not failed (re-locked for a retry delay).
  const queue = new FakeQueue();
  queue.send("a", "b", "c", "d", "e");
  const out: string[] = [];
  const argv = [
    "tail",
    "q",
    "--delete",
    "--count",
    "2",
    "--concurrency",
    "4",
    "--wait-seconds",
    "0",
  ];
  await runCommand({
    client: queue as unknown as CmqdClient,
    args: parseArgs(argv),
    json: false,
    out: (text) => out.push(text),
    note: () => {},
    progress: () => {},
    signal: new AbortController().signal,
  });
  assert.equal(out.length, 2);
  const changes = queue.callsOf("visibility").flatMap((call) => call.entries);
  // The 2 past N; a receive that was on the wire as the tail ended may add its own releases.
  assert.ok(changes.length >= 2, `${changes.length} lock changes`);
  assert.deepEqual(changes.filter((entry) => entry.visibilityTimeoutSeconds !== 0), []);
  assert.equal(queue.remaining, 3);
  const again = await queue.receiveMessages("q", { maxMessages: 5 });
  assert.equal(again.messages.length, 3, "none of them hidden for a retry delay");
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
    ["rewind", "q", "--sequence", "1", "--max", "3"],
    // One dedup id for N messages would enqueue one of them and report N sent.
    ["send", "q", "hi", "--count", "3", "--dedup-id", "same"],
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

Deno.test("rewind takes exactly one of --to and --sequence, and only a time it can read: usage errors before any request", async () => {
  const cases = [
    ["rewind"],
    ["rewind", "q"],
    ["rewind", "q", "--to", "1000", "--sequence", "1"],
    ["rewind", "q", "--sequence", "-1"],
    ["rewind", "q", "--sequence", "1.5"],
    ["rewind", "q", "--to", "-5"],
    ["rewind", "q", "--to", "yesterday"],
    ["rewind", "q", "--to", "2026-12-05"],
    // Without a zone the time would be the machine's local time: refused.
    ["rewind", "q", "--to", "2026-12-05T13:00:00"],
    // Dates that do not exist, which Date.parse would roll over.
    ["rewind", "q", "--to", "2026-02-30T00:00:00Z"],
    ["rewind", "q", "--to", "2026-12-05T24:00:00Z"],
    ["rewind", "q", "--to", "2026-13-01T00:00:00Z"],
    ["rewind", "q", "--to", "1969-12-31T23:59:59Z"],
    ["rewind", "q", "--to", "99999999999999999999"],
    ["rewind", "q", "extra", "--sequence", "1"],
  ];
  for (const argv of cases) {
    const { context, calls } = contextOf(argv, () => Promise.resolve({}));
    await assert.rejects(runCommand(context), UsageError, argv.join(" "));
    assert.deepEqual(calls, [], `${argv.join(" ")}: no request`);
  }
});

Deno.test("rewind sends the time --to names in epoch milliseconds, whatever its zone", async () => {
  const cases: [string, number][] = [
    ["1796475600000", 1796475600000],
    ["2026-12-05T13:00:00Z", 1796475600000],
    ["2026-12-05T14:00:00.250+01:00", 1796475600250],
    ["2026-12-05T08:30-04:30", 1796475600000],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29)],
  ];
  for (const [to, timestamp] of cases) {
    const requests: unknown[] = [];
    const client = {
      rewind: (queue: string, request: unknown) => {
        requests.push([queue, request]);
        return Promise.resolve({ from: { timestamp, sequence: 7 }, messages: 2 });
      },
    } as unknown as CmqdClient;
    const { context, out } = contextOf(["rewind", "q", "--to", to], () => Promise.reject());
    context.client = client;
    assert.equal(await runCommand(context), 0);
    assert.deepEqual(requests, [["q", { timestamp }]], to);
    assert.deepEqual(out, [
      `rewound q from sequence 7 (${
        new Date(timestamp).toISOString()
      }): 2 messages to deliver again`,
    ]);
  }
});

Deno.test("rewind on a real broker: --sequence and --to bring deleted messages back; --json is the API's answer", async () => {
  const broker = await startTestBroker();
  const run = async (...argv: string[]) => {
    const { context, out } = contextOf(argv, () => Promise.reject());
    context.client = broker.client;
    const status = await runCommand(context);
    return { status, out };
  };
  const sendAndDelete = async () => {
    for (const body of ["a", "b", "c"]) await broker.client.sendMessages("r", [{ body }]);
    const { messages } = await broker.client.receiveMessages("r", { maxMessages: 10 });
    assert.equal(messages.length, 3);
    const deleted = await broker.client.deleteMessages(
      "r",
      messages.map((message) => message.receiptHandle),
    );
    assert.equal(deleted.deleted, 3);
    return messages.sort((one, other) => one.sequence - other.sequence);
  };
  try {
    await broker.client.createQueue("r", { rewindSeconds: 3600 });
    const [first, second] = await sendAndDelete();
    const bySequence = await run("rewind", "r", "--sequence", String(second.sequence), "--json");
    assert.equal(bySequence.status, 0);
    assert.deepEqual(JSON.parse(bySequence.out[0]), {
      from: { timestamp: second.enqueuedAt, sequence: second.sequence },
      messages: 2,
    });
    assert.equal((await broker.client.getQueue("r")).activeMessages, 2);

    // --to in another zone than the broker's: the message sent at that very millisecond is the
    // first one back (the broker's enqueuedAt is exact; a client clock would not be).
    await broker.client.purge("r");
    const at = new Date(first.enqueuedAt + 3_600_000).toISOString().replace("Z", "+01:00");
    const byTime = await run("rewind", "r", "--to", at);
    assert.equal(byTime.status, 0);
    assert.deepEqual(byTime.out, [
      `rewound r from sequence ${first.sequence} (${
        new Date(first.enqueuedAt).toISOString()
      }): 3 messages to deliver again`,
    ]);
    assert.equal((await broker.client.getQueue("r")).activeMessages, 3);

    // The broker's refusals are its errors (the CLI exits 1 with the code).
    await assert.rejects(run("rewind", "r", "--to", String(Date.now() + 3_600_000)), {
      code: "InvalidParameter",
      status: 400,
    });
    await assert.rejects(run("rewind", "missing", "--sequence", "0"), { status: 404 });
  } finally {
    await broker.stop();
  }
});

Deno.test("send --count prints how many sends failed and each distinct error once", async () => {
  const errors = [
    new CmqdError("QueueNotFound", "no queue q", { status: 404 }),
    new CmqdError("InvalidParameter", "too big", { status: 400, field: "messages" }),
  ];
  let call = 0;
  // One message a batch: the calls fail in turn with one error, then the other.
  const { context, out, notes } = contextOf(
    ["send", "q", "x{i}", "--count", "6", "--batch-size", "1"],
    (method) =>
      method === "getQueue"
        ? Promise.resolve({ name: "q", fifo: false })
        : Promise.reject(errors[call++ % 2]),
  );
  assert.equal(await runCommand(context), 1);
  assert.equal(call, 6, "the sends on the way when the first failed settle");
  assert.match(out[0], /^sent 0 messages to q in /);
  assert.deepEqual(notes, [
    "error: 6 of 6 sends failed (0 not sent):",
    "error: QueueNotFound: no queue q (3 sends)",
    "error: InvalidParameter: too big (field messages) (3 sends)",
  ]);
});

Deno.test("tail with a --count or --timeout-seconds that Ctrl-C cut short exits 130; a plain tail ends 0", async () => {
  const cases: [string[], number][] = [
    [["tail", "q"], 0],
    [["tail", "q", "--delete"], 0],
    [["tail", "q", "--count", "5"], 130],
    [["tail", "q", "--delete", "--count", "5"], 130],
    [["tail", "q", "--timeout-seconds", "600"], 130],
  ];
  for (const [argv, expected] of cases) {
    const polls = new AbortController();
    // Every receive long-polls until the test ends it, as on an empty queue.
    const { context, interrupt } = contextOf(argv, () =>
      new Promise((_resolve, reject) => {
        const aborted = () =>
          reject(new CmqdError("Aborted", "the call was aborted", { status: 0 }));
        if (polls.signal.aborted) aborted();
        polls.signal.addEventListener("abort", aborted, { once: true });
      }));
    const running = runCommand(context);
    await new Promise((resolve) => setTimeout(resolve, 20));
    interrupt.abort();
    polls.abort();
    assert.equal(await running, expected, argv.join(" "));
  }
});

Deno.test("send --count --group-id on a real broker: a group's sends held back after a failure are reported as not sent, not as failures", async () => {
  const broker = await startTestBroker();
  try {
    // 150 fit the backlog; the batch that would pass it is refused whole (429 BacklogFull), and
    // the group's sends queued behind it are not sent (to keep the group in order).
    await broker.client.createQueue("g", { maxBacklog: 150 });
    const { context, out, notes } = contextOf(
      ["send", "g", "m{i}", "--count", "400", "--group-id", "orders", "--batch-size", "50"],
      () => Promise.reject(),
    );
    context.client = broker.client;
    assert.equal(await runCommand(context), 1);
    assert.match(out[0], /^sent 150 messages to g in /);
    assert.equal((await broker.client.getQueue("g")).activeMessages, 150);
    assert.equal(notes.length, 2, notes.join("\n"));
    assert.equal(notes[0], "error: 50 of 400 sends failed (200 not sent):");
    assert.match(notes[1], /^error: BacklogFull: .* \(50 sends\)$/);
    assert.ok(!notes.join("\n").includes("EarlierSendFailed"), notes.join("\n"));

    await broker.client.createQueue("g2", { maxBacklog: 150 });
    const inJson = contextOf(
      ["send", "g2", "m{i}", "--count", "400", "--group-id", "o", "--batch-size", "50", "--json"],
      () => Promise.reject(),
    );
    inJson.context.client = broker.client;
    assert.equal(await runCommand(inJson.context), 1);
    const { sent, failed, notSent } = JSON.parse(inJson.out[0]);
    assert.deepEqual({ sent, failed, notSent }, { sent: 150, failed: 50, notSent: 200 });
  } finally {
    await broker.stop();
  }
});

Deno.test("send --count to a FIFO queue without --group-id keeps the queue's order: one batch on the wire at a time, none sent after a failed one", async () => {
  // On a FIFO queue the messages without a groupId are one queue-wide group: batches on the wire
  // together may be stored in another order, and those after a failed one land past its gap.
  // A key that may send but not read the queue: sent in the FIFO order, whatever the queue.
  for (const fifo of [true, false, "refused"] as const) {
    const sent: string[][] = [];
    let onWire = 0;
    let onWireMax = 0;
    const client = {
      getQueue: () =>
        fifo === "refused"
          ? Promise.reject(new CmqdError("AccessDenied", "no read", { status: 403 }))
          : Promise.resolve({ name: "f", fifo }),
      sendMessages: async (_queue: string, entries: { body: string }[]) => {
        const call = sent.push(entries.map((entry) => entry.body));
        onWireMax = Math.max(onWireMax, ++onWire);
        await new Promise((resolve) => setTimeout(resolve, 5));
        onWire--;
        if (call === 2) {
          throw new CmqdError("NoLeader", "no leader", { status: 503 });
        }
        return { messages: entries.map((_, index) => ({ id: `m${index}`, sequence: index })) };
      },
    } as unknown as CmqdClient;
    const { context, out, notes } = contextOf(
      ["send", "f", "m{i}", "--count", "40", "--batch-size", "5"],
      () => Promise.reject(),
    );
    context.client = client;
    assert.equal(await runCommand(context), 1);
    if (fifo !== false) {
      assert.equal(onWireMax, 1, "one batch of the queue-wide group on the wire at a time");
      assert.equal(sent.length, 2, "nothing sent after the failed batch");
      assert.match(out[0], /^sent 5 messages to f in /);
      assert.deepEqual(notes, [
        ...fifo === "refused"
          ? [
            "note: could not read queue f (AccessDenied): sending in order, one batch at a time, " +
            "as to a FIFO queue",
          ]
          : [],
        "error: 5 of 40 sends failed (30 not sent):",
        "error: NoLeader: no leader (5 sends)",
      ]);
    } else {
      assert.ok(onWireMax > 1, "a standard queue's batches go together");
    }
  }
});

Deno.test("an empty item in a list flag is a usage error, before any request: the subscription would take every message", async () => {
  const cases = [
    // A filter the shell expanded to nothing ("$TAGS" unset) made a subscription without one.
    ["topic", "subscribe", "t", "s", "--queue", "q", "--filter-tags", ""],
    ["topic", "subscribe", "t", "s", "--queue", "q", "--filter-tags", " "],
    ["topic", "subscribe", "t", "s", "--queue", "q", "--filter-tags", "paid,,refunded"],
    ["topic", "subscribe", "t", "s", "--queue", "q", "--binding-keys", "orders.#,"],
    ["topic", "subscribe", "t", "s", "--push-url", "http://h/", "--binding-keys", ","],
    ["topic", "publish", "t", "body", "--tags", ""],
    ["topic", "publish", "t", "body", "--tags", "paid, "],
  ];
  for (const argv of cases) {
    const { context, calls } = contextOf(argv, () => Promise.resolve({}));
    await assert.rejects(
      runCommand(context),
      (error) =>
        error instanceof UsageError &&
        /^--(filter-tags|binding-keys|tags): item \d+ of '[^']*' is empty;/.test(error.message),
      argv.join(" "),
    );
    assert.deepEqual(calls, [], `${argv.join(" ")}: no request`);
  }
  // Spaces around items are still trimmed.
  const { context, calls } = contextOf(
    ["topic", "subscribe", "t", "s", "--queue", "q", "--filter-tags", "paid, refunded"],
    () => Promise.resolve({ subscription: { name: "s", endpoint: { queue: "q" } }, created: true }),
  );
  assert.equal(await runCommand(context), 0);
  assert.deepEqual(calls, ["subscribe"]);
});
