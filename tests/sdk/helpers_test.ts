/**
 * The SDK's Producer and Consumer against a real in-process broker (`_broker.ts`). Every wait
 * is on a condition with a bounded deadline; nothing asserts how long anything took.
 */
import assert from "node:assert/strict";
import { deferred, waitFor } from "../../sdk/_test_helpers.ts";
import { type CmqdClient, Consumer, Producer, type ReceivedMessage } from "../../sdk/mod.ts";
import { startTestBroker, type TestBroker } from "./_broker.ts";

/** Runs `body` with a fresh broker and stops it afterwards, whatever happened. */
async function withBroker(body: (broker: TestBroker) => Promise<void>): Promise<void> {
  const broker = await startTestBroker();
  try {
    await body(broker);
  } finally {
    await broker.stop();
  }
}

/** Receives (and locks) everything visible, with a deadline. */
async function drain(client: CmqdClient, queue: string, expected: number) {
  const received: ReceivedMessage[] = [];
  const giveUpAt = Date.now() + 20_000;
  while (received.length < expected && Date.now() < giveUpAt) {
    const answer = await client.receiveMessages(queue, {
      maxMessages: 256,
      waitSeconds: 1,
      visibilityTimeoutSeconds: 600,
    });
    received.push(...answer.messages);
  }
  return received;
}

async function sendBodies(client: CmqdClient, queue: string, bodies: string[]) {
  const producer = new Producer(client, queue, { autoDedupId: true });
  await Promise.all(bodies.map((body) => producer.send(body)));
  await producer.close();
}

Deno.test("a producer's 1,000 concurrent sends all arrive, each once", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("photos");
    const producer = new Producer(client, "photos", { batchSize: 64, autoDedupId: true });
    const bodies = Array.from({ length: 1000 }, (_, index) => `photo ${index}`);
    const sent = await Promise.all(bodies.map((body) => producer.send(body)));
    await producer.close();
    assert.equal(new Set(sent.map((message) => message.id)).size, 1000);
    assert.ok(producer.stats.batches < 1000, "sends were coalesced");
    assert.equal((await client.getQueue("photos")).activeMessages, 1000);
    const received = await drain(client, "photos", 1000);
    assert.deepEqual(received.map((message) => message.body).sort(), [...bodies].sort());
    const again = await client.receiveMessages("photos", { waitSeconds: 0 });
    assert.deepEqual(again.messages, [], "nothing beyond the 1,000");
  });
});

Deno.test("a consumer with concurrency 8 handles every message exactly once and deletes them", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("jobs");
    const bodies = Array.from({ length: 300 }, (_, index) => `job ${index}`);
    await sendBodies(client, "jobs", bodies);
    const handled = new Map<string, number>();
    let running = 0;
    let runningMax = 0;
    const errors: unknown[] = [];
    const consumer = new Consumer(client, "jobs", {
      concurrency: 8,
      waitSeconds: 1,
      onError: (error) => errors.push(error),
      handleMessage: async (message) => {
        runningMax = Math.max(runningMax, ++running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        handled.set(message.body, (handled.get(message.body) ?? 0) + 1);
        running--;
      },
    });
    consumer.start();
    await waitFor("300 handled", () => handled.size === 300, 30_000);
    await consumer.stop();
    assert.deepEqual([...handled.values()].filter((count) => count !== 1), []);
    assert.ok(runningMax <= 8);
    assert.deepEqual(errors, []);
    const queue = await client.getQueue("jobs");
    assert.equal(queue.activeMessages + queue.inflightMessages + queue.delayedMessages, 0);
    assert.equal(consumer.stats.deleted, 300);
  });
});

Deno.test("a throwing handler's message comes back after its retry delay and finally succeeds", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("ledger");
    await sendBodies(client, "ledger", ["credit 42"]);
    const attempts: number[] = [];
    const errors: { error: unknown; message?: ReceivedMessage }[] = [];
    const consumer = new Consumer(client, "ledger", {
      waitSeconds: 1,
      retryDelaySeconds: () => 1,
      onError: (error, message) => errors.push({ error, message }),
      handleMessage: (message) => {
        attempts.push(message.receiveCount);
        if (message.receiveCount < 3) throw new Error(`bank down (${message.receiveCount})`);
      },
    });
    consumer.start();
    await waitFor("the third attempt", () => consumer.stats.handled === 1, 20_000);
    await consumer.stop();
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(errors.map((entry) => entry.message?.body), ["credit 42", "credit 42"]);
    assert.equal((await client.getQueue("ledger")).inflightMessages, 0);
    assert.deepEqual((await client.receiveMessages("ledger", { waitSeconds: 0 })).messages, []);
  });
});

