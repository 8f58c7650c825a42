/**
 * The SQS door's message move tasks, which run in the background, on real nodes: a node's close
 * stops them, and a task whose node hands its leadership to another ends FAILED (its batches
 * are not forwarded) having moved each message once, the rest left for a new task.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { type CmqdNode, noPeers, startNode } from "./node.ts";
import { realTimers } from "./real_time.ts";
import { until } from "./testing/mod.ts";
import { NodeNetwork, startNodeGroup } from "./_node_group.ts";

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

/** Posts an SQS JSON request to `node`'s app (served by the node itself, never forwarded). */
async function sqs(node: CmqdNode, operation: string, input: Record<string, unknown>) {
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
}

/** Sends `bodies` to `source` on `node` (the leader) and has its RedrivePolicy dead-letter them. */
async function deadLetter(node: CmqdNode, source: string, bodies: string[]): Promise<void> {
  await node.broker.sendMessages(source, bodies.map((body) => ({ body })));
  const { messages } = await node.broker.receiveMessages(source, { maxMessages: 10 });
  assert.equal(messages.length, bodies.length);
  await node.broker.changeVisibility(
    source,
    messages.map(({ receiptHandle }) => ({ receiptHandle, visibilityTimeoutSeconds: 0 })),
  );
  await node.broker.receiveMessages(source, { maxMessages: 10 }); // maxReceiveCount 1
}

Deno.test({
  name: "close stops the SQS door's message move tasks; their list is lost on restart",
  // Fails the test if the task's timer or a batch outlives the close (not on by default).
  sanitizeOps: true,
}, async () => {
  const fs = new SimFileSystem();
  const first = await started(fs);
  await first.broker.createQueue("dead", {});
  await first.broker.createQueue("jobs", { deadLetter: { queue: "dead", maxReceiveCount: 1 } });
  await deadLetter(first, "jobs", ["a", "b", "c"]);
  const SourceArn = "arn:aws:sqs:us-east-1:000000000000:dead";
  // One a second: after its first message the task waits a second before each next one.
  await sqs(first, "StartMessageMoveTask", { SourceArn, MaxNumberOfMessagesPerSecond: 1 });
  while ((await first.broker.getQueue("jobs")).activeMessages === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await first.close();

  const second = await started(fs);
  assert.deepEqual(await sqs(second, "ListMessageMoveTasks", { SourceArn }), { Results: [] });
  // One moved before the close, or two if this machine stalled a second before it; never all.
  const moved = (await second.broker.getQueue("jobs")).activeMessages;
  assert.ok(moved >= 1 && moved <= 2, `moved ${moved}`);
  assert.equal((await second.broker.getQueue("dead")).activeMessages, 3 - moved);
  await second.close();
});

Deno.test({
  name: "a task whose node hands its leadership on ends FAILED saying so; each message moved once",
  sanitizeOps: true,
}, async () => {
  const ids = ["n1", "n2", "n3"];
  const reports: string[] = [];
  const nodes = await startNodeGroup(new NodeNetwork(), ids, {
    handOffMsMax: 1000,
    warn: (message) => reports.push(message),
  });
  try {
    const leaderOf = () => nodes.find((node) => node.replica.isLeader);
    await until(
      () => leaderOf() !== undefined && nodes.every((node) => node.replica.leaderId !== null),
      "a leader every node knows",
    );
    const leader = leaderOf()!;
    await leader.broker.createQueue("dead", {});
    await leader.broker.createQueue("jobs", { deadLetter: { queue: "dead", maxReceiveCount: 1 } });
    const bodies = ["m1", "m2", "m3", "m4", "m5", "m6"];
    await deadLetter(leader, "jobs", bodies);
    const SourceArn = "arn:aws:sqs:us-east-1:000000000000:dead";
    // One a second: the task waits a second after each message.
    await sqs(leader, "StartMessageMoveTask", { SourceArn, MaxNumberOfMessagesPerSecond: 1 });
    await until(
      async () => (await leader.broker.getQueue("jobs")).activeMessages >= 1,
      "the task's first batch",
    );
    const successorId = await leader.handOffLeadership();
    assert.ok(successorId !== null, "the hand-off finished");
    const successor = nodes.find((node) => node.replica.id === successorId)!;

    // The task runs on the node that served its Start, which no longer leads: its next batch
    // is refused there (retried a few times) and the task ends FAILED. Its node tells why: no
    // client could list it, every node forwards the requests to the leader, which never heard of
    // it.
    const failedReport = (message: string) =>
      message.startsWith(`cmqd ${leader.replica.id}: SQS message move task of dead failed`);
    await until(() => reports.some(failedReport), "the task to fail");
    // The node's log says which node leads; the task's FailureReason only SQS's words.
    const why = "ServiceUnavailable: The task stopped on a temporary failure of the server.";
    const report = reports.find(failedReport)!;
    assert.ok(report.includes(`NoLeader: not the leader; the leader is ${successorId}`), report);
    assert.deepEqual(await sqs(successor, "ListMessageMoveTasks", { SourceArn }), { Results: [] });
    // Listed on its node once that node leads again: FAILED, saying why.
    successor.replica.transferLeadership(leader.replica.id);
    await until(() => leader.replica.isLeader, "the leadership back");
    let [task] = (await sqs(leader, "ListMessageMoveTasks", { SourceArn })).Results;
    assert.equal(task.Status, "FAILED", JSON.stringify(task));
    assert.ok(String(task.FailureReason).startsWith(why), task.FailureReason);
    assert.ok(!String(task.FailureReason).includes(successorId!), task.FailureReason);
    const moved = task.ApproximateNumberOfMessagesMoved;
    assert.ok(moved >= 1 && moved < bodies.length, `moved ${moved}`);
    const queues = async () => ({
      dead: (await leader.broker.getQueue("dead")).activeMessages,
      jobs: (await leader.broker.getQueue("jobs")).activeMessages,
    });
    assert.deepEqual(await queues(), { dead: bodies.length - moved, jobs: moved });

    // A new task moves the rest.
    await sqs(leader, "StartMessageMoveTask", { SourceArn });
    await until(async () => {
      [task] = (await sqs(leader, "ListMessageMoveTasks", { SourceArn })).Results;
      return task.Status !== "RUNNING";
    }, "the new task to end");
    assert.equal(task.Status, "COMPLETED");
    assert.deepEqual(await queues(), { dead: 0, jobs: bodies.length });
    const { messages } = await leader.broker.receiveMessages("jobs", { maxMessages: 10 });
    assert.deepEqual(messages.map((message) => message.body).sort(), bodies, "each one once");
  } finally {
    for (const node of nodes) await node.close();
  }
});
