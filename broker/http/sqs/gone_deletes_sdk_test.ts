/**
 * Deletes of a message that is already gone, through the real `@aws-sdk/client-sqs` and the
 * query protocol's `aws-sdk` v2: as in SQS they succeed (an SDK retries DeleteMessage by itself
 * when an answer is lost, and its retry must not fail), while a handle of an older delivery of
 * a message still in the queue stays `ReceiptHandleIsInvalid`, cmqd's stricter rule. A
 * visibility change of either is SQS's `InvalidParameterValue`.
 */
import assert from "node:assert/strict";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import { BrokerError, type QueueService } from "../../service/mod.ts";
import { forwardingHandler } from "../../cluster/forwarding.ts";

type Door = ReturnType<typeof startDoor>;

const arnOf = (sqsName: string) => `arn:aws:sqs:us-east-1:000000000000:${sqsName}`;

async function createQueue(door: Door, QueueName: string, Attributes?: Record<string, string>) {
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  return QueueUrl!;
}

/** Sends `bodies` and receives them all under a lock of `VisibilityTimeout` seconds. */
async function sendAndReceive(door: Door, QueueUrl: string, bodies: string[], lock = 30) {
  await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: bodies.map((MessageBody, index) => ({ Id: `m${index}`, MessageBody })),
    }),
  );
  const { Messages } = await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: lock }),
  );
  assert.deepEqual(Messages!.map((message) => message.Body), bodies);
  return Messages!;
}

async function depth(door: Door, QueueUrl: string) {
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return [
    Attributes!.ApproximateNumberOfMessages,
    Attributes!.ApproximateNumberOfMessagesNotVisible,
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SQS's refusal of a visibility change whose message is gone or was delivered again. */
const notAvailableForChange =
  /^Value \S+ for parameter ReceiptHandle is invalid\. Reason: Message does not exist or is not available for visibility timeout change\.$/;

Deno.test("ChangeMessageVisibility of a message gone or delivered again is SQS's InvalidParameterValue", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const [gone, older] = await sendAndReceive(door, QueueUrl, ["gone", "older"]);
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: gone.ReceiptHandle }));
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: older.ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const [current] = (await door.client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages!;
  assert.equal(current.Body, "older");
  for (const { ReceiptHandle } of [gone, older]) {
    await rejectsWith(
      door.client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 60 }),
      ),
      { name: "InvalidParameterValue", code: "InvalidParameterValue", status: 400 },
    );
  }
  const batch = await door.client.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "gone", ReceiptHandle: gone.ReceiptHandle, VisibilityTimeout: 60 },
        { Id: "older", ReceiptHandle: older.ReceiptHandle, VisibilityTimeout: 60 },
        { Id: "junk", ReceiptHandle: "junk", VisibilityTimeout: 60 },
        { Id: "current", ReceiptHandle: current.ReceiptHandle, VisibilityTimeout: 60 },
      ],
    }),
  );
  assert.deepEqual(batch.Successful, [{ Id: "current" }]);
  assert.deepEqual(batch.Failed!.map((entry) => [entry.Id, entry.Code, entry.SenderFault]), [
    ["gone", "InvalidParameterValue", true],
    ["older", "InvalidParameterValue", true],
    ["junk", "ReceiptHandleIsInvalid", true],
  ]);
  for (const entry of batch.Failed!.slice(0, 2)) {
    assert.match(entry.Message!, notAvailableForChange);
  }
  // The query protocol answers the same code.
  const sqs = queryClientOf(door.endpoint, adminKey);
  await assert.rejects(
    sqs.changeMessageVisibility({
      QueueUrl,
      ReceiptHandle: gone.ReceiptHandle!,
      VisibilityTimeout: 5,
    }).promise(),
    (error: { code: string; statusCode: number; message: string }) => {
      assert.deepEqual([error.code, error.statusCode], ["InvalidParameterValue", 400]);
      assert.match(error.message, notAvailableForChange);
      return true;
    },
  );
  assert.deepEqual(await depth(door, QueueUrl), ["0", "1"], "the current holder keeps it");
  // A lock that ended, with no receive since: SQS's MessageNotInflight.
  const late = await createQueue(door, "late");
  const [expired] = await sendAndReceive(door, late, ["late"], 1);
  await sleep(1_100);
  await rejectsWith(
    door.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: late,
        ReceiptHandle: expired.ReceiptHandle,
        VisibilityTimeout: 60,
      }),
    ),
    { name: "MessageNotInflight", code: "AWS.SimpleQueueService.MessageNotInflight", status: 400 },
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("DeleteMessage of a message already deleted with the same handle succeeds", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const [message] = await sendAndReceive(door, QueueUrl, ["once"]);
  const ReceiptHandle = message.ReceiptHandle!;
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle }));
  const again = await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle }));
  assert.equal(again.$metadata.httpStatusCode, 200);
  // The message is gone for visibility changes too: SQS refuses those (its code and words).
  await rejectsWith(
    door.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 5 }),
    ),
    { name: "InvalidParameterValue", status: 400, message: notAvailableForChange },
  );
  // Forged (a tag that does not verify), garbled and other queues' handles stay refused. The tag
  // ends the engine's handle, before the receive time (`receipt_times.ts`).
  const [engineHandle, receivedAt] = ReceiptHandle.split(".");
  const forged = engineHandle.slice(0, -2) + (engineHandle.endsWith("AA") ? "BA" : "AA") + "." +
    receivedAt;
  const otherUrl = await createQueue(door, "other");
  const refused: [string, string, RegExp][] = [
    [QueueUrl, forged, /does not verify/],
    [QueueUrl, "junk", /not a receipt handle/],
    [otherUrl, ReceiptHandle, /not a receipt handle of this queue/],
  ];
  for (const [url, handle, message] of refused) {
    await rejectsWith(
      door.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: handle })),
      { name: "ReceiptHandleIsInvalid", code: "ReceiptHandleIsInvalid", status: 404, message },
    );
  }
  assert.deepEqual(door.errors, []);
});

