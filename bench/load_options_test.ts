import assert from "node:assert/strict";
import { defaultLoadOptions, parseLoadArgs, shapeList } from "./load_options.ts";

Deno.test("options parse spaced, joined and bare flags over the defaults", () => {
  const options = parseLoadArgs([
    "--producers",
    "4",
    "--ack-mode=separate",
    "--url",
    "http://x:1",
    "--shape",
    "produce,both",
  ]);
  assert.equal(options.producers, 4);
  assert.equal(options.ackMode, "separate");
  assert.equal(options.url, "http://x:1");
  assert.equal(options.batch, defaultLoadOptions.batch);
});

Deno.test("an unknown option or a bad value is an error, never a silent default", () => {
  assert.throws(() => parseLoadArgs(["--producer", "4"]), /unknown option/);
  assert.throws(() => parseLoadArgs(["--seconds", "ten"]), /needs a number/);
  assert.throws(() => parseLoadArgs(["--ack-mode", "never"]), /ack-mode/);
  assert.throws(() => parseLoadArgs(["--shape", "fast"]), /unknown shape/);
  assert.throws(() => parseLoadArgs(["--api", "raw,magic"]), /unknown api/);
  assert.throws(
    () => parseLoadArgs(["--node-pids", "101,leader"]),
    /--node-pids: .leader. is not a PID/,
  );
  assert.equal(parseLoadArgs(["--node-pids", "101,102,103"]).nodePids, "101,102,103");
});

Deno.test("all names every shape but the long backlog one", () => {
  assert.deepEqual(shapeList("all"), ["produce", "consume", "both", "latency"]);
  assert.deepEqual(shapeList("backlog"), ["backlog"]);
});
