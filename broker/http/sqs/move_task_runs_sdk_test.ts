/**
 * A message move task's run through the real `@aws-sdk/client-sqs`: listed while running, the
 * permissions it needs (and loses on a key reload), its pacing at MaxNumberOfMessagesPerSecond,
 * CancelMessageMoveTask, a source or destination deleted under it, and the door closing on it.
 */
import assert from "node:assert/strict";
import {
  CancelMessageMoveTaskCommand,
  DeleteQueueCommand,
  ListMessageMoveTasksCommand,
  StartMessageMoveTaskCommand,
} from "./_npm_test_deps.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import { type AccessKey, FileKeyRing } from "../../auth/mod.ts";
import {
  arnOf,
  createQueue,
  deadLetter,
  endedTask,
  gatedRedrive,
  newestTask,
  taskUntil,
  visible,
} from "./_dead_letters.ts";

Deno.test("a running task is listed with its handle, refuses a second Start, and stops when cancelled after its batch in flight", async () => {
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
  // The Start answers while its first batch waits at the gate.
  const { TaskHandle } = await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  await entered.promise;
  const running = await newestTask(door, SourceArn);
  assert.equal(running.Status, "RUNNING");
  assert.equal(running.ApproximateNumberOfMessagesToMove, 3);
  assert.equal(running.ApproximateNumberOfMessagesMoved, 0);
  assert.equal(running.TaskHandle, TaskHandle);
  await rejectsWith(door.client.send(new StartMessageMoveTaskCommand({ SourceArn })), {
    name: "InvalidParameterValue",
    message: /already a task running/,
  });
  const cancelled = await door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
  assert.equal(cancelled.ApproximateNumberOfMessagesMoved, 0);
  // The batch in flight is not abandoned: the task is CANCELLING until it ends.
  const cancelling = await newestTask(door, SourceArn);
  assert.equal(cancelling.Status, "CANCELLING");
  assert.equal(cancelling.TaskHandle, undefined);
  await rejectsWith(door.client.send(new StartMessageMoveTaskCommand({ SourceArn })), {
    name: "InvalidParameterValue",
    message: /already a task running/,
  });
  await rejectsWith(door.client.send(new CancelMessageMoveTaskCommand({ TaskHandle })), {
    name: "ResourceNotFoundException",
    message: /it is CANCELLING/,
  });
  open.resolve();
  const ended = await endedTask(door, SourceArn);
  assert.equal(ended.Status, "CANCELLED");
  assert.equal(ended.ApproximateNumberOfMessagesMoved, 1, "the batch under way finished");
  assert.equal(ended.TaskHandle, undefined);
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [2, 1]);
  // Another task may start now, and takes the rest.
  await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  assert.equal((await endedTask(door, SourceArn)).Status, "COMPLETED");
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
  await endedTask(door, SourceArn);
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
  assert.equal((await endedTask(door, SourceArn)).Status, "COMPLETED");
  assert.equal(await visible(door, alpha), 1);
});

Deno.test("a key reload that takes a running task's permission away fails it before its next batch", async () => {
  const operator: AccessKey = {
    secretId: "AKIDoperator",
    secretKey: "operator-secret",
    allow: ["queue:dead:manage", "queue:dead:read", "queue:spare:send", "queue:*:send"],
  };
  const credentials = (keys: AccessKey[]) => JSON.stringify({ keys });
  let file = credentials([adminKey, operator]);
  const keyRing = await FileKeyRing.load("credentials.json", () => Promise.resolve(file));
  await using door = startDoor({ keyRing });
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  const spare = await createQueue(door, "spare");
  const SourceArn = arnOf("dead");
  const client = door.clientFor(operator);

  /** Starts a task of the operator's at one message a second, and reloads `keys` mid-task. */
  const refusedMidTask = async (DestinationArn: string | undefined, keys: AccessKey[]) => {
    await deadLetter(door, "alpha", ["m1", "m2", "m3", "m4", "m5"]);
    await client.send(
      new StartMessageMoveTaskCommand({
        SourceArn,
        DestinationArn,
        MaxNumberOfMessagesPerSecond: 1,
      }),
    );
    const running = await taskUntil(
      door,
      SourceArn,
      (task) => task.ApproximateNumberOfMessagesMoved! >= 1,
    );
    file = credentials(keys);
    await keyRing.reload();
    const ended = await endedTask(door, SourceArn);
    assert.equal(ended.Status, "FAILED");
    assert.equal(ended.FailureReason, "AccessDenied");
    const moved = ended.ApproximateNumberOfMessagesMoved!;
    // A batch in flight at the reload (checked before it) finishes; none starts afterwards.
    const movedAtReload = running.ApproximateNumberOfMessagesMoved!;
    assert.ok(moved === movedAtReload || moved === movedAtReload + 1, `${movedAtReload} ${moved}`);
    assert.ok(moved < 5, `moved ${moved}`);
    assert.equal(await visible(door, dead), 5 - moved);
    // Past the next batch's time (a second after the last one): nothing more moves.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(await visible(door, dead), 5 - moved);
    return moved;
  };

  /** The admin key moves the rest back to `alpha`, which is then emptied for the next round. */
  const moveTheRest = async () => {
    await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
    assert.equal((await endedTask(door, SourceArn)).Status, "COMPLETED");
    assert.equal(await visible(door, dead), 0);
    await door.broker.purge("alpha");
    file = credentials([adminKey, operator]);
    await keyRing.reload();
  };

  // `send` on the destination taken away.
  const toSpare = await refusedMidTask(arnOf("spare"), [adminKey, {
    ...operator,
    allow: ["queue:dead:manage", "queue:dead:read", "queue:*:read"],
  }]);
  assert.equal(await visible(door, spare), toSpare);
  assert.equal(await visible(door, alpha), 0);
  await moveTheRest();
  // `manage` on the source taken away, `send` on every queue left.
  const back = await refusedMidTask(undefined, [adminKey, {
    ...operator,
    allow: ["queue:*:send"],
  }]);
  assert.equal(await visible(door, alpha), back);
  await moveTheRest();
  // The key itself removed.
  await refusedMidTask(undefined, [adminKey]);
  await moveTheRest();
  assert.deepEqual(door.errors, []);
});

