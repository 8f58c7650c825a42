/**
 * A SigV4 `SignedHeaders` list naming something that is no HTTP header name (a space, a `/`, an
 * empty name) is a malformed signature: SQS's `IncompleteSignature`, before anything is read or
 * written, and not an internal failure.
 */
import assert from "node:assert/strict";
import { adminKey, rawCall, startDoor } from "./_test_server.ts";
import { CreateQueueCommand } from "./_npm_test_deps.ts";

const scopeDay = () => new Date().toISOString().slice(0, 10).replaceAll("-", "");

function authorization(signedHeaders: string): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  return {
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${adminKey.secretId}/${scopeDay()}/eu-west-1/` +
      `sqs/aws4_request, SignedHeaders=${signedHeaders}, Signature=${"0".repeat(64)}`,
  };
}

Deno.test("SignedHeaders naming no valid header name is IncompleteSignature, and writes nothing", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const created = await door.client.send(new CreateQueueCommand({ QueueName: "jobs" }));
  assert.ok(created.QueueUrl);
  for (
    const signedHeaders of [
      "content-type;host;x- amz-date;x-amz-target",
      "content-typ/e;host;x-amz-date;x-amz-target",
      "content-type;host;x-as=content-type;x-amz-target",
      "content-type;;host;x-amz-date;x-amz-target",
      "content-type;host;x-amz-date;x-amz-target;",
      "content-type;host;x-amz-date;x-amz-target;é",
    ]
  ) {
    const before = door.replica.lastIndex;
    const answer = await rawCall(
      door.endpoint,
      "AmazonSQS.SendMessage",
      JSON.stringify({ QueueUrl: created.QueueUrl, MessageBody: "x" }),
      authorization(signedHeaders),
    );
    assert.equal(answer.status, 400, `${signedHeaders}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.__type, "com.amazon.coral.service#IncompleteSignature");
    assert.match(answer.body.message, /SignedHeaders/);
    assert.equal(answer.headers.get("x-amzn-query-error"), "IncompleteSignature;Sender");
    assert.equal(door.replica.lastIndex, before, signedHeaders);
    assert.deepEqual(door.errors, [], signedHeaders);
  }
});
