/**
 * The SDK's kept-alive connections outlive the broker they were opened to: after a `kill -9` and
 * a restart on the same port, a client's next request must go out on a new connection, not on a
 * dead pooled one, where a send would fail (or, retried, might be written twice).
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { freePort, startBroker } from "./process.ts";

Deno.test("after a broker restart the SDK's next send goes out on a new connection, once", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-reconnect-" });
  const port = freePort();
  let broker = await startBroker({ dataDir, port });
  // One attempt: a send on a dead connection would surface as an error here.
  const client = new CmqdClient({ baseUrl: broker.url, retry: { attemptsMax: 1 } });
  try {
    await client.createQueue("jobs");
    // Four sends at once leave four idle connections in the pool.
    await Promise.all([0, 1, 2, 3].map((i) => client.sendMessages("jobs", [{ body: `a${i}` }])));
    await broker.kill();
    broker = await startBroker({ dataDir, port });
    const sends = [0, 1, 2, 3].map((i) => client.sendMessages("jobs", [{ body: `b${i}` }]));
    await Promise.all(sends);
    const { messages } = await client.receiveMessages("jobs", { maxMessages: 16 });
    assert.deepEqual(
      messages.map((message) => message.body).sort(),
      ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"],
    );
  } finally {
    client.close();
    await broker.kill();
    await Deno.remove(dataDir, { recursive: true });
  }
});
