/**
 * The dead-letter operations in SQS's query protocol, through `aws-sdk` v2 (its SQS model is the
 * query protocol's): ListDeadLetterSourceQueues (`queueUrls` as flattened `QueueUrl` elements)
 * and the message move tasks (`ListMessageMoveTasksResultEntry` elements, numbers as text).
 */
import assert from "node:assert/strict";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, startDoor } from "./_test_server.ts";

const arnOf = (sqsName: string) => `arn:aws:sqs:us-east-1:000000000000:${sqsName}`;

Deno.test("aws-sdk v2 (query protocol): ListDeadLetterSourceQueues and message move tasks", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const sqs = queryClientOf(door.endpoint, adminKey);
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arnOf("dead"), maxReceiveCount: 1 });
  const dead = (await sqs.createQueue({ QueueName: "dead" }).promise()).QueueUrl!;
  for (const QueueName of ["alpha", "beta"]) {
    await sqs.createQueue({ QueueName, Attributes: { RedrivePolicy } }).promise();
  }
  const first = await sqs.listDeadLetterSourceQueues({ QueueUrl: dead, MaxResults: 1 }).promise();
  assert.deepEqual(first.queueUrls, [door.queueUrl("alpha")]);
  assert.ok(first.NextToken);
  const second = await sqs.listDeadLetterSourceQueues({
    QueueUrl: dead,
    MaxResults: 1,
    NextToken: first.NextToken,
  }).promise();
  assert.deepEqual(second.queueUrls, [door.queueUrl("beta")]);
  assert.equal(second.NextToken, undefined);

  // Two dead letters of alpha, moved back by a task.
  await door.broker.sendMessages("alpha", [{ body: "1" }, { body: "2" }]);
  const { messages } = await door.broker.receiveMessages("alpha", { maxMessages: 10 });
  await door.broker.changeVisibility(
    "alpha",
    messages.map(({ receiptHandle }) => ({ receiptHandle, visibilityTimeoutSeconds: 0 })),
  );
  await door.broker.receiveMessages("alpha", { maxMessages: 10 });
  // One a second: the second message moves a second after the first, the task running till then.
  const startedAt = performance.now();
  const { TaskHandle } = await sqs.startMessageMoveTask({
    SourceArn: arnOf("dead"),
    MaxNumberOfMessagesPerSecond: 1,
  }).promise();
  assert.ok(TaskHandle);
  const list = async () =>
    (await sqs.listMessageMoveTasks({ SourceArn: arnOf("dead"), MaxResults: 10 }).promise())
      .Results!;
  const [running] = await list();
  assert.deepEqual([running.Status, running.TaskHandle], ["RUNNING", TaskHandle]);
  let Results = await list();
  for (const deadline = Date.now() + 20_000; Results[0].Status === "RUNNING";) {
    assert.ok(Date.now() < deadline, `waited 20 s for the task: ${JSON.stringify(Results)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    Results = await list();
  }
  assert.ok(performance.now() - startedAt >= 900, "two messages at 1/s take a second");
  assert.equal(Results.length, 1);
  assert.ok(Results[0].StartedTimestamp! > 0);
  assert.deepEqual({ ...Results[0], StartedTimestamp: 0 }, {
    Status: "COMPLETED",
    SourceArn: arnOf("dead"),
    MaxNumberOfMessagesPerSecond: 1,
    ApproximateNumberOfMessagesMoved: 2,
    ApproximateNumberOfMessagesToMove: 2,
    StartedTimestamp: 0,
  });
  assert.equal((await door.broker.getQueue("alpha")).activeMessages, 2);
  await assert.rejects(
    sqs.cancelMessageMoveTask({ TaskHandle: TaskHandle! }).promise(),
    (error: { code: string; statusCode: number }) => {
      assert.deepEqual([error.code, error.statusCode], ["ResourceNotFoundException", 404]);
      return true;
    },
  );
  await assert.rejects(
    sqs.startMessageMoveTask({ SourceArn: arnOf("alpha") }).promise(),
    (error: { code: string; message: string }) => {
      assert.equal(error.code, "InvalidParameterValue");
      assert.match(error.message, /Dead Letter Queue/);
      return true;
    },
  );
  assert.deepEqual(door.errors, []);
});
