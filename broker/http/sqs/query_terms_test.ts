/**
 * Messages of the query protocol name its parameters (`query_terms.ts`): JSON member paths of
 * the operation's input become flattened parameters numbered from 1, map keys the number they
 * were sent under; the rest of a message is left as it is.
 */
import assert from "node:assert/strict";
import { SqsError } from "./errors.ts";
import { inQueryTerms, queryTermsError, queryTermsOutput } from "./query_terms.ts";
import { queryOperations } from "./query_shapes.ts";
import { startDoor } from "./_test_server.ts";

const batchShape = queryOperations.SendMessageBatch.input;
const batchInput = {
  QueueUrl: "/0/jobs",
  Entries: [
    {
      Id: "a",
      MessageBody: "x",
      MessageAttributes: {
        n: { DataType: "String", StringValue: "1" },
        "size.v2": { DataType: "Number", StringValue: "2" },
      },
    },
    { Id: "b", MessageBody: "y" },
  ],
};

Deno.test("batch entries are numbered from 1 and named as the query names them", () => {
  const cases: [string, string][] = [
    [
      "Entries.1.MessageBody: 2000 bytes exceed MaximumMessageSize 1024",
      "SendMessageBatchRequestEntry.2.MessageBody: 2000 bytes exceed MaximumMessageSize 1024",
    ],
    [
      "Value 99 for parameter Entries.0.DelaySeconds is invalid.",
      "Value 99 for parameter SendMessageBatchRequestEntry.1.DelaySeconds is invalid.",
    ],
    // A map key is the entry of the number it was sent under; a path into its value, `.Value`.
    [
      "Entries.0.MessageAttributes.size.v2: value too long",
      "SendMessageBatchRequestEntry.1.MessageAttribute.2: value too long",
    ],
    [
      "Entries.0.MessageAttributes.n.StringValue: bad",
      "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue: bad",
    ],
    // A key the input does not have keeps the JSON's member.
    [
      "Entries.0.MessageAttributes.gone: x",
      "SendMessageBatchRequestEntry.1.MessageAttributes.gone: x",
    ],
    ["Entries: 5 MiB exceed 4 MiB", "SendMessageBatchRequestEntry: 5 MiB exceed 4 MiB"],
    // Prose, other words and scalars stay as they are.
    ["Id a repeated.", "Id a repeated."],
    [
      "EntriesX.1 and xEntries.1 and cmqd.Entries.1",
      "EntriesX.1 and xEntries.1 and cmqd.Entries.1",
    ],
    [
      "The request must contain the parameter QueueUrl.",
      "The request must contain the parameter QueueUrl.",
    ],
  ];
  for (const [json, query] of cases) {
    assert.equal(inQueryTerms(json, batchShape, batchInput), query);
  }
});

Deno.test("queue attributes, tags and attribute name lists are named as the query names them", () => {
  const setShape = queryOperations.SetQueueAttributes.input;
  const setInput = {
    QueueUrl: "/0/q",
    Attributes: { MessageRetentionPeriod: "60", VisibilityTimeout: "0" },
  };
  assert.equal(
    inQueryTerms("Attributes.VisibilityTimeout: must be at least 1", setShape, setInput),
    "Attribute.2: must be at least 1",
  );
  assert.equal(
    inQueryTerms("The request must contain the parameter Attributes.", setShape, setInput),
    "The request must contain the parameter Attribute.",
  );
  const createShape = queryOperations.CreateQueue.input;
  const createInput = { QueueName: "q", tags: { team: "a", "bad key!": "b" } };
  assert.equal(
    inQueryTerms("tags.bad key!: key may contain only letters", createShape, createInput),
    "Tag.2: key may contain only letters",
  );
  // The word `tags` in a reason is prose, not the member.
  assert.equal(
    inQueryTerms("tags: must have at most 50 tags, got 51", createShape, createInput),
    "Tag: must have at most 50 tags, got 51",
  );
  const getShape = queryOperations.GetQueueAttributes.input;
  const getInput = { QueueUrl: "/0/q", AttributeNames: ["All", "Nope"] };
  assert.equal(
    inQueryTerms("AttributeNames.1: unknown", getShape, getInput),
    "AttributeName.2: unknown",
  );
});

