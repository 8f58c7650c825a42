/**
 * The queue operations of the SQS door, driven by the real, unmodified `@aws-sdk/client-sqs`.
 */
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from "./_npm_test_deps.ts";
import { rejectsWith, startDoor } from "./_test_server.ts";
import type { QueueService } from "../../service/mod.ts";
import type { QueueAttributesInput } from "./broker_deps.ts";

Deno.test("CreateQueue answers the URL, again for an identical queue, QueueNameExists otherwise", async () => {
  await using door = startDoor();
  const created = await door.client.send(
    new CreateQueueCommand({ QueueName: "orders", Attributes: { VisibilityTimeout: "45" } }),
  );
  assert.equal(created.QueueUrl, door.queueUrl("orders"));
  const again = await door.client.send(
    new CreateQueueCommand({ QueueName: "orders", Attributes: { VisibilityTimeout: "45" } }),
  );
  assert.equal(again.QueueUrl, door.queueUrl("orders"));
  await rejectsWith(
    door.client.send(
      new CreateQueueCommand({ QueueName: "orders", Attributes: { VisibilityTimeout: "46" } }),
    ),
    { name: "QueueNameExists", code: "QueueAlreadyExists", status: 400 },
  );
  // The standard queue `orders` holds the name: a FIFO `orders.fifo` would be the same queue.
  await rejectsWith(
    door.client.send(
      new CreateQueueCommand({ QueueName: "orders.fifo", Attributes: { FifoQueue: "true" } }),
    ),
    { name: "QueueNameExists" },
  );
  await rejectsWith(door.client.send(new CreateQueueCommand({ QueueName: "9lives" })), {
    name: "InvalidParameterValue",
    code: "InvalidParameterValue",
  });
  await rejectsWith(
    door.client.send(
      new CreateQueueCommand({ QueueName: "plain", Attributes: { FifoQueue: "true" } }),
    ),
    { name: "InvalidParameterValue" },
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("CreateQueue: a .fifo name needs FifoQueue true and FifoQueue true a .fifo name, as in SQS", async () => {
  await using door = startDoor();
  const create = (QueueName: string, Attributes?: Record<string, string>) =>
    door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  const refusals: [string, Record<string, string> | undefined, RegExp][] = [
    // Without FifoQueue the queue is standard, and a standard name holds no dot.
    ["jobs.fifo", undefined, /QueueName .*FifoQueue set to true/],
    ["jobs.fifo", {}, /QueueName .*FifoQueue set to true/],
    ["jobs.fifo", { FifoQueue: "false" }, /QueueName .*FifoQueue set to true/],
    ["jobs.fifo", { VisibilityTimeout: "45" }, /QueueName .*FifoQueue set to true/],
    ["jobs", { FifoQueue: "true" }, /QueueName .*must end with the \.fifo suffix/],
  ];
  for (const [QueueName, Attributes, message] of refusals) {
    await rejectsWith(create(QueueName, Attributes), {
      name: "InvalidParameterValue",
      code: "InvalidParameterValue",
      status: 400,
      message,
    });
  }
  await rejectsWith(create("jobs.fifo", { FifoQueue: "yes" }), {
    name: "InvalidAttributeValue",
    message: /FifoQueue.*true or false/,
  });
  assert.deepEqual((await door.client.send(new ListQueuesCommand({}))).QueueUrls, []);
  // An existing FIFO queue's name without FifoQueue is refused too, not taken as the queue.
  const created = await create("jobs.fifo", { FifoQueue: "true" });
  assert.equal(created.QueueUrl, door.queueUrl("jobs.fifo"));
  await rejectsWith(create("jobs.fifo"), { name: "InvalidParameterValue", message: /FifoQueue/ });
  assert.equal((await create("plain", { FifoQueue: "false" })).QueueUrl, door.queueUrl("plain"));
  assert.deepEqual(door.errors, []);
});

Deno.test("CreateQueue of an existing queue compares only the attributes it names", async () => {
  await using door = startDoor();
  const create = (QueueName: string, Attributes?: Record<string, string>) =>
    door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  await create("orders", { VisibilityTimeout: "45", MaximumMessageSize: "2048" });
  // SQS's get-or-create: a create naming no attribute, or only ones the queue has, answers the URL.
  const matching: (Record<string, string> | undefined)[] = [
    undefined,
    {},
    { VisibilityTimeout: "45" },
    { DelaySeconds: "0" },
    { MaximumMessageSize: "2048", MessageRetentionPeriod: "345600" },
  ];
  for (const attributes of matching) {
    const answer = await create("orders", attributes);
    assert.equal(answer.QueueUrl, door.queueUrl("orders"), JSON.stringify(attributes));
  }
  await rejectsWith(create("orders", { MessageRetentionPeriod: "60" }), {
    name: "QueueNameExists",
    code: "QueueAlreadyExists",
    message: /different value for attribute MessageRetentionPeriod/,
  });
  const dlq = await create("orders-dlq");
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const RedrivePolicy = JSON.stringify({
    deadLetterTargetArn: Attributes!.QueueArn,
    maxReceiveCount: 3,
  });
  await create("jobs", { RedrivePolicy });
  assert.equal((await create("jobs")).QueueUrl, door.queueUrl("jobs"));
  assert.equal((await create("jobs", { RedrivePolicy })).QueueUrl, door.queueUrl("jobs"));
  await rejectsWith(create("jobs", { RedrivePolicy: "" }), {
    name: "QueueNameExists",
    message: /different value for attribute RedrivePolicy/,
  });
  // A queue made on the native door, with settings SQS has no name for, is found too.
  await door.broker.createQueue("native", { rewindSeconds: 60, maxBacklog: 500 });
  assert.equal((await create("native")).QueueUrl, door.queueUrl("native"));
  const orders = await door.broker.getQueue("orders");
  assert.deepEqual(
    [orders.visibilityTimeoutSeconds, orders.maxMessageBytes, orders.retentionSeconds],
    [45, 2048, 345600],
    "nothing changed",
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("CreateQueue racing another create of the name compares with the queue made", async () => {
  let racing = true;
  await using door = startDoor({
    // Another client creates the queue, with settings of its own, between the door's read and
    // its create (once).
    wrapService: (service) =>
      new Proxy(service, {
        get: (target, method: keyof QueueService) => {
          const value = target[method] as (...args: unknown[]) => unknown;
          if (method !== "createQueue") return value.bind(target);
          return async (name: string, attributes: QueueAttributesInput) => {
            if (racing) {
              racing = false;
              await target.createQueue(name, { visibilityTimeoutSeconds: 90 });
            }
            return await target.createQueue(name, attributes);
          };
        },
      }),
  });
  const created = await door.client.send(new CreateQueueCommand({ QueueName: "orders" }));
  assert.equal(created.QueueUrl, door.queueUrl("orders"));
  assert.equal((await door.broker.getQueue("orders")).visibilityTimeoutSeconds, 90);
  racing = true;
  await rejectsWith(
    door.client.send(
      new CreateQueueCommand({ QueueName: "jobs", Attributes: { VisibilityTimeout: "30" } }),
    ),
    { name: "QueueNameExists", message: /different value for attribute VisibilityTimeout/ },
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("GetQueueUrl finds queues by SQS name, .fifo only for FIFO queues", async () => {
  await using door = startDoor();
  await door.client.send(new CreateQueueCommand({ QueueName: "orders" }));
  await door.client.send(
    new CreateQueueCommand({ QueueName: "jobs.fifo", Attributes: { FifoQueue: "true" } }),
  );
  const orders = await door.client.send(new GetQueueUrlCommand({ QueueName: "orders" }));
  assert.equal(orders.QueueUrl, door.queueUrl("orders"));
  const jobs = await door.client.send(new GetQueueUrlCommand({ QueueName: "jobs.fifo" }));
  assert.equal(jobs.QueueUrl, door.queueUrl("jobs.fifo"));
  for (const QueueName of ["jobs", "orders.fifo", "missing", "no.such.name"]) {
    await rejectsWith(door.client.send(new GetQueueUrlCommand({ QueueName })), {
      name: "QueueDoesNotExist",
      code: "AWS.SimpleQueueService.NonExistentQueue",
      status: 400,
    });
  }
});

Deno.test("ListQueues filters by prefix and pages with MaxResults and NextToken", async () => {
  await using door = startDoor();
  for (const QueueName of ["orders-b", "orders-a", "payments"]) {
    await door.client.send(new CreateQueueCommand({ QueueName }));
  }
  await door.client.send(
    new CreateQueueCommand({ QueueName: "orders.fifo", Attributes: { FifoQueue: "true" } }),
  ); // the FIFO queue `orders` (the name is free)
  const all = await door.client.send(new ListQueuesCommand({}));
  assert.deepEqual(all.QueueUrls, [
    door.queueUrl("orders.fifo"),
    door.queueUrl("orders-a"),
    door.queueUrl("orders-b"),
    door.queueUrl("payments"),
  ]);
  assert.equal(all.NextToken, undefined);
  const seen: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await door.client.send(
      new ListQueuesCommand({ QueueNamePrefix: "orders", MaxResults: 2, NextToken }),
    );
    seen.push(...page.QueueUrls ?? []);
    NextToken = page.NextToken;
  } while (NextToken !== undefined);
  assert.deepEqual(seen, all.QueueUrls!.slice(0, 3));
  const fifo = await door.client.send(new ListQueuesCommand({ QueueNamePrefix: "orders.fi" }));
  assert.deepEqual(fifo.QueueUrls, [door.queueUrl("orders.fifo")]);
  const none = await door.client.send(new ListQueuesCommand({ QueueNamePrefix: "orders-a.x" }));
  assert.deepEqual(none.QueueUrls ?? [], []);
  await rejectsWith(
    door.client.send(new ListQueuesCommand({ QueueNamePrefix: "pay", NextToken: "bogus" })),
    { name: "InvalidParameterValue" },
  );
});

Deno.test("ListQueues: queues deleted while paging skip none of the rest (a page-by-page cleanup)", async () => {
  await using door = startDoor();
  const names = ["job-0", "job-1", "job-2", "job-3", "job-4", "job-5", "job-6"];
  for (const QueueName of names) await door.client.send(new CreateQueueCommand({ QueueName }));
  // The cleanup loop SQS users write: delete each page's queues, then follow NextToken. A
  // token that counted positions would skip as many queues as the pages before it deleted.
  const deleted: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await door.client.send(
      new ListQueuesCommand({ QueueNamePrefix: "job-", MaxResults: 2, NextToken }),
    );
    for (const QueueUrl of page.QueueUrls ?? []) {
      await door.client.send(new DeleteQueueCommand({ QueueUrl }));
      deleted.push(QueueUrl);
    }
    NextToken = page.NextToken;
  } while (NextToken !== undefined);
  assert.deepEqual(deleted, names.map((name) => door.queueUrl(name)));
  // And queues created behind the page already read are not listed again; ones ahead are.
  for (const QueueName of ["a-0", "a-2", "a-4"]) {
    await door.client.send(new CreateQueueCommand({ QueueName }));
  }
  const first = await door.client.send(
    new ListQueuesCommand({ QueueNamePrefix: "a-", MaxResults: 2 }),
  );
  assert.deepEqual(first.QueueUrls, [door.queueUrl("a-0"), door.queueUrl("a-2")]);
  await door.client.send(new CreateQueueCommand({ QueueName: "a-1" }));
  await door.client.send(new CreateQueueCommand({ QueueName: "a-3" }));
  const rest = await door.client.send(
    new ListQueuesCommand({ QueueNamePrefix: "a-", MaxResults: 2, NextToken: first.NextToken }),
  );
  assert.deepEqual(rest.QueueUrls, [door.queueUrl("a-3"), door.queueUrl("a-4")]);
  assert.equal(rest.NextToken, undefined);
  // A token of the release that counted positions (a client paging across an upgrade) still
  // pages from its position.
  const counted = btoa(JSON.stringify({ offset: 3, prefix: "a-" }));
  const old = await door.client.send(
    new ListQueuesCommand({ QueueNamePrefix: "a-", MaxResults: 1, NextToken: counted }),
  );
  assert.deepEqual(old.QueueUrls, [door.queueUrl("a-3")]);
  const last = await door.client.send(
    new ListQueuesCommand({ QueueNamePrefix: "a-", MaxResults: 1, NextToken: old.NextToken }),
  );
  assert.deepEqual(last.QueueUrls, [door.queueUrl("a-4")]);
  assert.equal(last.NextToken, undefined);
});

Deno.test("GetQueueAttributes and SetQueueAttributes map SQS attributes to cmqd's", async () => {
  await using door = startDoor();
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({
      QueueName: "orders",
      Attributes: {
        VisibilityTimeout: "45",
        MessageRetentionPeriod: "600",
        ReceiveMessageWaitTimeSeconds: "2",
        DelaySeconds: "0",
        SqsManagedSseEnabled: "false",
        // What cmqd does anyway (any queue may be a dead-letter queue): taken, as SQS's default.
        RedriveAllowPolicy: '{"redrivePermission": "allowAll"}',
      },
    }),
  );
  const before = Math.floor(Date.now() / 1000);
  const all = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  const attributes = all.Attributes!;
  assert.equal(attributes.VisibilityTimeout, "45");
  assert.equal(attributes.MessageRetentionPeriod, "600");
  assert.equal(attributes.ReceiveMessageWaitTimeSeconds, "2");
  assert.equal(attributes.MaximumMessageSize, "1048576"); // SQS's default, not cmqd's 64 KiB
  assert.equal(attributes.DelaySeconds, "0");
  assert.equal(attributes.QueueArn, "arn:aws:sqs:us-east-1:000000000000:orders");
  assert.equal(attributes.ApproximateNumberOfMessages, "0");
  assert.ok(Math.abs(Number(attributes.CreatedTimestamp) - before) <= 2);
  assert.equal(attributes.FifoQueue, undefined);
  assert.equal(attributes.RedrivePolicy, undefined);
  await door.client.send(
    new SetQueueAttributesCommand({
      QueueUrl,
      Attributes: { VisibilityTimeout: "60", MaximumMessageSize: "2048" },
    }),
  );
  const some = await door.client.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ["VisibilityTimeout", "MaximumMessageSize"],
    }),
  );
  assert.deepEqual(some.Attributes, { VisibilityTimeout: "60", MaximumMessageSize: "2048" });
  const refusals: [Record<string, string>, string][] = [
    [{ DelaySeconds: "5" }, "InvalidAttributeValue"],
    [{ VisibilityTimeout: "0" }, "InvalidAttributeValue"],
    [{ VisibilityTimeout: "ten" }, "InvalidAttributeValue"],
    [{ Bogus: "1" }, "InvalidAttributeName"],
    [{ FifoQueue: "true" }, "InvalidAttributeName"],
    [{ ContentBasedDeduplication: "true" }, "InvalidAttributeName"],
    [{ RedriveAllowPolicy: '{"redrivePermission":"denyAll"}' }, "InvalidAttributeValue"],
    [
      { RedriveAllowPolicy: '{"redrivePermission":"byQueue","sourceQueueArns":["a"]}' },
      "InvalidAttributeValue",
    ],
    [{ RedriveAllowPolicy: "allowAll" }, "InvalidAttributeValue"],
  ];
  for (const [Attributes, name] of refusals) {
    await rejectsWith(door.client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes })), {
      name,
    });
  }
  await rejectsWith(
    door.client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["Bogus"] as never }),
    ),
    { name: "InvalidAttributeName" },
  );
  const unchanged = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["VisibilityTimeout"] }),
  );
  assert.equal(unchanged.Attributes!.VisibilityTimeout, "60");
});

