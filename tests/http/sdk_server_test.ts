/**
 * The SDK against real HTTP: `createApp` served by `Deno.serve` on port 0, driven by
 * `CmqdClient` over the network. Failure injection goes through a scripted service.
 */
import assert from "node:assert/strict";
import {
  BrokerError,
  createApp,
  FakeStatus,
  Metrics,
  type QueueService,
  recordingService,
} from "../../broker/testing.ts";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";

interface TestServer {
  url: string;
  status: FakeStatus;
  calls: { method: string; args: unknown[] }[];
  close(): Promise<void>;
}

function serve(answers: Partial<Record<keyof QueueService, unknown>>): TestServer {
  const { service, calls } = recordingService(answers);
  const status = new FakeStatus();
  const app = createApp({ service, status, metrics: new Metrics(), logError: () => {} });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return { url, status, calls, close: () => server.shutdown() };
}

const queue = {
  name: "orders",
  visibilityTimeoutSeconds: 30,
  pollingWaitSeconds: 0,
  maxMessageBytes: 65_536,
  retentionSeconds: 345_600,
  rewindSeconds: 0,
  maxBacklog: 100_000_000,
  fifo: false,
  createdAt: 1,
  modifiedAt: 1,
  activeMessages: 0,
  inflightMessages: 0,
  delayedMessages: 0,
  rewindableMessages: 0,
  oldestMessageAt: null,
};

Deno.test("the client round-trips every endpoint over real HTTP", async () => {
  const server = serve({
    createQueue: { queue, created: true },
    listQueues: { total: 1, queues: [queue] },
    getQueue: queue,
    updateQueue: { ...queue, maxBacklog: 10 },
    deleteQueue: undefined,
    sendMessages: { messages: [{ id: "m1", sequence: 1 }] },
    receiveMessages: { messages: [] },
    deleteMessages: { deleted: 0, failures: [] },
    changeVisibility: { entries: [], failures: [] },
    rewind: { from: { timestamp: 5, sequence: 1 }, messages: 1 },
    purge: { purged: 3 },
    redrive: { moved: 2 },
  });
  try {
    const client = new CmqdClient({ baseUrl: server.url });
    assert.deepEqual(await client.createQueue("orders", { fifo: false }), { queue, created: true });
    assert.deepEqual(await client.listQueues({ prefix: "or", limit: 5 }), {
      total: 1,
      queues: [queue],
    });
    assert.deepEqual(await client.getQueue("orders"), queue);
    assert.equal((await client.updateQueue("orders", { maxBacklog: 10 })).maxBacklog, 10);
    assert.equal(await client.deleteQueue("orders"), undefined);
    assert.deepEqual(await client.sendMessages("orders", [{ body: "hi" }]), {
      messages: [{ id: "m1", sequence: 1 }],
    });
    assert.deepEqual(await client.receiveMessages("orders", { waitSeconds: 0 }), { messages: [] });
    assert.deepEqual(await client.deleteMessages("orders", ["h"]), { deleted: 0, failures: [] });
    assert.deepEqual(
      await client.changeVisibility("orders", [{
        receiptHandle: "h",
        visibilityTimeoutSeconds: 5,
      }]),
      { entries: [], failures: [] },
    );
    assert.equal((await client.rewind("orders", { timestamp: 5 })).messages, 1);
    assert.deepEqual(await client.purge("orders"), { purged: 3 });
    assert.deepEqual(await client.redrive("orders", {}), { moved: 2 });
    assert.deepEqual(await client.health(), { status: "ok" });
    assert.equal(await client.ready(), true);
    assert.equal((await client.cluster()).nodeId, "n1");
    assert.match(await client.metrics(), /cmqd_http_requests_total/);
    assert.deepEqual(server.calls.map((call) => call.method), [
      "createQueue",
      "listQueues",
      "getQueue",
      "updateQueue",
      "deleteQueue",
      "sendMessages",
      "receiveMessages",
      "deleteMessages",
      "changeVisibility",
      "rewind",
      "purge",
      "redrive",
    ]);
    assert.deepEqual(server.calls[1].args[0], { prefix: "or", limit: 5 });
    server.status.isReady = false;
    assert.equal(await client.ready(), false);
  } finally {
    await server.close();
  }
});

