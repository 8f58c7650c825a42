/**
 * Every door's queue update (v1 `PATCH`, CMQ and SQS `SetQueueAttributes`) is written in the
 * form that bars the deleted messages out of the window when `rewindSeconds` changes (README,
 * "Dead letters, redrive, purge, rewind"): a window raised from 0 brings back no message deleted
 * before, and every one still in the queue then once it is deleted. (SQS has no parameter for
 * `rewindSeconds`; its updates are written in that form all the same.)
 */
import assert from "node:assert/strict";
import { CommandType } from "../engine/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { createApp, Metrics } from "./mod.ts";
import { FakeStatus, jsonRequest } from "./testing/mod.ts";
import { formEncode } from "./cmq_v2/_cmq_test_client.ts";

/** The request of each door that sets `rewindSeconds` of `queue` to 600 (SQS: a lock time). */
const doors: [string, (queue: string) => [string, RequestInit]][] = [
  ["v1", (queue) => [`/v1/queues/${queue}`, jsonRequest("PATCH", { rewindSeconds: 600 })]],
  ["cmq", (queue) => [
    "/v2/index.php",
    {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: formEncode([
        ["Action", "SetQueueAttributes"],
        ["queueName", queue],
        ["rewindSeconds", "600"],
      ]),
    },
  ]],
  ["sqs", (queue) => [
    "/",
    {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AmazonSQS.SetQueueAttributes",
      },
      body: JSON.stringify({
        QueueUrl: `http://localhost/000000000000/${queue}`,
        Attributes: { VisibilityTimeout: "45" },
      }),
    },
  ]],
];

Deno.test("each door writes its updates in the form that bars deleted messages: raised from 0 (v1, CMQ), rewindSeconds brings back no message deleted before, and one still in the queue once deleted", async () => {
  const { clock, replica, broker } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  for (const [door, request] of doors) {
    const queue = `floor-${door}`;
    await broker.createQueue(queue, { rewindSeconds: 0 });
    const start = clock.now();
    await broker.sendMessages(queue, [{ body: "stuck" }, { body: "done" }]);
    const received = await broker.receiveMessages(queue, { maxMessages: 2 });
    await broker.deleteMessages(queue, [received.messages[1].receiptHandle]);
    clock.advance(1_000);
    const response = await app.request(...request(queue));
    assert.equal(response.status, 200, `${door}: ${await response.text()}`);
    assert.equal(replica.entry(replica.lastIndex).type, CommandType.UpdateQueueBarringDeleted);
    const view = await broker.getQueue(queue);
    if (door === "sqs") {
      assert.equal(view.visibilityTimeoutSeconds, 45);
      continue;
    }
    assert.equal(view.rewindSeconds, 600, door);
    assert.equal(view.rewindableMessages, 0, `${door}: 'done' stays deleted`);
    assert.equal((await broker.rewind(queue, { timestamp: start })).messages, 0, door);
    // 'stuck' was in the queue (in flight) when rewind was turned on: once deleted, it comes back.
    await broker.deleteMessages(queue, [received.messages[0].receiptHandle]);
    assert.equal((await broker.getQueue(queue)).rewindableMessages, 1, door);
    assert.equal((await broker.rewind(queue, { timestamp: start })).messages, 1, door);
    const again = await broker.receiveMessages(queue, { maxMessages: 2 });
    assert.deepEqual(again.messages.map((message) => message.body), ["stuck"], door);
  }
});
