/**
 * ReceiveRequestAttemptId through the real `@aws-sdk/client-sqs` (and `aws-sdk` v2 for the query
 * protocol): on a FIFO queue a retry with the id of an answered receive gets that answer again and
 * locks nothing new, for five minutes on the door's clock; standard queues ignore the id.
 */
import assert from "node:assert/strict";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageBatchCommand,
  SQSClient,
} from "./_npm_test_deps.ts";
import { queryClientOf } from "./_query_client.ts";
import { adminKey, rejectsWith, startDoor } from "./_test_server.ts";
import type { QueueService } from "../../service/mod.ts";
import { forwardingHandler } from "../../cluster/forwarding.ts";
import { BrokerError } from "./broker_deps.ts";
import { memoryEngine } from "../../cluster/testing/mod.ts";

type Door = ReturnType<typeof startDoor>;

async function createQueue(door: Door, QueueName: string): Promise<string> {
  const fifo = QueueName.endsWith(".fifo");
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName, Attributes: fifo ? { FifoQueue: "true" } : {} }),
  );
  return QueueUrl!;
}

/** Sends `bodies`, each in the group named by its first letter on a FIFO queue. */
async function send(door: Door, QueueUrl: string, bodies: string[]): Promise<void> {
  const fifo = QueueUrl.endsWith(".fifo");
  await door.client.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: bodies.map((body) => ({
        Id: body,
        MessageBody: body,
        ...(fifo ? { MessageGroupId: body[0], MessageDeduplicationId: body } : {}),
        MessageAttributes: { size: { DataType: "Number", StringValue: String(body.length) } },
      })),
    }),
  );
}

/** The messages one receive of `attemptId` (none: no id) gets. */
async function receive(
  client: SQSClient,
  QueueUrl: string,
  attemptId: string | undefined,
  more: Partial<ReceiveMessageCommandInput> = {},
): Promise<Message[]> {
  const { Messages } = await client.send(
    new ReceiveMessageCommand({
      QueueUrl,
      ReceiveRequestAttemptId: attemptId,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
      VisibilityTimeout: 43_200,
      ...more,
    }),
  );
  return Messages ?? [];
}

const bodies = (messages: Message[]) => messages.map((message) => message.Body);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a FIFO retry with the same ReceiveRequestAttemptId gets the same messages and handles, and locks nothing new", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "a2", "b1"]);
  const first = await receive(door.client, QueueUrl, "attempt-1");
  assert.deepEqual(bodies(first), ["a1"]);
  const retried = await receive(door.client, QueueUrl, "attempt-1");
  assert.deepEqual(retried, first, "MessageId, ReceiptHandle, body, attributes, MD5s");
  // The retry locked no message: group B's is still there for a receive with another id, and
  // group A stays held by the first receive alone.
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-2")), ["b1"]);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-3"), []);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), first);
  // The handle of the answer given twice is the current one: it deletes, and a2 comes next.
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: retried[0].ReceiptHandle }),
  );
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-4")), ["a2"]);
  assert.deepEqual(door.errors, []);
});

Deno.test("a retry over the query protocol gets the answer of the JSON receive, in XML", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1"]);
  const [first] = await receive(door.client, QueueUrl, "attempt-1");
  const queryClient = queryClientOf(door.endpoint, adminKey);
  const answer = await queryClient.receiveMessage({
    QueueUrl,
    ReceiveRequestAttemptId: "attempt-1",
    AttributeNames: ["All"],
    MessageAttributeNames: ["All"],
  }).promise();
  assert.equal(answer.Messages!.length, 1);
  const [again] = answer.Messages!;
  assert.deepEqual(
    [again.MessageId, again.ReceiptHandle, again.Body, again.MD5OfBody, again.Attributes],
    [first.MessageId, first.ReceiptHandle, first.Body, first.MD5OfBody, first.Attributes],
  );
  assert.equal(again.MessageAttributes!.size.StringValue, "2");
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-2")), ["b1"]);
});

Deno.test("a retry resets the visibility timeout of the messages it answers again", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "a2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 1 });
  const retried = await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 60 });
  assert.deepEqual(retried, first);
  await sleep(1_100); // past the first receive's lock
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-2"), [], "a1 still held");
});