/** A service whose first delete is applied and then answered 503, as when an answer is lost. */
function losesFirstDeleteAnswer(service: QueueService, calls: string[][]) {
  return new Proxy(service, {
    get(target, property) {
      if (property === "deleteMessages") {
        return async (...args: Parameters<QueueService["deleteMessages"]>) => {
          calls.push(args[1]);
          const result = await target.deleteMessages(...args);
          if (calls.length === 1) throw new BrokerError("NotReady", "the answer was lost");
          return result;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("the SDK's own retry of a DeleteMessage whose first attempt was applied succeeds", async () => {
  const calls: string[][] = [];
  await using door = startDoor({
    wrapService: (service) => losesFirstDeleteAnswer(service, calls),
  });
  const QueueUrl = await createQueue(door, "jobs");
  const [message] = await sendAndReceive(door, QueueUrl, ["retried"]);
  const retrying = door.clientFor(adminKey, { maxAttempts: 3 });
  const answer = await retrying.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }),
  );
  assert.equal(answer.$metadata.attempts, 2);
  // The service is given the engine's handle: the door's without its receive time.
  const [engineHandle] = message.ReceiptHandle!.split(".");
  assert.deepEqual(calls, [[engineHandle], [engineHandle]]);
  assert.deepEqual(await depth(door, QueueUrl), ["0", "0"]);
});

Deno.test("DeleteMessageBatch: gone and current handles succeed, an older delivery's and junk fail", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const [gone, current, older] = await sendAndReceive(door, QueueUrl, ["gone", "current", "older"]);
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: gone.ReceiptHandle }));
  // `older` is released and delivered again: its first handle is an older delivery's.
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: older.ReceiptHandle,
      VisibilityTimeout: 0,
    }),
  );
  const [redelivered] = (await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 30 }),
  )).Messages!;
  assert.equal(redelivered.Body, "older");
  const deleted = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "gone", ReceiptHandle: gone.ReceiptHandle },
        { Id: "current", ReceiptHandle: current.ReceiptHandle },
        { Id: "older", ReceiptHandle: older.ReceiptHandle },
        { Id: "junk", ReceiptHandle: "junk" },
        { Id: "gone-again", ReceiptHandle: gone.ReceiptHandle },
      ],
    }),
  );
  assert.deepEqual(deleted.Successful!.map((entry) => entry.Id), ["gone", "current", "gone-again"]);
  assert.deepEqual(deleted.Failed!.map((entry) => [entry.Id, entry.Code, entry.SenderFault]), [
    ["older", "ReceiptHandleIsInvalid", true],
    ["junk", "ReceiptHandleIsInvalid", true],
  ]);
  assert.deepEqual(await depth(door, QueueUrl), ["0", "1"], "the redelivered one is still held");
  // Its current holder deletes it; then the whole batch again is all gone but junk.
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: redelivered.ReceiptHandle }),
  );
  const repeated = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: "current", ReceiptHandle: current.ReceiptHandle },
        { Id: "older", ReceiptHandle: older.ReceiptHandle },
        { Id: "redelivered", ReceiptHandle: redelivered.ReceiptHandle },
      ],
    }),
  );
  assert.deepEqual(repeated.Successful!.map((entry) => entry.Id), [
    "current",
    "older",
    "redelivered",
  ]);
  assert.deepEqual(repeated.Failed, []);
  assert.deepEqual(door.errors, []);
});

