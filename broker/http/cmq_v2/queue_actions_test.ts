/**
 * CMQ's queue management actions through the door, against the real engine: CreateQueue,
 * ListQueue, GetQueueAttributes, SetQueueAttributes, DeleteQueue, RewindQueue.
 */
import assert from "node:assert/strict";
import { cmqCode, moduleCode } from "./errors.ts";
import { setup } from "./_test_setup.ts";

const attributeFields = [
  "maxMsgHeapNum",
  "pollingWaitSeconds",
  "visibilityTimeout",
  "maxMsgSize",
  "msgRetentionSeconds",
  "rewindSeconds",
  "activeMsgNum",
  "inactiveMsgNum",
  "delayMsgNum",
  "rewindMsgNum",
  "rewindmsgNum",
  "minMsgTime",
  "createTime",
  "lastModifyTime",
];

Deno.test("CreateQueue with CMQ's defaults; GetQueueAttributes answers every field as an integer", async () => {
  const { client, clock } = setup();
  const created = await client.call("CreateQueue", { queueName: "jobs" });
  assert.deepEqual(Object.keys(created.body), ["code", "message", "requestId", "queueId"]);
  assert.equal(created.body.code, 0);
  assert.equal(created.body.message, "");
  assert.equal(typeof created.body.requestId, "string");
  assert.equal(created.body.queueId, "jobs");
  const attributes = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(attributes.code, 0);
  assert.equal(attributes.queueName, "jobs");
  for (const field of attributeFields) {
    assert.ok(Number.isInteger(attributes[field]), `${field} is ${attributes[field]}`);
  }
  const nowSeconds = Math.floor(clock.now() / 1000);
  assert.deepEqual(
    {
      maxMsgHeapNum: attributes.maxMsgHeapNum,
      pollingWaitSeconds: attributes.pollingWaitSeconds,
      visibilityTimeout: attributes.visibilityTimeout,
      maxMsgSize: attributes.maxMsgSize,
      msgRetentionSeconds: attributes.msgRetentionSeconds,
      rewindSeconds: attributes.rewindSeconds,
      minMsgTime: attributes.minMsgTime,
      createTime: attributes.createTime,
      lastModifyTime: attributes.lastModifyTime,
    },
    {
      maxMsgHeapNum: 100_000_000,
      pollingWaitSeconds: 0,
      visibilityTimeout: 30,
      maxMsgSize: 65_536,
      msgRetentionSeconds: 345_600,
      rewindSeconds: 0,
      minMsgTime: 0,
      createTime: nowSeconds,
      lastModifyTime: nowSeconds,
    },
  );
});

Deno.test("CreateQueue takes CMQ's attribute names; any existing name is 4460", async () => {
  const { client, refused } = setup();
  const attributes = {
    queueName: "jobs",
    maxMsgHeapNum: 2_000_000,
    pollingWaitSeconds: 5,
    visibilityTimeout: 60,
    maxMsgSize: 2048,
    msgRetentionSeconds: 3600,
    rewindSeconds: 600,
  };
  assert.equal((await client.call("CreateQueue", attributes)).body.code, 0);
  const read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  for (const [name, value] of Object.entries(attributes)) assert.equal(read[name], value, name);
  // cmqd would answer an identical create as a success; CMQ refuses every existing name.
  const same = await refused(() => client.call("CreateQueue", attributes), 4460);
  assert.match(same.body.message, /queue 'jobs' already exists/);
  await refused(
    () => client.call("CreateQueue", { queueName: "jobs", visibilityTimeout: 61 }),
    cmqCode.queueAlreadyExists,
  );
});