Deno.test("StartMessageMoveTask answers at once; the task moves in the background at MaxNumberOfMessagesPerSecond", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  await deadLetter(door, "alpha", Array.from({ length: 300 }, (_, index) => `m${index}`));
  assert.equal(await visible(door, dead), 300);
  const SourceArn = arnOf("dead");
  const startedAt = performance.now();
  const { TaskHandle } = await door.client.send(
    new StartMessageMoveTaskCommand({ SourceArn, MaxNumberOfMessagesPerSecond: 100 }),
  );
  // At 100 a second, 300 messages take two seconds past the first batch: the task runs on.
  const running = await newestTask(door, SourceArn);
  assert.equal(running.Status, "RUNNING");
  assert.equal(running.TaskHandle, TaskHandle);
  assert.equal(running.ApproximateNumberOfMessagesToMove, 300);
  assert.ok(running.ApproximateNumberOfMessagesMoved! < 300);
  // Progress is reported as batches commit, never more than the rate allows so far.
  const seen = new Set<number>();
  const ended = await taskUntil(door, SourceArn, (task) => {
    seen.add(task.ApproximateNumberOfMessagesMoved!);
    return task.Status !== "RUNNING";
  });
  const elapsedMs = performance.now() - startedAt;
  assert.equal(ended.Status, "COMPLETED");
  assert.equal(ended.ApproximateNumberOfMessagesMoved, 300);
  assert.equal(ended.MaxNumberOfMessagesPerSecond, 100);
  assert.ok(
    [...seen].every((moved) => moved % 100 === 0),
    `batches of 100 at most: ${[...seen]}`,
  );
  // A lower bound only: batches of at most 100, each a second after the one before.
  assert.ok(elapsedMs >= 1900, `300 messages at 100/s moved in ${Math.round(elapsedMs)} ms`);
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [0, 300]);
  assert.deepEqual(door.errors, []);
});

Deno.test("CancelMessageMoveTask stops a paced task before its next batch; nothing moves afterwards", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  await deadLetter(door, "alpha", Array.from({ length: 100 }, (_, index) => `m${index}`));
  const SourceArn = arnOf("dead");
  // 10 a second: the task needs nine seconds past its first batch.
  const { TaskHandle } = await door.client.send(
    new StartMessageMoveTaskCommand({ SourceArn, MaxNumberOfMessagesPerSecond: 10 }),
  );
  await taskUntil(door, SourceArn, (task) => task.ApproximateNumberOfMessagesMoved! >= 10);
  const { ApproximateNumberOfMessagesMoved: movedAtCancel } = await door.client.send(
    new CancelMessageMoveTaskCommand({ TaskHandle }),
  );
  const ended = await endedTask(door, SourceArn);
  assert.equal(ended.Status, "CANCELLED");
  const moved = ended.ApproximateNumberOfMessagesMoved!;
  // Cancelled between batches, or (on a slow machine) with one in flight, which then finishes.
  assert.ok(moved === movedAtCancel || moved === movedAtCancel! + 10, `${movedAtCancel} ${moved}`);
  assert.ok(moved >= 10 && moved < 100, `moved ${moved}`);
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [100 - moved, moved]);
  // Longer than a batch's share of time (100 ms): no batch follows.
  const commits = door.replica.lastIndex;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(door.replica.lastIndex, commits);
  assert.deepEqual([await visible(door, dead), await visible(door, alpha)], [100 - moved, moved]);
  assert.equal((await newestTask(door, SourceArn)).ApproximateNumberOfMessagesMoved, moved);
  assert.deepEqual(door.errors, []);
});

