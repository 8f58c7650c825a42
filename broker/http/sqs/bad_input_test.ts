/**
 * Bad input at the SQS door through raw HTTP: each request gets SQS's exact error (status,
 * `__type`, `x-amzn-query-error`) and changes nothing (no command is proposed).
 */
import assert from "node:assert/strict";
import { adminKey, rawCall, startDoor } from "./_test_server.ts";

interface Case {
  what: string;
  target: string | null;
  body: string | Uint8Array<ArrayBuffer>;
  status: number;
  type: string;
  queryError: string;
  /** Text the message must contain, when the case pins it. */
  message?: string;
}

const modeled = (name: string) => `com.amazonaws.sqs#${name}`;
const common = (name: string) => `com.amazon.coral.service#${name}`;

/** Stands for the URL of the test's queue `jobs` in the bodies below. */
const jobsUrl = "{jobs}";
const send = (input: Record<string, unknown>) => JSON.stringify({ QueueUrl: jobsUrl, ...input });
/** Stands for the URL of the test's FIFO queue `orders.fifo`. */
const ordersUrl = "{orders}";
const sendFifo = (input: Record<string, unknown>) =>
  JSON.stringify({ QueueUrl: ordersUrl, MessageGroupId: "g", ...input });
const serialization = {
  status: 400,
  type: common("SerializationException"),
  queryError: "SerializationException;Sender",
};
const invalidValue = {
  status: 400,
  type: common("InvalidParameterValue"),
  queryError: "InvalidParameterValue;Sender",
};
const missing = {
  status: 400,
  type: common("MissingParameter"),
  queryError: "MissingParameter;Sender",
};

/** What AWS JSON services answer for an X-Amz-Target naming no operation of theirs. */
const unknownOperation = {
  status: 400,
  type: common("UnknownOperationException"),
  queryError: "UnknownOperationException;Sender",
};

const invalidAttributeName = {
  status: 400,
  type: modeled("InvalidAttributeName"),
  queryError: "InvalidAttributeName;Sender",
};

const noSuchQueue = {
  status: 400,
  type: modeled("QueueDoesNotExist"),
  queryError: "AWS.SimpleQueueService.NonExistentQueue;Sender",
};

