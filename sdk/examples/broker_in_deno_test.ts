/**
 * How to test your own code against a real cmqd with `deno test`: `startTestBroker` starts one
 * (or three, as a Raft cluster) on free ports with a throw-away data directory. Run it with
 * `deno test -A sdk/examples/broker_in_deno_test.ts`.
 */
import assert from "node:assert/strict";
import { Consumer, Producer } from "../mod.ts";
import { startTestBroker } from "../testing.ts";

Deno.test("a worker handles every job sent to a real broker", async () => {
  const broker = await startTestBroker();
  try {
    await broker.client.createQueue("jobs");
    const producer = new Producer(broker.client, "jobs");
    await Promise.all(["a", "b", "c"].map((body) => producer.send(body)));
    await producer.close();

    const handled: string[] = [];
    const consumer = new Consumer(broker.client, "jobs", {
      waitSeconds: 1,
      handleMessage: (message) => {
        handled.push(message.body);
      },
    });
    consumer.start();
    await waitUntil(() => handled.length === 3);
    await consumer.stop();
    assert.deepEqual(handled.sort(), ["a", "b", "c"]);
  } finally {
    await broker.stop();
  }
});

/** Resolves once `done()` holds, checking every 10 ms for at most 20 s. */
async function waitUntil(done: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 20_000;
  while (!done()) {
    if (Date.now() > giveUpAt) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
