/**
 * What a receive returns about each message, through the real SDKs (`@aws-sdk/client-sqs` for
 * the JSON protocol, `aws-sdk` v2 for the query protocol): MessageIds and the message system
 * attributes; and the limits of what a receive, a send and a visibility change take.
 */
import assert from "node:assert/strict";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import { provenanceOf } from "./broker_deps.ts";
import { createHash } from "node:crypto";

/** RFC 9562's layout with version 8 and variant 10, what strict UUID validators check. */
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function createQueue(
  door: ReturnType<typeof startDoor>,
  QueueName: string,
  Attributes?: Record<string, string>,
) {
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  return QueueUrl!;
}

Deno.test("MessageIds are UUIDs, one per message in every answer (JSON and query)", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "ids");
  const sent = await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "a" }));
  const batch = await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: "b", MessageBody: "b" }, { Id: "c", MessageBody: "c" }],
    }),
  );
  const query = queryClientOf(door.endpoint, adminKey);
  const viaQuery = await query.sendMessage({ QueueUrl, MessageBody: "d" }).promise();
  const sentIds = [sent.MessageId, ...batch.Successful!.map((entry) => entry.MessageId)];
  sentIds.push(viaQuery.MessageId);
  for (const id of sentIds) assert.match(id!, uuid);
  assert.equal(new Set(sentIds).size, 4);
  const received = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 2 }),
  );
  const receivedByQuery = await query.receiveMessage({ QueueUrl, MaxNumberOfMessages: 2 })
    .promise();
  const byBody = new Map(
    [...received.Messages!, ...receivedByQuery.Messages!].map((message) => [
      message.Body,
      message.MessageId,
    ]),
  );
  assert.deepEqual(["a", "b", "c", "d"].map((body) => byBody.get(body)), sentIds);
  assert.deepEqual(door.errors, []);
});

/** The system attributes the door answers for `All` on any queue (what the values look like). */
const common = {
  SenderId: /^000000000000$/,
  SentTimestamp: /^\d{13}$/,
  ApproximateReceiveCount: /^1$/,
  ApproximateFirstReceiveTimestamp: /^\d{13}$/,
};

function assertAttributes(
  attributes: Record<string, string> | undefined,
  expected: Record<string, RegExp | string>,
) {
  assert.deepEqual(Object.keys(attributes ?? {}).sort(), Object.keys(expected).sort());
  for (const [name, value] of Object.entries(expected)) {
    if (typeof value === "string") assert.equal(attributes![name], value, name);
    else assert.match(attributes![name], value, name);
  }
}

Deno.test("a FIFO receive answers MessageDeduplicationId, MessageGroupId, SequenceNumber, SenderId (JSON and query)", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo", { FifoQueue: "true" });
  const explicit = await door.client.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: "order 1",
      MessageGroupId: "customer-1",
      MessageDeduplicationId: "order-1",
    }),
  );
  const byContent = await door.client.send(
    new SendMessageCommand({ QueueUrl, MessageBody: "order 2", MessageGroupId: "customer-2" }),
  );
  const received = await door.client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: 10,
      MessageSystemAttributeNames: ["All"],
      VisibilityTimeout: 0,
    }),
  );
  const [first, second] = received.Messages!;
  assertAttributes(first.Attributes, {
    ...common,
    MessageGroupId: "customer-1",
    MessageDeduplicationId: "order-1",
    SequenceNumber: explicit.SequenceNumber!,
  });
  const sha256 = createHash("sha256").update("order 2").digest("hex");
  assertAttributes(second.Attributes, {
    ...common,
    MessageGroupId: "customer-2",
    MessageDeduplicationId: sha256,
    SequenceNumber: byContent.SequenceNumber!,
  });
  // Each name alone answers that one; the older AttributeNames (the query protocol's) too.
  const query = queryClientOf(door.endpoint, adminKey);
  for (const name of ["MessageDeduplicationId", "SenderId"] as const) {
    const viaJson = await door.client.send(
      new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: [name] }),
    );
    const viaQuery = await query.receiveMessage({ QueueUrl, AttributeNames: [name] }).promise();
    for (const [message] of [viaJson.Messages!, viaQuery.Messages!]) {
      assert.deepEqual(Object.keys(message.Attributes!), [name]);
      await door.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    assert.equal(viaJson.Messages![0].Attributes![name], first.Attributes![name]);
  }
  assert.deepEqual(door.errors, []);
});

Deno.test("a standard receive of All answers SenderId and the timestamps, no FIFO attribute", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "plain");
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "x" }));
  const query = queryClientOf(door.endpoint, adminKey);
  const { Messages } = await query.receiveMessage({ QueueUrl, AttributeNames: ["All"] })
    .promise();
  assertAttributes(Messages![0].Attributes, common);
  assert.deepEqual(door.errors, []);
});