Deno.test("FIFO queues report FifoQueue and ContentBasedDeduplication", async () => {
  await using door = startDoor();
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({
      QueueName: "jobs.fifo",
      Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
    }),
  );
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }),
  );
  assert.equal(Attributes!.FifoQueue, "true");
  assert.equal(Attributes!.ContentBasedDeduplication, "true");
  assert.equal(Attributes!.QueueArn, "arn:aws:sqs:us-east-1:000000000000:jobs.fifo");
  await rejectsWith(
    door.client.send(
      new CreateQueueCommand({
        QueueName: "other.fifo",
        Attributes: { FifoQueue: "true", ContentBasedDeduplication: "false" },
      }),
    ),
    { name: "InvalidAttributeValue", message: /SHA-256/ },
  );
});

Deno.test("PurgeQueue empties a queue; DeleteQueue removes it", async () => {
  await using door = startDoor();
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName: "orders" }));
  for (const MessageBody of ["one", "two"]) {
    await door.client.send(new SendMessageCommand({ QueueUrl, MessageBody }));
  }
  const count = async () =>
    (await door.client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    )).Attributes!.ApproximateNumberOfMessages;
  assert.equal(await count(), "2");
  await door.client.send(new PurgeQueueCommand({ QueueUrl }));
  assert.equal(await count(), "0");
  await door.client.send(new DeleteQueueCommand({ QueueUrl }));
  await rejectsWith(door.client.send(new GetQueueUrlCommand({ QueueName: "orders" })), {
    name: "QueueDoesNotExist",
  });
  await rejectsWith(door.client.send(new DeleteQueueCommand({ QueueUrl })), {
    name: "QueueDoesNotExist",
  });
  // A .fifo URL never reaches the standard queue of the same cmqd name.
  await door.client.send(new CreateQueueCommand({ QueueName: "plain" }));
  await rejectsWith(
    door.client.send(new DeleteQueueCommand({ QueueUrl: door.queueUrl("plain.fifo") })),
    { name: "QueueDoesNotExist" },
  );
  await door.client.send(new GetQueueUrlCommand({ QueueName: "plain" }));
});

Deno.test("a repeated CreateQueue (same name, same attributes) waits for one read barrier, and answers as before", async () => {
  await using door = startDoor();
  const create = (Attributes: Record<string, string>) =>
    door.client.send(new CreateQueueCommand({ QueueName: "jobs.fifo", Attributes }));
  const fifo = { FifoQueue: "true", VisibilityTimeout: "45" };
  const { QueueUrl } = await create(fifo);
  // The test replica has no barrier of its own: one that counts stands in for the replica's.
  const replica = door.replica as unknown as { readBarrier?: () => Promise<void> };
  let barriers = 0;
  replica.readBarrier = () => {
    barriers++;
    return Promise.resolve();
  };
  assert.equal((await create(fifo)).QueueUrl, QueueUrl);
  assert.equal(barriers, 1);
  assert.equal((await create({ FifoQueue: "true" })).QueueUrl, QueueUrl, "named attributes only");
  await rejectsWith(create({ FifoQueue: "true", VisibilityTimeout: "46" }), {
    name: "QueueNameExists",
  });
  assert.deepEqual(door.errors, []);
});
