/**
 * Case 2 — ingest buffer: producers emit events much faster than the store can take them; the
 * queue absorbs the burst and one slow consumer drains it in large batches ("bulk insert" of up
 * to 100 rows), deleting each batch with its next receive (`deleteReceiptHandles`: one request
 * does both). Every event is stored exactly once and the queue ends empty.
 *
 * Run: `deno run -A sdk/examples/ingest_buffer.ts [broker URL]`
 *
 * @module
 */
import { CmqdClient, Producer } from "@cmqd/sdk";
import { brokerUrl, runId } from "./support.ts";

const producers = 4;
const eventsPerProducer = 500;
const batchMax = 100;
const insertMs = 30; // the slow store: 30 ms per bulk insert

const client = new CmqdClient({ baseUrl: brokerUrl() });
const queue = `ingest-${runId()}`;
await client.createQueue(queue);

// Fast producers: each fires its events without waiting for one another.
const startedAt = Date.now();
const producing = Array.from({ length: producers }, async (_, source) => {
  const producer = new Producer(client, queue, { batchSize: 64, autoDedupId: true });
  await Promise.all(Array.from(
    { length: eventsPerProducer },
    (_, index) => producer.send(JSON.stringify({ source, index })),
  ));
  await producer.close();
});

// The slow consumer: receive up to 100, store them, delete them with the next receive.
const stored = new Set<string>();
let pendingDeletes: string[] = [];
let batches = 0;
let peakBacklog = 0;
const total = producers * eventsPerProducer;
while (stored.size < total || pendingDeletes.length > 0) {
  const { messages } = await client.receiveMessages(queue, {
    maxMessages: batchMax,
    waitSeconds: 1,
    deleteReceiptHandles: pendingDeletes.length > 0 ? pendingDeletes : undefined,
  });
  pendingDeletes = [];
  if (messages.length === 0) continue;
  await new Promise((resolve) => setTimeout(resolve, insertMs)); // bulk insert
  for (const message of messages) stored.add(message.body);
  // Deleted with the next receive. One whose lock ran out first is not (the answer's `failures`)
  // and comes again: storing is keyed by the event, so storing it twice changes nothing.
  pendingDeletes = messages.map((message) => message.receiptHandle);
  batches++;
  if (batches % 5 === 0) {
    const depth = await client.getQueue(queue);
    peakBacklog = Math.max(peakBacklog, depth.activeMessages);
    console.log(`batch ${batches}: stored ${stored.size}, backlog ${depth.activeMessages}`);
  }
}
await Promise.all(producing);
const seconds = (Date.now() - startedAt) / 1000;
const left = await client.getQueue(queue);
console.log(
  `stored ${stored.size} events in ${batches} batches in ${
    seconds.toFixed(1)
  } s; peak backlog ${peakBacklog}`,
);
if (stored.size !== total) throw new Error(`stored ${stored.size} of ${total}`);
if (left.activeMessages + left.inflightMessages !== 0) throw new Error("the queue should be empty");
await client.deleteQueue(queue);
client.close();
