/**
 * A node's close stops the SQS door's message move tasks, which run in the background; alone in
 * its file, so that the ops sanitizer sees only this test's timers (other node tests leave a
 * crashed node's ticks running).
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { noPeers, startNode } from "./node.ts";
import { realTimers } from "./real_time.ts";

const url = "http://127.0.0.1:1";

function nodeOptions(fs: SimFileSystem) {
  return {
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: { now: () => 1_700_000_000_000 },
    timers: realTimers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url,
    tickMs: 5,
  };
}

async function started(fs: SimFileSystem) {
  const node = await startNode(nodeOptions(fs));
  while (!node.replica.isLeader) await new Promise((resolve) => setTimeout(resolve, 5));
  return node;
}

Deno.test({
  name: "close stops the SQS door's message move tasks; their list is lost on restart",
  // Fails the test if the task's timer or a batch outlives the close (not on by default).
  sanitizeOps: true,
}, async () => {
  const fs = new SimFileSystem();
  const first = await started(fs);
  const sqs = async (node: typeof first, operation: string, input: Record<string, unknown>) => {
    const response = await node.app.fetch(
      new Request(`${url}/`, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": `AmazonSQS.${operation}`,
        },
        body: JSON.stringify(input),
      }),
    );
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    return answer;
  };
  await first.broker.createQueue("dead", {});
  await first.broker.createQueue("jobs", { deadLetter: { queue: "dead", maxReceiveCount: 1 } });
  await first.broker.sendMessages("jobs", ["a", "b", "c"].map((body) => ({ body })));
  const { messages } = await first.broker.receiveMessages("jobs", { maxMessages: 10 });
  await first.broker.changeVisibility(
    "jobs",
    messages.map(({ receiptHandle }) => ({ receiptHandle, visibilityTimeoutSeconds: 0 })),
  );
  await first.broker.receiveMessages("jobs", { maxMessages: 10 }); // dead-letters all three
  const SourceArn = "arn:aws:sqs:us-east-1:000000000000:dead";
  // One a second: after its first message the task waits a second before each next one.
  await sqs(first, "StartMessageMoveTask", { SourceArn, MaxNumberOfMessagesPerSecond: 1 });
  while ((await first.broker.getQueue("jobs")).activeMessages === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await first.close();

  const second = await started(fs);
  assert.deepEqual(await sqs(second, "ListMessageMoveTasks", { SourceArn }), { Results: [] });
  assert.equal((await second.broker.getQueue("dead")).activeMessages, 2);
  assert.equal((await second.broker.getQueue("jobs")).activeMessages, 1);
  await second.close();
});