Deno.test("a dead-lettered message answers DeadLetterQueueSourceArn, its source queue's ARN", async () => {
  await using door = startDoor();
  const deadUrl = await createQueue(door, "dead");
  const { Attributes: dead } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadUrl, AttributeNames: ["QueueArn"] }),
  );
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dead!.QueueArn, maxReceiveCount: 1 });
  const QueueUrl = await createQueue(door, "work", { RedrivePolicy });
  const { Attributes: work } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "poison" }));
  const asked = { MessageSystemAttributeNames: ["All" as const], VisibilityTimeout: 0 };
  const [fresh] = (await door.client.send(new ReceiveMessageCommand({ QueueUrl, ...asked })))
    .Messages!;
  assert.equal(fresh.Attributes!.DeadLetterQueueSourceArn, undefined, "not dead-lettered yet");
  assert.equal(
    (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages,
    undefined,
  );
  const [moved] = (await door.client.send(
    new ReceiveMessageCommand({ QueueUrl: deadUrl, ...asked }),
  )).Messages!;
  assert.equal(moved.Body, "poison");
  assert.equal(moved.Attributes!.DeadLetterQueueSourceArn, work!.QueueArn);
  const query = queryClientOf(door.endpoint, adminKey);
  const [again] = (await query.receiveMessage({
    QueueUrl: deadUrl,
    AttributeNames: ["DeadLetterQueueSourceArn"],
  }).promise()).Messages!;
  assert.deepEqual(again.Attributes, { DeadLetterQueueSourceArn: work!.QueueArn });
  assert.deepEqual(door.errors, []);
});

Deno.test("out-of-range receive, send and visibility values are InvalidParameterValue naming them", async () => {
  // The door's clock stands still: the change of 43200 below comes at the receive's time, so its
  // lock ends exactly at SQS's 12-hour cap (any later, it is refused: lock_cap_sdk_test.ts).
  await using door = startDoor({ now: () => 1_700_000_000_000 });
  const QueueUrl = await createQueue(door, "limits", { MaximumMessageSize: "1024" });
  const refused = async (promise: Promise<unknown>, member: string, value: number | string) => {
    await rejectsWith(promise, {
      name: "InvalidParameterValue",
      status: 400,
      message: new RegExp(`^(Value ${value} for parameter ${member} is invalid|${member}: )`),
    });
  };
  const receive = (input: Record<string, number>) =>
    door.client.send(new ReceiveMessageCommand({ QueueUrl, ...input }));
  await refused(receive({ MaxNumberOfMessages: 0 }), "MaxNumberOfMessages", 0);
  await refused(receive({ MaxNumberOfMessages: 11 }), "MaxNumberOfMessages", 11);
  await refused(receive({ VisibilityTimeout: 43201 }), "VisibilityTimeout", 43201);
  await refused(receive({ VisibilityTimeout: -1 }), "VisibilityTimeout", -1);
  await refused(receive({ WaitTimeSeconds: 31 }), "WaitTimeSeconds", 31);
  const send = (input: Record<string, unknown>) =>
    door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "x", ...input }));
  await refused(send({ DelaySeconds: 43201 }), "DelaySeconds", 43201);
  await refused(send({ MessageBody: "x".repeat(1025) }), "MessageBody", 1025);
  // Nothing of the refused requests was sent: the one message is the next one.
  await send({ MessageBody: "kept" });
  const [message] = (await receive({ WaitTimeSeconds: 0 })).Messages!;
  assert.equal(message.Body, "kept");
  const change = (VisibilityTimeout: number) =>
    door.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout,
      }),
    );
  await refused(change(43201), "VisibilityTimeout", 43201);
  await refused(change(-1), "VisibilityTimeout", -1);
  const batch = await door.client.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "long", ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 43201 },
        { Id: "ok", ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 43200 },
      ],
    }),
  );
  assert.deepEqual(batch.Successful, [{ Id: "ok" }]);
  assert.deepEqual(batch.Failed!.map((entry) => [entry.Id, entry.Code]), [
    ["long", "InvalidParameterValue"],
  ]);
  // The query protocol answers the same code.
  const query = queryClientOf(door.endpoint, adminKey);
  await assert.rejects(
    query.receiveMessage({ QueueUrl, MaxNumberOfMessages: 11 }).promise(),
    (error: { code: string; statusCode: number }) =>
      error.code === "InvalidParameterValue" && error.statusCode === 400,
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("the service's native receive keeps its contract's fields: the dedup id stays out of its JSON", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "native.fifo", { FifoQueue: "true" });
  await door.client.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: "x",
      MessageGroupId: "g",
      MessageDeduplicationId: "d-1",
    }),
  );
  const [message] = (await door.broker.receiveMessages("native", {})).messages;
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(message))).sort(), [
    "body",
    "enqueuedAt",
    "firstReceivedAt",
    "groupId",
    "id",
    "receiptHandle",
    "receiveCount",
    "sequence",
    "visibleAt",
  ]);
  assert.equal(provenanceOf(message)?.dedupId, "d-1");
});
