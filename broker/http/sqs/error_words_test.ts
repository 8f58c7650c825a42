/**
 * SQS answers carry SQS's words, never the engine's: a missing queue, a queue name taken with
 * other attributes, a refused receipt handle and a message not in flight are worded as SQS words
 * them, and no answer names a queue by cmqd's internal name (`orders` for `orders.fifo`).
 */
import assert from "node:assert/strict";
import { asBrokerError, BrokerError } from "../../service/mod.ts";
import { ReplicationError } from "../../replication/mod.ts";
import { handleFailureError, inRedriveTerms, SqsError, toSqsError } from "./errors.ts";
import { rawCall, startDoor } from "./_test_server.ts";

Deno.test("service errors with SQS's own message are answered in SQS's words", () => {
  const exists = toSqsError(
    new BrokerError("QueueAlreadyExists", "queue 'orders' exists with different attributes"),
    () => {},
  );
  assert.equal(exists.code, "QueueNameExists");
  assert.equal(
    exists.message,
    "A queue already exists with the same name and a different value for an attribute or tag.",
  );
  const gone = toSqsError(
    new BrokerError("QueueNotFound", "queue 'orders' was deleted and created again"),
    () => {},
  );
  assert.equal(gone.message, "The specified queue does not exist.");
  const notInflight = handleFailureError(
    { code: "MessageNotInflight", message: "the message's lock already ended" },
    "h.1",
  );
  assert.equal(notInflight.code, "MessageNotInflight");
  assert.equal(notInflight.message, "The message referred to isn't in flight.");
});

Deno.test("a refused receipt handle is SQS's message, quoting the handle as sent, with no internal queue name", async () => {
  await using door = startDoor();
  const call = async (operation: string, input: Record<string, unknown>) =>
    await rawCall(door.endpoint, `AmazonSQS.${operation}`, JSON.stringify(input));
  const fifo = { FifoQueue: "true", ContentBasedDeduplication: "true" };
  const orders = (await call("CreateQueue", { QueueName: "orders.fifo", Attributes: fifo })).body
    .QueueUrl;
  const other = (await call("CreateQueue", { QueueName: "other.fifo", Attributes: fifo })).body
    .QueueUrl;
  assert.equal(
    (await call("SendMessage", { QueueUrl: other, MessageBody: "x", MessageGroupId: "g" })).status,
    200,
  );
  const received = await call("ReceiveMessage", { QueueUrl: other });
  const handle: string = received.body.Messages[0].ReceiptHandle;
  assert.match(handle, /\.\d+$/, "a door handle carries its receive time");
  const expected = (sent: string) =>
    `The input receipt handle "${sent}" is not a valid receipt handle. Reason: `;
  for (const [sent, reason] of [["junk", "not a receipt handle"], [handle, "of this queue"]]) {
    const refused = await call("DeleteMessage", { QueueUrl: orders, ReceiptHandle: sent });
    assert.equal(refused.status, 404);
    assert.equal(refused.body.__type, "com.amazonaws.sqs#ReceiptHandleIsInvalid");
    assert.ok(refused.body.message.startsWith(expected(sent)), refused.body.message);
    assert.ok(refused.body.message.includes(reason), refused.body.message);
    assert.ok(!refused.body.message.includes("'other'"), refused.body.message);
    const batch = await call("DeleteMessageBatch", {
      QueueUrl: orders,
      Entries: [{ Id: "a", ReceiptHandle: sent }],
    });
    assert.equal(batch.status, 200);
    assert.equal(batch.body.Failed[0].Code, "ReceiptHandleIsInvalid");
    assert.ok(
      batch.body.Failed[0].Message.startsWith(expected(sent)),
      batch.body.Failed[0].Message,
    );
    const changed = await call("ChangeMessageVisibility", {
      QueueUrl: orders,
      ReceiptHandle: sent,
      VisibilityTimeout: 5,
    });
    assert.equal(changed.status, 404);
    assert.ok(changed.body.message.startsWith(expected(sent)), changed.body.message);
  }
  const taken = await call("CreateQueue", {
    QueueName: "orders.fifo",
    Attributes: fifo,
    tags: { team: "a" },
  });
  assert.equal(taken.body.__type, "com.amazonaws.sqs#QueueNameExists");
  assert.ok(!taken.body.message.includes("'orders'"), taken.body.message);
  assert.deepEqual(door.errors, []);
});

Deno.test("a full backlog (OverLimit) names the queue by its SQS name, whole request or batch", async () => {
  await using door = startDoor();
  const call = async (operation: string, input: Record<string, unknown>) =>
    await rawCall(door.endpoint, `AmazonSQS.${operation}`, JSON.stringify(input));
  await door.broker.createQueue("orders", { fifo: true, maxBacklog: 1 });
  const QueueUrl = door.queueUrl("orders.fifo");
  const send = (id: string) => ({
    MessageBody: id,
    MessageGroupId: "g",
    MessageDeduplicationId: id,
  });
  assert.equal((await call("SendMessage", { QueueUrl, ...send("a") })).status, 200);
  const refused = await call("SendMessage", { QueueUrl, ...send("b") });
  assert.equal(refused.body.__type, "com.amazonaws.sqs#OverLimit");
  assert.match(refused.body.message, /^queue 'orders\.fifo' holds 1 of at most 1 messages/);
  const batch = await call("SendMessageBatch", {
    QueueUrl,
    Entries: [{ Id: "b", ...send("b") }, { Id: "c", ...send("c") }],
  });
  const answered = batch.status === 200 ? batch.body.Failed[0].Message : batch.body.message;
  assert.match(answered, /^queue 'orders\.fifo' holds 1 of at most 1 messages/, answered);
  assert.deepEqual(door.errors, []);
});

