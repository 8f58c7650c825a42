import assert from "node:assert/strict";
import { stopLine } from "./errors.ts";

Deno.test("a replica's stop is warned of with its stack, but an expected one in its owner's line", () => {
  const failure = new Error("fsync failed");
  const unexpected = stopLine(failure, null);
  assert.ok(unexpected.startsWith("replica stopped: Error: fsync failed\n"), unexpected);
  assert.match(unexpected, /^ {4}at /m);
  const expected = stopLine(new Error("log entry 4 has command type 49"), "entry 4: upgrade");
  assert.equal(expected, "replica stopped: entry 4: upgrade");
});