Deno.test("a handler slower than its lock keeps the lock: no second delivery while it runs", async () => {
  await withBroker(async ({ client, newClient }) => {
    await client.createQueue("renders");
    await sendBodies(client, "renders", ["frame 1"]);
    const rival = newClient();
    let rivalReceived = 0;
    let deliveries = 0;
    const consumer = new Consumer(client, "renders", {
      concurrency: 2,
      waitSeconds: 1,
      visibilityTimeoutSeconds: 1,
      handleMessage: async () => {
        deliveries++;
        // Run through three renewals (about two locks' worth), polling as a rival meanwhile.
        while (consumer.stats.renewed < 3) {
          const answer = await rival.receiveMessages("renders", { waitSeconds: 0 });
          rivalReceived += answer.messages.length;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
    });
    consumer.start();
    await waitFor("the slow handler", () => consumer.stats.handled === 1, 20_000);
    await consumer.stop();
    assert.equal(deliveries, 1);
    assert.equal(rivalReceived, 0);
    assert.equal(consumer.stats.locksLost, 0);
    assert.equal((await client.getQueue("renders")).inflightMessages, 0, "deleted after all");
  });
});

Deno.test("stop() waits for running handlers, then deletes what they finished", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("uploads");
    await sendBodies(client, "uploads", ["a", "b"]);
    const gate = deferred<void>();
    let started = 0;
    const consumer = new Consumer(client, "uploads", {
      concurrency: 2,
      waitSeconds: 1,
      handleMessage: async () => {
        started++;
        await gate.promise;
      },
    });
    consumer.start();
    await waitFor("both handlers", () => started === 2);
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await waitFor("the loop to stop", () => !consumer.running);
    assert.equal(stopped, false);
    assert.equal((await client.getQueue("uploads")).inflightMessages, 2);
    gate.resolve();
    await stopping;
    const queue = await client.getQueue("uploads");
    assert.equal(queue.activeMessages + queue.inflightMessages, 0);
  });
});

Deno.test("a fifo queue keeps each group's order under concurrency and retries", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("payments", { fifo: true });
    const groups = ["alice", "bob", "carol"];
    const producer = new Producer(client, "payments", { batchSize: 8, autoDedupId: true });
    const sends: Promise<unknown>[] = [];
    for (let index = 0; index < 20; index++) {
      for (const group of groups) {
        sends.push(producer.send({ body: `${group}:${index}`, groupId: group }));
      }
    }
    await Promise.all(sends);
    await producer.close();
    const succeeded = new Map<string, number[]>(groups.map((group) => [group, []]));
    const active = new Map<string, number>();
    let overlaps = 0;
    const consumer = new Consumer(client, "payments", {
      concurrency: 8,
      waitSeconds: 1,
      retryDelaySeconds: () => 0,
      onError: () => {},
      handleMessage: async (message) => {
        const [group, index] = message.body.split(":");
        if ((active.get(group) ?? 0) > 0) overlaps++;
        active.set(group, (active.get(group) ?? 0) + 1);
        try {
          await new Promise((resolve) => setTimeout(resolve, Number(index) % 3));
          // Every fifth message fails once: its group must wait for it.
          if (Number(index) % 5 === 2 && message.receiveCount === 1) throw new Error("retry me");
          succeeded.get(group)!.push(Number(index));
        } finally {
          active.set(group, active.get(group)! - 1);
        }
      },
    });
    consumer.start();
    const total = () => [...succeeded.values()].reduce((sum, list) => sum + list.length, 0);
    await waitFor("all 60", () => total() === 60, 30_000);
    await consumer.stop();
    const inOrder = Array.from({ length: 20 }, (_, index) => index);
    for (const group of groups) assert.deepEqual(succeeded.get(group), inOrder, group);
    assert.equal(overlaps, 0, "never two messages of one group at once");
    assert.equal(consumer.stats.failed, groups.length * 4);
  });
});

Deno.test("for await over a consumer deletes what the loop finished", async () => {
  await withBroker(async ({ client }) => {
    await client.createQueue("events");
    await sendBodies(client, "events", ["e1", "e2", "e3"]);
    const consumer = new Consumer(client, "events", { waitSeconds: 1, concurrency: 2 });
    const seen: string[] = [];
    for await (const message of consumer) {
      seen.push(message.body);
      if (seen.length === 3) {
        message.complete();
        break;
      }
    }
    assert.deepEqual(seen.sort(), ["e1", "e2", "e3"]);
    const queue = await client.getQueue("events");
    assert.equal(queue.activeMessages + queue.inflightMessages, 0);
  });
});

Deno.test("a client given a dead node first moves on to the live one", async () => {
  await withBroker(async ({ url, newClient }) => {
    const dead = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(),
    );
    const deadUrl = `http://127.0.0.1:${dead.addr.port}`;
    await dead.shutdown();
    const client = newClient({ baseUrl: [deadUrl, url] });
    // A send without dedupId is not repeatable, but a refused connection never reached a node.
    await client.createQueue("failover");
    const sent = await client.sendMessages("failover", [{ body: "x" }]);
    assert.equal(sent.messages.length, 1);
    assert.equal(client.nodeUrl, url);
  });
});
