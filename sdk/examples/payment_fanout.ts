/**
 * Case 5 — payment fan-out: one payment result is published once to a topic and reaches the
 * risk-control queue (paid and refunded payments), the marketing queue (paid only) and the
 * merchant's HTTP callback (every payment), each subscription filtering by tags. The callback is
 * served by this program; it fails its first request, so the broker's retry delivers that push
 * again a second later (pushes are at least once: the message id is the idempotency key).
 *
 * Run: `deno run -A sdk/examples/payment_fanout.ts [broker URL]` (the broker must be able to
 * reach 127.0.0.1 of this machine, where the callback listens).
 *
 * @module
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { CmqdClient, CmqdError, type PushNotification, type ReceivedMessage } from "@cmqd/sdk";
import { brokerUrl, runId, waitFor } from "./support.ts";

// The merchant's callback: records each push once per message id, refuses the very first one.
const pushed = new Map<string, PushNotification>();
let requests = 0;
const server = createServer((request, response) => {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk: string) => body += chunk);
  request.on("end", () => {
    requests++;
    if (requests === 1) {
      response.writeHead(503).end("busy, try again");
      return;
    }
    let notification: PushNotification;
    try {
      notification = JSON.parse(body);
    } catch {
      // A callback answers what it can't read with a 4xx: a throw here would end the server.
      response.writeHead(400).end("not a JSON push");
      return;
    }
    pushed.set(notification.msgId, notification);
    response.writeHead(200).end("ok");
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`;

const client = new CmqdClient({ baseUrl: brokerUrl() });
const run = runId();
const topic = `payments-${run}`;
const risk = `risk-${run}`;
const marketing = `marketing-${run}`;
await client.createQueue(risk);
await client.createQueue(marketing);
await client.createTopic(topic, { filterType: "tag" });
await client.subscribe(topic, "risk", {
  endpoint: { queue: risk },
  filterTags: ["paid", "refunded"],
});
await client.subscribe(topic, "marketing", {
  endpoint: { queue: marketing },
  filterTags: ["paid"],
});
await client.subscribe(topic, "merchant", { endpoint: { url: callbackUrl } });

const payments = [
  { body: JSON.stringify({ order: 7, cents: 1999 }), tags: ["paid"] },
  { body: JSON.stringify({ order: 8, cents: 500 }), tags: ["refunded"] },
  { body: JSON.stringify({ order: 9, cents: 250 }), tags: ["paid"] },
];
/** Removes what this run made; on the way out after a failure, as far as the broker lets it. */
async function cleanUp(): Promise<void> {
  await client.deleteTopic(topic);
  await client.deleteQueue(risk);
  await client.deleteQueue(marketing);
  client.close();
  server.close();
}

/** Reports a failure of the publish on stderr, cleans up what it can and exits 1. */
async function publishFailed(lines: string[]): Promise<never> {
  for (const line of lines) console.error(line);
  await cleanUp().catch((error) => {
    console.error(`cleaning up failed too: ${error}`);
    client.close();
    server.close();
  });
  process.exit(1);
}

// A publish is never sent again by the client after a lost answer (topics have no dedup: a
// repeat could fan a payment out twice), and it already retried what it safely could (a 503
// refused before anything was done). What is left is the caller's to decide: here, to report
// and exit non-zero; a service would keep the payments and alert, and publish again only what it
// knows did not go (not `outcomeUnknown`).
const published = await client.publish(topic, payments).then(
  (answer) => answer.messages,
  (error) => {
    const why = error instanceof CmqdError
      ? `${error.code}: ${error.message}${
        error.outcomeUnknown ? " (the payments may or may not have been published)" : ""
      }`
      : String(error);
    return publishFailed([`publishing ${payments.length} payments to ${topic} failed: ${why}`]);
  },
);
// Published, but a matching subscription may not have taken a payment (its queue full, gone, or
// the payment too large for it): each one is named in the answer, not thrown.
const refused = published.flatMap((message, index) =>
  message.failures.map((failure) =>
    `the payment of order ${JSON.parse(payments[index].body).order} (message ${message.id}) ` +
    `did not reach subscription ` +
    `${failure.subscription}: ${failure.code}: ${failure.message}`
  )
);
if (refused.length > 0) await publishFailed(refused);
console.log(`published ${published.length}: fanned out to ${published.map((m) => m.fannedOut)}`);

/** Every order number a queue holds (receiving and deleting until it is empty). */
async function ordersIn(queue: string): Promise<number[]> {
  const orders: number[] = [];
  for (;;) {
    const { messages } = await client.receiveMessages(queue, { maxMessages: 10, waitSeconds: 0 });
    if (messages.length === 0) return orders.sort((a, b) => a - b);
    orders.push(...messages.map((message: ReceivedMessage) => JSON.parse(message.body).order));
    const { failures } = await client.deleteMessages(
      queue,
      messages.map((message) => message.receiptHandle),
    );
    // A handle whose lock ran out is not deleted: its message comes again (handle it again).
    if (failures.length > 0) throw new Error(`not deleted: ${JSON.stringify(failures)}`);
  }
}
const riskOrders = await ordersIn(risk);
const marketingOrders = await ordersIn(marketing);
console.log(`risk-control got orders ${riskOrders}; marketing got orders ${marketingOrders}`);

await waitFor("every payment at the merchant's callback", () => pushed.size === payments.length);
// The broker records an outcome once the callback's answer is in: poll its counters briefly.
let merchant = await client.getSubscription(topic, "merchant");
for (let polls = 0; merchant.deliveredMessages < payments.length && polls < 100; polls++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  merchant = await client.getSubscription(topic, "merchant");
}
console.log(
  `merchant callback got ${pushed.size} payments in ${requests} requests ` +
    `(delivered ${merchant.deliveredMessages}, retries ${merchant.push?.retries})`,
);

const expectedOrders = (tags: string[]) =>
  payments.filter((p) => p.tags.some((tag) => tags.includes(tag)))
    .map((p) => JSON.parse(p.body).order);
const holds = JSON.stringify(riskOrders) === JSON.stringify(expectedOrders(["paid", "refunded"])) &&
  JSON.stringify(marketingOrders) === JSON.stringify(expectedOrders(["paid"])) &&
  published.every((message) => pushed.get(message.id) !== undefined) && requests > pushed.size;
await cleanUp();
if (!holds) throw new Error("the fan-out did not reach each subscription as its filter says");
