/**
 * CMQ's message actions through the door, against the real engine: SendMessage,
 * BatchSendMessage, ReceiveMessage, BatchReceiveMessage, DeleteMessage, BatchDeleteMessage.
 */
import assert from "node:assert/strict";
import { cmqCode, moduleCode } from "./errors.ts";
import { CmqTestClient, formEncode } from "./_cmq_test_client.ts";
import { adminKey, setup, until, workerKey } from "./_test_setup.ts";
import { FileKeyRing } from "../../auth/mod.ts";

function numbered(base: string, values: string[], first = 1): Record<string, string> {
  return Object.fromEntries(values.map((value, index) => [`${base}.${first + index}`, value]));
}

/** Queue `jobs` created with messages a, b and c, all three received: their receipt handles. */
async function threeLocked(client: CmqTestClient): Promise<string[]> {
  await client.call("CreateQueue", { queueName: "jobs" });
  await client.call("BatchSendMessage", {
    queueName: "jobs",
    ...numbered("msgBody", ["a", "b", "c"]),
  });
  const received = await client.call("BatchReceiveMessage", { queueName: "jobs", numOfMsg: 3 });
  return received.body.msgInfoList.map(
    (message: { receiptHandle: string }) => message.receiptHandle,
  );
}

Deno.test("SendMessage, ReceiveMessage, DeleteMessage: CMQ's fields, times in seconds", async () => {
  const { client, clock } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const sent = await client.call("SendMessage", { queueName: "jobs", msgBody: "photo 7 ✓" });
  assert.deepEqual(Object.keys(sent.body), ["code", "message", "requestId", "msgId"]);
  assert.equal(typeof sent.body.msgId, "string");
  const sentAt = Math.floor(clock.now() / 1000);
  clock.advance(3_000);
  const received = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.deepEqual(received.body, {
    code: 0,
    message: "",
    requestId: received.body.requestId,
    msgBody: "photo 7 ✓",
    msgId: sent.body.msgId,
    receiptHandle: received.body.receiptHandle,
    enqueueTime: sentAt,
    firstDequeueTime: sentAt + 3,
    nextVisibleTime: sentAt + 3 + 30,
    dequeueCount: 1,
  });
  assert.equal(typeof received.body.receiptHandle, "string");
  const deleted = await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: received.body.receiptHandle,
  });
  assert.deepEqual(Object.keys(deleted.body), ["code", "message", "requestId"]);
  assert.equal(deleted.body.code, 0);
  clock.advance(60_000);
  assert.equal((await client.call("ReceiveMessage", { queueName: "jobs" })).body.code, 7000);
});

Deno.test("a receive that finds nothing is 7000 (10200)", async () => {
  const { client } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const receives: [string, Record<string, number>][] = [
    ["ReceiveMessage", {}],
    ["BatchReceiveMessage", { numOfMsg: 5 }],
  ];
  for (const [action, params] of receives) {
    const reply = await client.call(action, { queueName: "jobs", ...params });
    assert.equal(reply.body.code, cmqCode.noMessage);
    assert.equal(reply.body.message, "(10200)no message");
    assert.deepEqual(Object.keys(reply.body), ["code", "message", "requestId"]);
  }
});

Deno.test("ReceiveMessage waits pollingWaitSeconds and answers as soon as a message arrives", async () => {
  const { client, broker } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const pending = client.call("ReceiveMessage", {
    queueName: "jobs",
    pollingWaitSeconds: 10,
    UserpollingWaitSeconds: 10,
  });
  await until(() => broker.parkedReceivers === 1);
  await client.call("SendMessage", { queueName: "jobs", msgBody: "hi" });
  const received = await pending;
  assert.equal(received.body.code, 0);
  assert.equal(received.body.msgBody, "hi");
});

Deno.test("a receive without pollingWaitSeconds waits the queue's; a wait over 30 s is cut to 30", async () => {
  const { client, broker, clock } = setup();
  await client.call("CreateQueue", { queueName: "waits", pollingWaitSeconds: 4 });
  const queueDefault = client.call("ReceiveMessage", { queueName: "waits" });
  await until(() => broker.parkedReceivers === 1);
  clock.advance(4_000);
  assert.equal((await queueDefault).body.code, cmqCode.noMessage);
  // Old Java SDKs send 30000 here; CMQ accepted it.
  const long = client.call("BatchReceiveMessage", {
    queueName: "waits",
    numOfMsg: 2,
    pollingWaitSeconds: 30_000,
  });
  await until(() => broker.parkedReceivers === 1);
  clock.advance(30_000);
  assert.equal((await long).body.code, cmqCode.noMessage);
  assert.equal(broker.parkedReceivers, 0);
});