Deno.test("a RedrivePolicy whose target does not exist is SQS's 'Dead letter target does not exist.'", async () => {
  await using door = startDoor();
  const call = async (operation: string, input: Record<string, unknown>) =>
    await rawCall(door.endpoint, `AmazonSQS.${operation}`, JSON.stringify(input));
  const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;
  const fifo = { FifoQueue: "true" };
  const QueueUrl = (await call("CreateQueue", { QueueName: "orders.fifo", Attributes: fifo }))
    .body.QueueUrl;
  // `jobs` exists, as a FIFO queue (`jobs.fifo`): the standard `jobs` a policy names does not.
  await call("CreateQueue", { QueueName: "jobs.fifo", Attributes: fifo });
  await call("CreateQueue", { QueueName: "plain" });
  const cases: [string, string, string][] = [
    ["orders.fifo", "nope.fifo", "SetQueueAttributes"],
    ["orders.fifo", "nope.fifo", "CreateQueue"],
    ["plain", "jobs", "SetQueueAttributes"],
  ];
  for (const [source, target, operation] of cases) {
    const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arn(target), maxReceiveCount: 3 });
    const Attributes = { ...(source.endsWith(".fifo") ? fifo : {}), RedrivePolicy };
    const refused = operation === "CreateQueue"
      ? await call("CreateQueue", { QueueName: "other.fifo", Attributes })
      : await call("SetQueueAttributes", {
        QueueUrl: source === "plain" ? door.queueUrl("plain") : QueueUrl,
        Attributes: { RedrivePolicy },
      });
    assert.equal(refused.status, 400, `${operation} ${target}`);
    assert.equal(refused.body.__type, "com.amazon.coral.service#InvalidParameterValue");
    assert.equal(
      refused.body.message,
      `Value ${RedrivePolicy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.`,
    );
  }
  assert.deepEqual(door.errors, []);
});

Deno.test("a replica's refusal or an internal error reaches SQS clients in SQS's words, its own in the node's log", async () => {
  const refusals = [
    new BrokerError("NoLeader", "not the leader; leader is n2 at http://10.0.0.2:8080", {
      retryAfterSeconds: 1,
    }),
    asBrokerError(new ReplicationError("NotReady", "replica failed: raft log fsync EIO")),
    new BrokerError("NodeRemoved", "node n3 was removed from the cluster at term 7"),
    new BrokerError("InsufficientStorage", "disk alarm: 97% of /var/lib/cmqd used"),
  ];
  for (const refusal of refusals) {
    const sqs = toSqsError(refusal, () => {});
    assert.equal(sqs.code, "ServiceUnavailable");
    assert.equal(sqs.message, "The request has failed due to a temporary failure of the server.");
  }
  const internal = toSqsError(
    new BrokerError("InternalError", "state machine: bad entry"),
    () => {},
  );
  assert.equal(internal.message, "We encountered an internal error. Please try again.");
  // Through the door: the answer carries SQS's words, the log the replica's.
  const reported: string[] = [];
  await using door = startDoor({
    wrapService: (service) =>
      new Proxy(service, {
        get(target, name) {
          if (name === "listQueues") return () => Promise.reject(refusals[0]);
          const value = Reflect.get(target, name);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
    report: (line) => reported.push(line),
  });
  const answer = await rawCall(door.endpoint, "AmazonSQS.ListQueues", "{}");
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get("retry-after"), "1");
  assert.deepEqual(answer.body, {
    __type: "com.amazon.coral.service#ServiceUnavailable",
    message: "The request has failed due to a temporary failure of the server.",
  });
  assert.equal(reported.length, 1);
  assert.match(reported[0], /ServiceUnavailable.*NoLeader: not the leader; leader is n2/);
});

Deno.test("a dead-letter target refusal is recognised by its code and field, not its words", () => {
  const policy =
    '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}';
  const request = { queue: "orders", target: "dlq" };
  const said = "Dead letter target does not exist.";
  // Whatever the service's words for a target it refuses (missing, of the other kind).
  for (const words of ["queue 'dlq' does not exist", "some other wording entirely"]) {
    const refusal = new BrokerError("InvalidParameter", `deadLetter.queue: ${words}`, {
      field: "deadLetter.queue",
    });
    const answered = inRedriveTerms(refusal, policy, request);
    assert.ok(answered instanceof SqsError);
    assert.equal(answered.code, "InvalidParameterValue");
    assert.match(answered.message, new RegExp(`Reason: ${said}$`));
  }
  // Not a target that names no queue: the queue itself, another field, another code.
  const others = [
    [new BrokerError("InvalidParameter", "x", { field: "deadLetter.queue" }), {
      queue: "dlq",
      target: "dlq",
    }],
    [new BrokerError("InvalidParameter", "x", { field: "deadLetter.maxReceiveCount" }), request],
    [new BrokerError("QueueNotFound", "x", { field: "deadLetter.queue" }), request],
  ] as const;
  for (const [error, names] of others) assert.equal(inRedriveTerms(error, policy, names), error);
  const refusal = new BrokerError("InvalidParameter", "y", { field: "deadLetter.queue" });
  assert.equal(inRedriveTerms(refusal, undefined, undefined), refusal, "no policy sent");
});
