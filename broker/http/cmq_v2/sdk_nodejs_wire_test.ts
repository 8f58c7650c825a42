/**
 * The Node.js SDK `cmq-nodejs-sdk` as it really puts its requests on the wire
 * (`_nodejs_sdk_wire.ts`): a JSON body under `content-type: application/x-www-form-urlencoded`,
 * `Timestamp` in milliseconds, `Nonce` a fraction, numbers as JSON numbers, and, from its
 * `Queue.create`, the attributes it was not given signed as `name=undefined`.
 */
import assert from "node:assert/strict";
import { cmqCode, moduleCode } from "./errors.ts";
import { answer } from "./_sdk_request.ts";
import { nodeSdkWire, queueCreateParams } from "./_nodejs_sdk_wire.ts";
import { adminKey, ok, setup } from "./_test_setup.ts";

/** CreateQueue, SendMessage, ReceiveMessage, DeleteMessage as the SDK's `Queue` sends them. */
async function queueRoundTrip(
  door: { request: (r: Request) => Response | Promise<Response> },
  now: () => number,
  call: Parameters<typeof nodeSdkWire>[3] = {},
) {
  const created = await answer(
    door,
    nodeSdkWire(now(), "CreateQueue", queueCreateParams("jobs", { visibilityTimeout: 30 }), call),
  );
  assert.equal(created.code, 0, `CreateQueue: ${created.message}`);
  for (const msgBody of ['built 多字节 "quoted" & x=1', "@ops deploy done"]) {
    const sent = await answer(
      door,
      nodeSdkWire(now(), "SendMessage", { queueName: "jobs", msgBody, delaySeconds: 0 }, call),
    );
    assert.equal(sent.code, 0, `SendMessage ${msgBody}: ${sent.message}`);
    const received = await answer(
      door,
      nodeSdkWire(now(), "ReceiveMessage", { queueName: "jobs", pollingWaitSeconds: 30 }, call),
    );
    assert.equal(received.code, 0, `ReceiveMessage: ${received.message}`);
    assert.equal(received.msgBody, msgBody);
    const deleted = await answer(
      door,
      nodeSdkWire(
        now(),
        "DeleteMessage",
        { queueName: "jobs", receiptHandle: received.receiptHandle },
        call,
      ),
    );
    assert.equal(deleted.code, 0, `DeleteMessage: ${deleted.message}`);
  }
}

Deno.test("cmq-nodejs-sdk's own wire form (JSON body, ms Timestamp) is served with credentials", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  await queueRoundTrip(door, () => clock.now());
  const attributes = ok(await client.call("GetQueueAttributes", { queueName: "jobs" }));
  assert.equal(attributes.visibilityTimeout, 30);
  assert.equal(ok(await client.call("GetQueueAttributes", { queueName: "jobs" })).activeMsgNum, 0);
});

Deno.test("cmq-nodejs-sdk's wire form: HmacSHA256, https:// and http:// endpoints, no keys", async () => {
  for (
    const call of [
      { sha256: true },
      { endpoint: "https://127.0.0.1:9876" },
      { endpoint: "http://127.0.0.1:9876", nonce: 5.3e-7 },
    ]
  ) {
    const { door, clock } = setup({ keys: [adminKey] });
    await queueRoundTrip(door, () => clock.now(), call);
  }
  const { door, clock } = setup();
  await queueRoundTrip(door, () => clock.now());
});

Deno.test("cmq-nodejs-sdk's CreateQueue called with its own parameters (no undefined) verifies", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  const created = await answer(
    door,
    nodeSdkWire(clock.now(), "CreateQueue", { queueName: "jobs", maxMsgSize: 2048 }),
  );
  assert.equal(created.code, 0, created.message);
  assert.equal(ok(await client.call("GetQueueAttributes", { queueName: "jobs" })).maxMsgSize, 2048);
});

Deno.test("cmq-nodejs-sdk's wire form: a forged, stale or altered request is refused, nothing sent", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const send = { queueName: "jobs", msgBody: "built", delaySeconds: 0 };
  const refusedCases: [string, Request][] = [
    ["another key", nodeSdkWire(clock.now(), "SendMessage", send, { secretKey: "not-the-key" })],
    ["301 s old", nodeSdkWire(clock.now() - 301_000, "SendMessage", send)],
    ["301 s ahead", nodeSdkWire(clock.now() + 301_000, "SendMessage", send)],
    ["msgBody changed after signing", await altered(nodeSdkWire(clock.now(), "SendMessage", send))],
    // `name=undefined` signed for an absent name is read only from its Queue.create.
    [
      "undefined signed, not CreateQueue",
      nodeSdkWire(clock.now(), "SendMessage", {
        ...send,
        delaySeconds: undefined,
      }),
    ],
    [
      "undefined signed, another name",
      nodeSdkWire(clock.now(), "CreateQueue", {
        queueName: "other",
        maxMsgHeapNum: undefined,
      }),
    ],
  ];
  for (const [name, request] of refusedCases) {
    const refused = await answer(door, request);
    assert.equal(refused.code, cmqCode.authenticationFailed, `${name}: ${refused.message}`);
  }
  // Within the window either way, it is taken (the window is read in seconds from the ms).
  for (const skewMs of [-299_000, 299_000]) {
    const sent = await answer(door, nodeSdkWire(clock.now() + skewMs, "SendMessage", send));
    assert.equal(sent.code, 0, `${skewMs}: ${sent.message}`);
  }
  ok(await client.call("ReceiveMessage", { queueName: "jobs" }));
  ok(await client.call("ReceiveMessage", { queueName: "jobs" }));
  const after = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(after.body.code, cmqCode.noMessage, "none of the refused was stored");
  const other = await client.call("GetQueueAttributes", { queueName: "other" });
  assert.equal(other.body.code, cmqCode.queueNotFound, "the refused CreateQueue made nothing");
});

/** The request with its `msgBody` changed after signing. */
async function altered(request: Request): Promise<Request> {
  const body = JSON.parse(await request.text());
  body.msgBody = "changed";
  return new Request(request.url, {
    method: "POST",
    headers: request.headers,
    body: JSON.stringify(body),
  });
}

Deno.test("a JSON body or a ms Timestamp from any other client is refused", async () => {
  const { door, clock, client, replica } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const before = replica.lastIndex;
  const send = { queueName: "jobs", msgBody: "built" };
  const otherJson = await answer(
    door,
    nodeSdkWire(clock.now(), "SendMessage", send, { version: "SDK_Python_1.3" }),
  );
  assert.equal(otherJson.code, cmqCode.invalidParameter, otherJson.message);
  assert.match(otherJson.message, new RegExp(`^\\(${moduleCode.invalidRequest}\\)`));
  assert.match(otherJson.message, /CMQ_NODEJS_SDK_/);
  const msTimestamp = await client.call("SendMessage", send, {
    timestampSeconds: clock.now(),
  });
  assert.equal(msTimestamp.body.code, cmqCode.authenticationFailed, msTimestamp.body.message);
  const notObject = await answer(
    door,
    new Request("http://127.0.0.1:9876/v2/index.php", { method: "POST", body: "{not json" }),
  );
  assert.equal(notObject.code, cmqCode.invalidParameter, notObject.message);
  const nested = await answer(
    door,
    nodeSdkWire(clock.now(), "SendMessage", {
      queueName: "jobs",
      msgBody: { a: 1 } as unknown as string,
    }),
  );
  assert.equal(nested.code, cmqCode.invalidParameter, nested.message);
  assert.match(nested.message, /msgBody/);
  assert.equal(replica.lastIndex, before, "a refused request proposed something");
});
