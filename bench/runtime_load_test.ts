import assert from "node:assert/strict";
import { startNoopServer } from "./noop_server.ts";
import { parseRuntimeArgs, runRuntimeLoad } from "./runtime_load.ts";
import { compareRuntimes } from "./runtimes.ts";

const nodeAvailable = await new Deno.Command("node", { args: ["--version"], stdout: "null" })
  .output().then((output) => output.success, () => false);

const quick = ["--seconds", "0.3", "--warmup", "0.1", "--producers", "1", "--consumers", "1"];

Deno.test("runtime_load runs the both shape through raw lanes and through the helpers", async () => {
  const server = await startNoopServer({ port: 0 });
  try {
    for (const api of ["raw", "helpers"]) {
      const row = await runRuntimeLoad(
        parseRuntimeArgs(["--url", server.url, "--api", api, ...quick]),
      );
      assert.equal(row.runtime, "deno");
      assert.equal(row.api, api);
      assert.equal(row.errors, 0);
      assert.ok((row.producedPerSec as number) > 0 && (row.consumedPerSec as number) > 0);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("runtime_load refuses unknown flags and apis", () => {
  assert.throws(() => parseRuntimeArgs(["--threads", "2"]), /bad flag/);
  assert.throws(() => parseRuntimeArgs(["--api", "magic"]), /raw\|helpers/);
});

Deno.test({
  name: "runtimes.ts runs the bundled client under Deno and under Node, row for row",
  ignore: !nodeAvailable,
  async fn() {
    const server = await startNoopServer({ port: 0 });
    try {
      // A longer window than `quick`: Node starts the bundle within it, on a machine busy with
      // other tests too (0.3 s once measured nothing consumed under a loaded CI run).
      const args = ["--url", server.url, "--api", "raw", ...quick, "--seconds", "1.5"];
      const rows = await compareRuntimes(args);
      assert.deepEqual(rows.map((row) => `${row.runtime}/${row.api}`), ["deno/raw", "node/raw"]);
      assert.ok(
        rows.every((row) => row.errors === 0 && (row.consumedPerSec as number) > 0),
        JSON.stringify(rows),
      );
    } finally {
      await server.shutdown();
    }
  },
});
