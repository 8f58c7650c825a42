/**
 * The media type of an SQS request: the AWS SDKs send `application/x-amz-json-1.0`; the door also
 * takes `application/json`, with parameters and in any case, and refuses a body of any other type
 * (or of none) as AWS JSON services do, before reading it as JSON and without changing anything.
 */
import assert from "node:assert/strict";
import { rawCall, startDoor } from "./_test_server.ts";

const refusedTypes: (string | null)[] = [
  null,
  "text/plain;charset=UTF-8",
  "application/x-www-form-urlencoded",
  "application/x-amz-json-1.1",
  "application/x-amz-json-1.0x",
  "application/jsonp",
  "multipart/form-data; boundary=x",
];

const acceptedTypes = [
  "application/x-amz-json-1.0",
  "application/x-amz-json-1.0; charset=utf-8",
  "Application/X-Amz-JSON-1.0",
  "application/json",
  "application/json;charset=UTF-8",
];

Deno.test("a body of another media type is refused: 404 UnknownOperationException", async (t) => {
  await using door = startDoor();
  const created = await rawCall(door.endpoint, "AmazonSQS.CreateQueue", '{"QueueName": "jobs"}');
  assert.equal(created.status, 200);
  const lastIndex = door.replica.lastIndex;
  const send = JSON.stringify({ QueueUrl: created.body.QueueUrl, MessageBody: "x" });
  for (const type of refusedTypes) {
    await t.step(String(type), async () => {
      const { status, headers, body } = await rawCall(
        door.endpoint,
        "AmazonSQS.SendMessage",
        send,
        { "content-type": type },
      );
      assert.equal(status, 404);
      assert.equal(body.__type, "com.amazon.coral.service#UnknownOperationException");
      assert.equal(headers.get("x-amzn-query-error"), "UnknownOperationException;Sender");
      assert.equal(headers.get("content-type"), "application/x-amz-json-1.0");
      assert.match(body.message, /application\/x-amz-json-1\.0/);
    });
  }
  assert.equal(door.replica.lastIndex, lastIndex, "a refused request proposed something");
  assert.deepEqual(door.errors, []);
});

Deno.test("application/x-amz-json-1.0 and application/json are served, with parameters", async () => {
  await using door = startDoor();
  const created = await rawCall(door.endpoint, "AmazonSQS.CreateQueue", '{"QueueName": "jobs"}');
  for (const type of acceptedTypes) {
    const sent = await rawCall(
      door.endpoint,
      "AmazonSQS.SendMessage",
      JSON.stringify({ QueueUrl: created.body.QueueUrl, MessageBody: type }),
      { "content-type": type },
    );
    assert.equal(sent.status, 200, `${type}: ${JSON.stringify(sent.body)}`);
  }
  const received = await rawCall(
    door.endpoint,
    "AmazonSQS.ReceiveMessage",
    JSON.stringify({ QueueUrl: created.body.QueueUrl, MaxNumberOfMessages: 10 }),
  );
  assert.equal(received.body.Messages.length, acceptedTypes.length);
});

Deno.test("an empty body needs no media type: it is an empty input", async () => {
  await using door = startDoor();
  for (const type of [null, "text/plain"]) {
    const listed = await rawCall(door.endpoint, "AmazonSQS.ListQueues", "", {
      "content-type": type,
    });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, { QueueUrls: [] });
  }
});
