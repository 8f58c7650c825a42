/**
 * Promises 1, 2, 3 and 7 of the README's promises on a real process: send acknowledged messages under load,
 * `kill -9` the broker mid-load, restart it on the same data directory, and account for every
 * acknowledged message.
 */
import assert from "node:assert/strict";
import { CmqdClient, type ReceivedMessage } from "../../sdk/mod.ts";
import { type BrokerProcess, startBroker } from "./process.ts";

const queue = "jobs";

interface Ledger {
  /** body -> id of every acknowledged send. */
  acked: Map<string, string>;
  /** ids deleted with an acknowledged delete. */
  deleted: Set<string>;
  /** ids locked by an acknowledged receive with a long lock. */
  locked: Set<string>;
}

async function produce(client: CmqdClient, producer: number, ledger: Ledger, stop: () => boolean) {
  for (let batch = 0; !stop(); batch++) {
    const bodies = Array.from({ length: 16 }, (_, i) => `p${producer}-b${batch}-m${i}`);
    try {
      const result = await client.sendMessages(queue, bodies.map((body) => ({ body })));
      result.messages.forEach((message, i) => ledger.acked.set(bodies[i], message.id));
    } catch {
      return; // the broker died under us: whatever was not acknowledged may or may not exist
    }
  }
}

async function lockAndDelete(client: CmqdClient, ledger: Ledger): Promise<void> {
  const locked = await client.receiveMessages(queue, {
    maxMessages: 32,
    visibilityTimeoutSeconds: 3600,
  });
  locked.messages.forEach((message) => ledger.locked.add(message.id));
  const toDelete = await client.receiveMessages(queue, {
    maxMessages: 64,
    visibilityTimeoutSeconds: 3600,
  });
  const result = await client.deleteMessages(
    queue,
    toDelete.messages.map((message) => message.receiptHandle),
  );
  assert.equal(result.failures.length, 0);
  toDelete.messages.forEach((message) => ledger.deleted.add(message.id));
}

async function drain(client: CmqdClient): Promise<ReceivedMessage[]> {
  const all: ReceivedMessage[] = [];
  for (;;) {
    const { messages } = await client.receiveMessages(queue, {
      maxMessages: 256,
      visibilityTimeoutSeconds: 3600,
    });
    if (messages.length === 0) return all;
    all.push(...messages);
  }
}

Deno.test("a broker killed with SIGKILL under load keeps every acknowledged message", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-crash-" });
  let broker: BrokerProcess | null = null;
  try {
    broker = await startBroker({ dataDir });
    const client = new CmqdClient({ baseUrl: broker.url, retry: { attemptsMax: 1 } });
    await client.createQueue(queue, { visibilityTimeoutSeconds: 60 });
    const ledger: Ledger = { acked: new Map(), deleted: new Set(), locked: new Set() };

    let stopped = false;
    const producers = Array.from(
      { length: 6 },
      (_, p) => produce(client, p, ledger, () => stopped),
    );
    while (ledger.acked.size < 2000) await new Promise((resolve) => setTimeout(resolve, 10));
    await lockAndDelete(client, ledger);
    while (ledger.acked.size < 4000) await new Promise((resolve) => setTimeout(resolve, 10));

    await broker.kill(); // kill -9 while the producers are still sending
    stopped = true;
    await Promise.all(producers);

    broker = await startBroker({ dataDir });
    const after = new CmqdClient({ baseUrl: broker.url });
    const counts = await after.getQueue(queue);
    assert.equal(counts.inflightMessages, ledger.locked.size, "locks survive the crash");

    const received = await drain(after);
    const receivedIds = new Map(received.map((message) => [message.id, message.body]));
    for (const [body, id] of ledger.acked) {
      if (ledger.deleted.has(id) || ledger.locked.has(id)) {
        assert.ok(!receivedIds.has(id), `message ${id} was deleted or locked yet delivered`);
      } else {
        assert.equal(receivedIds.get(id), body, `acknowledged message ${id} lost or changed`);
      }
    }
    // Sends in flight at the kill may have landed, but nothing else may appear.
    for (const message of received) assert.match(message.body, /^p\d+-b\d+-m\d+$/);
    assert.equal(await broker.stop(), 0, "graceful shutdown exits 0");
    broker = null;
  } finally {
    await broker?.kill();
    await Deno.remove(dataDir, { recursive: true });
  }
});