Deno.test("a handle whose lock expired and whose message was received again stays invalid", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  const [first] = await sendAndReceive(door, QueueUrl, ["slow"], 1);
  await sleep(1_100);
  const [second] = (await door.client.send(
    new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 30, AttributeNames: ["All"] }),
  )).Messages!;
  assert.equal(second.Attributes!.ApproximateReceiveCount, "2");
  await rejectsWith(
    door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle })),
    { name: "ReceiptHandleIsInvalid", code: "ReceiptHandleIsInvalid", status: 404 },
  );
  const batch = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl,
      Entries: [{ Id: "slow", ReceiptHandle: first.ReceiptHandle }],
    }),
  );
  assert.deepEqual(batch.Failed!.map((entry) => entry.Code), ["ReceiptHandleIsInvalid"]);
  assert.deepEqual(await depth(door, QueueUrl), ["0", "1"], "the second receiver still holds it");
});

Deno.test("a delete of a message moved to the dead-letter queue, or purged, succeeds", async () => {
  await using door = startDoor();
  const deadUrl = await createQueue(door, "dead");
  const QueueUrl = await createQueue(door, "jobs", {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arnOf("dead"), maxReceiveCount: 1 }),
  });
  const [moved] = await sendAndReceive(door, QueueUrl, ["poison"], 1);
  await sleep(1_100);
  // This receive finds it received once already: it moves to `dead` instead.
  const none = await door.client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
  assert.equal(none.Messages, undefined);
  assert.deepEqual(await depth(door, deadUrl), ["1", "0"]);
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: moved.ReceiptHandle }),
  );
  assert.deepEqual(await depth(door, deadUrl), ["1", "0"], "the dead-lettered copy stays");

  const purgedUrl = await createQueue(door, "purged");
  const purged = await sendAndReceive(door, purgedUrl, ["p1", "p2"]);
  await door.client.send(new PurgeQueueCommand({ QueueUrl: purgedUrl }));
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl: purgedUrl, ReceiptHandle: purged[0].ReceiptHandle }),
  );
  const batch = await door.client.send(
    new DeleteMessageBatchCommand({
      QueueUrl: purgedUrl,
      Entries: purged.map((message, index) => ({
        Id: `p${index}`,
        ReceiptHandle: message.ReceiptHandle,
      })),
    }),
  );
  assert.deepEqual(batch.Successful!.map((entry) => entry.Id), ["p0", "p1"]);
  assert.deepEqual(batch.Failed, []);
  assert.deepEqual(door.errors, []);
});

