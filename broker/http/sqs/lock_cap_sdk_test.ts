/**
 * SQS's 12-hour cap on a message's lock: a visibility change whose new lock would end more than
 * 43,200 s after the receive that made the handle is refused (`InvalidParameterValue`, a batch
 * entry alone), and nothing changes for it; one ending exactly at the cap is taken. Handles
 * without a receive time (the engine's alone) have no cap. The engine and the door share a fake
 * clock, through `@aws-sdk/client-sqs` and `aws-sdk` v2 (the query protocol).
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";

const capMessage = (seconds: number) =>
  `Value ${seconds} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout ` +
  "for the message is beyond the limit [43200 seconds]";

/** A door whose clock is the engine's fake one, a queue, and `count` messages received at t0. */
async function receivedAtStart(count: number, lockSeconds: number) {
  const engine = memoryEngine();
  const door = startDoor({ engine, now: () => engine.clock.now() });
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName: "jobs" }));
  await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: Array.from({ length: count }, (_, index) => ({
        Id: `m${index}`,
        MessageBody: `m${index}`,
      })),
    }),
  );
  const messages = await receive(door, QueueUrl!, lockSeconds);
  assert.equal(messages.length, count);
  messages.sort((a, b) => a.Body!.localeCompare(b.Body!));
  return { door, clock: engine.clock, QueueUrl: QueueUrl!, messages };
}

async function receive(
  door: ReturnType<typeof startDoor>,
  QueueUrl: string,
  VisibilityTimeout?: number,
): Promise<Message[]> {
  const answer = await door.client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout,
    }),
  );
  return answer.Messages ?? [];
}

/** The bodies a receive at the clock's time gets (each then deleted). */
async function visibleBodies(door: ReturnType<typeof startDoor>, QueueUrl: string) {
  const messages = await receive(door, QueueUrl);
  for (const message of messages) {
    await door.client.send(
      new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
  }
  return messages.map((message) => message.Body).sort();
}

Deno.test("ChangeMessageVisibility: a lock past 12 hours from the receive is refused and changes nothing; one ending at 12 hours is taken", async () => {
  const { door, clock, QueueUrl, messages } = await receivedAtStart(2, 60);
  await using _door = door;
  const [refused, taken] = messages;
  clock.advance(30_000);
  const change = (message: Message, VisibilityTimeout: number) =>
    door.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout,
      }),
    );
  // 30 s after the receive: 43,171 more would end 43,201 s after it.
  await rejectsWith(change(refused, 43_171), {
    name: "InvalidParameterValue",
    code: "InvalidParameterValue",
    status: 400,
    message: new RegExp(`^${capMessage(43_171).replace(/[.[\]]/g, "\\$&")}$`),
  });
  await change(taken, 43_170);
  // The query protocol refuses the same way.
  const query = queryClientOf(door.endpoint, adminKey);
  await assert.rejects(
    query.changeMessageVisibility({
      QueueUrl,
      ReceiptHandle: refused.ReceiptHandle!,
      VisibilityTimeout: 43_171,
    }).promise(),
    (error: { code: string; statusCode: number; message: string }) => {
      assert.equal(error.code, "InvalidParameterValue");
      assert.equal(error.statusCode, 400);
      assert.equal(error.message, capMessage(43_171));
      return true;
    },
  );
  // The refused lock still ends 60 s after the receive; the taken one at exactly 12 hours.
  clock.advance(30_000);
  assert.deepEqual(await visibleBodies(door, QueueUrl), [refused.Body]);
  clock.advance(43_200_000 - 60_000 - 1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), []);
  clock.advance(1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), [taken.Body]);
  assert.deepEqual(door.errors, []);
});