Deno.test("CreateQueue refuses bad input with CMQ's module codes and creates nothing", async () => {
  const { client, refused, broker } = setup();
  const cases: [Record<string, string | number>, number][] = [
    [{}, moduleCode.missingParameter],
    [{ queueName: "" }, moduleCode.outOfRange],
    [{ queueName: "q".repeat(65) }, moduleCode.outOfRange],
    [{ queueName: "1jobs" }, moduleCode.parameterError],
    [{ queueName: "jobs!" }, moduleCode.parameterError],
    [{ queueName: "jobs", visibilityTimeout: "abc" }, moduleCode.wrongType],
    [{ queueName: "jobs", visibilityTimeout: "1.5" }, moduleCode.wrongType],
    [{ queueName: "jobs", visibilityTimeout: "" }, moduleCode.wrongType],
    [{ queueName: "jobs", visibilityTimeout: 0 }, moduleCode.outOfRange],
    [{ queueName: "jobs", visibilityTimeout: 43_201 }, moduleCode.outOfRange],
    [{ queueName: "jobs", pollingWaitSeconds: 31 }, moduleCode.outOfRange],
    [{ queueName: "jobs", maxMsgSize: 1023 }, moduleCode.outOfRange],
    [{ queueName: "jobs", msgRetentionSeconds: 59 }, moduleCode.outOfRange],
    // CMQ's maxMsgHeapNum starts at 1,000,000 (cmqd's maxBacklog at 1).
    [{ queueName: "jobs", maxMsgHeapNum: 999_999 }, moduleCode.outOfRange],
    [{ queueName: "jobs", rewindSeconds: -1 }, moduleCode.outOfRange],
  ];
  for (const [params, module] of cases) {
    await refused(() => client.call("CreateQueue", params), cmqCode.invalidParameter, module);
  }
  // A rule between attributes is the service's; its message speaks CMQ's names.
  const combined = await refused(
    () =>
      client.call("CreateQueue", {
        queueName: "jobs",
        msgRetentionSeconds: 600,
        rewindSeconds: 700,
      }),
    cmqCode.invalidParameter,
    moduleCode.rewindOverRetention,
  );
  assert.match(
    combined.body.message,
    /^\(10700\)rewindSeconds cannot be greater than msgRetentionSeconds: rewindSeconds: must not exceed msgRetentionSeconds$/,
  );
  assert.equal((await broker.listQueues({})).total, 0);
});

Deno.test("ListQueue pages by searchWord (a name prefix), offset and limit", async () => {
  const { client, refused } = setup();
  for (const name of ["orders-b", "orders-a", "payments", "orders-c"]) {
    assert.equal((await client.call("CreateQueue", { queueName: name })).body.code, 0);
  }
  const page = await client.call("ListQueue", { searchWord: "orders", offset: 1, limit: 1 });
  assert.deepEqual(page.body, {
    code: 0,
    message: "",
    requestId: page.body.requestId,
    totalCount: 3,
    queueList: [{ queueId: "orders-b", queueName: "orders-b" }],
  });
  const all = await client.call("ListQueue");
  assert.equal(all.body.totalCount, 4);
  assert.deepEqual(
    all.body.queueList.map((queue: { queueName: string }) => queue.queueName),
    ["orders-a", "orders-b", "orders-c", "payments"],
  );
  const empty = await client.call("ListQueue", { searchWord: "" });
  assert.equal(empty.body.totalCount, 4);
  const outOfRange: Record<string, string | number>[] = [
    { limit: 0 },
    { limit: 51 },
    { offset: -1 },
    { searchWord: "s".repeat(65) },
  ];
  for (const params of outOfRange) {
    await refused(() => client.call("ListQueue", params), 4000, moduleCode.outOfRange);
  }
  await refused(() => client.call("ListQueue", { limit: "ten" }), 4000, moduleCode.wrongType);
});

Deno.test("ListQueue answers 20 queues unless limit says otherwise (CMQ's default page)", async () => {
  const { client, broker } = setup();
  for (let index = 0; index < 25; index++) await broker.createQueue(`q${index}`, {});
  const page = await client.call("ListQueue");
  assert.equal(page.body.totalCount, 25);
  assert.equal(page.body.queueList.length, 20);
  assert.equal((await client.call("ListQueue", { limit: 50 })).body.queueList.length, 25);
});

