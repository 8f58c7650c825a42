/**
 * The names a ReceiveMessage asks for. System attributes (`MessageSystemAttributeNames`, and the
 * older `AttributeNames`) must be names SQS knows, else `InvalidAttributeName` and nothing is
 * received. Message attributes (`MessageAttributeNames`) are a filter, never refused, with SQS's
 * rules as AWS answers them (recorded in localstack's AWS-validated snapshot of
 * `test_receive_message_message_attribute_names_filters`): `All`, `*` and `.*` select every one,
 * `Hel.*` every name starting with `Hel`, and a name no attribute has selects nothing.
 */
import assert from "node:assert/strict";
import { rawCall, startDoor } from "./_test_server.ts";

async function queueWithOneMessage() {
  const door = startDoor();
  const created = await rawCall(door.endpoint, "AmazonSQS.CreateQueue", '{"QueueName": "jobs"}');
  const QueueUrl: string = created.body.QueueUrl;
  const sent = await rawCall(
    door.endpoint,
    "AmazonSQS.SendMessage",
    JSON.stringify({
      QueueUrl,
      MessageBody: "msg",
      MessageAttributes: {
        "Help.Me": { DataType: "String", StringValue: "Me" },
        Hello: { DataType: "String", StringValue: "There" },
        General: { DataType: "String", StringValue: "Kenobi" },
      },
    }),
  );
  assert.equal(sent.status, 200);
  const receive = (input: Record<string, unknown>) =>
    rawCall(
      door.endpoint,
      "AmazonSQS.ReceiveMessage",
      JSON.stringify({ QueueUrl, VisibilityTimeout: 1, ...input }),
    );
  /** Makes the message visible again after a receive. */
  const release = (handle: string) =>
    rawCall(
      door.endpoint,
      "AmazonSQS.ChangeMessageVisibility",
      JSON.stringify({ QueueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }),
    );
  return { door, receive, release };
}

Deno.test("unknown system attribute names are InvalidAttributeName; nothing is received", async () => {
  const { door, receive } = await queueWithOneMessage();
  await using _ = door;
  const refused: Record<string, unknown>[] = [
    { MessageSystemAttributeNames: ["Bogus"] },
    { MessageSystemAttributeNames: ["SentTimestamp", "sentTimestamp"] },
    // A queue attribute is not a message's.
    { MessageSystemAttributeNames: ["VisibilityTimeout"] },
    { AttributeNames: ["Bogus"] },
    { AttributeNames: ["All"], MessageSystemAttributeNames: ["Nope"] },
  ];
  for (const input of refused) {
    const { status, headers, body } = await receive(input);
    assert.equal(status, 400, JSON.stringify(input));
    assert.equal(body.__type, "com.amazonaws.sqs#InvalidAttributeName");
    assert.equal(headers.get("x-amzn-query-error"), "InvalidAttributeName;Sender");
    assert.match(
      body.message,
      /^Unknown Attribute (Bogus|sentTimestamp|VisibilityTimeout|Nope)\.$/,
    );
  }
  const { body } = await receive({ MessageSystemAttributeNames: ["ApproximateReceiveCount"] });
  assert.equal(body.Messages[0].Attributes.ApproximateReceiveCount, "1", "a refusal received it");
});

Deno.test("every name SQS's model allows is accepted, those with no value for the message answer none", async () => {
  const { door, receive, release } = await queueWithOneMessage();
  await using _ = door;
  const accepted: Record<string, unknown>[] = [
    {
      MessageSystemAttributeNames: [
        "SenderId",
        "MessageDeduplicationId",
        "AWSTraceHeader",
        "DeadLetterQueueSourceArn",
        "SentTimestamp",
      ],
    },
    // The older member's model lists queue attribute names; SQS takes message ones too.
    { AttributeNames: ["VisibilityTimeout", "Policy", "SenderId", "SentTimestamp"] },
  ];
  for (const input of accepted) {
    const { status, body } = await receive(input);
    assert.equal(status, 200, JSON.stringify(body));
    // A standard queue's message, never moved: no MessageDeduplicationId, AWSTraceHeader (never
    // kept) or DeadLetterQueueSourceArn.
    assert.deepEqual(Object.keys(body.Messages[0].Attributes).sort(), [
      "SenderId",
      "SentTimestamp",
    ]);
    await release(body.Messages[0].ReceiptHandle);
  }
});

Deno.test("MessageAttributeNames: All, * and .* select all, prefix.* a prefix, others nothing", async () => {
  const { door, receive, release } = await queueWithOneMessage();
  await using _ = door;
  const cases: [string[], string[]][] = [
    [["All"], ["General", "Hello", "Help.Me"]],
    [["*"], ["General", "Hello", "Help.Me"]],
    [[".*"], ["General", "Hello", "Help.Me"]],
    [["Hello", "General"], ["General", "Hello"]],
    [["Foo", "Hello"], ["Hello"]],
    [["Hel.*"], ["Hello", "Help.Me"]],
    [["Help.*"], ["Help.Me"]],
    [["Foo", "Help"], []],
    // Names no attribute may have are not refused: they select nothing.
    [["AWS."], []],
    [["..foo"], []],
  ];
  for (const [names, expected] of cases) {
    const { status, body } = await receive({ MessageAttributeNames: names });
    assert.equal(status, 200, JSON.stringify(body));
    const [message] = body.Messages;
    assert.deepEqual(Object.keys(message.MessageAttributes ?? {}).sort(), expected, names.join());
    assert.equal(message.MD5OfMessageAttributes === undefined, expected.length === 0);
    await release(message.ReceiptHandle);
  }
});