Deno.test("TagQueue and UntagQueue errors, which the service words as `tags` and `tagKeys`, name Tag.N and TagKey.N", () => {
  const tagShape = queryOperations.TagQueue.input;
  const tagInput = { QueueUrl: "/0/q", Tags: { team: "a", "bad key!": "b" } };
  assert.equal(
    inQueryTerms("tags.bad key!: key may contain only letters", tagShape, tagInput),
    "Tag.2: key may contain only letters",
  );
  assert.equal(
    inQueryTerms("tags: must have at most 50 tags, got 51", tagShape, tagInput),
    "Tag: must have at most 50 tags, got 51",
  );
  const untagShape = queryOperations.UntagQueue.input;
  const untagInput = { QueueUrl: "/0/q", TagKeys: ["team", "x".repeat(200)] };
  assert.equal(
    inQueryTerms("tagKeys.1: must be a key of 1 to 128 characters", untagShape, untagInput),
    "TagKey.2: must be a key of 1 to 128 characters",
  );
  // Other operations have no such member: their text is left as it is.
  const batchText = "tags.team: x";
  assert.equal(inQueryTerms(batchText, batchShape, batchInput), batchText);
});

Deno.test("errors keep their code and status; batch results' Failed messages are rewritten", () => {
  const error = new SqsError("InvalidParameterValue", "Entries.1.MessageBody: bad", {
    status: 400,
  });
  const rewritten = queryTermsError(error, batchShape, batchInput);
  assert.equal(rewritten.code, "InvalidParameterValue");
  assert.equal(rewritten.status, 400);
  assert.equal(rewritten.message, "SendMessageBatchRequestEntry.2.MessageBody: bad");
  const unchanged = new SqsError("AccessDenied", "Access denied.");
  assert.equal(queryTermsError(unchanged, batchShape, batchInput), unchanged);
  const output = {
    Successful: [{ Id: "a" }],
    Failed: [{ Id: "b", SenderFault: true, Code: "X", Message: "Entries.1.MessageBody: bad" }],
  };
  assert.deepEqual(queryTermsOutput(output, batchShape, batchInput).Failed, [
    {
      Id: "b",
      SenderFault: true,
      Code: "X",
      Message: "SendMessageBatchRequestEntry.2.MessageBody: bad",
    },
  ]);
});

Deno.test("over HTTP, a query batch's failed entry names the query parameter, the JSON door the member", async () => {
  await using door = startDoor();
  const post = async (body: string) => {
    const response = await fetch(door.endpoint + "/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    return await response.text();
  };
  await post(
    "Action=CreateQueue&QueueName=jobs&Attribute.1.Name=MaximumMessageSize&Attribute.1.Value=1024",
  );
  const answer = await post(
    "Action=SendMessageBatch&QueueUrl=/0/jobs&SendMessageBatchRequestEntry.1.Id=a" +
      "&SendMessageBatchRequestEntry.1.MessageBody=ok&SendMessageBatchRequestEntry.2.Id=b" +
      `&SendMessageBatchRequestEntry.2.MessageBody=${"x".repeat(2000)}`,
  );
  assert.match(
    answer,
    /<Id>b<\/Id>.*<Message>SendMessageBatchRequestEntry\.2\.MessageBody: 2000 bytes exceed MaximumMessageSize 1024<\/Message>/,
  );
  const json = await fetch(door.endpoint + "/", {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "AmazonSQS.SendMessageBatch",
    },
    body: JSON.stringify({
      QueueUrl: "/0/jobs",
      Entries: [{ Id: "a", MessageBody: "ok" }, { Id: "b", MessageBody: "x".repeat(2000) }],
    }),
  });
  const { Failed } = await json.json();
  assert.equal(
    Failed[0].Message,
    "Entries.1.MessageBody: 2000 bytes exceed MaximumMessageSize 1024",
  );
});

Deno.test("over HTTP, a query TagQueue's bad tag names the Tag.N it was sent as", async () => {
  await using door = startDoor();
  const post = async (body: string) => {
    const response = await fetch(door.endpoint + "/", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    return { status: response.status, text: await response.text() };
  };
  assert.equal((await post("Action=CreateQueue&QueueName=jobs")).status, 200);
  const tagged = await post(
    "Action=TagQueue&QueueUrl=/0/jobs&Tag.1.Key=team&Tag.1.Value=a" +
      `&Tag.2.Key=${encodeURIComponent("bad*key")}&Tag.2.Value=b`,
  );
  assert.equal(tagged.status, 400);
  assert.match(tagged.text, /<Message>Tag\.2: key /);
  assert.doesNotMatch(tagged.text, /tags\./);
  const untagged = await post(
    `Action=UntagQueue&QueueUrl=/0/jobs&TagKey.1=team&TagKey.2=${"x".repeat(200)}`,
  );
  assert.equal(untagged.status, 400);
  assert.match(untagged.text, /<Message>TagKey\.2: /);
  // Nothing changed.
  const listed = await post("Action=ListQueueTags&QueueUrl=/0/jobs");
  assert.doesNotMatch(listed.text, /<Tag>/);
});