Deno.test("ChangeMessageVisibilityBatch: an entry past the 12-hour cap fails alone (JSON and query), the others are taken", async () => {
  const { door, clock, QueueUrl, messages } = await receivedAtStart(3, 43_200);
  await using _door = door;
  const [over, atCap, viaQuery] = messages;
  clock.advance(3_600_000);
  const batch = await door.client.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "over", ReceiptHandle: over.ReceiptHandle, VisibilityTimeout: 39_601 },
        { Id: "atCap", ReceiptHandle: atCap.ReceiptHandle, VisibilityTimeout: 39_600 },
      ],
    }),
  );
  assert.deepEqual(batch.Successful, [{ Id: "atCap" }]);
  assert.deepEqual(batch.Failed, [{
    Id: "over",
    SenderFault: true,
    Code: "InvalidParameterValue",
    Message: capMessage(39_601),
  }]);
  const query = queryClientOf(door.endpoint, adminKey);
  const queried = await query.changeMessageVisibilityBatch({
    QueueUrl,
    Entries: [
      { Id: "over", ReceiptHandle: viaQuery.ReceiptHandle!, VisibilityTimeout: 39_601 },
      { Id: "release", ReceiptHandle: over.ReceiptHandle!, VisibilityTimeout: 0 },
    ],
  }).promise();
  assert.deepEqual(queried.Successful, [{ Id: "release" }]);
  assert.deepEqual(
    queried.Failed.map((entry) => [entry.Id, entry.Code, entry.SenderFault, entry.Message]),
    [["over", "InvalidParameterValue", true, capMessage(39_601)]],
  );
  // `over` was released (0 is always allowed); `atCap` and `viaQuery` keep locks ending at 12 h.
  assert.deepEqual(await visibleBodies(door, QueueUrl), [over.Body]);
  clock.advance(39_600_000 - 1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), []);
  clock.advance(1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), [atCap.Body, viaQuery.Body].sort());
  assert.deepEqual(door.errors, []);
});

Deno.test("a handle without its receive time (the engine's alone, as issued before the cap) has no cap", async () => {
  const { door, clock, QueueUrl, messages } = await receivedAtStart(2, 43_200);
  await using _door = door;
  const [message, other] = messages;
  // The door's handle is the engine's, a `.`, and the receive's time (epoch ms).
  const [engineHandle, time] = message.ReceiptHandle!.split(".");
  assert.equal(Number(time), clock.now());
  clock.advance(3_600_000);
  const change = (ReceiptHandle: string, VisibilityTimeout: number) =>
    door.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout }),
    );
  // A garbled time is no handle; the engine's handle of `other` deletes it, as any handle does.
  const [otherEngineHandle] = other.ReceiptHandle!.split(".");
  await rejectsWith(change(`${otherEngineHandle}.01`, 1), { name: "ReceiptHandleIsInvalid" });
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: otherEngineHandle }));
  await rejectsWith(change(message.ReceiptHandle!, 43_200), { name: "InvalidParameterValue" });
  await change(engineHandle, 43_200);
  // Its lock now ends 13 hours after the receive.
  clock.advance(43_200_000 - 1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), []);
  clock.advance(1);
  assert.deepEqual(await visibleBodies(door, QueueUrl), [message.Body]);
  assert.deepEqual(door.errors, []);
});

Deno.test("a ReceiveRequestAttemptId retry's lock reset ends at the first receive's 12-hour cap, not past it", async () => {
  const engine = memoryEngine();
  await using door = startDoor({ engine, now: () => engine.clock.now() });
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "jobs.fifo", Attributes: { FifoQueue: "true" } }),
  );
  await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: "a", MessageBody: "a", MessageGroupId: "g", MessageDeduplicationId: "a" }],
    }),
  );
  const attempt = () =>
    door.client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        ReceiveRequestAttemptId: "attempt-1",
        VisibilityTimeout: 43_200,
      }),
    );
  const first = await attempt();
  engine.clock.advance(60_000);
  const retried = await attempt();
  assert.deepEqual(retried.Messages, first.Messages, "the same answer");
  // 43,200 s after the first receive the lock has ended (a reset to 43,200 s from the retry
  // would hold it 60 s more).
  engine.clock.advance(43_200_000 - 60_000 - 1);
  assert.deepEqual(await visibleBodies(door, QueueUrl!), []);
  engine.clock.advance(1);
  assert.deepEqual(await visibleBodies(door, QueueUrl!), ["a"]);
});