const cases: Case[] = [
  { what: "malformed JSON", target: "AmazonSQS.SendMessage", body: "{nope", ...serialization },
  { what: "a JSON array", target: "AmazonSQS.ListQueues", body: "[]", ...serialization },
  {
    what: "a number for a string",
    target: "AmazonSQS.CreateQueue",
    body: '{"QueueName": 5}',
    ...serialization,
  },
  {
    what: "a string for an integer",
    target: "AmazonSQS.SendMessage",
    body: send({ MessageBody: "x", DelaySeconds: "5" }),
    ...serialization,
  },
  {
    what: "a fraction for an integer",
    target: "AmazonSQS.ReceiveMessage",
    body: send({ MaxNumberOfMessages: 1.5 }),
    ...serialization,
  },
  {
    what: "a map for a list",
    target: "AmazonSQS.SendMessageBatch",
    body: send({ Entries: { Id: "a" } }),
    ...serialization,
  },
  // A member of the wrong JSON type inside a batch entry is the request's malformation (the
  // protocol can't read it), refused whole as every batch operation refuses it: never one
  // entry's failure beside the others done.
  {
    what: "a number for a batch entry's ReceiptHandle (delete)",
    target: "AmazonSQS.DeleteMessageBatch",
    body: send({ Entries: [{ Id: "a", ReceiptHandle: 5 }] }),
    ...serialization,
  },
  {
    what: "a number for a batch entry's ReceiptHandle (visibility)",
    target: "AmazonSQS.ChangeMessageVisibilityBatch",
    body: send({ Entries: [{ Id: "a", ReceiptHandle: 5, VisibilityTimeout: 30 }] }),
    ...serialization,
  },
  {
    what: "a string for a batch entry's VisibilityTimeout",
    target: "AmazonSQS.ChangeMessageVisibilityBatch",
    body: send({ Entries: [{ Id: "a", ReceiptHandle: "h", VisibilityTimeout: "30" }] }),
    ...serialization,
  },
  {
    what: "a string for VisibilityTimeout in a batch entry without a handle",
    target: "AmazonSQS.ChangeMessageVisibilityBatch",
    body: send({ Entries: [{ Id: "a", VisibilityTimeout: "30" }] }),
    ...serialization,
  },
  {
    what: "a number for a batch entry's MessageBody",
    target: "AmazonSQS.SendMessageBatch",
    body: send({ Entries: [{ Id: "a", MessageBody: 5 }] }),
    ...serialization,
  },
  // Whatever the entry's other members hold: a wrong type after a value error (checked first,
  // failing only its entry) refuses the request as a wrong type alone does.
  {
    what: "a number for a batch entry's MessageGroupId after a DelaySeconds out of range",
    target: "AmazonSQS.SendMessageBatch",
    body: send({ Entries: [{ Id: "a", MessageBody: "x", DelaySeconds: -1, MessageGroupId: 5 }] }),
    ...serialization,
  },
  {
    what: "a string for a batch entry's DelaySeconds after an empty MessageBody",
    target: "AmazonSQS.SendMessageBatch",
    body: send({ Entries: [{ Id: "a", MessageBody: "", DelaySeconds: "5" }] }),
    ...serialization,
  },
  {
    what: "a number for a batch entry's ReceiptHandle after a VisibilityTimeout out of range",
    target: "AmazonSQS.ChangeMessageVisibilityBatch",
    body: send({ Entries: [{ Id: "a", VisibilityTimeout: 50_000, ReceiptHandle: 5 }] }),
    ...serialization,
  },
  {
    what: "a list for a later batch entry's MessageAttributes after an earlier entry's value error",
    target: "AmazonSQS.SendMessageBatch",
    body: send({
      Entries: [{ Id: "a", MessageBody: "" }, { Id: "b", MessageBody: "x", MessageAttributes: [] }],
    }),
    ...serialization,
  },
  {
    what: "no QueueUrl",
    target: "AmazonSQS.SendMessage",
    body: '{"MessageBody": "x"}',
    ...missing,
  },
  { what: "no MessageBody", target: "AmazonSQS.SendMessage", body: send({}), ...missing },
  {
    what: "an empty MessageBody",
    target: "AmazonSQS.SendMessage",
    body: send({ MessageBody: "" }),
    ...missing,
  },
  {
    what: "a delay out of range",
    target: "AmazonSQS.SendMessage",
    body: send({ MessageBody: "x", DelaySeconds: 43_201 }),
    ...invalidValue,
  },
  {
    what: "MaxNumberOfMessages 0",
    target: "AmazonSQS.ReceiveMessage",
    body: send({ MaxNumberOfMessages: 0 }),
    ...invalidValue,
  },
  {
    what: "an unknown operation",
    target: "AmazonSQS.Frobnicate",
    body: "{}",
    ...unknownOperation,
  },
  {
    what: "an operation name in another case",
    target: "AmazonSQS.sendmessage",
    body: send({ MessageBody: "x" }),
    ...unknownOperation,
  },
  {
    what: "another service's target",
    target: "DynamoDB_20120810.ListTables",
    body: "{}",
    ...unknownOperation,
  },
  {
    what: "a target without a service prefix",
    target: "SendMessage",
    body: send({ MessageBody: "x" }),
    ...unknownOperation,
  },
  {
    what: "no target",
    target: null,
    body: "{}",
    status: 400,
    type: common("MissingAction"),
    queryError: "MissingAction;Sender",
  },
  {
    what: "an SQS operation cmqd does not offer",
    target: "AmazonSQS.AddPermission",
    body: send({ Label: "x", AWSAccountIds: ["1"], Actions: ["SendMessage"] }),
    status: 400,
    type: modeled("UnsupportedOperation"),
    queryError: "AWS.SimpleQueueService.UnsupportedOperation;Sender",
  },
  {
    what: "a receive asking for a system attribute SQS does not know",
    target: "AmazonSQS.ReceiveMessage",
    body: send({ MessageSystemAttributeNames: ["SentTimestamps"] }),
    ...invalidAttributeName,
  },
  {
    what: "GetQueueAttributes naming a message's attribute",
    target: "AmazonSQS.GetQueueAttributes",
    body: send({ AttributeNames: ["SenderId"] }),
    ...invalidAttributeName,
  },
  {
    what: "a queue that does not exist",
    target: "AmazonSQS.SendMessage",
    body: JSON.stringify({ QueueUrl: "/000000000000/nowhere", MessageBody: "x" }),
    status: 400,
    type: modeled("QueueDoesNotExist"),
    queryError: "AWS.SimpleQueueService.NonExistentQueue;Sender",
  },
  {
    what: "a QueueUrl that is no queue URL",
    target: "AmazonSQS.ReceiveMessage",
    body: '{"QueueUrl": "http://host/a/b/c"}',
    status: 404,
    type: modeled("InvalidAddress"),
    queryError: "InvalidAddress;Sender",
  },
  {
    what: "a QueueUrl that is no URL at all",
    target: "AmazonSQS.ReceiveMessage",
    body: '{"QueueUrl": "::::"}',
    status: 404,
    type: modeled("InvalidAddress"),
    queryError: "InvalidAddress;Sender",
  },
  {
    what: "a NextToken that decodes to JSON null",
    target: "AmazonSQS.ListQueues",
    body: JSON.stringify({ MaxResults: 1, NextToken: btoa("null") }),
    ...invalidValue,
  },
  {
    what: "the FIFO queue's URL without .fifo",
    target: "AmazonSQS.SendMessage",
    body: JSON.stringify({ QueueUrl: "/000000000000/orders", MessageBody: "x" }),
    ...noSuchQueue,
  },
  {
    what: "the standard queue's URL with .fifo",
    target: "AmazonSQS.SendMessage",
    body: JSON.stringify({
      QueueUrl: "/000000000000/jobs.fifo",
      MessageBody: "x",
      MessageGroupId: "g",
    }),
    ...noSuchQueue,
  },
  {
    what: "a receive from the standard queue's URL with .fifo",
    target: "AmazonSQS.ReceiveMessage",
    body: '{"QueueUrl": "/000000000000/jobs.fifo"}',
    ...noSuchQueue,
  },
  {
    what: "a MessageDeduplicationId on a standard queue",
    target: "AmazonSQS.SendMessage",
    body: send({ MessageBody: "x", MessageDeduplicationId: "d1" }),
    ...invalidValue,
  },
  {
    what: "an empty MessageGroupId on a FIFO queue",
    target: "AmazonSQS.SendMessage",
    body: sendFifo({ MessageBody: "x", MessageGroupId: "" }),
    ...invalidValue,
  },
  {
    what: "a FIFO send without MessageGroupId",
    target: "AmazonSQS.SendMessage",
    body: JSON.stringify({ QueueUrl: ordersUrl, MessageBody: "x" }),
    ...missing,
  },
  {
    what: "a MessageGroupId with a space",
    target: "AmazonSQS.SendMessage",
    body: sendFifo({ MessageBody: "x", MessageGroupId: "a b" }),
    ...invalidValue,
  },
  {
    what: "a MessageDeduplicationId with a control character",
    target: "AmazonSQS.SendMessage",
    body: sendFifo({ MessageBody: "x", MessageDeduplicationId: "d\u0001" }),
    ...invalidValue,
  },
  {
    what: "a String attribute holding NUL",
    target: "AmazonSQS.SendMessage",
    body: send({
      MessageBody: "x",
      MessageAttributes: { k: { DataType: "String", StringValue: "a\u0000" } },
    }),
    ...invalidValue,
  },
  {
    what: "a String attribute holding a lone surrogate",
    target: "AmazonSQS.SendMessage",
    body: send({
      MessageBody: "x",
      MessageAttributes: { k: { DataType: "String", StringValue: "a\ud800" } },
    }),
    ...invalidValue,
  },
  // A computed key is an own property, as JSON.parse makes it (an assignment would drop it).
  ...["String", "Number"].map((dataType) => ({
    what: `a ${dataType} attribute named __proto__`,
    target: "AmazonSQS.SendMessage",
    body: send({
      MessageBody: "x",
      MessageAttributes: {
        a: { DataType: "String", StringValue: "b" },
        ["__proto__"]: { DataType: dataType, StringValue: "1" },
      },
    }),
    ...invalidValue,
    message: "The message attribute '__proto__' is invalid. Reason: reserved name",
  })),
  {
    what: "a tag named __proto__ on CreateQueue",
    target: "AmazonSQS.CreateQueue",
    body: JSON.stringify({ QueueName: "tagged", tags: { env: "prod", ["__proto__"]: "x" } }),
    ...invalidValue,
    message: "tags.__proto__: reserved name",
  },
  {
    what: "a tag named __proto__ on TagQueue",
    target: "AmazonSQS.TagQueue",
    body: JSON.stringify({ QueueUrl: jobsUrl, Tags: { ["__proto__"]: "x" } }),
    ...invalidValue,
    message: "tags.__proto__: reserved name",
  },
  {
    what: "a Number attribute beyond SQS's range",
    target: "AmazonSQS.SendMessage",
    body: send({
      MessageBody: "x",
      MessageAttributes: { n: { DataType: "Number", StringValue: "1e99999" } },
    }),
    ...invalidValue,
  },
  {
    what: "a body whose bytes are not UTF-8",
    target: "AmazonSQS.SendMessage",
    body: new Uint8Array([
      ...new TextEncoder().encode(send({ MessageBody: "a" }).replace('"a"', '"a')),
      0xff,
      0xfe,
      ...new TextEncoder().encode('"}'),
    ]),
    ...serialization,
  },
];

