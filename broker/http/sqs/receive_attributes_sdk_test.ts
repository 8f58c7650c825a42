/**
 * What a receive returns about each message, through the real SDKs (`@aws-sdk/client-sqs` for
 * the JSON protocol, `aws-sdk` v2 for the query protocol): MessageIds and the message system
 * attributes.
 */
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, startDoor } from "./_test_server.ts";

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
