/**
 * SQS's query protocol through a real client of it: `aws-sdk` v2 for JavaScript at 2.1400.0,
 * whose SQS model says `"protocol": "query"` (form bodies, XML answers), signing every request
 * with SigV4 and sending each request about a queue to the queue's URL. It checks
 * MD5OfMessageBody on sends and receives itself; the attribute digest is checked here against
 * SQS's published value.
 */
import assert from "node:assert/strict";
import { queryClientOf } from "./_query_client.ts";
import { type AccessKey, FileKeyRing } from "../../auth/mod.ts";
import { adminKey, startDoor } from "./_test_server.ts";
import { startTestBroker } from "../../../sdk/testing.ts";

/** A v2 client of `endpoint` signing with `key`, which never retries. */
function clientOf(endpoint: string, key: { secretId: string; secretKey: string } = adminKey) {
  return queryClientOf(endpoint, key);
}

/** Asserts `promise` rejects with the v2 error `code` and HTTP `status`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string, status: number) {
  await assert.rejects(promise, (error: { code: string; statusCode: number; message: string }) => {
    assert.equal(error.code, code, error.message);
    assert.equal(error.statusCode, status);
    return true;
  });
}

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

/** A body with every character XML escapes or normalizes, and one outside the BMP. */
const trickyBody = "a < b && c > d ]]> \"q\" 'a'\r\nline\rcr\ttab 😀 \u00e9 \uFFFD end";

