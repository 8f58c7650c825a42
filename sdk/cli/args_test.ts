import assert from "node:assert/strict";
import { integerFlag, parseArgs, UsageError } from "./args.ts";
import { queueAttributes } from "./commands.ts";

Deno.test("parseArgs: positionals, valued and boolean flags, a leading -- dropped", () => {
  const args = parseArgs([
    "--",
    "send",
    "orders",
    "hi",
    "--count",
    "3",
    "--json",
    "--url=http://x",
  ]);
  assert.deepEqual(args.positionals, ["send", "orders", "hi"]);
  assert.deepEqual(
    [...args.flags],
    [["count", "3"], ["json", "true"], ["url", "http://x"]],
  );
});

Deno.test("parseArgs: a later -- ends the flags, so a body may start with --", () => {
  assert.deepEqual(parseArgs(["send", "q", "--", "--not-a-flag"]).positionals, [
    "send",
    "q",
    "--not-a-flag",
  ]);
});

Deno.test("parseArgs: unknown flags, missing values and values on booleans are usage errors", () => {
  assert.throws(() => parseArgs(["queue", "list", "--limt", "3"]), UsageError);
  assert.throws(() => parseArgs(["send", "q", "--count"]), /needs a value/);
  assert.throws(() => parseArgs(["queue", "list", "--json=yes"]), /takes no value/);
});

Deno.test("integerFlag: within range or a usage error naming the range", () => {
  const args = parseArgs(["x", "--count", "12", "--max", "0", "--limit", "1.5"]);
  assert.equal(integerFlag(args, "count", { min: 1, max: 100 }), 12);
  assert.equal(integerFlag(args, "offset", { min: 0, max: 9 }, 4), 4);
  assert.throws(() => integerFlag(args, "max", { min: 1, max: 256 }), /from 1 to 256/);
  assert.throws(() => integerFlag(args, "limit", { min: 1, max: 9 }), UsageError);
});

Deno.test("queueAttributes: kebab-case flags become the API's attributes", () => {
  const args = parseArgs([
    "queue",
    "create",
    "q",
    "--visibility-timeout-seconds",
    "60",
    "--fifo",
    "--dead-letter-queue",
    "dlq",
    "--max-receive-count",
    "3",
  ]);
  assert.deepEqual(queueAttributes(args), {
    visibilityTimeoutSeconds: 60,
    fifo: true,
    deadLetter: { queue: "dlq", maxReceiveCount: 3, maxTimeToLiveSeconds: undefined },
  });
});

Deno.test("parseArgs: a flag given twice is a usage error, not the last one winning", () => {
  assert.throws(() => parseArgs(["queue", "list", "--limit", "3", "--limit=4"]), /--limit twice/);
  assert.throws(() => parseArgs(["x", "--url", "http://a", "--url", "http://b"]), UsageError);
  assert.throws(() => parseArgs(["x", "--json", "--json"]), /--json twice/);
});

Deno.test("parseArgs: a flag's value is not the next flag (a value starting with -- takes =)", () => {
  assert.throws(() => parseArgs(["queue", "list", "--prefix", "--json"]), /--prefix needs a value/);
  assert.throws(() => parseArgs(["send", "q", "hi", "--group-id", "--count", "3"]), UsageError);
  const args = parseArgs(["send", "q", "hi", "--group-id=--odd", "--dedup-id", "-1"]);
  assert.equal(args.flags.get("group-id"), "--odd");
  assert.equal(args.flags.get("dedup-id"), "-1");
});