Deno.test("BatchSendMessage takes msgBody.1..16, answers msgList in order; BatchReceiveMessage numOfMsg", async () => {
  const { client } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const bodies = Array.from({ length: 16 }, (_, index) => `message ${index + 1}`);
  const sent = await client.call("BatchSendMessage", {
    queueName: "jobs",
    ...numbered("msgBody", bodies),
  });
  assert.equal(sent.body.code, 0, sent.body.message);
  assert.equal(sent.body.msgList.length, 16);
  assert.deepEqual(Object.keys(sent.body.msgList[0]), ["msgId"]);
  const firstTen = await client.call("BatchReceiveMessage", { queueName: "jobs", numOfMsg: 10 });
  assert.deepEqual(Object.keys(firstTen.body), ["code", "message", "requestId", "msgInfoList"]);
  assert.deepEqual(
    firstTen.body.msgInfoList.map((message: { msgBody: string }) => message.msgBody),
    bodies.slice(0, 10),
  );
  assert.deepEqual(
    firstTen.body.msgInfoList.map((message: { msgId: string }) => message.msgId),
    sent.body.msgList.slice(0, 10).map((message: { msgId: string }) => message.msgId),
  );
  assert.deepEqual(Object.keys(firstTen.body.msgInfoList[0]).sort(), [
    "dequeueCount",
    "enqueueTime",
    "firstDequeueTime",
    "msgBody",
    "msgId",
    "nextVisibleTime",
    "receiptHandle",
  ]);
  const rest = await client.call("BatchReceiveMessage", { queueName: "jobs", numOfMsg: 16 });
  assert.equal(rest.body.msgInfoList.length, 6);
});

Deno.test("a list numbered from 0 is accepted, as CMQ documents", async () => {
  const { client } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const sent = await client.call("BatchSendMessage", {
    queueName: "jobs",
    ...numbered("msgBody", ["zero", "one"], 0),
  });
  assert.equal(sent.body.code, 0, sent.body.message);
  const received = await client.call("BatchReceiveMessage", { queueName: "jobs", numOfMsg: 2 });
  const handles = received.body.msgInfoList.map((m: { receiptHandle: string }) => m.receiptHandle);
  const deleted = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", handles, 0),
  });
  assert.equal(deleted.body.code, 0, deleted.body.message);
});

