/**
 * The dead-letter operations through the real `@aws-sdk/client-sqs`: ListDeadLetterSourceQueues
 * (pages, per-key filtering) and the message move tasks (Start, List, Cancel, and what they
 * refuse). A task's run (permissions, pacing, cancels, queues deleted under it, the door closing)
 * is in `move_task_runs_sdk_test.ts`.
 */
import assert from "node:assert/strict";
import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  DeleteQueueCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
} from "./_npm_test_deps.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import { arnOf, createQueue, deadLetter, endedTask, visible } from "./_dead_letters.ts";

Deno.test("ListDeadLetterSourceQueues: the queues whose RedrivePolicy names the queue, in pages", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  const other = await createQueue(door, "other");
  const sources = [
    await createQueue(door, "alpha", "dead"),
    await createQueue(door, "beta", "dead"),
    await createQueue(door, "gamma", "dead"),
  ];
  await createQueue(door, "delta", "other");
  await createQueue(door, "plain");
  const list = (QueueUrl: string, MaxResults?: number, NextToken?: string) =>
    door.client.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl, MaxResults, NextToken }));
  const all = await list(dead);
  assert.deepEqual(all.queueUrls, sources);
  assert.equal(all.NextToken, undefined);
  const first = await list(dead, 2);
  assert.deepEqual(first.queueUrls, sources.slice(0, 2));
  const second = await list(dead, 2, first.NextToken);
  assert.deepEqual(second.queueUrls, sources.slice(2));
  assert.equal(second.NextToken, undefined);
  assert.deepEqual((await list(other)).queueUrls, [door.queueUrl("delta")]);
  assert.deepEqual((await list(door.queueUrl("plain"))).queueUrls, []);
  // A policy removed is a source no more.
  await door.client.send(
    new SetQueueAttributesCommand({ QueueUrl: sources[1], Attributes: { RedrivePolicy: "" } }),
  );
  assert.deepEqual((await list(dead)).queueUrls, [sources[0], sources[2]]);
  await rejectsWith(list(door.queueUrl("nowhere")), { name: "QueueDoesNotExist" });
  await rejectsWith(list(door.queueUrl("dead.fifo")), { name: "QueueDoesNotExist" });
  await rejectsWith(list(dead, 0), { name: "InvalidParameterValue" });
  await rejectsWith(list(dead, 2, "bogus"), { name: "InvalidParameterValue" });
  // A token of another listing does not page this one.
  await rejectsWith(list(other, 2, first.NextToken), { name: "InvalidParameterValue" });
  assert.deepEqual(door.errors, []);
});

Deno.test("ListDeadLetterSourceQueues: sources deleted while paging skip none of the rest", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  const sources = [];
  for (const name of ["s1", "s2", "s3", "s4", "s5"]) {
    sources.push(await createQueue(door, name, "dead"));
  }
  const list = (MaxResults: number, NextToken?: string) =>
    door.client.send(
      new ListDeadLetterSourceQueuesCommand({ QueueUrl: dead, MaxResults, NextToken }),
    );
  const deleted: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await list(2, NextToken);
    for (const QueueUrl of page.queueUrls ?? []) {
      await door.client.send(new DeleteQueueCommand({ QueueUrl }));
      deleted.push(QueueUrl);
    }
    NextToken = page.NextToken;
  } while (NextToken !== undefined);
  assert.deepEqual(deleted, sources);
  assert.deepEqual(door.errors, []);
});

Deno.test("ListDeadLetterSourceQueues: needs read on the queue, and shows the sources the key may read", async () => {
  const reader = {
    secretId: "AKIDreader",
    secretKey: "reader-secret",
    allow: ["queue:dead:read", "queue:alpha:read", "queue:gamma:read"],
  };
  await using door = startDoor({ keys: [adminKey, reader] });
  const dead = await createQueue(door, "dead");
  for (const name of ["alpha", "beta", "gamma"]) await createQueue(door, name, "dead");
  const client = door.clientFor(reader);
  const { queueUrls, NextToken } = await client.send(
    new ListDeadLetterSourceQueuesCommand({ QueueUrl: dead, MaxResults: 2 }),
  );
  assert.deepEqual(queueUrls, [door.queueUrl("alpha"), door.queueUrl("gamma")]);
  assert.equal(NextToken, undefined);
  await rejectsWith(
    client.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: door.queueUrl("beta") })),
    { name: "AccessDenied", status: 403, message: /queue:beta:read/ },
  );
});

