/**
 * Batches at and past each door's limits, generated: v1's 256 entries, CMQ's 16, SQS's 10, empty
 * batches, thousands of entries, entry numbers with gaps, bodies at and past the byte limits.
 * Each answer is below 500 with nothing logged, in the door's shape; a refusal writes nothing
 * (`_door_fuzz.ts`); and an accepted send added exactly the messages it says it sent.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzNode, requestOf, type RequestParts, runs, showParts } from "./_door_fuzz.ts";

const jobsUrl = "http://127.0.0.1:8080/000000000000/jobs";
const sizes = [0, 1, 9, 10, 11, 15, 16, 17, 255, 256, 257, 1000, 5000];
const bodyBytes = [1, 1024, 65_536, 65_537, 262_144, 262_145, 1_048_577];

function v1Send(count: number, bytes: number, action: string): RequestParts {
  const body = "b".repeat(bytes);
  const json = action === "send"
    ? { messages: Array.from({ length: count }, () => ({ body })) }
    : action === "delete"
    ? { receiptHandles: Array.from({ length: count }, (_, i) => `h${i}`) }
    : {
      entries: Array.from(
        { length: count },
        (_, i) => ({ receiptHandle: `h${i}`, visibilityTimeoutSeconds: 1 }),
      ),
    };
  const path = action === "send"
    ? "messages"
    : action === "delete"
    ? "messages/delete"
    : "messages/visibility";
  return {
    method: "POST",
    path: `/v1/queues/jobs/${path}`,
    headers: [["content-type", "application/json"]],
    body: JSON.stringify(json),
  };
}

function cmqSend(count: number, bytes: number, action: string, first: number): RequestParts {
  const body = "b".repeat(bytes);
  const name = action === "send"
    ? "BatchSendMessage"
    : action === "delete"
    ? "BatchDeleteMessage"
    : "BatchReceiveMessage";
  const params = new URLSearchParams({ Action: name, queueName: "jobs" });
  if (action === "receive") {
    params.set("numOfMsg", String(count));
    params.set("pollingWaitSeconds", "0");
  }
  for (let i = 0; i < count && action !== "receive"; i++) {
    params.set(
      `${action === "send" ? "msgBody" : "receiptHandle"}.${first + i}`,
      action === "send" ? body : `h${i}`,
    );
  }
  return { method: "POST", path: "/v2/index.php", headers: [], body: params.toString() };
}

function sqsSend(count: number, bytes: number, action: string): RequestParts {
  const body = "b".repeat(bytes);
  const operation = action === "send"
    ? "SendMessageBatch"
    : action === "delete"
    ? "DeleteMessageBatch"
    : action === "receive"
    ? "ReceiveMessage"
    : "ChangeMessageVisibilityBatch";
  const input = action === "receive" ? { QueueUrl: jobsUrl, MaxNumberOfMessages: count } : {
    QueueUrl: jobsUrl,
    Entries: Array.from(
      { length: count },
      (_, i) =>
        action === "send"
          ? { Id: `e${i}`, MessageBody: body }
          : { Id: `e${i}`, ReceiptHandle: `h${i}`, VisibilityTimeout: 1 },
    ),
  };
  return {
    method: "POST",
    path: "/",
    headers: [["content-type", "application/x-amz-json-1.0"], [
      "x-amz-target",
      `AmazonSQS.${operation}`,
    ]],
    body: JSON.stringify(input),
  };
}

Deno.test("batches at and past every door's limits are refused cleanly or served exactly", async () => {
  await using node = fuzzNode();
  const created = await node.send(requestOf({
    method: "PUT",
    path: "/v1/queues/jobs",
    headers: [["content-type", "application/json"]],
    body: '{"maxMessageBytes":1048576}',
  }));
  assert.equal(created.status, 201, created.text);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("v1", "cmq", "sqs"),
      fc.constantFrom("send", "delete", "visibility", "receive"),
      fc.constantFrom(...sizes),
      fc.constantFrom(...bodyBytes),
      fc.constantFrom(0, 1, 2, -1),
      async (door, action, count, bytes, first) => {
        // Bodies a megabyte long only in small batches: the test stays quick.
        const size = bytes > 65_536 ? Math.min(count, 5) : count;
        const parts = door === "v1"
          ? v1Send(size, bytes, action === "receive" ? "send" : action)
          : door === "cmq"
          ? cmqSend(size, bytes, action === "visibility" ? "delete" : action, first)
          : sqsSend(size, bytes, action);
        const sends = action === "send" || (door === "v1" && action === "receive");
        const before = (await node.broker.getQueue("jobs")).activeMessages;
        const answer = await node.check(requestOf(parts), showParts(parts));
        if (answer.refused || !sends) return;
        const after = (await node.broker.getQueue("jobs")).activeMessages;
        const said = JSON.parse(answer.text);
        const sent: number = (said.messages ?? said.msgList ?? said.Successful).length;
        assert.equal(after - before, sent, `${answer.text.slice(0, 300)} for ${showParts(parts)}`);
      },
    ),
    runs(0x5eed61, 120),
  );
});
