/**
 * The message operations of the SQS door through the real `@aws-sdk/client-sqs`, which checks
 * MD5OfMessageBody on every send, batch send and receive by itself (a wrong digest fails the
 * call), so every passing send and receive here also proves the body digest.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";

/** SQS's published digest of these three attributes (`md5_test.ts` checks each one). */
const attributesDigest = "c932db14a896c663f83c260297d594ff";
const binary = new TextEncoder().encode("Hello binary world!");
const messageAttributes = {
  attribName1: { DataType: "String", StringValue: "attribValue 1" },
  customNumberTypeAttrib: {
    DataType: "Number.float",
    StringValue: "4563442423554324324264524243.32543234",
  },
  binaryAttribute: { DataType: "Binary", BinaryValue: binary },
};

async function createQueue(door: ReturnType<typeof startDoor>, QueueName: string) {
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName }));
  return QueueUrl!;
}

Deno.test("SendMessage and ReceiveMessage carry body, typed attributes and their MD5s", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "photos");
  const sent = await door.client.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: "photo 7: thumbnail ✓",
      MessageAttributes: messageAttributes,
    }),
  );
  assert.equal(sent.MD5OfMessageAttributes, attributesDigest);
  assert.equal(sent.SequenceNumber, undefined);
  const received = await door.client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["All"],
    }),
  );
  const [message] = received.Messages!;
  assert.equal(message.MessageId, sent.MessageId);
  assert.equal(message.Body, "photo 7: thumbnail ✓");
  assert.equal(message.MD5OfMessageAttributes, attributesDigest);
  assert.deepEqual(message.MessageAttributes, messageAttributes);
  assert.equal(message.Attributes!.ApproximateReceiveCount, "1");
  assert.ok(Math.abs(Number(message.Attributes!.SentTimestamp) - Date.now()) < 10_000);
  assert.equal(message.Attributes!.MessageGroupId, undefined);
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }),
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("ReceiveMessage returns only the attributes asked for, digest over those", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "photos");
  await door.client.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: "x",
      MessageAttributes: {
        "size.width": { DataType: "Number", StringValue: "640" },
        "size.height": { DataType: "Number", StringValue: "480" },
        kind: { DataType: "String", StringValue: "photo" },
      },
    }),
  );
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MessageAttributeNames: ["size.*"],
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
    }),
  );
  const [message] = Messages!;
  assert.deepEqual(Object.keys(message.MessageAttributes!).sort(), ["size.height", "size.width"]);
  assert.deepEqual(message.Attributes, { ApproximateReceiveCount: "1" });
  assert.equal(message.MD5OfMessageAttributes?.length, 32);
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: message.ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const bare = (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages![0];
  assert.equal(bare.MessageAttributes, undefined);
  assert.equal(bare.MD5OfMessageAttributes, undefined);
  assert.equal(bare.Attributes, undefined);
});

Deno.test("message attributes cmqd can't keep are refused before anything is sent", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "photos");
  const eleven = Object.fromEntries(
    Array.from(
      { length: 11 },
      (_, index) => [`a${index}`, { DataType: "String", StringValue: "v" }],
    ),
  );
  const refused: Record<string, unknown>[] = [
    eleven,
    { "AWS.reserved": { DataType: "String", StringValue: "v" } },
    { n: { DataType: "Number", StringValue: "twelve" } },
    { s: { DataType: "Bogus", StringValue: "v" } },
    { e: { DataType: "String", StringValue: "" } },
    { long: { DataType: "String", StringValue: "v".repeat(1025) } },
  ];
  for (const MessageAttributes of refused) {
    await rejectsWith(
      door.client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: "x",
          MessageAttributes: MessageAttributes as never,
        }),
      ),
      { name: "InvalidParameterValue", status: 400 },
    );
  }
  await rejectsWith(
    door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "bad \u0001 control" })),
    { name: "InvalidMessageContents" },
  );
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "0");
});

Deno.test("a receive locks a message; visibility 0 frees it; the older handle is refused", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "job 1" }));
  const first = (await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 30 }),
  )).Messages![0];
  const empty = await door.client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
  assert.equal(empty.Messages, undefined);
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: first.ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const second = (await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, AttributeNames: ["All"] }), // the older member
  )).Messages![0];
  assert.equal(second.Attributes!.ApproximateReceiveCount, "2");
  await rejectsWith(
    door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle })),
    { name: "ReceiptHandleIsInvalid", code: "ReceiptHandleIsInvalid", status: 404 },
  );
  await rejectsWith(
    door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: "not-a-handle" })),
    { name: "ReceiptHandleIsInvalid" },
  );
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: second.ReceiptHandle }),
  );
  await rejectsWith(
    door.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: second.ReceiptHandle,
        VisibilityTimeout: 10,
      }),
    ),
    { name: "InvalidParameterValue", message: /not available for visibility timeout change/ },
  );
  await rejectsWith(
    door.client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 })),
    { name: "InvalidParameterValue" },
  );
});

