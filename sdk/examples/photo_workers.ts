/**
 * Case 1 — photo processing: a web tier puts thumbnail jobs on a request queue; several workers
 * take them (each a `Consumer`), "render", and put a result on a result queue, which the web
 * tier reads. One worker crashes holding a job: nobody deletes or renews it, so after its lock
 * (visibilityTimeoutSeconds) the job is delivered again and another worker finishes it.
 *
 * Run: `deno run -A sdk/examples/photo_workers.ts [broker URL]`
 *
 * @module
 */
import { CmqdClient, Consumer, Producer } from "@cmqd/sdk";
import { brokerUrl, runId, waitFor } from "./support.ts";

const photos = 20;
const workers = 3;
/** Short, so the crashed worker's job comes back quickly in this demonstration. */
const lockSeconds = 2;

const client = new CmqdClient({ baseUrl: brokerUrl() });
const id = runId();
const requests = `photo-requests-${id}`;
const results = `photo-results-${id}`;
await client.createQueue(requests, { visibilityTimeoutSeconds: lockSeconds });
await client.createQueue(results);

// The web tier: one job per photo, batched by the producer.
const producer = new Producer(client, requests);
await Promise.all(
  Array.from({ length: photos }, (_, index) => producer.send(JSON.stringify({ photo: index }))),
);
await producer.close();

// A worker that crashes: it takes one job and dies before finishing (no delete, no renewal).
const { messages: [lost] } = await client.receiveMessages(requests, { waitSeconds: 5 });
console.log(`worker 0 took photo ${JSON.parse(lost.body).photo} and crashed`);

// The healthy workers: render, publish the result, and the job is deleted when this returns.
const resultProducer = new Producer(client, results);
const fleet = Array.from({ length: workers }, (_, worker) =>
  new Consumer(client, requests, {
    concurrency: 2,
    waitSeconds: 1,
    handleMessage: async (message) => {
      const { photo } = JSON.parse(message.body);
      await new Promise((resolve) => setTimeout(resolve, 20)); // rendering
      await resultProducer.send(
        JSON.stringify({ photo, worker: worker + 1, attempt: message.receiveCount }),
      );
    },
  }));
for (const consumer of fleet) consumer.start();

// The web tier collects the thumbnails.
const done = new Map<number, { worker: number; attempt: number }>();
const collector = new Consumer(client, results, {
  waitSeconds: 1,
  handleMessage: (message) => {
    const { photo, worker, attempt } = JSON.parse(message.body);
    done.set(photo, { worker, attempt });
  },
});
collector.start();
await waitFor("every thumbnail", () => done.size === photos);
await Promise.all([...fleet, collector].map((consumer) => consumer.stop()));
await resultProducer.close();

const recovered = done.get(JSON.parse(lost.body).photo)!;
console.log(`${done.size} thumbnails from ${workers} workers`);
console.log(
  `the crashed job came back: worker ${recovered.worker} finished it on delivery ${recovered.attempt}`,
);
if (recovered.attempt < 2) throw new Error("the crashed job should have been delivered twice");
await client.deleteQueue(requests);
await client.deleteQueue(results);
client.close();