Deno.test("StartMessageMoveTask moves a dead-letter queue back to its sources; ListMessageMoveTasks reports it", async () => {
  // Batches of 2: the three messages take two replicated redrives.
  await using door = startDoor({ moveTasks: { batchMessages: 2 } });
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  const beta = await createQueue(door, "beta", "dead");
  const spare = await createQueue(door, "spare");
  await deadLetter(door, "alpha", ["a1", "a2"]);
  await deadLetter(door, "beta", ["b1"]);
  assert.equal(await visible(door, dead), 3);
  const before = Date.now();
  const commitsBefore = door.replica.lastIndex;
  const { TaskHandle } = await door.client.send(
    new StartMessageMoveTaskCommand({ SourceArn: arnOf("dead") }),
  );
  assert.ok(TaskHandle);
  await endedTask(door, arnOf("dead"));
  assert.equal(door.replica.lastIndex - commitsBefore, 2, "two batches, one redrive each");
  assert.deepEqual([
    await visible(door, dead),
    await visible(door, alpha),
    await visible(door, beta),
  ], [0, 2, 1]);
  const listed = await door.client.send(
    new ListMessageMoveTasksCommand({ SourceArn: arnOf("dead") }),
  );
  const [task] = listed.Results!;
  assert.ok(task.StartedTimestamp! >= before && task.StartedTimestamp! <= Date.now());
  assert.deepEqual({ ...task, StartedTimestamp: 0 }, {
    Status: "COMPLETED",
    SourceArn: arnOf("dead"),
    ApproximateNumberOfMessagesMoved: 3,
    ApproximateNumberOfMessagesToMove: 3,
    StartedTimestamp: 0,
  });
  // To a destination, with a rate.
  await createQueue(door, "gamma", "dead");
  await deadLetter(door, "gamma", ["g1"]);
  await door.client.send(
    new StartMessageMoveTaskCommand({
      SourceArn: arnOf("dead"),
      DestinationArn: arnOf("spare"),
      MaxNumberOfMessagesPerSecond: 5,
    }),
  );
  await endedTask(door, arnOf("dead"));
  assert.equal(await visible(door, spare), 1);
  const both = await door.client.send(
    new ListMessageMoveTasksCommand({ SourceArn: arnOf("dead"), MaxResults: 10 }),
  );
  assert.deepEqual(
    both.Results!.map((
      each,
    ) => [
      each.Status,
      each.ApproximateNumberOfMessagesMoved,
      each.DestinationArn,
      each.MaxNumberOfMessagesPerSecond,
    ]),
    [
      ["COMPLETED", 1, arnOf("spare"), 5],
      ["COMPLETED", 3, undefined, undefined],
    ],
  );
  // An ended task can't be cancelled.
  await rejectsWith(door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle })), {
    name: "ResourceNotFoundException",
    status: 404,
    message: /COMPLETED/,
  });
  // A queue that had no task lists none.
  const none = await door.client.send(
    new ListMessageMoveTasksCommand({ SourceArn: arnOf("spare") }),
  );
  assert.deepEqual(none.Results, []);
  assert.deepEqual(door.errors, []);
});

