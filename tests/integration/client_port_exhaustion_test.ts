/**
 * A client port whose connections use up the process's file descriptors (anyone who can reach
 * it, without credentials: idle TCP connections are enough) must not end the node. Deno.serve
 * stops for good when an accept fails with EMFILE, and the node used to exit on the rejection
 * it leaves; the node now serves the port again once descriptors are free.
 */
import assert from "node:assert/strict";
import { eventually, startBroker } from "./process.ts";

/** Runs the broker with at most this many open files (soft and hard limit). */
const openFilesMax = 256;

Deno.test("idle connections up to the file limit stop the client port for a while, not the node", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-emfile-" });
  const broker = await startBroker({
    dataDir,
    launcher: ["sh", "-c", `ulimit -n ${openFilesMax} && exec "$@"`, "sh"],
  });
  const held: Deno.Conn[] = [];
  try {
    const port = Number(new URL(broker.url).port);
    // Connect until the broker can't accept any more (it then stops listening: refused).
    for (let count = 0; count < 2 * openFilesMax; count++) {
      try {
        held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      } catch {
        break;
      }
    }
    assert.ok(held.length < 2 * openFilesMax, "the broker accepted every connection");
    await eventually(
      "the broker to report the stopped client port",
      () => Promise.resolve(/too many open files/i.test(broker.output()) ? true : undefined),
    );
    for (const conn of held.splice(0)) conn.close();
    const health = await eventually("the client port to serve again", async () => {
      const response = await fetch(`${broker.url}/healthz`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      return response.status;
    }, 30_000);
    assert.equal(health, 200);
    assert.match(broker.output(), /client port \d+: serving again/);
    assert.doesNotMatch(broker.output(), /Uncaught/);
    // The server started again stops on SIGTERM as the first one did.
    assert.equal(await broker.stop(), 0);
  } finally {
    for (const conn of held) conn.close();
    await broker.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
