/**
 * Case 3 — retry ledger: credits to customer accounts go through a queue. The bank's API fails
 * now and then: a failed credit is retried with exponential back-off (the Consumer shortens the
 * message's lock to `retryDelaySeconds(attempt)`), and applied once when it succeeds (the
 * ledger is keyed by message id, so a redelivery never credits twice). A credit that keeps
 * failing is moved to a dead-letter queue after `maxReceiveCount` deliveries, for a person to
 * look at; nothing is lost and nothing loops forever.
 *
 * Run: `deno run -A sdk/examples/retry_ledger.ts [broker URL]`
 *
 * @module
 */
import { CmqdClient, Consumer, Producer } from "@cmqd/sdk";
import { brokerUrl, runId, waitFor } from "./support.ts";

const maxAttempts = 3;

const client = new CmqdClient({ baseUrl: brokerUrl() });
const id = runId();
const credits = `ledger-credits-${id}`;
const dead = `ledger-dead-${id}`;
await client.createQueue(dead);
await client.createQueue(credits, { deadLetter: { queue: dead, maxReceiveCount: maxAttempts } });

const producer = new Producer(client, credits);
await producer.send(JSON.stringify({ account: "alice", cents: 1500 })); // fails twice, then succeeds
await producer.send(JSON.stringify({ account: "mallory", cents: 999 })); // the bank always refuses
await producer.close();

const ledger = new Map<string, { account: string; cents: number; attempt: number }>();
const failures: string[] = [];
const consumer = new Consumer(client, credits, {
  waitSeconds: 1,
  // 1 s, 2 s, 4 s … (the default adds jitter and starts higher; short here for the demonstration)
  retryDelaySeconds: (attempt) => Math.min(2 ** (attempt - 1), 8),
  handleMessage: (message) => {
    // The ledger first: a redelivery of a credit already applied (its delete was lost, or the
    // consumer stopped before sending it) is acknowledged without calling the bank again.
    if (ledger.has(message.id)) return;
    const credit = JSON.parse(message.body);
    // A real bank call carries `message.id` as its idempotency key, so a crash between the call
    // and the ledger write can't credit twice either.
    const bankAccepts = credit.account === "alice" && message.receiveCount >= 3;
    if (!bankAccepts) throw new Error(`bank refused credit to ${credit.account}`);
    ledger.set(message.id, { ...credit, attempt: message.receiveCount });
  },
  onError: (error, message) => {
    failures.push(`attempt ${message?.receiveCount}: ${(error as Error).message}`);
    console.log(`attempt ${message?.receiveCount} failed: ${(error as Error).message}`);
  },
});
consumer.start();

// The credit that never succeeds ends up in the dead-letter queue, where an operator finds it.
const { messages: [deadLettered] } = await client.receiveMessages(dead, { waitSeconds: 20 });
await waitFor("alice's credit", () => ledger.size === 1);
await consumer.stop();

for (const [messageId, entry] of ledger) {
  console.log(
    `ledger: ${messageId} +${entry.cents} to ${entry.account} (delivery ${entry.attempt})`,
  );
}
console.log(`dead-lettered after ${maxAttempts} deliveries: ${deadLettered?.body}`);
if (deadLettered === undefined || JSON.parse(deadLettered.body).account !== "mallory") {
  throw new Error("mallory's credit should be in the dead-letter queue");
}
if ([...ledger.values()].some((entry) => entry.account !== "alice" || entry.attempt !== 3)) {
  throw new Error("alice's credit should be applied once, on its third delivery");
}
await client.deleteQueue(credits);
await client.deleteQueue(dead);
client.close();
