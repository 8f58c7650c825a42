import assert from "node:assert/strict";
import { startBroker } from "./process.ts";

// A supervisor (or a test) may stop the broker the moment it prints "serving": the stop signals
// must be handled by then, or SIGTERM kills it outright (exit 143, no shutdown). CI hit that
// once, under load, when the listeners were installed just after the line.

Deno.test("main.ts listens for SIGINT and SIGTERM before it prints that it serves", async () => {
  const source = await Deno.readTextFile(new URL("../../main.ts", import.meta.url));
  const serving = source.indexOf("serving ${url}");
  assert.ok(serving > 0, "main.ts prints the serving line");
  for (const signal of ["SIGINT", "SIGTERM"]) {
    const listener = source.indexOf(`Deno.addSignalListener("${signal}"`);
    assert.ok(listener > 0 && listener < serving, `${signal} is handled before "serving"`);
  }
});

Deno.test("a SIGTERM sent as soon as the broker serves shuts it down cleanly", async () => {
  for (let round = 0; round < 3; round++) {
    const dataDir = await Deno.makeTempDir({ prefix: "cmqd-stop-" });
    try {
      const broker = await startBroker({ dataDir });
      const code = await broker.stop(); // SIGTERM right after reading "serving"
      assert.equal(code, 0, broker.output());
      assert.match(broker.output(), /SIGTERM, shutting down[\s\S]*stopped/);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  }
});