Deno.test("bad input gets SQS's exact error and changes nothing", async (t) => {
  await using door = startDoor();
  const created = await rawCall(door.endpoint, "AmazonSQS.CreateQueue", '{"QueueName": "jobs"}');
  assert.equal(created.status, 200);
  assert.equal(created.headers.get("content-type"), "application/x-amz-json-1.0");
  const queueUrl = created.body.QueueUrl;
  const orders = await rawCall(
    door.endpoint,
    "AmazonSQS.CreateQueue",
    '{"QueueName": "orders.fifo", "Attributes": {"FifoQueue": "true"}}',
  );
  assert.equal(orders.status, 200);
  const lastIndex = door.replica.lastIndex;
  const withUrls = (text: string) =>
    text.replaceAll(jobsUrl, queueUrl).replaceAll(ordersUrl, orders.body.QueueUrl);
  for (const example of cases) {
    await t.step(example.what, async () => {
      const { status, headers, body } = await rawCall(
        door.endpoint,
        example.target,
        typeof example.body === "string" ? withUrls(example.body) : example.body,
      );
      assert.equal(status, example.status);
      assert.equal(body.__type, example.type);
      assert.equal(headers.get("x-amzn-query-error"), example.queryError);
      assert.equal(typeof body.message, "string");
      if (example.message !== undefined) {
        assert.ok(body.message.includes(example.message), body.message);
      }
      assert.ok(headers.get("x-amzn-requestid"));
    });
  }
  await t.step("nothing was proposed, nothing failed inside", () => {
    assert.equal(door.replica.lastIndex, lastIndex, "a refused request proposed something");
    assert.deepEqual(door.errors, []);
  });
});

