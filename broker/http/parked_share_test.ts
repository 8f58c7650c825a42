/**
 * Every door's long poll counts against its caller's key: one key's receives hold at most its
 * share of the receives a node parks (`parkedReceivesKeyShare`), and past it that key's next long
 * poll gets the answer the node's bound gives (503 `NotReady`, in each door's shape), while
 * another key still parks and gets a message sent later. Through the real app with a key ring,
 * on a real port; a node bound of 2 at share 0.5 leaves each key one parked receive.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { keyRingOf, secretOf } from "./_access_fixtures.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { CmqTestClient } from "./cmq_v2/_cmq_test_client.ts";
import { Metrics } from "./metrics.ts";
import { signedForm } from "./sqs/_signed_form.ts";
import { FakeStatus } from "./testing/mod.ts";

interface Answer {
  status: number;
  text: string;
}

async function servedApp(paths: { directRoutes?: boolean; hotRoutes?: boolean } = {}) {
  const engine = memoryEngine({ parkedReceivesMax: 2, parkedReceivesKeyShare: 0.5 });
  await engine.broker.createQueue("busy", {});
  await engine.broker.createQueue("jobs", {});
  const access = new AccessGuard({
    keyRing: await keyRingOf({ alice: ["*"], bob: ["*"] }),
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
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => app.fetch(request, info),
  );
  return {
    ...engine,
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await app.close();
      engine.broker.close();
      await server.shutdown();
    },
  };
}

/** Waits (bounded) until `count` receives are parked. */
async function parked(broker: { parkedReceivers: number }, count: number): Promise<void> {
  for (let turn = 0; turn < 500 && broker.parkedReceivers !== count; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(broker.parkedReceivers, count);
}

/**
 * The scenario, with `poll(key, queue)` a door's long poll of 20 s: alice parks on `busy`, her
 * next poll is answered at once (checked by `refused`) and parks nothing, bob parks on `jobs` and
 * gets the message sent there.
 */
async function scenario(
  served: Awaited<ReturnType<typeof servedApp>>,
  poll: (key: string, queue: string) => Promise<Answer>,
  refused: (answer: Answer) => void,
  received: (answer: Answer) => void,
): Promise<void> {
  const { broker, clock } = served;
  const first = poll("alice", "busy");
  await parked(broker, 1);
  const second = poll("alice", "busy");
  // Answered, or parked (the key did not reach the service): whichever comes first.
  const answer = await Promise.race([second, parked(broker, 2).then(() => null)]);
  if (answer === null) {
    clock.advance(20_000);
    await Promise.all([first, second]);
    assert.fail("alice's second long poll parked past her share");
  }
  refused(answer);
  assert.equal(broker.parkedReceivers, 1);
  const other = poll("bob", "jobs");
  await parked(broker, 2);
  await broker.sendMessages("jobs", [{ body: "for bob" }]);
  received(await other);
  clock.advance(20_000);
  await first;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}:${secretOf(key)}` });

for (
  const [path, options] of [
    ["the direct path", {}],
    ["hono's fast route", { directRoutes: false }],
    ["the zod route", { hotRoutes: false }],
  ] as const
) {
  Deno.test(`v1 receive passes the caller's key: past its share it is 503 NotReady, another key parks (${path})`, async () => {
    await using served = await servedApp(options);
    const poll = async (key: string, queue: string) => {
      const response = await fetch(`${served.url}/v1/queues/${queue}/messages/receive`, {
        method: "POST",
        headers: { ...bearer(key), "content-type": "application/json" },
        body: JSON.stringify({ waitSeconds: 20 }),
      });
      assert.equal(
        response.status !== 503 || response.headers.get("retry-after") === "1",
        true,
        "a 503 without Retry-After: 1",
      );
      return { status: response.status, text: await response.text() };
    };
    await scenario(served, poll, (answer) => {
      assert.equal(answer.status, 503, answer.text);
      assert.equal(JSON.parse(answer.text).error.code, "NotReady");
      assert.match(answer.text, /key 'alice' already has 1 receives waiting/);
    }, (answer) => {
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(JSON.parse(answer.text).messages.map((m: { body: string }) => m.body), [
        "for bob",
      ]);
    });
  });
}

Deno.test("CMQ ReceiveMessage passes the caller's key: past its share it is refused, another key parks", async () => {
  await using served = await servedApp();
  const host = new URL(served.url).host;
  const clients = new Map(
    ["alice", "bob"].map((key) => [
      key,
      new CmqTestClient({
        handler: (request) => fetch(request),
        credentials: { secretId: key, secretKey: secretOf(key) },
        host,
      }),
    ]),
  );
  const poll = async (key: string, queue: string) => {
    const reply = await clients.get(key)!.call("ReceiveMessage", {
      queueName: queue,
      pollingWaitSeconds: 20,
    });
    return { status: reply.status, text: JSON.stringify(reply.body) };
  };
  await scenario(served, poll, (answer) => {
    const body = JSON.parse(answer.text);
    assert.equal(body.code, 6000, answer.text); // NotReady's code in CMQ's terms
    assert.match(body.message, /key 'alice' already has 1 receives waiting/);
  }, (answer) => {
    const body = JSON.parse(answer.text);
    assert.equal(body.code, 0, answer.text);
    assert.equal(body.msgBody, "for bob");
  });
});

Deno.test("SQS ReceiveMessage passes the caller's key: past its share it is ServiceUnavailable, another key parks", async () => {
  await using served = await servedApp();
  const poll = (key: string, queue: string) =>
    signedForm(served.url, { secretId: key, secretKey: secretOf(key) }, {
      headers: {
        "x-amz-target": "AmazonSQS.ReceiveMessage",
        "content-type": "application/x-amz-json-1.0",
      },
      body: JSON.stringify({
        QueueUrl: `${served.url}/000000000000/${queue}`,
        WaitTimeSeconds: 20,
      }),
    });
  await scenario(served, poll, (answer) => {
    assert.equal(answer.status, 503, answer.text);
    assert.match(answer.text, /ServiceUnavailable/);
    assert.match(answer.text, /key 'alice' already has 1 receives waiting/);
  }, (answer) => {
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(JSON.parse(answer.text).Messages.map((m: { Body: string }) => m.Body), [
      "for bob",
    ]);
  });
});