Deno.test("a retry after a message of the set was deleted or had its visibility changed gets none", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "c1", "a2", "b2", "c2"]);
  // Deleted through the SQS door: a retry answers nothing and locks nothing.
  const [a1] = await receive(door.client, QueueUrl, "attempt-a");
  await door.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: a1.ReceiptHandle }));
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-a"), []);
  // Its visibility changed: the same, the change standing.
  const [b1] = await receive(door.client, QueueUrl, "attempt-b");
  assert.equal(b1.Body, "b1");
  await door.client.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl,
      ReceiptHandle: b1.ReceiptHandle,
      VisibilityTimeout: 600,
    }),
  );
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-b"), []);
  // Deleted elsewhere (the native door, which takes the engine's handle: the part before the
  // receive time): the retry's visibility reset finds it gone.
  const [c1] = await receive(door.client, QueueUrl, "attempt-c");
  assert.equal(c1.Body, "c1");
  const [engineHandle] = c1.ReceiptHandle!.split(".");
  const deleted = await door.broker.deleteMessages("orders", [engineHandle]);
  assert.equal(deleted.deleted, 1);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-c"), []);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-c"), [], "spent until it expires");
  // Groups a and c are free again, b is held by the visibility change.
  assert.deepEqual(
    bodies(
      await receive(door.client, QueueUrl, "attempt-d", {
        MaxNumberOfMessages: 10,
      }),
    ),
    ["a2", "c2"],
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("a retry that finds one message of its set gone leaves the others' locks as they were", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "a2", "b2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", {
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 1,
  });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  // a1 deleted elsewhere (the native door): the door's remembered set does not know it.
  const [engineHandle] = first[0].ReceiptHandle!.split(".");
  assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  // The retry asks for a long lock; its reset finds a1 gone and answers nothing.
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), []);
  // b1 is not locked for the retry, whose answer held none: its first lock ends, group b moves.
  await sleep(1_500);
  assert.deepEqual(
    bodies(await receive(door.client, QueueUrl, "attempt-2", { MaxNumberOfMessages: 10 })).sort(),
    ["a2", "b1"],
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("a retry that finds its set incomplete does not shorten the others' locks", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "a2", "b2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", {
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 600,
  });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  const [engineHandle] = first[0].ReceiptHandle!.split(".");
  assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 1 }), []);
  await sleep(1_500); // past the retry's lock: b1 is still held by the first receive's
  assert.deepEqual(
    bodies(await receive(door.client, QueueUrl, "attempt-2", { MaxNumberOfMessages: 10 })),
    ["a2"],
  );
  // The first answer's handle still holds b1.
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first[1].ReceiptHandle }),
  );
  assert.deepEqual(door.errors, []);
});

Deno.test("a ReceiveRequestAttemptId is forgotten five minutes after its receive, on the door's clock", async () => {
  let nowMs = 1_000_000;
  await using door = startDoor({
    time: {
      clock: { now: () => nowMs },
      timers: {
        setTimer: (delayMs, callback) => setTimeout(callback, delayMs),
        clearTimer: (handle) => clearTimeout(handle as number),
      },
    },
  });
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "c1"]);
  const first = await receive(door.client, QueueUrl, "attempt-1");
  assert.deepEqual(bodies(first), ["a1"]);
  nowMs += 5 * 60 * 1000 - 1;
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), first);
  nowMs += 1;
  // Forgotten: a receive of new messages (group a is still locked).
  const later = await receive(door.client, QueueUrl, "attempt-1");
  assert.deepEqual(bodies(later), ["b1"]);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), later, "remembered anew");
});

Deno.test("standard queues ignore ReceiveRequestAttemptId", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "jobs");
  await send(door, QueueUrl, ["m1", "m2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1");
  const second = await receive(door.client, QueueUrl, "attempt-1");
  assert.deepEqual([...bodies(first), ...bodies(second)].sort(), ["m1", "m2"]);
});

Deno.test("callers signing with different keys don't share an attempt id's answer", async () => {
  const workerKey = { secretId: "AKIDworker", secretKey: "worker-secret", allow: ["*"] };
  await using door = startDoor({ keys: [adminKey, workerKey] });
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1"]);
  const first = await receive(door.client, QueueUrl, "attempt-1");
  const other = await receive(door.clientFor(workerKey), QueueUrl, "attempt-1");
  assert.deepEqual(bodies(first), ["a1"]);
  assert.deepEqual(bodies(other), ["b1"]);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), first);
});

