// How to test your own code against a real cmqd with Node's test runner: `startTestBroker` from
// `@cmqd/sdk/testing` starts one (or three, as a Raft cluster) on free ports with a throw-away
// data directory. Run it with `node --test` in a project that installed `@cmqd/sdk`, with
// CMQD_MAIN naming cmqd's main.ts and `deno` on PATH (or CMQD_COMMAND naming a cmqd binary).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer } from "@cmqd/sdk";
import { startTestBroker } from "@cmqd/sdk/testing";

test("a worker handles every job sent to a real broker", async () => {
  const broker = await startTestBroker({ nodes: 1 });
  try {
    await broker.client.createQueue("jobs");
    const producer = new Producer(broker.client, "jobs");
    await Promise.all(["a", "b", "c"].map((body) => producer.send(body)));
    await producer.close();

    const handled = [];
    const consumer = new Consumer(broker.client, "jobs", {
      waitSeconds: 1,
      handleMessage: (message) => {
        handled.push(message.body);
      },
    });
    consumer.start();
    const giveUpAt = Date.now() + 20_000;
    while (handled.length < 3 && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await consumer.stop();
    assert.deepEqual(handled.sort(), ["a", "b", "c"]);
  } finally {
    await broker.stop();
  }
});
