import assert from "node:assert/strict";
import { splitArgs } from "./run_all.ts";

Deno.test("run_all keeps its own flags and passes the rest to the load generator", () => {
  const { own, load } = splitArgs([
    "--program",
    "dist/cmqd.js",
    "--shape",
    "produce",
    "--broker-args=--max-message-bytes 1024",
    "--keep-data",
    "--inflight",
    "16",
  ]);
  assert.equal(own.program, "dist/cmqd.js");
  assert.deepEqual(own.brokerArgs, ["--max-message-bytes", "1024"]);
  assert.equal(own.keepData, true);
  assert.deepEqual(load, ["--shape", "produce", "--inflight", "16"]);
  assert.ok(splitArgs([]).own.program.endsWith("/main.ts"), "main.ts by default");
});
