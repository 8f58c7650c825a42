/**
 * The SQS message operations check the queue's kind against this node's state before calling the
 * service (`messageQueue`). A node that has just become leader may not have applied yet a queue
 * its predecessor created and acknowledged: before, SendMessage, ReceiveMessage and the other
 * message operations answered QueueDoesNotExist there, which a client reads as permanent. A queue
 * missing locally is now confirmed after the read barrier, its kind checked then.
 */
import assert from "node:assert/strict";
import { laggingLeader, memoryEngine } from "../../cluster/testing/mod.ts";
import { rawCall, startDoor } from "./_test_server.ts";

async function doorOfNewLeader() {
  const old = memoryEngine({ randomSalt: () => 42 });
  await old.broker.createQueue("jobs", {});
  await old.broker.createQueue("orders", { fifo: true });
  const lagging = laggingLeader(old);
  const door = startDoor({ engine: old, wrapService: () => lagging.broker });
  const call = (operation: string, input: Record<string, unknown>) =>
    rawCall(door.endpoint, `AmazonSQS.${operation}`, JSON.stringify(input));
  return { door, lagging, call };
}

Deno.test("a new leader's SQS door sends to and receives from a queue it has not applied yet", async () => {
  const { door, lagging, call } = await doorOfNewLeader();
  await using _door = door;
  const QueueUrl = door.queueUrl("jobs");
  const sent = await call("SendMessage", { QueueUrl, MessageBody: "hello" });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.equal(lagging.barriers(), 1);
  const other = await doorOfNewLeader();
  await using _other = other.door;
  const batch = await other.call("SendMessageBatch", {
    QueueUrl: other.door.queueUrl("orders.fifo"),
    Entries: [{ Id: "1", MessageBody: "a", MessageGroupId: "g", MessageDeduplicationId: "d" }],
  });
  assert.equal(batch.status, 200, JSON.stringify(batch.body));
  assert.equal(batch.body.Successful.length, 1, JSON.stringify(batch.body));
  const third = await doorOfNewLeader();
  await using _third = third.door;
  const received = await third.call("ReceiveMessage", { QueueUrl: third.door.queueUrl("jobs") });
  assert.equal(received.status, 200, JSON.stringify(received.body));
  assert.deepEqual(door.errors, []);
});

Deno.test("a queue missing after the barrier, or of the other kind, still does not exist", async () => {
  for (const sqsName of ["gone", "jobs.fifo", "orders"]) {
    const { door, lagging, call } = await doorOfNewLeader();
    await using _door = door;
    const before = door.replica.lastIndex;
    const answer = await call("SendMessage", {
      QueueUrl: door.queueUrl(sqsName),
      MessageBody: "x",
      MessageGroupId: sqsName.endsWith(".fifo") ? "g" : undefined,
    });
    assert.equal(answer.status, 400, sqsName);
    assert.match(answer.body.__type, /QueueDoesNotExist/, sqsName);
    assert.equal(lagging.barriers(), 1, sqsName);
    assert.equal(door.replica.lastIndex, before, "nothing written");
  }
});
