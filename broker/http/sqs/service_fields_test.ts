/**
 * Errors of the shared service name the fields of its native requests (`messages.3.body`,
 * `visibilityTimeoutSeconds`); the SQS door answers them in SQS's parameter names
 * (`Entries.5.MessageBody`, `VisibilityTimeout`), numbering a batch's entries as the request did.
 */
import assert from "node:assert/strict";
import { BrokerError, invalidParameter } from "../../service/mod.ts";
import { toSqsError } from "./errors.ts";
import { rawCall, startDoor } from "./_test_server.ts";

const tooLarge = (index: number) =>
  new BrokerError(
    "MessageTooLarge",
    `messages.${index}.body: 2000 bytes exceed maxMessageBytes 1024`,
    { field: `messages.${index}.body` },
  );

/** A batch whose service entries 0, 1, 2 were the request's Entries 1, 3, 4. */
const batch = { entryIndex: (index: number) => [1, 3, 4][index] };

const cases: { error: BrokerError; scope?: typeof batch; message: string }[] = [
  { error: tooLarge(0), message: "MessageBody: 2000 bytes exceed MaximumMessageSize 1024" },
  {
    error: tooLarge(2),
    scope: batch,
    message: "Entries.4.MessageBody: 2000 bytes exceed MaximumMessageSize 1024",
  },
  {
    error: new BrokerError("RequestTooLarge", "messages: more than 4194304 bytes", {
      field: "messages",
    }),
    scope: batch,
    message: "Entries: more than 4194304 bytes",
  },
  {
    error: invalidParameter("messages.0.groupId", "must be 1-128 characters"),
    message: "MessageGroupId: must be 1-128 characters",
  },
  {
    error: invalidParameter("messages.1.dedupId", "must be 1-128 characters"),
    scope: batch,
    message: "Entries.3.MessageDeduplicationId: must be 1-128 characters",
  },
  {
    error: invalidParameter("messages.0.attributes", "at most 10 attributes"),
    message: "MessageAttributes: at most 10 attributes",
  },
  {
    error: invalidParameter("messages.0.attributes.size:Number", "at most 1024 characters"),
    scope: batch,
    message: "Entries.1.MessageAttributes.size: at most 1024 characters",
  },
  {
    error: invalidParameter("messages.0.delaySeconds", "must be between 0 and 43200"),
    message: "DelaySeconds: must be between 0 and 43200",
  },
  {
    error: invalidParameter("maxMessages", "must be between 1 and 10"),
    message: "MaxNumberOfMessages: must be between 1 and 10",
  },
  {
    error: invalidParameter("visibilityTimeoutSeconds", "out of range"),
    message: "VisibilityTimeout: out of range",
  },
  {
    error: invalidParameter("waitSeconds", "must be between 0 and 30"),
    message: "WaitTimeSeconds: must be between 0 and 30",
  },
  {
    error: invalidParameter("entries.2.visibilityTimeoutSeconds", "out of range"),
    scope: batch,
    message: "Entries.4.VisibilityTimeout: out of range",
  },
  {
    error: invalidParameter("entries.0.receiptHandle", "must be a string"),
    message: "ReceiptHandle: must be a string",
  },
  {
    error: invalidParameter("deadLetter.queue", "queue 'retentionSeconds' does not exist"),
    message: "RedrivePolicy: queue 'retentionSeconds' does not exist",
  },
  {
    error: invalidParameter("maxMessageBytes", "must be between 1024 and 1048576"),
    message: "MaximumMessageSize: must be between 1024 and 1048576",
  },
  {
    error: invalidParameter("pollingWaitSeconds", "must be between 0 and 30"),
    message: "ReceiveMessageWaitTimeSeconds: must be between 0 and 30",
  },
  // cmqd's own attributes keep their names, marked as such; the SQS ones they meet are renamed.
  {
    error: invalidParameter("rewindSeconds", "must not exceed retentionSeconds"),
    message: "rewindSeconds (cmqd's own attribute): must not exceed MessageRetentionPeriod",
  },
  {
    error: invalidParameter(
      "deadLetter.maxTimeToLiveSeconds",
      "must be less than retentionSeconds",
    ),
    message: "RedrivePolicy: must be less than MessageRetentionPeriod",
  },
  // Named alike by both doors (SQS's CreateQueue member is `tags`): unchanged.
  {
    error: invalidParameter("tags.a b", "keys are letters, digits, spaces and _ . : / = + - @"),
    message: "tags.a b: keys are letters, digits, spaces and _ . : / = + - @",
  },
];

Deno.test("service errors name SQS parameters, batch entries by their Entries index", () => {
  for (const { error, scope, message } of cases) {
    const translated = toSqsError(error, () => assert.fail("not a bug"), scope);
    assert.equal(translated.message, message, error.message);
  }
});

Deno.test("a send over MaximumMessageSize names MessageBody; in a batch, its Entries index", async () => {
  await using door = startDoor();
  const created = await rawCall(
    door.endpoint,
    "AmazonSQS.CreateQueue",
    '{"QueueName": "small", "Attributes": {"MaximumMessageSize": "1024"}}',
  );
  const QueueUrl = created.body.QueueUrl;
  const single = await rawCall(
    door.endpoint,
    "AmazonSQS.SendMessage",
    JSON.stringify({ QueueUrl, MessageBody: "x".repeat(2000) }),
  );
  assert.equal(single.status, 400);
  assert.equal(single.body.message, "MessageBody: 2000 bytes exceed MaximumMessageSize 1024");
  const sent = await rawCall(
    door.endpoint,
    "AmazonSQS.SendMessageBatch",
    JSON.stringify({
      QueueUrl,
      Entries: [
        { Id: "a", MessageBody: "" }, // refused by the door: the service sees one entry fewer
        { Id: "b", MessageBody: "fits" },
        { Id: "c", MessageBody: "x".repeat(2000) },
      ],
    }),
  );
  assert.equal(sent.status, 200);
  assert.deepEqual(sent.body.Successful.map((entry: { Id: string }) => entry.Id), ["b"]);
  const failed = sent.body.Failed.find((entry: { Id: string }) => entry.Id === "c");
  assert.equal(failed.Message, "Entries.2.MessageBody: 2000 bytes exceed MaximumMessageSize 1024");
});

Deno.test("a retention below a native rewind window names both in SQS's and cmqd's terms", async () => {
  await using door = startDoor();
  const created = await rawCall(door.endpoint, "AmazonSQS.CreateQueue", '{"QueueName": "kept"}');
  await door.broker.updateQueue("kept", { rewindSeconds: 7200 });
  const { status, body } = await rawCall(
    door.endpoint,
    "AmazonSQS.SetQueueAttributes",
    JSON.stringify({
      QueueUrl: created.body.QueueUrl,
      Attributes: { MessageRetentionPeriod: "3600" },
    }),
  );
  assert.equal(status, 400);
  assert.equal(
    body.message,
    "rewindSeconds (cmqd's own attribute): must not exceed MessageRetentionPeriod",
  );
});
