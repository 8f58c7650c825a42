/**
 * The dead-letter operations through the real `@aws-sdk/client-sqs`: ListDeadLetterSourceQueues
 * (pages, per-key filtering) and the message move tasks (Start, List, Cancel).
 */
import assert from "node:assert/strict";
import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
} from "./_npm_test_deps.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import type { QueueService } from "../../service/mod.ts";

type Door = ReturnType<typeof startDoor>;

const arnOf = (sqsName: string) => `arn:aws:sqs:us-east-1:000000000000:${sqsName}`;

async function createQueue(door: Door, QueueName: string, deadLetter?: string): Promise<string> {
  const Attributes = deadLetter === undefined ? undefined : {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arnOf(deadLetter), maxReceiveCount: 1 }),
  };
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  return QueueUrl!;
}

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

/** Sends `bodies` to the cmqd queue `source` and has its RedrivePolicy move them (receive twice). */
async function deadLetter(door: Door, source: string, bodies: string[]): Promise<void> {
  await door.broker.sendMessages(source, bodies.map((body) => ({ body })));
  const { messages } = await door.broker.receiveMessages(source, { maxMessages: 256 });
  assert.equal(messages.length, bodies.length);
  await door.broker.changeVisibility(
    source,
    messages.map(({ receiptHandle }) => ({ receiptHandle, visibilityTimeoutSeconds: 0 })),
  );
  // maxReceiveCount 1: the next receive moves them to the dead-letter queue.
  const again = await door.broker.receiveMessages(source, { maxMessages: 256 });
  assert.equal(again.messages.length, 0);
}

async function visible(door: Door, QueueUrl: string): Promise<number> {
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(Attributes!.ApproximateNumberOfMessages);
}

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
  // To a destination, with a rate (reported, not honoured).
  await createQueue(door, "gamma", "dead");
  await deadLetter(door, "gamma", ["g1"]);
  await door.client.send(
    new StartMessageMoveTaskCommand({
      SourceArn: arnOf("dead"),
      DestinationArn: arnOf("spare"),
      MaxNumberOfMessagesPerSecond: 5,
    }),
  );
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
  assert.deepEqual((await list(arnOf("dead"))).Results, []);
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
    const [ended] = (await door.client.send(new ListMessageMoveTasksCommand({ SourceArn })))
      .Results!;
    assert.deepEqual([ended.Status, ended.SourceArn], ["COMPLETED", SourceArn]);
    await rejectsWith(door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle })), {
      name: "ResourceNotFoundException",
      message: /it is COMPLETED/,
    });
  }
  assert.deepEqual(door.errors, []);
});

/** A service whose redrive waits for `open` (and tells `entered` it was called). */
function gatedRedrive(service: QueueService, gate: { entered: () => void; open: Promise<void> }) {
  return new Proxy(service, {
    get(target, property) {
      if (property === "redrive") {
        return async (...args: Parameters<QueueService["redrive"]>) => {
          gate.entered();
          await gate.open;
          return await target.redrive(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("a running task is listed with its handle, refuses a second Start, and stops when cancelled", async () => {
  const entered = Promise.withResolvers<void>();
  const open = Promise.withResolvers<void>();
  await using door = startDoor({
    moveTasks: { batchMessages: 1 },
    wrapService: (service) =>
      gatedRedrive(service, { entered: entered.resolve, open: open.promise }),
  });
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  await deadLetter(door, "alpha", ["a1", "a2", "a3"]);
  const SourceArn = arnOf("dead");
  const started = door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  await entered.promise;
  const [running] = (await door.client.send(new ListMessageMoveTasksCommand({ SourceArn })))
    .Results!;
  assert.equal(running.Status, "RUNNING");
  assert.equal(running.ApproximateNumberOfMessagesToMove, 3);
  assert.ok(running.TaskHandle);
  await rejectsWith(door.client.send(new StartMessageMoveTaskCommand({ SourceArn })), {
    name: "InvalidParameterValue",
    message: /already a task running/,
  });
  const cancelled = await door.client.send(
    new CancelMessageMoveTaskCommand({ TaskHandle: running.TaskHandle }),
  );
  assert.equal(cancelled.ApproximateNumberOfMessagesMoved, 0);
  open.resolve();
  const { TaskHandle } = await started;
  assert.equal(TaskHandle, running.TaskHandle);
  const [ended] = (await door.client.send(new ListMessageMoveTasksCommand({ SourceArn })))
    .Results!;
  assert.equal(ended.Status, "CANCELLED");
  assert.equal(ended.ApproximateNumberOfMessagesMoved, 1, "the batch under way finished");
  assert.equal(ended.TaskHandle, undefined);
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [2, 1]);
  // Another task may start now, and takes the rest.
  await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [0, 3]);
  assert.deepEqual(door.errors, []);
});

Deno.test("message move tasks need what the native redrive needs", async () => {
  const operator = {
    secretId: "AKIDoperator",
    secretKey: "operator-secret",
    allow: ["queue:dead:manage", "queue:dead:read", "queue:spare:send"],
  };
  const reader = { secretId: "AKIDreader", secretKey: "reader-secret", allow: ["queue:*:read"] };
  await using door = startDoor({ keys: [adminKey, operator, reader] });
  await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  const spare = await createQueue(door, "spare");
  await deadLetter(door, "alpha", ["a1"]);
  const SourceArn = arnOf("dead");
  const client = door.clientFor(operator);
  // Back to the sources: send on every queue.
  await rejectsWith(client.send(new StartMessageMoveTaskCommand({ SourceArn })), {
    name: "AccessDenied",
    status: 403,
    message: /queue:\*:send/,
  });
  await rejectsWith(
    client.send(new StartMessageMoveTaskCommand({ SourceArn, DestinationArn: arnOf("alpha") })),
    { name: "AccessDenied", message: /queue:alpha:send/ },
  );
  await client.send(new StartMessageMoveTaskCommand({ SourceArn, DestinationArn: arnOf("spare") }));
  assert.equal(await visible(door, spare), 1);
  assert.equal(await visible(door, alpha), 0);
  const readerClient = door.clientFor(reader);
  const { Results } = await readerClient.send(new ListMessageMoveTasksCommand({ SourceArn }));
  assert.equal(Results![0].Status, "COMPLETED");
  await rejectsWith(
    readerClient.send(
      new StartMessageMoveTaskCommand({ SourceArn, DestinationArn: arnOf("spare") }),
    ),
    {
      name: "AccessDenied",
      message: /queue:dead:manage/,
    },
  );
  // The admin key (`*`) may move back to the sources.
  await deadLetter(door, "alpha", ["a2"]);
  await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  assert.equal(await visible(door, alpha), 1);
});