Deno.test("a retry that arrives while its first attempt still long-polls gets that attempt's answer", async () => {
  let parked = 0;
  await using door = startDoor({
    wrapService: (service) =>
      new Proxy(service, {
        get(target, property) {
          if (property === "receiveMessages") {
            return (...args: Parameters<QueueService["receiveMessages"]>) => {
              parked++;
              return target.receiveMessages(...args);
            };
          }
          const value = Reflect.get(target, property);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
  });
  const QueueUrl = await createQueue(door, "orders.fifo");
  const waiting = receive(door.client, QueueUrl, "attempt-1", { WaitTimeSeconds: 10 });
  for (let round = 0; parked === 0 && round < 500; round++) await sleep(10);
  assert.equal(parked, 1, "the first attempt waits");
  // The client gave up on it and retries (a second connection). Give the retry the time to
  // reach the door: if it comes later, it finds the first answer remembered instead.
  const retry = receive(door.clientFor(), QueueUrl, "attempt-1", { WaitTimeSeconds: 10 });
  await sleep(200);
  await send(door, QueueUrl, ["a1", "b1"]);
  const [first, again] = await Promise.all([waiting, retry]);
  assert.deepEqual(bodies(first), ["a1"]);
  assert.deepEqual(again, first);
  assert.equal(parked, 1, "the retry received nothing of its own");
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-2")), ["b1"]);
});

Deno.test("a ReceiveRequestAttemptId that is not 1-128 alphanumerics or punctuation is refused, receiving nothing", async () => {
  await using door = startDoor();
  for (const queueName of ["orders.fifo", "jobs"]) {
    const QueueUrl = await createQueue(door, queueName);
    await send(door, QueueUrl, ["a1"]);
    for (const attemptId of ["", "x".repeat(129), "with space", "é", "tab\t"]) {
      await rejectsWith(receive(door.client, QueueUrl, attemptId), {
        name: "InvalidParameterValue",
        status: 400,
        message: /ReceiveRequestAttemptId/,
      });
    }
    const punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    const longest = (punctuation + "09azAZ").repeat(4).slice(0, 128);
    const [message] = await receive(door.client, QueueUrl, longest);
    assert.equal(message.Attributes!.ApproximateReceiveCount, "1", "received only now");
  }
  assert.deepEqual(door.errors, []);
});

Deno.test("through a follower that relays to the leader, a retry gets the leader's remembered answer", async () => {
  await using door = startDoor();
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => door.endpoint },
    local: () => new Response("a follower serves no SQS request itself", { status: 500 }),
    requestBytesMax: 1 << 20,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, follower);
  const client = new SQSClient({
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    region: "eu-west-1",
    credentials: { accessKeyId: adminKey.secretId, secretAccessKey: adminKey.secretKey },
    maxAttempts: 1,
  });
  try {
    const QueueUrl = await createQueue(door, "orders.fifo");
    await send(door, QueueUrl, ["a1", "b1"]);
    const first = await receive(door.client, QueueUrl, "attempt-1");
    const followerUrl = `http://127.0.0.1:${server.addr.port}/000000000000/orders.fifo`;
    assert.deepEqual(await receive(client, followerUrl, "attempt-1"), first);
    assert.deepEqual(bodies(await receive(client, followerUrl, "attempt-2")), ["b1"]);
  } finally {
    client.destroy();
    await server.shutdown();
  }
});

Deno.test("a retry with VisibilityTimeout 0 that finds its set incomplete releases none of the others", async () => {
  await using door = startDoor();
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "a2", "b2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", {
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 600,
  });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  const [engineHandle] = first[0].ReceiptHandle!.split(".");
  assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 0 }), []);
  // b1 is still held by the first receive: group b waits, group a (a1 gone) moves on.
  assert.deepEqual(
    bodies(await receive(door.client, QueueUrl, "attempt-2", { MaxNumberOfMessages: 10 })),
    ["a2"],
  );
  await door.client.send(
    new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first[1].ReceiptHandle }),
  );
  assert.deepEqual(door.errors, []);
});

