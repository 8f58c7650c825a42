/**
 * Case 4 — replay with rewind: an audit queue keeps deleted messages replayable for an hour
 * (`rewindSeconds`). A projection consumes the events and deletes them; then a bug in the
 * projection is found. After the fix, `rewind` moves the queue's read position back to the
 * first event, and the fixed projection reads the same events again from the queue — no second
 * copy of the data anywhere.
 *
 * The rewind names a point the broker reported: the first send's `sequence`. (A received
 * message's `enqueuedAt`, as `{ timestamp }`, is exact too.) A time from this machine's clock
 * (`Date.now()`) is not: rewind times are cluster time, the clock of `enqueuedAt`, which lags the
 * wall clock after the whole cluster was down, so such a rewind could start after the first event.
 *
 * Run: `deno run -A sdk/examples/replay_rewind.ts [broker URL]`
 *
 * @module
 */
import { CmqdClient, Consumer, Producer, type ReceivedMessage } from "@cmqd/sdk";
import { brokerUrl, runId, waitFor } from "./support.ts";

const client = new CmqdClient({ baseUrl: brokerUrl() });
const queue = `audit-${runId()}`;
await client.createQueue(queue, { rewindSeconds: 3600 });

const producer = new Producer(client, queue, { fifo: true });
const amounts = [120, -40, 300, -75, 10];
const sent = [];
for (const cents of amounts) sent.push(await producer.send(JSON.stringify({ cents })));
await producer.close();
const firstEvent = sent[0].sequence;

/** Reads every event once through a Consumer (deleting each) and folds it with `apply`. */
async function project(apply: (balance: number, cents: number) => number): Promise<number> {
  let balance = 0;
  let seen = 0;
  const consumer = new Consumer(client, queue, {
    waitSeconds: 1,
    handleMessage: (message: ReceivedMessage) => {
      balance = apply(balance, JSON.parse(message.body).cents);
      seen++;
    },
  });
  consumer.start();
  await waitFor("every event", () => seen === amounts.length);
  await consumer.stop();
  return balance;
}

// Version 1 of the projection has a bug: it ignores debits.
const buggy = await project((balance, cents) => cents > 0 ? balance + cents : balance);
const afterFirstRead = await client.getQueue(queue);
console.log(
  `buggy balance ${buggy}; queue now ${afterFirstRead.activeMessages} active, ` +
    `${afterFirstRead.rewindableMessages} rewindable`,
);

// Fixed: rewind to the first event and read everything again.
const rewound = await client.rewind(queue, { sequence: firstEvent });
console.log(`rewound to sequence ${rewound.from.sequence}: ${rewound.messages} messages again`);
const fixed = await project((balance, cents) => balance + cents);
console.log(`fixed balance ${fixed}`);
const expected = amounts.reduce((sum, cents) => sum + cents, 0);
if (
  rewound.from.sequence !== firstEvent || rewound.messages !== amounts.length || fixed !== expected
) {
  throw new Error(`expected ${amounts.length} replayed events and balance ${expected}`);
}
await client.deleteQueue(queue);
client.close();