Deno.test("ReceiveMessage VisibilityTimeout 0 receives and leaves the messages visible", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "peek" }));
  const receive = (VisibilityTimeout?: number) =>
    door.client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        VisibilityTimeout,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
  const peeked = (await receive(0)).Messages![0];
  assert.equal(peeked.Body, "peek");
  assert.equal(peeked.Attributes!.ApproximateReceiveCount, "1");
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  assert.deepEqual(Attributes, {
    ApproximateNumberOfMessages: "1",
    ApproximateNumberOfMessagesNotVisible: "0",
  });
  // Visible at once: the next receive gets it again (its count goes up)...
  const again = (await receive(0)).Messages![0];
  assert.equal(again.MessageId, peeked.MessageId);
  assert.equal(again.Attributes!.ApproximateReceiveCount, "2");
  // ...and the handle of the latest delivery deletes it, as in SQS.
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: again.ReceiptHandle }),
  );
  assert.equal((await receive()).Messages, undefined);
});

Deno.test("a long poll answers as soon as a message arrives", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const started = Date.now();
  const polling = door.client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "late" }));
  const { Messages } = await polling;
  assert.equal(Messages![0].Body, "late");
  assert.ok(Date.now() - started < 5_000, "the long poll waited for its deadline");
});

Deno.test("SendMessageBatch: refused entries fail alone, the others are sent", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const result = await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "a", MessageBody: "one", DelaySeconds: 0 },
        {
          Id: "b",
          MessageBody: "two",
          MessageAttributes: { k: { DataType: "Bogus", StringValue: "v" } },
        },
        { Id: "c", MessageBody: "x".repeat(1_048_577) }, // the service refuses it: too large
        {
          Id: "d",
          MessageBody: "four",
          MessageAttributes: { k: { DataType: "String", StringValue: "v" } },
        },
      ],
    }),
  );
  assert.deepEqual(result.Successful!.map((entry) => entry.Id), ["a", "d"]);
  assert.ok(result.Successful![1].MD5OfMessageAttributes);
  assert.deepEqual(
    result.Failed!.map(({ Id, Code, SenderFault }) => ({ Id, Code, SenderFault })),
    [
      { Id: "b", Code: "InvalidParameterValue", SenderFault: true },
      { Id: "c", Code: "InvalidParameterValue", SenderFault: true },
    ],
  );
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
  );
  assert.deepEqual(Messages!.map((message) => message.Body), ["one", "four"]);
});

/**
 * SQS's digest of message (system) attributes, written out here from its documented steps (not
 * the door's code): by name, each of name, data type and value as a 4-byte big-endian length
 * and UTF-8 bytes, with the transport type 1 (String) before the value.
 */
function digestOfStrings(attributes: Record<string, { DataType: string; StringValue: string }>) {
  const hash = createHash("md5");
  const field = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    field(name);
    field(attributes[name].DataType);
    hash.update(Uint8Array.of(1));
    field(attributes[name].StringValue);
  }
  return hash.digest("hex");
}

Deno.test("MessageSystemAttributes (AWSTraceHeader) get their MD5OfMessageSystemAttributes", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "traced");
  const trace = {
    AWSTraceHeader: {
      DataType: "String",
      StringValue: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    },
  };
  const expected = digestOfStrings(trace);
  // The AWS SDK for Kotlin compares this digest with its own whenever a send carries system
  // attributes, and fails the send when it is absent or differs.
  const sent = await door.client.send(
    new SendMessageCommand({ QueueUrl, MessageBody: "traced", MessageSystemAttributes: trace }),
  );
  assert.equal(sent.MD5OfMessageSystemAttributes, expected);
  const plain = await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "plain" }));
  assert.equal(plain.MD5OfMessageSystemAttributes, undefined);
  const batch = await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "traced", MessageBody: "b1", MessageSystemAttributes: trace },
        { Id: "plain", MessageBody: "b2" },
        {
          Id: "binary",
          MessageBody: "b3",
          MessageSystemAttributes: {
            AWSTraceHeader: { DataType: "Binary", BinaryValue: new Uint8Array([1]) },
          },
        },
      ],
    }),
  );
  assert.deepEqual(
    batch.Successful!.map((entry) => [entry.Id, entry.MD5OfMessageSystemAttributes]),
    [["traced", expected], ["plain", undefined]],
  );
  // SQS takes AWSTraceHeader as a String only.
  assert.deepEqual(batch.Failed!.map((entry) => [entry.Id, entry.Code]), [
    ["binary", "InvalidParameterValue"],
  ]);
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
  );
  assert.deepEqual(Messages!.map((message) => message.Body), ["traced", "plain", "b1", "b2"]);
  // The query protocol's answer carries it too.
  const viaQuery = await queryClientOf(door.endpoint, adminKey).sendMessage({
    QueueUrl,
    MessageBody: "by query",
    MessageSystemAttributes: trace,
  }).promise();
  assert.equal(viaQuery.MD5OfMessageSystemAttributes, expected);
  assert.deepEqual(door.errors, []);
});