Deno.test("through a follower that relays to the leader, a repeated delete succeeds", async () => {
  await using door = startDoor();
  const relayed: string[] = [];
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => door.endpoint },
    local: () => new Response("a follower serves no SQS request itself", { status: 500 }),
    requestBytesMax: 1 << 20,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
    relayed.push(request.headers.get("x-amz-target") ?? "");
    return follower(request);
  });
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  const client = new SQSClient({
    endpoint,
    region: "eu-west-1",
    credentials: { accessKeyId: adminKey.secretId, secretAccessKey: adminKey.secretKey },
    maxAttempts: 1,
  });
  try {
    const QueueUrl = await createQueue(door, "jobs");
    const [message, older] = await sendAndReceive(door, QueueUrl, ["a", "b"]);
    await door.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: older.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await door.client.send(new ReceiveMessageCommand({ QueueUrl })); // `b` delivered again
    const followerUrl = `${endpoint}/000000000000/jobs`;
    const entries = [
      { Id: "a", ReceiptHandle: message.ReceiptHandle },
      { Id: "b", ReceiptHandle: older.ReceiptHandle },
    ];
    for (let round = 0; round < 2; round++) {
      const deleted = await client.send(
        new DeleteMessageCommand({ QueueUrl: followerUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      assert.equal(deleted.$metadata.httpStatusCode, 200);
      const batch = await client.send(
        new DeleteMessageBatchCommand({ QueueUrl: followerUrl, Entries: entries }),
      );
      assert.deepEqual(batch.Successful!.map((entry) => entry.Id), ["a"]);
      assert.deepEqual(batch.Failed!.map((entry) => [entry.Id, entry.Code]), [
        ["b", "ReceiptHandleIsInvalid"],
      ]);
    }
    assert.equal(relayed.length, 4, "every delete went through the follower");
    assert.deepEqual(await depth(door, QueueUrl), ["0", "1"]);
  } finally {
    client.destroy();
    await server.shutdown();
  }
});

Deno.test("aws-sdk v2 (query protocol): a repeated DeleteMessage(Batch) of a gone message succeeds", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const sqs = queryClientOf(door.endpoint, adminKey);
  const { QueueUrl } = await sqs.createQueue({ QueueName: "jobs" }).promise();
  await sqs.sendMessage({ QueueUrl: QueueUrl!, MessageBody: "one" }).promise();
  await sqs.sendMessage({ QueueUrl: QueueUrl!, MessageBody: "two" }).promise();
  const received = await sqs.receiveMessage({ QueueUrl: QueueUrl!, MaxNumberOfMessages: 2 })
    .promise();
  const [one, two] = received.Messages!;
  const first = { QueueUrl: QueueUrl!, ReceiptHandle: one.ReceiptHandle! };
  await sqs.deleteMessage(first).promise();
  const again = await sqs.deleteMessage(first).promise();
  assert.match(again.$response.requestId, /^[0-9a-f-]{36}$/);
  await sqs.changeMessageVisibility({
    QueueUrl: QueueUrl!,
    ReceiptHandle: two.ReceiptHandle!,
    VisibilityTimeout: 0,
  }).promise();
  await sqs.receiveMessage({ QueueUrl: QueueUrl! }).promise(); // `two` delivered again
  const batch = await sqs.deleteMessageBatch({
    QueueUrl: QueueUrl!,
    Entries: [
      { Id: "one", ReceiptHandle: one.ReceiptHandle! },
      { Id: "two", ReceiptHandle: two.ReceiptHandle! },
    ],
  }).promise();
  assert.deepEqual(batch.Successful, [{ Id: "one" }]);
  assert.deepEqual(batch.Failed.map((entry) => [entry.Id, entry.Code]), [
    ["two", "ReceiptHandleIsInvalid"],
  ]);
  await assert.rejects(
    sqs.deleteMessage({ QueueUrl: QueueUrl!, ReceiptHandle: two.ReceiptHandle! }).promise(),
    (error: { code: string; statusCode: number }) => {
      assert.equal(error.code, "ReceiptHandleIsInvalid");
      assert.equal(error.statusCode, 404);
      return true;
    },
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("a handle with one character of the engine's part changed is ReceiptHandleIsInvalid, before and after its message is gone", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "forged");
  const [held] = await sendAndReceive(door, QueueUrl, ["held"]);
  const handle = held.ReceiptHandle!;
  const changedAt = (at: number) =>
    handle.slice(0, at) + (handle[at] === "A" ? "B" : "A") + handle.slice(at + 1);
  const engineLength = handle.indexOf(".");
  const invalid = { name: "ReceiptHandleIsInvalid", code: "ReceiptHandleIsInvalid", status: 404 };
  for (let at = 0; at < engineLength; at++) {
    await rejectsWith(
      door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: changedAt(at) })),
      invalid,
    );
  }
  assert.deepEqual(await depth(door, QueueUrl), ["0", "1"], "nothing was deleted");
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: handle }));
  // A delete of a gone message succeeds only by a handle that verifies.
  await rejectsWith(
    door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: changedAt(10) })),
    invalid,
  );
});