Deno.test("GetQueueAttributes counts active, inactive, delayed and rewindable messages", async () => {
  const { client, clock } = setup();
  await client.call("CreateQueue", { queueName: "jobs", rewindSeconds: 3600 });
  const firstSentAt = Math.floor(clock.now() / 1000);
  await client.call("BatchSendMessage", { queueName: "jobs", "msgBody.1": "a", "msgBody.2": "b" });
  clock.advance(2_000);
  await client.call("SendMessage", { queueName: "jobs", msgBody: "c", delaySeconds: 60 });
  const received = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(received.body.msgBody, "a");
  let read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.deepEqual(
    [read.activeMsgNum, read.inactiveMsgNum, read.delayMsgNum, read.rewindMsgNum],
    [1, 1, 1, 0],
  );
  assert.equal(read.minMsgTime, firstSentAt);
  await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: received.body.receiptHandle,
  });
  read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.deepEqual(
    [read.activeMsgNum, read.inactiveMsgNum, read.delayMsgNum, read.rewindMsgNum],
    [1, 0, 1, 1],
  );
  // The Python and C++ SDKs read the count as rewindmsgNum (the Java SDK as rewindMsgNum).
  assert.equal(read.rewindmsgNum, 1);
});

Deno.test("SetQueueAttributes changes what it carries, keeps the rest, and answers the result", async () => {
  const { client, clock, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs", maxMsgSize: 4096 });
  const createdAt = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  clock.advance(5_000);
  const set = await client.call("SetQueueAttributes", {
    queueName: "jobs",
    visibilityTimeout: 90,
    maxMsgHeapNum: 5_000_000,
  });
  assert.equal(set.body.code, 0);
  assert.equal(set.body.visibilityTimeout, 90);
  const read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(read.visibilityTimeout, 90);
  assert.equal(read.maxMsgHeapNum, 5_000_000);
  assert.equal(read.maxMsgSize, 4096);
  assert.equal(read.createTime, createdAt.createTime);
  assert.equal(read.lastModifyTime, createdAt.lastModifyTime + 5);
  await refused(
    () => client.call("SetQueueAttributes", { queueName: "jobs", maxMsgSize: 2_000_000 }),
    cmqCode.invalidParameter,
    moduleCode.outOfRange,
  );
});

Deno.test("SetQueueAttributes that changes nothing (no attributes, or the values the queue has) writes nothing", async () => {
  const { client, clock, replica } = setup();
  await client.call("CreateQueue", { queueName: "jobs", visibilityTimeout: 45 });
  const read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  clock.advance(5_000);
  const before = replica.lastIndex;
  const unchanged: Record<string, number>[] = [{}, {
    visibilityTimeout: 45,
    maxMsgSize: read.maxMsgSize,
  }];
  for (const attributes of unchanged) {
    const set = await client.call("SetQueueAttributes", { queueName: "jobs", ...attributes });
    assert.equal(set.body.code, 0, set.body.message);
    assert.equal(set.body.visibilityTimeout, 45);
  }
  assert.equal(replica.lastIndex, before, "a change of nothing was written");
  const after = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(after.lastModifyTime, read.lastModifyTime, "nothing was modified");
});

Deno.test("SetQueueAttributes takes back a maxMsgHeapNum below CMQ's range that the queue has now", async () => {
  const { client, broker, refused } = setup();
  // The native API allows a maxBacklog of 1; CMQ's maxMsgHeapNum starts at 1,000,000.
  await broker.createQueue("jobs", { maxBacklog: 500 });
  const read = (await client.call("GetQueueAttributes", { queueName: "jobs" })).body;
  assert.equal(read.maxMsgHeapNum, 500);
  // What the Python and PHP SDKs send for `meta = get_attributes(); meta.x = …; set_attributes(meta)`.
  const writeBack = {
    queueName: "jobs",
    pollingWaitSeconds: read.pollingWaitSeconds,
    visibilityTimeout: 90,
    maxMsgSize: read.maxMsgSize,
    msgRetentionSeconds: read.msgRetentionSeconds,
    rewindSeconds: read.rewindSeconds,
    maxMsgHeapNum: read.maxMsgHeapNum,
  };
  const set = await client.call("SetQueueAttributes", writeBack);
  assert.equal(set.body.code, 0, set.body.message);
  assert.equal(set.body.maxMsgHeapNum, 500);
  assert.equal((await broker.getQueue("jobs")).visibilityTimeoutSeconds, 90);
  // A change to another value below the range is refused, naming what is taken.
  for (const maxMsgHeapNum of [501, 0, -1]) {
    const changed = await refused(
      () => client.call("SetQueueAttributes", { ...writeBack, maxMsgHeapNum }),
      cmqCode.invalidParameter,
      moduleCode.outOfRange,
    );
    assert.match(changed.body.message, /maxMsgHeapNum .*\(1000000-1000000000, or 500\)/);
  }
  await refused(
    () => client.call("SetQueueAttributes", { ...writeBack, maxMsgHeapNum: 1_000_000_001 }),
    cmqCode.invalidParameter,
    moduleCode.outOfRange,
  );
  assert.equal((await broker.getQueue("jobs")).maxBacklog, 500);
  // Into CMQ's range it changes as usual; below it is then refused again.
  assert.equal(
    (await client.call("SetQueueAttributes", { ...writeBack, maxMsgHeapNum: 2_000_000 })).body
      .code,
    0,
  );
  assert.equal((await broker.getQueue("jobs")).maxBacklog, 2_000_000);
  const back = await refused(
    () => client.call("SetQueueAttributes", { ...writeBack, maxMsgHeapNum: 500 }),
    cmqCode.invalidParameter,
    moduleCode.outOfRange,
  );
  assert.match(back.body.message, /\(1000000-1000000000\)/);
});

Deno.test("DeleteQueue removes the queue; every action on a missing queue is 4440", async () => {
  const { client, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  const deleted = await client.call("DeleteQueue", { queueName: "jobs" });
  assert.deepEqual(Object.keys(deleted.body), ["code", "message", "requestId"]);
  assert.equal(deleted.body.code, 0);
  const onMissing: [string, Record<string, string | number>][] = [
    ["GetQueueAttributes", {}],
    ["SetQueueAttributes", { visibilityTimeout: 40 }],
    ["DeleteQueue", {}],
    ["RewindQueue", { startConsumeTime: 1_700_000_000 }],
    ["SendMessage", { msgBody: "x" }],
    ["BatchSendMessage", { "msgBody.1": "x" }],
    ["ReceiveMessage", {}],
    ["BatchReceiveMessage", { numOfMsg: 2 }],
    ["DeleteMessage", { receiptHandle: "h" }],
    ["BatchDeleteMessage", { "receiptHandle.1": "h" }],
  ];
  for (const [action, params] of onMissing) {
    const reply = await refused(
      () => client.call(action, { queueName: "jobs", ...params }),
      cmqCode.queueNotFound,
    );
    assert.match(reply.body.message, /queue 'jobs' does not exist/, action);
  }
});

Deno.test("RewindQueue delivers deleted messages again from startConsumeTime (Unix seconds)", async () => {
  const { client, clock, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs", rewindSeconds: 3600 });
  const startSeconds = Math.floor(clock.now() / 1000);
  await client.call("SendMessage", { queueName: "jobs", msgBody: "again" });
  const first = await client.call("ReceiveMessage", { queueName: "jobs" });
  await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: first.body.receiptHandle,
  });
  assert.equal((await client.call("ReceiveMessage", { queueName: "jobs" })).body.code, 7000);
  const rewound = await client.call("RewindQueue", {
    queueName: "jobs",
    startConsumeTime: startSeconds,
  });
  assert.deepEqual(Object.keys(rewound.body), ["code", "message", "requestId"]);
  assert.equal(rewound.body.code, 0, rewound.body.message);
  const again = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(again.body.msgBody, "again");
  await refused(() => client.call("RewindQueue", { queueName: "jobs" }), 4000, 10390);
  await refused(
    () => client.call("RewindQueue", { queueName: "jobs", startConsumeTime: "yesterday" }),
    4000,
    moduleCode.wrongType,
  );
  // A time before the window rewinds from the window's start (CMQ: the nearest rewindable time).
  let receiptHandle = again.body.receiptHandle;
  for (const early of [startSeconds - 7200, 5]) {
    await client.call("DeleteMessage", { queueName: "jobs", receiptHandle });
    const reply = await client.call("RewindQueue", { queueName: "jobs", startConsumeTime: early });
    assert.equal(reply.body.code, 0, reply.body.message);
    const back = await client.call("ReceiveMessage", { queueName: "jobs" });
    assert.equal(back.body.msgBody, "again", String(early));
    receiptHandle = back.body.receiptHandle;
  }
  const late = await refused(
    () => client.call("RewindQueue", { queueName: "jobs", startConsumeTime: clock.now() }),
    4000,
    moduleCode.invalidRewindTime,
  );
  assert.match(late.body.message, /^\(10680\)invalid rewind time: startConsumeTime: in the future/);
});

Deno.test("RewindQueue on a queue without rewindSeconds is CMQ's 6050 (10670), and changes nothing", async () => {
  const { client, clock, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs" });
  await client.call("SendMessage", { queueName: "jobs", msgBody: "once" });
  const first = await client.call("ReceiveMessage", { queueName: "jobs" });
  await client.call("DeleteMessage", {
    queueName: "jobs",
    receiptHandle: first.body.receiptHandle,
  });
  const reply = await refused(
    () =>
      client.call("RewindQueue", {
        queueName: "jobs",
        startConsumeTime: Math.floor(clock.now() / 1000),
      }),
    cmqCode.queueCannotRewind,
    moduleCode.rewindDisabled,
  );
  assert.equal(
    reply.body.message,
    "(10670)your queue cannot be rewinded: startConsumeTime: rewind is disabled on queue 'jobs'",
  );
  assert.equal((await client.call("ReceiveMessage", { queueName: "jobs" })).body.code, 7000);
  // SetQueueAttributes lowering the retention under rewindSeconds: CMQ's (10700) as well.
  await client.call("SetQueueAttributes", { queueName: "jobs", rewindSeconds: 600 });
  const lowered = await refused(
    () => client.call("SetQueueAttributes", { queueName: "jobs", msgRetentionSeconds: 300 }),
    cmqCode.invalidParameter,
    moduleCode.rewindOverRetention,
  );
  assert.match(lowered.body.message, /^\(10700\)rewindSeconds cannot be greater than/);
});

Deno.test("RewindQueue takes int(now) - rewindSeconds, whose second starts before the window; its refusal of a later time names the last startConsumeTime accepted in Unix seconds", async () => {
  const { client, clock, refused } = setup();
  await client.call("CreateQueue", { queueName: "jobs", rewindSeconds: 3600 });
  clock.advance(250); // inside a second: its window starts inside one too
  const nowSeconds = Math.floor(clock.now() / 1000);
  const first = nowSeconds - 3600;
  // Milliseconds passed by mistake: the answer names the broker's time in seconds.
  const late = await refused(
    () => client.call("RewindQueue", { queueName: "jobs", startConsumeTime: clock.now() }),
    4000,
    moduleCode.invalidRewindTime,
  );
  const last = Number(/the broker's time is (\d+), Unix seconds/.exec(late.body.message)?.[1]);
  assert.equal(last, nowSeconds, late.body.message);
  for (const startConsumeTime of [first, last]) {
    const reply = await client.call("RewindQueue", { queueName: "jobs", startConsumeTime });
    assert.equal(reply.body.code, 0, reply.body.message);
  }
});
