/**
 * FIFO queues (groups, explicit and content-based deduplication) and RedrivePolicy through the
 * real `@aws-sdk/client-sqs`.
 */
import assert from "node:assert/strict";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from "./_npm_test_deps.ts";
import { rejectsWith, startDoor } from "./_test_server.ts";

type Door = ReturnType<typeof startDoor>;

async function createFifo(door: Door, QueueName: string): Promise<string> {
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName, Attributes: { FifoQueue: "true" } }),
  );
  return QueueUrl!;
}

async function receiveAll(door: Door, QueueUrl: string): Promise<Message[]> {
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: 10,
      MessageSystemAttributeNames: ["MessageGroupId", "SequenceNumber"],
    }),
  );
  return Messages ?? [];
}

Deno.test("FIFO: MessageGroupId is required; a group delivers in order, one at a time", async () => {
  await using door = startDoor();
  const QueueUrl = await createFifo(door, "events.fifo");
  await rejectsWith(door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "x" })), {
    name: "MissingParameter",
    message: /MessageGroupId/,
  });
  const sent = await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "a1", MessageBody: "a1", MessageGroupId: "A" },
        { Id: "b1", MessageBody: "b1", MessageGroupId: "B" },
        { Id: "a2", MessageBody: "a2", MessageGroupId: "A" },
      ],
    }),
  );
  const sequences = sent.Successful!.map((entry) => Number(entry.SequenceNumber));
  assert.deepEqual(sequences, [...sequences].sort((left, right) => left - right));
  const first = await receiveAll(door, QueueUrl);
  assert.deepEqual(first.map((message) => message.Body), ["a1", "b1"]);
  assert.deepEqual(first.map((message) => message.Attributes!.MessageGroupId), ["A", "B"]);
  assert.equal(first[0].Attributes!.SequenceNumber, sent.Successful![0].SequenceNumber);
  assert.deepEqual(await receiveAll(door, QueueUrl), []);
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first[0].ReceiptHandle }),
  );
  assert.deepEqual((await receiveAll(door, QueueUrl)).map((message) => message.Body), ["a2"]);
});

Deno.test("FIFO: SequenceNumbers are SQS's 20 digits, ordered as text as they are as numbers", async () => {
  await using door = startDoor();
  const QueueUrl = await createFifo(door, "ledger.fifo");
  const sent: string[] = [];
  for (let index = 0; index < 12; index++) {
    const { SequenceNumber } = await door.client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: `entry ${index}`,
        MessageGroupId: `g${index}`,
      }),
    );
    sent.push(SequenceNumber!);
  }
  const batch = await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: "last", MessageBody: "last", MessageGroupId: "g" }],
    }),
  );
  sent.push(batch.Successful![0].SequenceNumber!);
  // Code that keeps the last SequenceNumber as text (a string attribute of a table, compared
  // by a conditional write) compares them as text: SQS's all have 20 digits.
  for (const sequence of sent) assert.match(sequence, /^\d{20}$/);
  assert.deepEqual([...sent].sort(), sent);
  const numbers = sent.map(BigInt);
  assert.deepEqual([...numbers].sort((left, right) => left < right ? -1 : 1), numbers);
  const received = [...await receiveAll(door, QueueUrl), ...await receiveAll(door, QueueUrl)];
  assert.deepEqual(
    received.map((message) => message.Attributes!.SequenceNumber).sort(),
    [...sent].sort(),
  );
});

Deno.test("FIFO: a repeated MessageDeduplicationId or body (content-based) enqueues once", async () => {
  await using door = startDoor();
  const QueueUrl = await createFifo(door, "events.fifo");
  const send = (MessageBody: string, MessageDeduplicationId?: string) =>
    door.client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody,
        MessageGroupId: "g",
        MessageDeduplicationId,
      }),
    );
  const explicit = await send("order 1", "order-1");
  const repeated = await send("order 1, sent again by a retrying producer", "order-1");
  assert.equal(repeated.MessageId, explicit.MessageId);
  const byContent = await send("payment 9");
  const sameContent = await send("payment 9");
  assert.equal(sameContent.MessageId, byContent.MessageId);
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "2");
  // As SQS (DeduplicationScope queue): the id counts across groups, and still after a delete.
  const otherGroup = await door.client.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: "order 1",
      MessageGroupId: "other",
      MessageDeduplicationId: "order-1",
    }),
  );
  assert.deepEqual(
    [otherGroup.MessageId, otherGroup.SequenceNumber],
    [explicit.MessageId, explicit.SequenceNumber],
  );
  const [first] = (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages!;
  assert.equal(first.MessageId, explicit.MessageId);
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle }),
  );
  assert.equal((await send("order 1 once more", "order-1")).MessageId, explicit.MessageId);
  const after = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  assert.equal(after.Attributes!.ApproximateNumberOfMessages, "1");
});

Deno.test("RedrivePolicy moves a message received more than maxReceiveCount times", async () => {
  await using door = startDoor();
  const { QueueUrl: deadUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "dead" }),
  );
  const deadArn = "arn:aws:sqs:us-east-1:000000000000:dead";
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: deadArn, maxReceiveCount: "1" });
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "work", Attributes: { RedrivePolicy } }),
  );
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["RedrivePolicy"] }),
  );
  assert.deepEqual(JSON.parse(Attributes!.RedrivePolicy!), {
    deadLetterTargetArn: deadArn,
    maxReceiveCount: 1,
  });
  await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody: "poison" }));
  const [message] = (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages!;
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: message.ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const second = await door.client.send(new ReceiveMessageCommand({ QueueUrl }));
  assert.equal(second.Messages, undefined);
  const dead = await door.client.send(new ReceiveMessageCommand({ QueueUrl: deadUrl }));
  assert.equal(dead.Messages![0].Body, "poison");
  await door.client.send(
    new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy: "" } }),
  );
  const cleared = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(cleared.Attributes!.RedrivePolicy, undefined);
});

Deno.test("RedrivePolicy refuses a missing, wrong-kind or malformed dead-letter target", async () => {
  await using door = startDoor();
  await createFifo(door, "dead.fifo");
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName: "work" }));
  const policies: [string, string][] = [
    ["not json", "InvalidAttributeValue"],
    [JSON.stringify({ deadLetterTargetArn: "dead", maxReceiveCount: 1 }), "InvalidAttributeValue"],
    [
      JSON.stringify({
        deadLetterTargetArn: "arn:aws:sqs:us-east-1:0:dead.fifo",
        maxReceiveCount: 1,
      }),
      "InvalidAttributeValue",
    ],
    [
      JSON.stringify({ deadLetterTargetArn: "arn:aws:sqs:us-east-1:0:dead", maxReceiveCount: 0 }),
      "InvalidAttributeValue",
    ],
    [
      JSON.stringify({
        deadLetterTargetArn: "arn:aws:sqs:us-east-1:0:nowhere",
        maxReceiveCount: 3,
      }),
      "InvalidParameterValue",
    ],
  ];
  for (const [RedrivePolicy, name] of policies) {
    await rejectsWith(
      door.client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy } })),
      { name },
    );
  }
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.RedrivePolicy, undefined);
});
