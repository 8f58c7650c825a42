/**
 * Every door checks a signature's timestamp against the same clock, the AccessGuard's: a node
 * whose guard is given a clock (tests, or a broker told to trust another time source) judges a
 * CMQ `Timestamp` and an SQS `X-Amz-Date` by it, as it judges v1's signed requests. Served on a
 * real port, with the doors in front of hono and behind it.
 */
import assert from "node:assert/strict";
import { wallClockEngine } from "../cluster/testing/mod.ts";
import { keyRingOf, nowMs, secretOf } from "./_access_fixtures.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { CmqTestClient } from "./cmq_v2/_cmq_test_client.ts";
import { Metrics } from "./metrics.ts";
import { ListQueuesCommand, SQSClient } from "./sqs/_npm_test_deps.ts";
import { FakeStatus } from "./testing/mod.ts";

async function servedApp(doorDirect: boolean) {
  const { broker } = wallClockEngine();
  await broker.createQueue("orders", {});
  const access = new AccessGuard({
    keyRing: await keyRingOf({ alice: ["*"] }),
    loopbackOnly: false,
    // Three years before the wall clock: a request signed now is far outside any window.
    nowMs: () => nowMs,
  });
  const app = createApp({
    service: broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access,
    doorDirect,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => app.fetch(request, info),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      broker.close();
      await server.shutdown();
    },
  };
}

const credentials = { secretId: "alice", secretKey: secretOf("alice") };

for (const doorDirect of [true, false]) {
  const path = doorDirect ? "in front of hono" : "through hono";

  Deno.test(`the CMQ door judges Timestamp by the guard's clock (${path})`, async () => {
    await using served = await servedApp(doorDirect);
    const host = new URL(served.url).host;
    const client = (now: () => number) =>
      new CmqTestClient({ handler: (request) => fetch(request), credentials, now, host });
    const onGuardTime = (await client(() => nowMs).call("ListQueue", {})).body;
    assert.equal(onGuardTime.code, 0, JSON.stringify(onGuardTime));
    const onWallTime = (await client(Date.now).call("ListQueue", {})).body;
    assert.equal(onWallTime.code, 4100, JSON.stringify(onWallTime));
    assert.match(String(onWallTime.message), /Timestamp/);
  });

  Deno.test(`the SQS door judges X-Amz-Date by the guard's clock (${path})`, async () => {
    await using served = await servedApp(doorDirect);
    const client = (systemClockOffset: number) =>
      new SQSClient({
        endpoint: served.url,
        region: "us-east-1",
        credentials: { accessKeyId: credentials.secretId, secretAccessKey: credentials.secretKey },
        maxAttempts: 1,
        systemClockOffset,
      });
    const onGuardTime = client(nowMs - Date.now());
    const onWallTime = client(0);
    try {
      const listed = await onGuardTime.send(new ListQueuesCommand({}));
      assert.deepEqual(listed.QueueUrls, [`${served.url}/000000000000/orders`]);
      await assert.rejects(
        onWallTime.send(new ListQueuesCommand({})),
        (error: Error) => error.name === "RequestExpired" || error.name === "InvalidSignature",
      );
    } finally {
      onGuardTime.destroy();
      onWallTime.destroy();
    }
  });
}