Deno.test("bad numbered lists are 4000 with CMQ's module code and send nothing", async () => {
  const { client, refused, broker } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const seventeen = Array.from({ length: 17 }, (_, index) => `m${index}`);
  const cases: [Record<string, string>, number][] = [
    [numbered("msgBody", seventeen), moduleCode.batchSizeOutOfRange],
    [{ "msgBody.1": "a", "msgBody.3": "c" }, moduleCode.notContiguous],
    [{ "msgBody.2": "b", "msgBody.3": "c" }, moduleCode.notContiguous],
    [{ "msgBody.1": "a", "msgBody.x": "c" }, moduleCode.keyFormat],
    [{ "msgBody.01": "a" }, moduleCode.keyFormat],
    [{ "msgBody.-1": "a" }, moduleCode.keyFormat],
    [{ "msgBody.": "a" }, moduleCode.keyFormat],
    [{}, moduleCode.missingParameter],
    [{ msgBody: "not numbered" }, moduleCode.missingParameter],
  ];
  for (const [params, module] of cases) {
    await refused(
      () => client.call("BatchSendMessage", { queueName: "jobs", ...params }),
      cmqCode.invalidParameter,
      module,
    );
  }
  // A name given twice can't come from an SDK's map: refused before anything else.
  const twice = formEncode([
    ["Action", "BatchSendMessage"],
    ["queueName", "jobs"],
    ["msgBody.1", "a"],
    ["msgBody.1", "b"],
  ]);
  await refused(() => client.sendRaw(twice), cmqCode.invalidParameter, moduleCode.notRepeatable);
  await refused(
    () =>
      client.call("BatchDeleteMessage", {
        queueName: "jobs",
        ...numbered("receiptHandle", seventeen),
      }),
    cmqCode.invalidParameter,
    moduleCode.batchSizeOutOfRange,
  );
  await refused(
    () => client.call("BatchDeleteMessage", { queueName: "jobs", "receiptHandle.2": "h" }),
    cmqCode.invalidParameter,
    moduleCode.notContiguous,
  );
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("BatchReceiveMessage numOfMsg must be an integer 1-16", async () => {
  const { client, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  await client.call("SendMessage", { queueName: "jobs", msgBody: "kept" });
  const cases: [Record<string, string | number>, number][] = [
    [{}, moduleCode.missingParameter],
    [{ numOfMsg: 0 }, moduleCode.outOfRange],
    [{ numOfMsg: 17 }, moduleCode.outOfRange],
    [{ numOfMsg: "all" }, moduleCode.wrongType],
  ];
  for (const [params, module] of cases) {
    await refused(
      () => client.call("BatchReceiveMessage", { queueName: "jobs", ...params }),
      cmqCode.invalidParameter,
      module,
    );
  }
  await refused(
    () => client.call("ReceiveMessage", { queueName: "jobs", pollingWaitSeconds: -1 }),
    cmqCode.invalidParameter,
    moduleCode.outOfRange,
  );
  const still = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(still.body.msgBody, "kept");
});

Deno.test("SendMessage needs msgBody; delaySeconds must be 0-43200", async () => {
  const { client, refused, broker } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  await refused(
    () => client.call("SendMessage", { queueName: "jobs" }),
    cmqCode.invalidParameter,
    moduleCode.missingParameter,
  );
  for (const delaySeconds of [-1, 43_201]) {
    await refused(
      () => client.call("SendMessage", { queueName: "jobs", msgBody: "x", delaySeconds }),
      cmqCode.invalidParameter,
      moduleCode.outOfRange,
    );
  }
  await refused(
    () =>
      client.call("BatchSendMessage", {
        queueName: "jobs",
        "msgBody.1": "x",
        delaySeconds: "soon",
      }),
    cmqCode.invalidParameter,
    moduleCode.wrongType,
  );
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("delaySeconds hides a message, in a batch every message, until it passes", async () => {
  const { client, clock } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  await client.call("BatchSendMessage", {
    queueName: "jobs",
    delaySeconds: 10,
    ...numbered("msgBody", ["a", "b"]),
  });
  assert.equal((await client.call("ReceiveMessage", { queueName: "jobs" })).body.code, 7000);
  const delayed = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(delayed.delayMsgNum, 2);
  clock.advance(10_000);
  const received = await client.call("BatchReceiveMessage", { queueName: "jobs", numOfMsg: 16 });
  assert.equal(received.body.msgInfoList.length, 2);
});

Deno.test("BatchDeleteMessage: all deleted is 0, some failed 6010, all failed 6020, with errorList", async () => {
  const { client } = setup();
  const [first, second, third] = await threeLocked(client);
  const all = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", [first]),
  });
  assert.deepEqual(Object.keys(all.body), ["code", "message", "requestId"]);
  assert.equal(all.body.code, 0);
  const partly = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", [second, "forged", first]),
  });
  assert.equal(partly.body.code, cmqCode.batchDeletePartlyFailed);
  assert.deepEqual(
    partly.body.errorList.map((error: { code: number; receiptHandle: string }) => [
      error.code,
      error.receiptHandle,
    ]),
    [[4430, "forged"], [4430, first]],
  );
  assert.equal(typeof partly.body.errorList[0].message, "string");
  const none = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", [second, "forged"]),
  });
  assert.equal(none.body.code, cmqCode.batchDeleteFailed);
  assert.equal(none.body.errorList.length, 2);
  const attributes = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(attributes.inactiveMsgNum, 1, `only ${third} is still locked`);
});