Deno.test("batch requests: empty, more than 10, repeated or malformed ids are refused whole", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const entries = (count: number) =>
    Array.from({ length: count }, (_, index) => ({ Id: `m${index}`, MessageBody: "x" }));
  const cases: [{ Id: string; MessageBody: string }[], string, string][] = [
    [[], "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"],
    [
      entries(11),
      "TooManyEntriesInBatchRequest",
      "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    ],
    [
      [...entries(2), { Id: "m1", MessageBody: "y" }],
      "BatchEntryIdsNotDistinct",
      "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    ],
    [
      [{ Id: "not ok!", MessageBody: "y" }],
      "InvalidBatchEntryId",
      "AWS.SimpleQueueService.InvalidBatchEntryId",
    ],
  ];
  for (const [Entries, name, code] of cases) {
    await rejectsWith(door.client.send(new SendMessageBatchCommand({ QueueUrl, Entries })), {
      name,
      code,
      status: 400,
    });
  }
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "0");
});

Deno.test("DeleteMessageBatch: a handle named by two entries deletes its message once, and both succeed", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "twice");
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "once" }));
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "kept" }));
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }),
  );
  const handle = Messages![0].ReceiptHandle;
  const deleted = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: "a", ReceiptHandle: handle }, { Id: "b", ReceiptHandle: handle }],
    }),
  );
  assert.deepEqual(deleted.Successful!.map((entry) => entry.Id), ["a", "b"]);
  assert.deepEqual(deleted.Failed, []);
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "1");
  assert.equal(Attributes!.ApproximateNumberOfMessagesNotVisible, "0");
});

Deno.test("DeleteMessageBatch and ChangeMessageVisibilityBatch report each entry", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: ["one", "two", "three"].map((body, index) => ({
        Id: `m${index}`,
        MessageBody: body,
      })),
    }),
  );
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
  );
  assert.equal(Messages!.length, 3);
  const [one, two, three] = Messages!;
  const visibility = await door.client.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "one", ReceiptHandle: one.ReceiptHandle, VisibilityTimeout: 0 },
        { Id: "bogus", ReceiptHandle: "bogus", VisibilityTimeout: 0 },
        { Id: "range", ReceiptHandle: two.ReceiptHandle, VisibilityTimeout: 50_000 },
      ],
    }),
  );
  assert.deepEqual(visibility.Successful, [{ Id: "one" }]);
  assert.deepEqual(visibility.Failed!.map((entry) => [entry.Id, entry.Code]).sort(), [
    ["bogus", "ReceiptHandleIsInvalid"],
    ["range", "InvalidParameterValue"],
  ]);
  // `one` is delivered again: its first handle is now stale.
  const again = (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages![0];
  assert.equal(again.Body, "one");
  const deleted = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "two", ReceiptHandle: two.ReceiptHandle },
        { Id: "three", ReceiptHandle: three.ReceiptHandle },
        { Id: "stale", ReceiptHandle: one.ReceiptHandle },
      ],
    }),
  );
  assert.deepEqual(deleted.Successful!.map((entry) => entry.Id), ["two", "three"]);
  assert.deepEqual(deleted.Failed!.map((entry) => [entry.Id, entry.Code, entry.SenderFault]), [
    ["stale", "ReceiptHandleIsInvalid", true],
  ]);
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: again.ReceiptHandle }),
  );
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "0");
  assert.equal(Attributes!.ApproximateNumberOfMessagesNotVisible, "0");
});

Deno.test("DeleteMessageBatch: an entry without a usable handle fails alone and the others are deleted", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  for (const MessageBody of ["one", "two", "three"]) {
    await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody }));
  }
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
  );
  const [one, two, three] = Messages!;
  const deleted = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "empty", ReceiptHandle: "" },
        { Id: "one", ReceiptHandle: one.ReceiptHandle },
        { Id: "absent" } as { Id: string; ReceiptHandle: string },
        { Id: "garbled", ReceiptHandle: "junk" },
      ],
    }),
  );
  assert.deepEqual(deleted.Successful, [{ Id: "one" }]);
  const failed = deleted.Failed!.map((entry) => [entry.Id, entry.Code, entry.SenderFault]);
  assert.deepEqual(failed.sort(), [
    ["absent", "MissingParameter", true],
    ["empty", "MissingParameter", true],
    ["garbled", "ReceiptHandleIsInvalid", true],
  ]);
  // The query protocol reads the same: its entry without a handle fails alone.
  const response = await fetch(door.endpoint + "/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      Action: "DeleteMessageBatch",
      QueueUrl,
      "DeleteMessageBatchRequestEntry.1.Id": "two",
      "DeleteMessageBatchRequestEntry.1.ReceiptHandle": two.ReceiptHandle!,
      "DeleteMessageBatchRequestEntry.2.Id": "none",
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(text, /<DeleteMessageBatchResultEntry><Id>two<\/Id>/);
  assert.match(text, /<BatchResultErrorEntry><Id>none<\/Id>.*<Code>MissingParameter<\/Code>/);
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessagesNotVisible, "1", "three is still held");
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: three.ReceiptHandle }),
  );
  assert.deepEqual(door.errors, []);
});