Deno.test("StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask refuse what SQS refuses", async () => {
  await using door = startDoor();
  await createQueue(door, "dead");
  await createQueue(door, "alpha", "dead");
  await createQueue(door, "plain");
  const start = (
    SourceArn: string,
    DestinationArn?: string,
    MaxNumberOfMessagesPerSecond?: number,
  ) =>
    door.client.send(
      new StartMessageMoveTaskCommand({ SourceArn, DestinationArn, MaxNumberOfMessagesPerSecond }),
    );
  await rejectsWith(start(arnOf("plain")), {
    name: "InvalidParameterValue",
    message: /^Source queue must be configured as a Dead Letter Queue\.$/,
  });
  await rejectsWith(start(arnOf("nowhere")), {
    name: "ResourceNotFoundException",
    status: 404,
    message: /SourceArn/,
  });
  await rejectsWith(start(arnOf("dead.fifo")), { name: "ResourceNotFoundException" });
  await rejectsWith(start(arnOf("dead"), arnOf("nowhere")), {
    name: "ResourceNotFoundException",
    message: /DestinationArn/,
  });
  await rejectsWith(start("dead"), { name: "InvalidParameterValue", message: /SourceArn: arn:/ });
  await rejectsWith(start(arnOf("dead"), arnOf("dead")), { name: "InvalidParameterValue" });
  // A destination of the other kind (FIFO or standard) than the source is refused at the Start;
  // it was taken, and the task's first batch then failed it (FailureReason InvalidParameterValue).
  const FifoQueue = "true";
  await door.client.send(
    new CreateQueueCommand({ QueueName: "jobs.fifo", Attributes: { FifoQueue } }),
  );
  await rejectsWith(start(arnOf("dead"), arnOf("jobs.fifo")), {
    name: "InvalidParameterValue",
    message: /DestinationArn/,
  });
  await door.client.send(
    new CreateQueueCommand({ QueueName: "graveyard.fifo", Attributes: { FifoQueue } }),
  );
  const RedrivePolicy = JSON.stringify({
    deadLetterTargetArn: arnOf("graveyard.fifo"),
    maxReceiveCount: 1,
  });
  await door.client.send(
    new CreateQueueCommand({
      QueueName: "orders.fifo",
      Attributes: { FifoQueue, RedrivePolicy },
    }),
  );
  await rejectsWith(start(arnOf("graveyard.fifo"), arnOf("plain")), {
    name: "InvalidParameterValue",
    message: /DestinationArn/,
  });
  await rejectsWith(start(arnOf("dead"), undefined, 0), { name: "InvalidParameterValue" });
  await rejectsWith(start(arnOf("dead"), undefined, 501), { name: "InvalidParameterValue" });
  // The task list keeps the ARN it is given: a longer one than any SQS ARN is refused.
  await rejectsWith(start(`${arnOf("dead")}${"x".repeat(257)}`), {
    name: "InvalidParameterValue",
    message: /SourceArn is longer than 256 characters/,
  });
  await rejectsWith(start(arnOf("dead"), `${arnOf("jobs")}${"x".repeat(257)}`), {
    name: "InvalidParameterValue",
    message: /DestinationArn is longer than 256 characters/,
  });
  const list = (SourceArn: string, MaxResults?: number) =>
    door.client.send(new ListMessageMoveTasksCommand({ SourceArn, MaxResults }));
  await rejectsWith(list(arnOf("nowhere")), { name: "ResourceNotFoundException" });
  await rejectsWith(list(arnOf("dead"), 11), { name: "InvalidParameterValue" });
  const cancel = (TaskHandle: string) =>
    door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
  await rejectsWith(cancel("junk"), {
    name: "InvalidParameterValue",
    message: /^Value for parameter TaskHandle is invalid\.$/,
  });
  const handleOf = (sourceArn: string) => btoa(JSON.stringify({ taskId: "x", sourceArn }));
  await rejectsWith(cancel(handleOf(arnOf("nowhere"))), {
    name: "ResourceNotFoundException",
    message: /SourceArn/,
  });
  await rejectsWith(cancel(handleOf(arnOf("dead"))), {
    name: "ResourceNotFoundException",
    message: /^Task does not exist\.$/,
  });
  // Nothing refused started a task.
  assert.deepEqual((await list(arnOf("dead"))).Results, []);
  assert.deepEqual((await list(arnOf("graveyard.fifo"))).Results, []);
  assert.deepEqual(door.errors, []);
});

Deno.test("a SourceArn with any characters in its region and account starts a task, its handle read back", async () => {
  await using door = startDoor();
  await createQueue(door, "dead");
  await createQueue(door, "alpha", "dead");
  // The region and account are not checked (as for a RedrivePolicy's ARN); characters outside
  // Latin-1 failed the handle's encoding with a 500 InternalFailure.
  for (const SourceArn of ["arn:aws:sqs:€-west-1:000000000000:dead", "arn:aws:sqs:eu:😀:dead"]) {
    const { TaskHandle } = await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
    assert.ok(TaskHandle);
    const ended = await endedTask(door, SourceArn);
    assert.deepEqual([ended.Status, ended.SourceArn], ["COMPLETED", SourceArn]);
    await rejectsWith(door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle })), {
      name: "ResourceNotFoundException",
      message: /it is COMPLETED/,
    });
  }
  assert.deepEqual(door.errors, []);
});