Deno.test("aws-sdk v2 (query protocol): queues, attributes, tags, list, purge, delete", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const sqs = clientOf(door.endpoint);
  const created = await sqs.createQueue({
    QueueName: "jobs",
    Attributes: { VisibilityTimeout: "45", MaximumMessageSize: "2048" },
    tags: { team: "billing" },
  }).promise();
  const QueueUrl = door.queueUrl("jobs");
  assert.equal(created.QueueUrl, QueueUrl);
  assert.match(created.$response.requestId, /^[0-9a-f-]{36}$/);
  await sqs.createQueue({ QueueName: "jobs-two" }).promise();
  await sqs.createQueue({ QueueName: "other" }).promise();
  assert.equal((await sqs.getQueueUrl({ QueueName: "jobs" }).promise()).QueueUrl, QueueUrl);

  const listed = await sqs.listQueues({ QueueNamePrefix: "jobs" }).promise();
  assert.deepEqual(listed.QueueUrls, [QueueUrl, door.queueUrl("jobs-two")]);
  const paged = await sqs.listQueues({ MaxResults: 2 }).promise();
  assert.equal(paged.QueueUrls!.length, 2);
  const rest = await sqs.listQueues({ MaxResults: 2, NextToken: paged.NextToken }).promise();
  assert.equal(rest.QueueUrls!.length, 1);
  assert.equal(rest.NextToken, undefined);

  await sqs.setQueueAttributes({ QueueUrl, Attributes: { VisibilityTimeout: "60" } }).promise();
  const attributes = await sqs.getQueueAttributes({
    QueueUrl,
    AttributeNames: ["VisibilityTimeout", "MaximumMessageSize", "QueueArn"],
  }).promise();
  assert.deepEqual(attributes.Attributes, {
    VisibilityTimeout: "60",
    MaximumMessageSize: "2048",
    QueueArn: "arn:aws:sqs:us-east-1:000000000000:jobs",
  });
  // An empty list is sent as `AttributeNames=` (the member's own name): no attributes.
  const none = await sqs.getQueueAttributes({ QueueUrl, AttributeNames: [] }).promise();
  assert.equal(none.Attributes, undefined);

  await sqs.tagQueue({ QueueUrl, Tags: { env: "prod", "cost:center": "42" } }).promise();
  await sqs.untagQueue({ QueueUrl, TagKeys: ["team"] }).promise();
  assert.deepEqual((await sqs.listQueueTags({ QueueUrl }).promise()).Tags, {
    env: "prod",
    "cost:center": "42",
  });

  await sqs.sendMessage({ QueueUrl, MessageBody: "one" }).promise();
  await sqs.purgeQueue({ QueueUrl }).promise();
  const counts = await sqs.getQueueAttributes({ QueueUrl, AttributeNames: ["All"] }).promise();
  assert.equal(counts.Attributes!.ApproximateNumberOfMessages, "0");
  assert.match(counts.Attributes!.CreatedTimestamp, /^\d{10}$/);

  await sqs.deleteQueue({ QueueUrl }).promise();
  await rejectsWithCode(
    sqs.getQueueUrl({ QueueName: "jobs" }).promise(),
    "AWS.SimpleQueueService.NonExistentQueue",
    400,
  );
  await rejectsWithCode(
    sqs.sendMessage({ QueueUrl, MessageBody: "x" }).promise(),
    "AWS.SimpleQueueService.NonExistentQueue",
    400,
  );
  await rejectsWithCode(
    sqs.createQueue({ QueueName: "other", Attributes: { VisibilityTimeout: "7" } }).promise(),
    "QueueAlreadyExists",
    400,
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("aws-sdk v2 (query protocol): send, batch, receive, visibility, deletes", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const sqs = clientOf(door.endpoint);
  const { QueueUrl } = await sqs.createQueue({ QueueName: "photos" }).promise();
  const sent = await sqs.sendMessage({
    QueueUrl: QueueUrl!,
    MessageBody: trickyBody,
    MessageAttributes: messageAttributes,
  }).promise();
  assert.equal(sent.MD5OfMessageAttributes, attributesDigest);

  const batch = await sqs.sendMessageBatch({
    QueueUrl: QueueUrl!,
    Entries: [
      { Id: "first", MessageBody: "batch 1", DelaySeconds: 0 },
      { Id: "bad", MessageBody: "no \u0001 here" },
      {
        Id: "third",
        MessageBody: "batch 3",
        MessageAttributes: { n: { DataType: "Number", StringValue: "3" } },
      },
    ],
  }).promise();
  assert.deepEqual(batch.Successful.map((entry) => entry.Id), ["first", "third"]);
  assert.ok(batch.Successful[1].MD5OfMessageAttributes);
  assert.deepEqual(batch.Failed.map(({ Id, Code, SenderFault }) => ({ Id, Code, SenderFault })), [
    { Id: "bad", Code: "InvalidMessageContents", SenderFault: true },
  ]);
  await rejectsWithCode(
    sqs.sendMessageBatch({
      QueueUrl: QueueUrl!,
      Entries: [{ Id: "a", MessageBody: "1" }, { Id: "a", MessageBody: "2" }],
    }).promise(),
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    400,
  );

  const received = await sqs.receiveMessage({
    QueueUrl: QueueUrl!,
    MaxNumberOfMessages: 10,
    AttributeNames: ["All"],
    MessageAttributeNames: ["All"],
    VisibilityTimeout: 30,
  }).promise();
  const messages = received.Messages!;
  assert.deepEqual(messages.map((message) => message.Body), [trickyBody, "batch 1", "batch 3"]);
  const [first, second, third] = messages;
  assert.equal(first.MessageId, sent.MessageId);
  assert.equal(first.MD5OfMessageAttributes, attributesDigest);
  assert.deepEqual(first.MessageAttributes!.attribName1.StringValue, "attribValue 1");
  assert.deepEqual(
    first.MessageAttributes!.customNumberTypeAttrib.StringValue,
    messageAttributes.customNumberTypeAttrib.StringValue,
  );
  const binaryBack = first.MessageAttributes!.binaryAttribute;
  assert.equal(binaryBack.DataType, "Binary");
  assert.deepEqual(new Uint8Array(binaryBack.BinaryValue as Uint8Array), binary);
  assert.equal(first.Attributes!.ApproximateReceiveCount, "1");
  assert.match(first.Attributes!.SentTimestamp, /^\d{13}$/);
  assert.equal(second.MessageAttributes, undefined);
  assert.deepEqual(third.MessageAttributes, {
    n: { DataType: "Number", StringValue: "3", StringListValues: [], BinaryListValues: [] },
  });

  await sqs.changeMessageVisibility({
    QueueUrl: QueueUrl!,
    ReceiptHandle: first.ReceiptHandle!,
    VisibilityTimeout: 0,
  }).promise();
  const changed = await sqs.changeMessageVisibilityBatch({
    QueueUrl: QueueUrl!,
    Entries: [
      { Id: "s", ReceiptHandle: second.ReceiptHandle!, VisibilityTimeout: 60 },
      { Id: "x", ReceiptHandle: "not-a-handle", VisibilityTimeout: 60 },
    ],
  }).promise();
  assert.deepEqual(changed.Successful, [{ Id: "s" }]);
  assert.equal(changed.Failed[0].Code, "ReceiptHandleIsInvalid");

  // The released message comes back, with a receive count of 2.
  const again = await sqs.receiveMessage({
    QueueUrl: QueueUrl!,
    AttributeNames: ["ApproximateReceiveCount"],
  }).promise();
  assert.equal(again.Messages![0].Body, trickyBody);
  assert.deepEqual(again.Messages![0].Attributes, { ApproximateReceiveCount: "2" });
  await sqs.deleteMessage({ QueueUrl: QueueUrl!, ReceiptHandle: again.Messages![0].ReceiptHandle! })
    .promise();
  const deleted = await sqs.deleteMessageBatch({
    QueueUrl: QueueUrl!,
    Entries: [
      { Id: "two", ReceiptHandle: second.ReceiptHandle! },
      { Id: "three", ReceiptHandle: third.ReceiptHandle! },
      { Id: "junk", ReceiptHandle: "junk" },
    ],
  }).promise();
  assert.deepEqual(deleted.Successful, [{ Id: "two" }, { Id: "three" }]);
  assert.deepEqual(deleted.Failed.map((entry) => entry.Code), ["ReceiptHandleIsInvalid"]);
  const counts = await sqs.getQueueAttributes({
    QueueUrl: QueueUrl!,
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
  }).promise();
  assert.deepEqual(counts.Attributes, {
    ApproximateNumberOfMessages: "0",
    ApproximateNumberOfMessagesNotVisible: "0",
  });
  await rejectsWithCode(
    sqs.deleteMessage({ QueueUrl: QueueUrl!, ReceiptHandle: "junk" }).promise(),
    "ReceiptHandleIsInvalid",
    404,
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("aws-sdk v2 (query protocol): FIFO queues, long polls and empty receives", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const sqs = clientOf(door.endpoint);
  const { QueueUrl } = await sqs.createQueue({
    QueueName: "orders.fifo",
    Attributes: { FifoQueue: "true" },
  }).promise();
  const sent = await sqs.sendMessage({
    QueueUrl: QueueUrl!,
    MessageBody: "order 1",
    MessageGroupId: "customer-7",
  }).promise();
  assert.match(sent.SequenceNumber!, /^\d+$/);
  const received = await sqs.receiveMessage({
    QueueUrl: QueueUrl!,
    AttributeNames: ["MessageGroupId", "SequenceNumber"],
  }).promise();
  assert.deepEqual(received.Messages![0].Attributes, {
    MessageGroupId: "customer-7",
    SequenceNumber: sent.SequenceNumber,
  });
  const started = Date.now();
  const empty = await sqs.receiveMessage({ QueueUrl: QueueUrl!, WaitTimeSeconds: 1 }).promise();
  assert.equal(empty.Messages, undefined);
  assert.ok(Date.now() - started >= 900, "the long poll waited");
  await rejectsWithCode(
    sqs.sendMessage({ QueueUrl: QueueUrl!, MessageBody: "no group" }).promise(),
    "MissingParameter",
    400,
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("aws-sdk v2 (query protocol): signatures and permissions are checked", async () => {
  const reader: AccessKey = { secretId: "AKIDreader", secretKey: "r", allow: ["queue:*:read"] };
  await using door = startDoor({ keyRing: FileKeyRing.fromKeys([adminKey, reader]) });
  await clientOf(door.endpoint).createQueue({ QueueName: "jobs" }).promise();
  const QueueUrl = door.queueUrl("jobs");
  await rejectsWithCode(
    clientOf(door.endpoint, { secretId: "AKIDnobody", secretKey: "x" })
      .listQueues().promise(),
    "InvalidClientTokenId",
    403,
  );
  await rejectsWithCode(
    clientOf(door.endpoint, { secretId: adminKey.secretId, secretKey: "wrong" })
      .sendMessage({ QueueUrl, MessageBody: "x" }).promise(),
    "SignatureDoesNotMatch",
    403,
  );
  const readerClient = clientOf(door.endpoint, reader);
  assert.deepEqual((await readerClient.listQueues().promise()).QueueUrls, [QueueUrl]);
  await rejectsWithCode(
    readerClient.sendMessage({ QueueUrl, MessageBody: "x" }).promise(),
    "AccessDenied",
    403,
  );
  assert.equal(door.replica.lastIndex > 0, true);
  assert.deepEqual(door.errors, []);
});

Deno.test("aws-sdk v2 (query protocol) against a cmqd process: routed at / and at queue URLs", async () => {
  const credentials = { secretId: "AKIDquery", secretKey: "query-secret-0123456789" };
  const broker = await startTestBroker({ credentials });
  try {
    const sqs = clientOf(broker.url, credentials);
    // aws-sdk v2 posts every request to `/` (at the queue URL's host).
    const { QueueUrl } = await sqs.createQueue({ QueueName: "jobs" }).promise();
    assert.equal(QueueUrl, `${broker.url}/000000000000/jobs`);
    // The AWS Java SDK v1 posts a request about a queue to the queue URL's path, without the
    // QueueUrl parameter: the same request rebuilt so before v2 signs it.
    const atQueueUrl = sqs.sendMessage({ QueueUrl: QueueUrl!, MessageBody: "hello <query>" });
    atQueueUrl.on("build", () => {
      const http = atQueueUrl.httpRequest;
      http.path = "/000000000000/jobs";
      http.body = String(http.body).split("&").filter((part) => !part.startsWith("QueueUrl="))
        .join("&");
    });
    const sent = await atQueueUrl.promise();
    assert.equal(sent.$response.httpResponse.statusCode, 200);
    assert.equal(atQueueUrl.httpRequest.path, "/000000000000/jobs");
    assert.doesNotMatch(String(atQueueUrl.httpRequest.body), /QueueUrl/);
    const { Messages } = await sqs.receiveMessage({ QueueUrl: QueueUrl!, WaitTimeSeconds: 1 })
      .promise();
    assert.equal(Messages![0].Body, "hello <query>");
    await sqs.deleteMessage({ QueueUrl: QueueUrl!, ReceiptHandle: Messages![0].ReceiptHandle! })
      .promise();
    assert.deepEqual((await sqs.listQueues().promise()).QueueUrls, [QueueUrl]);
    await rejectsWithCode(
      sqs.getQueueUrl({ QueueName: "missing" }).promise(),
      "AWS.SimpleQueueService.NonExistentQueue",
      400,
    );
    // The native door sees the same queue, now empty.
    assert.equal((await broker.client.getQueue("jobs")).activeMessages, 0);
  } finally {
    await broker.stop();
  }
});
