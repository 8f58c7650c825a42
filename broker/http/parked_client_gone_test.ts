/**
 * A client that goes away while its long poll is parked (its HTTP/1.1 connection closed) leaves
 * no parked receive behind, on every door and path: a message sent afterwards goes to the next
 * receiver at once, instead of being locked by a SendReceive for a client that is gone until
 * its visibility timeout ends. The same through a follower that relays the poll to the leader.
 * The client here writes the request on a raw TCP connection and closes it, so the disconnect is
 * a real one, not a fetch's own cancellation.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { forwardingHandler } from "../cluster/forwarding.ts";
import { keyRingOf, secretOf } from "./_access_fixtures.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { CmqTestClient } from "./cmq_v2/_cmq_test_client.ts";
import { Metrics } from "./metrics.ts";
import { signedForm } from "./sqs/_signed_form.ts";
import { FakeStatus } from "./testing/mod.ts";

const utf8 = new TextEncoder();

/**
 * A `fetch` that writes the request as HTTP/1.1 bytes on a connection of its own and, when its
 * signal aborts, closes that connection (the client goes away). It never answers otherwise:
 * the polls here are only ever abandoned.
 */
const rawFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  const url = new URL(request.url);
  const body = new Uint8Array(await request.arrayBuffer());
  const lines = [`${request.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of request.headers) if (name !== "host") lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${body.length}`, "", "");
  const head = utf8.encode(lines.join("\r\n"));
  const connection = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  await connection.write(head);
  if (body.length > 0) await connection.write(body);
  return await new Promise<Response>((_, reject) => {
    const signal = request.signal;
    const gone = () => {
      connection.close();
      reject(new DOMException("the client went away", "AbortError"));
    };
    if (signal.aborted) gone();
    else signal.addEventListener("abort", gone, { once: true });
  });
};

async function servedNode(paths: Record<string, boolean>) {
  const engine = memoryEngine();
  await engine.broker.createQueue("jobs", { visibilityTimeoutSeconds: 3600 });
  const access = new AccessGuard({
    keyRing: await keyRingOf({ alice: ["*"] }),
    loopbackOnly: false,
    nowMs: () => Date.now(),
  });
  const app = createApp({
    service: engine.broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access,
    ...paths,
  });
  const leader = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    forwardingHandler({
      view: { isLeader: () => true, leaderUrl: () => null },
      local: (request, info) => app.fetch(request, info),
      requestBytesMax: 1 << 20,
    }),
  );
  const leaderUrl = `http://127.0.0.1:${leader.addr.port}`;
  // A follower that relays every API request to the leader above.
  const follower = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    forwardingHandler({
      view: { isLeader: () => false, leaderUrl: () => leaderUrl },
      local: () => new Response("not served here", { status: 500 }),
      requestBytesMax: 1 << 20,
    }),
  );
  return {
    ...engine,
    leaderUrl,
    followerUrl: `http://127.0.0.1:${follower.addr.port}`,
    async [Symbol.asyncDispose]() {
      await app.close();
      engine.broker.close();
      await follower.shutdown();
      await leader.shutdown();
    },
  };
}

/** Waits (bounded, not timed) until `count` receives are parked. */
async function parked(broker: { parkedReceivers: number }, count: number): Promise<void> {
  for (let turn = 0; turn < 1_000 && broker.parkedReceivers !== count; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(broker.parkedReceivers, count);
}

type Poll = (url: string, signal: AbortSignal) => Promise<unknown>;

const alice = { secretId: "alice", secretKey: secretOf("alice") };

const doors: [string, Record<string, boolean>, Poll][] = [
  ...([
    ["v1, the direct path", {}],
    ["v1, hono's fast route", { directRoutes: false }],
    ["v1, the zod route", { hotRoutes: false }],
  ] as const).map(([name, paths]): [string, Record<string, boolean>, Poll] => [
    name,
    paths,
    (url, signal) =>
      rawFetch(`${url}/v1/queues/jobs/messages/receive`, {
        method: "POST",
        headers: {
          authorization: `Bearer alice:${secretOf("alice")}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ waitSeconds: 20 }),
        signal,
      }),
  ]),
  ["CMQ ReceiveMessage", {}, (url, signal) =>
    new CmqTestClient({
      handler: (request) => rawFetch(request, { signal }),
      credentials: alice,
      host: new URL(url).host,
    }).call("ReceiveMessage", { queueName: "jobs", pollingWaitSeconds: 20 })],
  ["SQS ReceiveMessage", {}, (url, signal) =>
    signedForm(url, alice, {
      headers: {
        "x-amz-target": "AmazonSQS.ReceiveMessage",
        "content-type": "application/x-amz-json-1.0",
      },
      body: JSON.stringify({ QueueUrl: `${url}/000000000000/jobs`, WaitTimeSeconds: 20 }),
      fetch: rawFetch,
      signal,
    })],
];

for (const [door, paths, poll] of doors) {
  for (const via of ["leader", "follower"] as const) {
    Deno.test(`${door}: a long poll whose client closes its connection is dropped at once (to the ${via})`, async () => {
      await using node = await servedNode(paths);
      const { broker } = node;
      const gone = new AbortController();
      const abandoned = poll(via === "leader" ? node.leaderUrl : node.followerUrl, gone.signal);
      await parked(broker, 1);
      gone.abort();
      await assert.rejects(abandoned, /went away/);
      await parked(broker, 0);
      // A parked receive left behind would ride this send and lock the message for an hour.
      await broker.sendMessages("jobs", [{ body: "for whoever asks next" }]);
      const { messages } = await broker.receiveMessages("jobs", { waitSeconds: 0 });
      assert.deepEqual(messages.map((message) => message.body), ["for whoever asks next"]);
    });
  }
}