Deno.test("BatchDeleteMessage: a handle given twice deletes its message once and succeeds", async () => {
  const { client } = setup();
  const [first, second] = await threeLocked(client);
  const twice = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", [first, first]),
  });
  assert.deepEqual(twice.body, { code: 0, message: "", requestId: twice.body.requestId });
  // With a forged handle beside it: only the forged one is in errorList, once per time it is given.
  const mixed = await client.call("BatchDeleteMessage", {
    queueName: "jobs",
    ...numbered("receiptHandle", [second, "forged", second, "forged"]),
  });
  assert.equal(mixed.body.code, cmqCode.batchDeletePartlyFailed);
  assert.equal(mixed.body.message, "2 of 4 messages were not deleted; see errorList");
  assert.deepEqual(
    mixed.body.errorList.map((error: { code: number; receiptHandle: string }) => [
      error.code,
      error.receiptHandle,
    ]),
    [[4430, "forged"], [4430, "forged"]],
  );
  const attributes = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(attributes.inactiveMsgNum, 1, "the third is still locked");
  assert.equal(attributes.activeMsgNum, 0);
});

Deno.test("DeleteMessage with a forged handle, or one from an earlier delivery, is 4430", async () => {
  const { client, clock, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs", visibilityTimeout: 10 });
  await client.call("SendMessage", { queueName: "jobs", msgBody: "slow" });
  // Handles are verified by the state machine, at apply: the refusal is logged, not applied.
  const forged = await client.call("DeleteMessage", { queueName: "jobs", receiptHandle: "forged" });
  assert.equal(forged.body.code, cmqCode.receiptHandleInvalid);
  assert.equal(forged.body.message, "not a receipt handle");
  await refused(
    () => client.call("DeleteMessage", { queueName: "jobs" }),
    cmqCode.invalidParameter,
    moduleCode.missingParameter,
  );
  const first = await client.call("ReceiveMessage", { queueName: "jobs" });
  clock.advance(10_000);
  const second = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(second.body.dequeueCount, 2);
  const stale = await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: first.body.receiptHandle,
  });
  assert.equal(stale.body.code, cmqCode.receiptHandleInvalid);
  const current = await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: second.body.receiptHandle,
  });
  assert.equal(current.body.code, 0);
});

Deno.test("a message larger than maxMsgSize is 4400 and nothing is sent", async () => {
  const { client, refused, broker } = setup();
  await client.call("CreateQueue", { queueName: "small", maxMsgSize: 1024 });
  assert.equal(
    (await client.call("SendMessage", { queueName: "small", msgBody: "x".repeat(1024) })).body.code,
    0,
  );
  const reply = await refused(
    () => client.call("SendMessage", { queueName: "small", msgBody: "é".repeat(513) }),
    cmqCode.messageTooLarge,
  );
  // The message names the parameter as the client sent it: `msgBody` alone, or the list entry
  // as numbered, from 1 or from 0.
  assert.match(reply.body.message, /^msgBody: 1026 bytes exceed maxMsgSize 1024/);
  const fromOne = await refused(
    () =>
      client.call("BatchSendMessage", {
        queueName: "small",
        ...numbered("msgBody", ["fine", "y".repeat(1025)]),
      }),
    cmqCode.messageTooLarge,
  );
  assert.match(fromOne.body.message, /msgBody\.2: 1025 bytes/);
  const fromZero = await refused(
    () =>
      client.call("BatchSendMessage", {
        queueName: "small",
        "msgBody.0": "fine",
        "msgBody.1": "y".repeat(1025),
      }),
    cmqCode.messageTooLarge,
  );
  assert.match(fromZero.body.message, /msgBody\.1: 1025 bytes/);
  assert.equal((await broker.getQueue("small")).activeMessages, 1);
});

Deno.test("sends beyond maxMsgHeapNum are 4410 and change nothing", async () => {
  const { client, broker } = setup();
  // CMQ's door can't set a backlog this small (its range starts at 1,000,000); the native one can.
  await broker.createQueue("small", { maxBacklog: 2 });
  const sent = await client.call("BatchSendMessage", {
    queueName: "small",
    ...numbered("msgBody", ["1", "2"]),
  });
  assert.equal(sent.body.code, 0);
  // The backlog is counted by the state machine, at apply: the refusal is logged, not applied.
  const full = await client.call("SendMessage", { queueName: "small", msgBody: "3" });
  assert.equal(full.body.code, cmqCode.backlogFull);
  assert.equal((await broker.getQueue("small")).activeMessages, 2);
  assert.equal(
    (await client.call("GetQueueAttributes", { queueName: "small" })).body.maxMsgHeapNum,
    2,
  );
});

