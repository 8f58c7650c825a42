// A small Node program on the installed package: a queue, 200 sends through the Producer, a
// Consumer that handles each once (every fifth fails once and comes back), then the counts.
import { CmqdClient, CmqdError, Consumer, Producer } from "@cmqd/sdk";

const client = new CmqdClient({ baseUrl: process.argv[2] });
await client.createQueue("npm-app", { visibilityTimeoutSeconds: 5 });
const producer = new Producer(client, "npm-app", { autoDedupId: true });
await Promise.all(Array.from({ length: 200 }, (_, index) => producer.send(`m${index}`)));
await producer.close();

const handled = new Set();
const failedOnce = new Set();
const consumer = new Consumer(client, "npm-app", {
  concurrency: 8,
  waitSeconds: 1,
  retryDelaySeconds: () => 0,
  handleMessage: (message) => {
    const index = Number(message.body.slice(1));
    if (index % 5 === 0 && !failedOnce.has(index)) {
      failedOnce.add(index);
      throw new Error("first attempt fails");
    }
    handled.add(message.body);
  },
  onError: () => {},
});
consumer.start();
const giveUpAt = Date.now() + 30_000;
while (handled.size < 200 && Date.now() < giveUpAt) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
await consumer.stop();
const queue = await client.getQueue("npm-app");
let missing = "";
try {
  await client.getQueue("no-such-queue");
} catch (error) {
  if (error instanceof CmqdError) missing = error.code;
}
client.close();
console.log(JSON.stringify({
  handled: handled.size,
  retried: failedOnce.size,
  left: queue.activeMessages + queue.inflightMessages,
  missing,
}));