Deno.test("a task whose destination is deleted mid-task ends FAILED with the query code", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  await createQueue(door, "alpha", "dead");
  const spare = await createQueue(door, "spare");
  await deadLetter(door, "alpha", Array.from({ length: 50 }, (_, index) => `m${index}`));
  const SourceArn = arnOf("dead");
  await door.client.send(
    new StartMessageMoveTaskCommand({
      SourceArn,
      DestinationArn: arnOf("spare"),
      MaxNumberOfMessagesPerSecond: 10,
    }),
  );
  await taskUntil(door, SourceArn, (task) => task.ApproximateNumberOfMessagesMoved! >= 10);
  await door.client.send(new DeleteQueueCommand({ QueueUrl: spare }));
  const ended = await endedTask(door, SourceArn);
  assert.equal(ended.Status, "FAILED");
  assert.equal(ended.FailureReason, "AWS.SimpleQueueService.NonExistentQueue");
  const moved = ended.ApproximateNumberOfMessagesMoved!;
  assert.ok(moved >= 10 && moved < 50, `moved ${moved}`);
  assert.equal(await visible(door, dead), 50 - moved);
  // A new task may start once the failed one has ended.
  await door.client.send(new StartMessageMoveTaskCommand({ SourceArn }));
  assert.equal((await endedTask(door, SourceArn)).Status, "COMPLETED");
  assert.equal(await visible(door, dead), 0);
  assert.deepEqual(door.errors, []);
});

Deno.test("a task whose source is deleted and created again mid-task ends FAILED, moving nothing of the new queue", async () => {
  await using door = startDoor();
  const dead = await createQueue(door, "dead");
  const alpha = await createQueue(door, "alpha", "dead");
  await deadLetter(door, "alpha", ["m1", "m2", "m3", "m4", "m5"]);
  const SourceArn = arnOf("dead");
  // One a second: the task waits a second after each message.
  await door.client.send(
    new StartMessageMoveTaskCommand({ SourceArn, MaxNumberOfMessagesPerSecond: 1 }),
  );
  await taskUntil(door, SourceArn, (task) => task.ApproximateNumberOfMessagesMoved! >= 1);
  await door.client.send(new DeleteQueueCommand({ QueueUrl: dead }));
  const again = await createQueue(door, "dead");
  const beta = await createQueue(door, "beta", "dead");
  await deadLetter(door, "beta", ["n1", "n2", "n3"]);
  // The task was started on the queue that was deleted: the new one's messages are not its to
  // move (the task used to go on with them, back to beta, up to the old queue's count, and end
  // COMPLETED).
  const ended = await endedTask(door, SourceArn);
  assert.equal(ended.Status, "FAILED");
  assert.equal(ended.FailureReason, "AWS.SimpleQueueService.NonExistentQueue");
  const moved = ended.ApproximateNumberOfMessagesMoved!;
  assert.ok(moved >= 1 && moved < 5, `moved ${moved}`);
  assert.equal(await visible(door, alpha), moved);
  assert.deepEqual([await visible(door, again), await visible(door, beta)], [3, 0]);
  assert.deepEqual(door.errors, []);
});

Deno.test({
  name: "closing the door stops its running tasks (nothing is left running)",
  // Fails the test if a task's timer or batch outlives the close (not on by default).
  sanitizeOps: true,
}, async () => {
  const door = startDoor();
  try {
    const dead = await createQueue(door, "dead");
    await createQueue(door, "alpha", "dead");
    await deadLetter(door, "alpha", ["a1", "a2", "a3"]);
    const SourceArn = arnOf("dead");
    // One a second: the task waits a second after each message.
    await door.client.send(
      new StartMessageMoveTaskCommand({ SourceArn, MaxNumberOfMessagesPerSecond: 1 }),
    );
    await taskUntil(door, SourceArn, (task) => task.ApproximateNumberOfMessagesMoved === 1);
    assert.equal(await visible(door, dead), 2);
  } finally {
    await door[Symbol.asyncDispose]();
  }
  // Past the task's next batch (due a second after its first): nothing moved.
  await new Promise((resolve) => setTimeout(resolve, 1300));
  assert.equal((await door.broker.getQueue("dead")).activeMessages, 2);
});
