/**
 * The app's `time` (the node's monotonic clock and timers) paces the SQS door's message move
 * tasks: on a fake clock, a task at one message a second moves its next message only once the
 * clock has moved a second on, whatever the real time.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus } from "./testing/mod.ts";

/** Lets every promise chain run on (one turn of the event loop: the fake clock stays put). */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** An app on an in-memory engine whose fake clock is also the app's time. */
function appOnFakeTime() {
  const { clock, broker } = memoryEngine();
  const app = createApp({
    service: broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    time: { clock, timers: clock },
  });
  return { clock, broker, app };
}

Deno.test("the app's time paces the SQS message move tasks", async () => {
  const { clock, broker, app } = appOnFakeTime();
  const sqs = async (operation: string, input: Record<string, unknown>) => {
    const response = await app.request("/", {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": `AmazonSQS.${operation}`,
      },
      body: JSON.stringify(input),
    });
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    return answer;
  };
  try {
    await broker.createQueue("dead", {});
    await broker.createQueue("jobs", { deadLetter: { queue: "dead", maxReceiveCount: 1 } });
    await broker.sendMessages("jobs", [{ body: "a" }, { body: "b" }, { body: "c" }]);
    const receive = () =>
      broker.receiveMessages("jobs", { maxMessages: 10, visibilityTimeoutSeconds: 1 });
    assert.equal((await receive()).messages.length, 3);
    clock.advance(1_000);
    assert.equal((await receive()).messages.length, 0, "all three dead-lettered");
    const moved = async () => (await broker.getQueue("jobs")).activeMessages;
    const SourceArn = "arn:aws:sqs:us-east-1:000000000000:dead";
    await sqs("StartMessageMoveTask", { SourceArn, MaxNumberOfMessagesPerSecond: 1 });
    await turn();
    assert.equal(await moved(), 1, "the first batch at once");
    clock.advance(999);
    await turn();
    assert.equal(await moved(), 1, "the next one a second after the first, on the fake clock");
    clock.advance(1);
    await turn();
    assert.equal(await moved(), 2);
    clock.advance(1_000);
    await turn();
    const [task] = (await sqs("ListMessageMoveTasks", { SourceArn })).Results;
    assert.deepEqual([task.Status, task.ApproximateNumberOfMessagesMoved], ["COMPLETED", 3]);
  } finally {
    await app.close();
    broker.close();
  }
});

Deno.test("the app's time drops the SQS door's remembered receive attempts when they expire, with the door idle", async () => {
  const { clock, broker, app } = appOnFakeTime();
  try {
    await broker.createQueue("jobs", { fifo: true });
    await broker.sendMessages("jobs", [{ body: "a", groupId: "g" }]);
    const before = clock.timerCount;
    const response = await app.request("/", {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AmazonSQS.ReceiveMessage",
      },
      body: JSON.stringify({
        QueueUrl: "http://localhost/000000000000/jobs.fifo",
        ReceiveRequestAttemptId: "attempt-1",
      }),
    });
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.equal(answer.Messages.length, 1);
    assert.equal(clock.timerCount, before + 1, "the remembered answer's expiry timer");
    clock.advance(5 * 60 * 1000);
    await turn();
    assert.equal(clock.timerCount, before, "dropped at its expiry: no timer left for it");
  } finally {
    await app.close();
    broker.close();
  }
});
