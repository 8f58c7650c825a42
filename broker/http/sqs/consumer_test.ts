/**
 * `sqs-consumer` (unmodified) running its worker loop against the SQS door: long polls,
 * DeleteMessage / DeleteMessageBatch after each handler, ChangeMessageVisibility for a failed
 * one. Every message must be handled to success exactly once.
 */
import assert from "node:assert/strict";
import {
  Consumer,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  SendMessageBatchCommand,
} from "./_npm_test_deps.ts";
import { adminKey, startDoor } from "./_test_server.ts";

const messageCount = 60;

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function fillQueue(door: ReturnType<typeof startDoor>, QueueName: string) {
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName }));
  for (let start = 0; start < messageCount; start += 10) {
    await door.client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: Array.from({ length: 10 }, (_, offset) => ({
          Id: `m${start + offset}`,
          MessageBody: `job ${start + offset}`,
        })),
      }),
    );
  }
  return QueueUrl!;
}

/** Whether the queue holds no message, visible or in flight (every delete has landed). */
async function drained(door: ReturnType<typeof startDoor>, queue: string): Promise<boolean> {
  const view = await door.broker.getQueue(queue);
  return view.activeMessages === 0 && view.inflightMessages === 0;
}

async function expectEmpty(door: ReturnType<typeof startDoor>, QueueUrl: string) {
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.ApproximateNumberOfMessages, "0");
  assert.equal(Attributes!.ApproximateNumberOfMessagesNotVisible, "0");
}

Deno.test("sqs-consumer handles every message once; a failed one comes back and succeeds", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const QueueUrl = await fillQueue(door, "jobs");
  const succeeded = new Map<string, number>();
  let failedOnce = false;
  const errors: Error[] = [];
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs: door.client,
    batchSize: 10,
    waitTimeSeconds: 1,
    terminateVisibilityTimeout: true, // a failed message is released at once
    handleMessage: (message: Message) => {
      if (message.Body === "job 7" && !failedOnce) {
        failedOnce = true;
        return Promise.reject(new Error("transient failure"));
      }
      succeeded.set(message.Body!, (succeeded.get(message.Body!) ?? 0) + 1);
      return Promise.resolve(message);
    },
  });
  consumer.on("error", (error: Error) => errors.push(error));
  const processingErrors: Error[] = [];
  consumer.on("processing_error", (error: Error) => processingErrors.push(error));
  consumer.start();
  try {
    await until(() => succeeded.size === messageCount, "every message");
    // A handler's return is not its delete: stopping with abort now could cancel the last one.
    await until(() => drained(door, "jobs"), "the last delete");
  } finally {
    consumer.stop({ abort: true });
  }
  assert.deepEqual([...succeeded.values()].filter((count) => count !== 1), []);
  assert.equal(processingErrors.length, 1);
  assert.deepEqual(errors, []);
  await until(() => door.broker.parkedReceivers === 0, "the aborted long poll to end");
  await expectEmpty(door, QueueUrl);
  assert.deepEqual(door.errors, []);
});

Deno.test("sqs-consumer in batch mode deletes with DeleteMessageBatch", async () => {
  await using door = startDoor();
  const QueueUrl = await fillQueue(door, "batches");
  const handled: string[] = [];
  const errors: Error[] = [];
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs: door.client,
    batchSize: 10,
    waitTimeSeconds: 1,
    handleMessageBatch: (messages: Message[]) => {
      handled.push(...messages.map((message) => message.Body!));
      return Promise.resolve(messages);
    },
  });
  consumer.on("error", (error: Error) => errors.push(error));
  consumer.start();
  try {
    await until(() => handled.length >= messageCount, "every batch");
    await until(() => drained(door, "batches"), "the last batch delete");
  } finally {
    consumer.stop({ abort: true });
  }
  assert.equal(new Set(handled).size, messageCount);
  assert.equal(handled.length, messageCount);
  assert.deepEqual(errors, []);
  await until(() => door.broker.parkedReceivers === 0, "the aborted long poll to end");
  await expectEmpty(door, QueueUrl);
});