/** The service, its visibility changes after the first `passing` failing as a lost leader does. */
function failingChangesAfter(service: QueueService, passing: () => number): QueueService {
  let calls = 0;
  return new Proxy(service, {
    get(target, name, receiver) {
      if (name !== "changeVisibility") {
        const value = Reflect.get(target, name, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (
        queue: string,
        entries: { receiptHandle: string; visibilityTimeoutSeconds: number }[],
      ) => {
        calls += 1;
        if (calls > passing()) {
          return Promise.reject(new BrokerError("NoLeader", "no leader", { outcomeUnknown: true }));
        }
        return target.changeVisibility(queue, entries);
      };
    },
  });
}

Deno.test("a retry that finds its set incomplete leaves no lock extended, even when the service then fails", async () => {
  let passing = Infinity;
  await using door = startDoor({
    wrapService: (service) => failingChangesAfter(service, () => passing),
  });
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "a2", "b2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", {
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 1,
  });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  const [engineHandle] = first[0].ReceiptHandle!.split(".");
  assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  // Only the retry's first visibility change goes through: a second one (putting back what a
  // first one extended) would fail.
  passing = 1;
  const retried = await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 600 })
    .catch((error) => error.name);
  assert.deepEqual(retried, []);
  passing = Infinity;
  // b1's lock ends when the first receive's did: group b moves on.
  await sleep(1_500);
  assert.deepEqual(
    bodies(await receive(door.client, QueueUrl, "attempt-2", { MaxNumberOfMessages: 10 })).sort(),
    ["a2", "b1"],
  );
  assert.deepEqual(door.errors, []);
});

/**
 * A door whose clock runs 10 s ahead of its engine's, with a1 and b1 received under attempt-1
 * for 60 s and a1 then deleted elsewhere; `passing` as `failingChangesAfter` takes it.
 */
async function aheadOfItsEngine(passing: () => number) {
  const engine = memoryEngine();
  const door = startDoor({
    engine,
    now: () => engine.clock.now() + 10_000,
    wrapService: (service) => failingChangesAfter(service, passing),
  });
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1", "a2", "b2"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", {
    MaxNumberOfMessages: 10,
    VisibilityTimeout: 60,
  });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  const [engineHandle] = first[0].ReceiptHandle!.split(".");
  assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  return { door, engine, QueueUrl };
}

Deno.test("a retry whose check ended a lock early (the engine's clock behind the door's) puts it back", async () => {
  const { door, engine, QueueUrl } = await aheadOfItsEngine(() => Infinity);
  await using _door = door;
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 5 }), []);
  engine.clock.advance(59_999);
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-2")), ["a2"]);
  engine.clock.advance(1);
  assert.deepEqual(bodies(await receive(door.client, QueueUrl, "attempt-3")), ["b1"]);
  assert.deepEqual(door.errors, []);
});

Deno.test("a retry that can't put back a lock its check ended early says so and logs which", async () => {
  let passing = Infinity;
  const { door, QueueUrl } = await aheadOfItsEngine(() => passing);
  await using _door = door;
  passing = 1; // the check goes through, the put-back fails
  await rejectsWith(receive(door.client, QueueUrl, "attempt-1", { VisibilityTimeout: 5 }), {
    name: "ServiceUnavailable",
    status: 503,
  });
  assert.equal(door.errors.length, 1);
  passing = Infinity;
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), [], "spent");
});

Deno.test("a delete that lands between a retry's check and its reset leaves the retry's answer whole, and spends the set", async () => {
  let beforeChange: () => Promise<void> = () => Promise.resolve();
  await using door = startDoor({
    wrapService: (service) =>
      new Proxy(service, {
        get(target, name) {
          const value = Reflect.get(target, name);
          if (name !== "changeVisibility") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return async (...args: Parameters<QueueService["changeVisibility"]>) => {
            await beforeChange();
            return await target.changeVisibility(...args);
          };
        },
      }),
  });
  const QueueUrl = await createQueue(door, "orders.fifo");
  await send(door, QueueUrl, ["a1", "b1"]);
  const first = await receive(door.client, QueueUrl, "attempt-1", { MaxNumberOfMessages: 10 });
  assert.deepEqual(bodies(first), ["a1", "b1"]);
  let changes = 0;
  beforeChange = async () => {
    if (++changes !== 2) return; // the reset, after the check
    const [engineHandle] = first[0].ReceiptHandle!.split(".");
    assert.equal((await door.broker.deleteMessages("orders", [engineHandle])).deleted, 1);
  };
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), first);
  assert.equal(changes, 2);
  assert.deepEqual(await receive(door.client, QueueUrl, "attempt-1"), [], "spent");
  assert.deepEqual(door.errors, []);
});
