/**
 * The three doors of a real node share one engine: a message sent through one door is received
 * through another, over real HTTP on a served node (not the doors' own test harnesses).
 */
import assert from "node:assert/strict";
import { noPeers, realClock, realTimers, startNode } from "../../broker/mod.ts";
import { RealFileSystem } from "../../storage/mod.ts";
import { CmqdClient } from "../../sdk/mod.ts";
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "../../broker/http/sqs/_npm_test_deps.ts";
import { sqsMessageId } from "../../broker/http/sqs/mod.ts";

async function servedNode() {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-doors-" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => node.handler(request),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const node = await startNode({
    nodeId: "n1",
    dataDir,
    fs: new RealFileSystem(),
    clock: realClock,
    timers: realTimers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url,
    tickMs: 10,
  });
  while (!node.replica.isLeader) await new Promise((resolve) => setTimeout(resolve, 10));
  return {
    url,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await node.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** A CMQ v2 request as the official SDKs send it: a form body without a content type. */
async function cmq(url: string, params: Record<string, string>) {
  const response = await fetch(`${url}/v2/index.php`, {
    method: "POST",
    body: new TextEncoder().encode(new URLSearchParams(params).toString()),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test("a message sent through the CMQ door is received through v1 and the SQS door", async () => {
  await using node = await servedNode();
  const client = new CmqdClient({ baseUrl: node.url });
  await client.createQueue("orders", { visibilityTimeoutSeconds: 1 });

  const sent = await cmq(node.url, { Action: "SendMessage", queueName: "orders", msgBody: "o-1" });
  assert.equal(sent.code, 0, JSON.stringify(sent));

  const sqs = new SQSClient({
    endpoint: node.url,
    region: "us-east-1",
    credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
    maxAttempts: 1,
  });
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: "orders" }));
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }),
    );
    assert.equal(received.Messages?.[0]?.Body, "o-1");
    // One message, one id: the SQS door shows it in UUID form.
    assert.equal(
      received.Messages?.[0]?.MessageId,
      sqsMessageId(sent.msgId),
      "one message, one id",
    );
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl, ReceiptHandle: received.Messages![0].ReceiptHandle }),
    );

    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "o-2" }));
    const v1 = await client.receiveMessages("orders", { waitSeconds: 1 });
    assert.deepEqual(v1.messages.map((message) => message.body), ["o-2"]);
    const queue = await cmq(node.url, { Action: "GetQueueAttributes", queueName: "orders" });
    assert.equal(queue.code, 0);
    assert.equal(queue.inactiveMsgNum, 1, "the v1 receive's lock shows through the CMQ door");
  } finally {
    sqs.destroy();
  }
});