Deno.test("a body over the bound is refused before it is read whole", async () => {
  await using door = startDoor();
  const response = await fetch(door.endpoint + "/", {
    method: "POST",
    headers: { "x-amz-target": "AmazonSQS.SendMessage" },
    body: "x".repeat(5 * 1024 * 1024),
  });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).__type, "com.amazonaws.sqs#BatchRequestTooLong");
  // Chunked: no declared length, so the door stops reading at the bound.
  const chunk = new Uint8Array(1024 * 1024).fill(120);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 64) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const chunked = await fetch(door.endpoint + "/", {
    method: "POST",
    headers: { "x-amz-target": "AmazonSQS.SendMessage" },
    body: stream,
  });
  assert.equal(chunked.status, 400);
  assert.equal((await chunked.json()).__type, "com.amazonaws.sqs#BatchRequestTooLong");
  assert.ok(sent < 64, "the door read the whole body");
  assert.equal(door.replica.lastIndex, 0);
});

Deno.test("with keys, a request without a valid signature's headers is refused before its body is read", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const cases: [Record<string, string>, string][] = [
    [{}, "MissingAuthenticationToken"],
    [{
      authorization: "AWS4-HMAC-SHA256 Credential=AKIDnobody/20200101/eu-west-1/sqs/" +
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    }, "InvalidClientTokenId"],
  ];
  for (const [headers, code] of cases) {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(120);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled++ < 256) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await door.handle(
      new Request(door.endpoint + "/", {
        method: "POST",
        headers: { "x-amz-target": "AmazonSQS.SendMessage", ...headers },
        body,
      }),
    );
    assert.match((await response.json()).__type, new RegExp(`#${code}$`));
    // Before the check read the body: all of it up to the bound (64 chunks), then refused it.
    assert.ok(pulled <= 2, `${pulled} chunks of the body were read`);
  }
  assert.equal(door.replica.lastIndex, 0);
});

Deno.test("only POST is served", async () => {
  await using door = startDoor();
  const response = await fetch(door.endpoint + "/", {
    headers: { "x-amz-target": "AmazonSQS.ListQueues" },
  });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).__type, "com.amazon.coral.service#InvalidAction");
});

Deno.test("an empty body is an empty input, as the SDK sends for ListQueues", async () => {
  await using door = startDoor();
  const listed = await rawCall(door.endpoint, "AmazonSQS.ListQueues", "");
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body, { QueueUrls: [] });
});