Deno.test("a receive takes the queue's visibilityTimeout; CMQ has none per receive", async () => {
  const { client, clock } = setup();
  await client.call("CreateQueue", { queueName: "jobs", visibilityTimeout: 45 });
  await client.call("SendMessage", { queueName: "jobs", msgBody: "x" });
  const received = await client.call("ReceiveMessage", { queueName: "jobs", visibilityTimeout: 5 });
  assert.equal(received.body.nextVisibleTime, Math.floor(clock.now() / 1000) + 45);
});

Deno.test("a cmqd fifo queue through CMQ: the sends form one ordered group, one message in flight", async () => {
  const { client, broker } = setup();
  await broker.createQueue("ordered", { fifo: true });
  await client.call("BatchSendMessage", {
    queueName: "ordered",
    ...numbered("msgBody", ["a", "b", "c"]),
  });
  const first = await client.call("BatchReceiveMessage", { queueName: "ordered", numOfMsg: 16 });
  assert.deepEqual(first.body.msgInfoList.map((m: { msgBody: string }) => m.msgBody), ["a"]);
  assert.equal((await client.call("ReceiveMessage", { queueName: "ordered" })).body.code, 7000);
  await client.call("DeleteMessage", {
    queueName: "ordered",
    receiptHandle: first.body.msgInfoList[0].receiptHandle,
  });
  assert.equal((await client.call("ReceiveMessage", { queueName: "ordered" })).body.msgBody, "b");
});

Deno.test("a ReceiveMessage whose key a reload takes away ends at once, denied, with no message", async () => {
  let text = JSON.stringify({ keys: [adminKey, workerKey] });
  const keyRing = await FileKeyRing.load("credentials.json", () => Promise.resolve(text));
  const { client, broker, clock, door } = setup({
    keys: [adminKey, workerKey],
    clientKey: workerKey,
    door: { keys: keyRing },
  });
  const admin = new CmqTestClient({
    handler: (request) => door.request(request),
    credentials: adminKey,
    now: () => clock.now(),
  });
  await admin.call("CreateQueue", { queueName: "images" });
  // Removed, then narrowed.
  for (const allow of [null, ["queue:results:send"]]) {
    text = JSON.stringify({ keys: [adminKey, workerKey] });
    await keyRing.reload();
    const pending = client.call("ReceiveMessage", { queueName: "images", pollingWaitSeconds: 10 });
    await until(() => broker.parkedReceivers === 1);
    text = JSON.stringify({
      keys: allow === null ? [adminKey] : [adminKey, { ...workerKey, allow }],
    });
    await keyRing.reload();
    await admin.call("SendMessage", { queueName: "images", msgBody: "secret" });
    clock.advance(10_000); // without the reload's abort, the wait would end here
    const reply = await pending;
    assert.equal(reply.body.code, cmqCode.accessDenied, JSON.stringify(reply.body));
    assert.match(reply.body.message, /key 'AKIDworker' was removed or lacks queue:images:receive/);
    const taken = await admin.call("ReceiveMessage", { queueName: "images" });
    assert.equal(taken.body.msgBody, "secret", "the message stays for keys that may receive it");
    await admin.call("DeleteMessage", {
      queueName: "images",
      receiptHandle: String(taken.body.receiptHandle),
    });
  }
});

Deno.test("a receipt handle with any one character changed is refused (4430, in an HTTP 200 as every CMQ answer) and deletes nothing", async () => {
  // Every bit of a handle is checked: its version byte, its three numbers (each a float64 whose
  // bit patterns name distinct counts), the tag keyed by the queue's salt over all three, and the
  // base64url's unused bits (a changed character never decodes to the same bytes).
  const { client, refused } = setup();
  const [handle] = await threeLocked(client);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (let at = 0; at < handle.length; at++) {
    for (const character of alphabet) {
      if (character === handle[at]) continue;
      const changed = handle.slice(0, at) + character + handle.slice(at + 1);
      await refused(
        () => client.call("DeleteMessage", { queueName: "jobs", receiptHandle: changed }),
        cmqCode.receiptHandleInvalid,
      );
    }
  }
  const deleted = await client.call("DeleteMessage", { queueName: "jobs", receiptHandle: handle });
  assert.equal(deleted.body.code, 0, "the genuine handle still holds its message");
});