Deno.test("broker errors arrive as CmqdError with code, status, field and request id", async () => {
  const server = serve({
    getQueue: () => {
      throw new BrokerError("QueueNotFound", "queue 'orders' does not exist");
    },
  });
  try {
    const client = new CmqdClient({ baseUrl: server.url });
    const missing = await client.getQueue("orders").catch((error) => error);
    assert.ok(missing instanceof CmqdError);
    assert.equal(missing.code, "QueueNotFound");
    assert.equal(missing.status, 404);
    assert.match(missing.requestId ?? "", /^[0-9a-f-]{36}$/);
    const invalid = await client.createQueue("orders", { visibilityTimeoutSeconds: 0 })
      .catch((error) => error);
    assert.equal(invalid.code, "InvalidParameter");
    assert.equal(invalid.field, "visibilityTimeoutSeconds");
    assert.equal(invalid.retryable, false);
    const badName = await client.getQueue("not a name").catch((error) => error);
    assert.equal(badName.field, "queue");
  } finally {
    await server.close();
  }
});

Deno.test("a 503 with Retry-After is retried after the asked delay (at least the back-off), then succeeds", async () => {
  let failures = 2;
  const server = serve({
    sendMessages: () => {
      if (failures-- > 0) {
        throw new BrokerError("NoLeader", "electing", {
          retryAfterSeconds: failures === 1 ? 1 : 0,
        });
      }
      return { messages: [{ id: "m1", sequence: 1 }] };
    },
  });
  try {
    const sleeps: number[] = [];
    const client = new CmqdClient({
      baseUrl: server.url,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });
    const sent = await client.sendMessages("orders", [{ body: "x" }]);
    assert.deepEqual(sent.messages, [{ id: "m1", sequence: 1 }]);
    // The second 503 asks for 0 s: the client waits its back-off instead (never less), so
    // that a broker or a proxy answering Retry-After: 0 can't make it spin.
    assert.equal(sleeps.length, 2);
    assert.equal(sleeps[0], 1000);
    assert.ok(sleeps[1] > 0 && sleeps[1] < 1000, `waited ${sleeps[1]} ms`);
    assert.equal(server.calls.length, 3);
  } finally {
    await server.close();
  }
});

Deno.test("the client follows the leader hint to the node it names", async () => {
  const leader = serve({ getQueue: queue });
  const follower = serve({ getQueue: queue });
  follower.status.leader = leader.url;
  leader.status.leader = leader.url;
  try {
    const client = new CmqdClient({ baseUrl: follower.url });
    await client.getQueue("orders");
    assert.equal(client.leaderUrl, leader.url);
    await client.getQueue("orders");
    await client.getQueue("orders");
    assert.equal(follower.calls.length, 1);
    assert.equal(leader.calls.length, 2);
  } finally {
    await leader.close();
    await follower.close();
  }
});

Deno.test("a read survives its leader going away by falling back to the configured node", async () => {
  const gone = serve({});
  const goneUrl = gone.url;
  await gone.close();
  const node = serve({ getQueue: queue });
  node.status.leader = goneUrl;
  try {
    const client = new CmqdClient({
      baseUrl: node.url,
      sleep: () => Promise.resolve(),
      followLeader: true,
    });
    await client.getQueue("orders");
    assert.equal(client.leaderUrl, goneUrl);
    // The hint points at a closed port: the GET fails once, drops the hint and retries on node.
    assert.deepEqual(await client.getQueue("orders"), queue);
    assert.equal(node.calls.length, 2);
  } finally {
    await node.close();
  }
});
