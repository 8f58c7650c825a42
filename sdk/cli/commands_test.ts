/**
 * The CLI's commands on a stub client (no broker): what each does with a failing broker and
 * with flags it does not take.
 */
import assert from "node:assert/strict";
import type { CmqdClient } from "../client.ts";
import { CmqdError } from "../errors.ts";
import { parseArgs } from "./args.ts";
import { type CommandContext, runCommand } from "./commands.ts";

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
