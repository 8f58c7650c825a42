/**
 * SQS requests that change nothing write no log entry: a CreateQueue repeating an existing
 * queue's attributes, an UntagQueue of keys the queue does not have, a TagQueue of the values it
 * has, and a PurgeQueue of an empty queue. (The service decides, after its read barrier:
 * `broker/service/unwritten_writes_test.ts`.)
 */
import assert from "node:assert/strict";
import { rawCall, startDoor } from "./_test_server.ts";

Deno.test("SQS requests that change nothing write nothing", async () => {
  await using door = startDoor();
  const call = async (operation: string, input: Record<string, unknown>) => {
    const answer = await rawCall(door.endpoint, `AmazonSQS.${operation}`, JSON.stringify(input));
    assert.equal(answer.status, 200, `${operation}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const create = { QueueName: "jobs", Attributes: { VisibilityTimeout: "45" }, tags: { a: "1" } };
  const { QueueUrl } = await call("CreateQueue", create);
  const before = door.replica.lastIndex;
  assert.deepEqual(await call("CreateQueue", create), { QueueUrl });
  assert.deepEqual(await call("CreateQueue", { QueueName: "jobs" }), { QueueUrl });
  await call("UntagQueue", { QueueUrl, TagKeys: ["b", "c"] });
  await call("TagQueue", { QueueUrl, Tags: { a: "1" } });
  await call("PurgeQueue", { QueueUrl });
  assert.equal(door.replica.lastIndex, before, "a request that changes nothing was written");
  await call("UntagQueue", { QueueUrl, TagKeys: ["a", "b"] });
  assert.equal(door.replica.lastIndex, before + 1);
  assert.deepEqual(await call("ListQueueTags", { QueueUrl }), {});
  assert.deepEqual(door.errors, []);
});
