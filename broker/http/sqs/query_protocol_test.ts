/**
 * Reading query-protocol requests (`query_protocol.ts`): the flattened lists and maps become the
 * JSON door's input, and every malformed request is refused with its precise error before any
 * operation runs; over HTTP, the refusals are XML `ErrorResponse`s that change nothing.
 */
import assert from "node:assert/strict";
import { SqsError } from "./errors.ts";
import {
  addFormParameters,
  formText,
  queryParametersMax,
  readQueryRequest,
} from "./query_protocol.ts";
import { startDoor } from "./_test_server.ts";

function paramsOf(text: string): Map<string, string> {
  const params = new Map<string, string>();
  addFormParameters(text, params);
  return params;
}

function read(text: string, path = "/") {
  return readQueryRequest(paramsOf(text), path);
}

function refused(run: () => unknown, code: string, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof SqsError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

Deno.test("flattened lists, maps and structures become the JSON input", () => {
  const { action, input } = read(
    "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fq" +
      "&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one+%2B+1" +
      "&SendMessageBatchRequestEntry.1.DelaySeconds=5" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=size" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=42" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=list" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.DataType=String" +
      "&SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.StringListValue.1=x" +
      "&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=%E2%9C%93",
  );
  assert.equal(action, "SendMessageBatch");
  assert.deepEqual(input, {
    QueueUrl: "http://h/000000000000/q",
    Entries: [
      {
        Id: "a",
        MessageBody: "one + 1",
        DelaySeconds: 5,
        MessageAttributes: {
          size: { DataType: "Number", StringValue: "42" },
          list: { DataType: "String", StringListValues: ["x"] },
        },
      },
      { Id: "b", MessageBody: "✓" },
    ],
  });
});

Deno.test("queue attributes, tags, names and empty lists", () => {
  assert.deepEqual(
    read(
      "Action=CreateQueue&QueueName=q&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=30" +
        "&Attribute.2.Name=Policy&Attribute.2.Value=&Tag.1.Key=team&Tag.1.Value=a",
    ).input,
    {
      QueueName: "q",
      Attributes: { VisibilityTimeout: "30", Policy: "" },
      tags: { team: "a" },
    },
  );
  // Items may come in any order; they are read by their numbers.
  assert.deepEqual(
    read("Action=GetQueueAttributes&QueueUrl=/1/q&AttributeName.2=QueueArn&AttributeName.1=All")
      .input.AttributeNames,
    ["All", "QueueArn"],
  );
  // aws-sdk v2 sends an empty list under the items' name, botocore under the member's.
  for (const empty of ["AttributeName=", "AttributeNames="]) {
    assert.deepEqual(read(`Action=ReceiveMessage&QueueUrl=/1/q&${empty}`).input, {
      QueueUrl: "/1/q",
      AttributeNames: [],
    });
  }
  // `__proto__` is an own member, as JSON.parse makes it (the operations then refuse it).
  const tags = read("Action=TagQueue&QueueUrl=/1/q&Tag.1.Key=__proto__&Tag.1.Value=x").input
    .Tags as Record<string, string>;
  assert.deepEqual(Object.keys(tags), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(tags), Object.prototype);
});

Deno.test("a queue URL's path stands for QueueUrl, and must agree with one given", () => {
  assert.equal(
    read("Action=PurgeQueue", "/000000000000/jobs").input.QueueUrl,
    "/000000000000/jobs",
  );
  assert.equal(
    read("Action=PurgeQueue&QueueUrl=http%3A%2F%2Fx%2F000000000000%2Fjobs", "/000000000000/jobs")
      .input.QueueUrl,
    "http://x/000000000000/jobs",
  );
  refused(
    () => read("Action=PurgeQueue&QueueUrl=%2F1%2Fother", "/000000000000/jobs"),
    "InvalidParameterValue",
    /another queue/,
  );
  // Operations without a QueueUrl ignore the path.
  assert.deepEqual(read("Action=ListQueues", "/000000000000/jobs").input, {});
});

Deno.test("form encoding: +, escapes, bare names; malformed text is refused", () => {
  assert.deepEqual(
    [...paramsOf("a=1+2&b=%2B%26%3D&c&d=&&e=%F0%9F%98%80")],
    [["a", "1 2"], ["b", "+&="], ["c", ""], ["d", ""], ["e", "😀"]],
  );
  refused(() => paramsOf("a=%ZZ"), "MalformedQueryString", /form encoding/);
  refused(() => paramsOf("a=%E2%9C"), "MalformedQueryString"); // cut UTF-8
  refused(() => paramsOf("a=%ED%A0%80"), "MalformedQueryString"); // a surrogate's bytes
  refused(() => paramsOf("=x"), "MalformedQueryString", /no name/);
  refused(() => paramsOf("a=1&a=2"), "InvalidQueryParameter", /a is given more than once/);
  refused(() => formText(new Uint8Array([0x41, 0xff])), "MalformedQueryString", /UTF-8/);
});

Deno.test("at most 1,000 parameters, body and query string together; reading stops there", () => {
  // A 7 MB form body of 1.4 million distinct names cost 4.4 s of the event loop and 414 MB
  // before the operation refused its first unknown parameter (any key, even one without a
  // permission, or anyone without credentials). The largest request an SDK sends is about 390
  // (SendMessageBatch: 10 entries of 10 message attributes).
  assert.equal(queryParametersMax, 1000);
  const names = (from: number, count: number) =>
    Array.from({ length: count }, (_, index) => `p${from + index}=`).join("&");
  assert.equal(paramsOf(names(0, 1000)).size, 1000);
  const tooMany = /more than 1000 parameters/;
  // What follows the 1,001st is not read (a malformed escape there is not what is refused).
  refused(() => paramsOf(`${names(0, 1001)}&x=%ZZ`), "InvalidQueryParameter", tooMany);
  const fromBody = paramsOf(names(0, 999));
  addFormParameters("q1=", fromBody);
  refused(() => addFormParameters("q2=", fromBody), "InvalidQueryParameter", tooMany);
});

Deno.test("actions, unknown parameters, numbering and values are refused precisely", () => {
  const cases: [string, string, RegExp][] = [
    ["Version=2012-11-05", "MissingAction", /Action/],
    ["Action=", "MissingAction", /Action/],
    ["Action=Fly", "InvalidAction", /Fly is not valid/],
    ["Action=sendmessage", "InvalidAction", /sendmessage/],
    ["Action=AddPermission&QueueUrl=/1/q", "UnsupportedOperation", /AddPermission/],
    ["Action=ListQueues&Bogus=1", "InvalidQueryParameter", /^Bogus is not a parameter/],
    ["Action=ListQueues&QueueNamePrefix.1=a", "InvalidQueryParameter", /QueueNamePrefix\.1/],
    ["Action=DeleteQueue&QueueUrl=/1/q&Attribute.1.Name=a", "InvalidQueryParameter", /Attribute/],
    ["Action=GetQueueAttributes&AttributeName=All", "InvalidQueryParameter", /AttributeName /],
    ["Action=GetQueueAttributes&AttributeName.0=All", "InvalidQueryParameter", /numbered 1, 2/],
    ["Action=GetQueueAttributes&AttributeName.01=All", "InvalidQueryParameter", /numbered/],
    ["Action=GetQueueAttributes&AttributeName.x=All", "InvalidQueryParameter", /numbered/],
    [
      "Action=GetQueueAttributes&AttributeName.1=All&AttributeName.3=QueueArn",
      "InvalidQueryParameter",
      /AttributeName\.2 is missing/,
    ],
    ["Action=CreateQueue&QueueName=q&Attribute..Name=a", "InvalidQueryParameter", /empty part/],
    [
      "Action=CreateQueue&QueueName=q&Attribute.1.Name=a&Attribute.1.Value=1&Attribute.1.Other=2",
      "InvalidQueryParameter",
      /Attribute\.1\.Other/,
    ],
    [
      "Action=CreateQueue&QueueName=q&Attribute.1.Value=1",
      "MissingParameter",
      /Attribute\.1\.Name/,
    ],
    [
      "Action=CreateQueue&QueueName=q&Attribute.1.Name=a",
      "MissingParameter",
      /Attribute\.1\.Value/,
    ],
    [
      "Action=CreateQueue&QueueName=q&Attribute.1.Name=a&Attribute.1.Value=1" +
      "&Attribute.2.Name=a&Attribute.2.Value=2",
      "InvalidParameterValue",
      /Attribute\.2\.Name.*Attribute\.1\.Name names it already/,
    ],
    ["Action=ReceiveMessage&MaxNumberOfMessages=ten", "InvalidParameterValue", /integer/],
    ["Action=ReceiveMessage&WaitTimeSeconds=1.5", "InvalidParameterValue", /WaitTimeSeconds/],
    [
      "Action=ChangeMessageVisibilityBatch&ChangeMessageVisibilityBatchRequestEntry.1.Id=a" +
      "&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=",
      "InvalidParameterValue",
      /ChangeMessageVisibilityBatchRequestEntry\.1\.VisibilityTimeout/,
    ],
  ];
  for (const [text, code, message] of cases) {
    refused(() => read(text), code, message);
  }
});

/** Posts a form body to the door (unsigned) and answers status, content type and body text. */
async function postForm(endpoint: string, body: string | Uint8Array<ArrayBuffer>, path = "/") {
  const response = await fetch(endpoint + path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    requestId: response.headers.get("x-amzn-requestid"),
    text: await response.text(),
  };
}

Deno.test("over HTTP, refusals are XML ErrorResponses with SQS's status and change nothing", async (t) => {
  await using door = startDoor();
  const created = await postForm(door.endpoint, "Action=CreateQueue&QueueName=jobs");
  assert.equal(created.status, 200, created.text);
  const lastIndex = door.replica.lastIndex;
  const cases: [string, string | Uint8Array<ArrayBuffer>, number, string, string][] = [
    ["no action", "QueueName=x", 400, "Sender", "MissingAction"],
    ["an unknown action", "Action=Fly", 400, "Sender", "InvalidAction"],
    ["a bad escape", "Action=CreateQueue&QueueName=%ZZ", 404, "Sender", "MalformedQueryString"],
    [
      "bytes that are not UTF-8",
      new Uint8Array([0x41, 0x3d, 0xff]),
      404,
      "Sender",
      "MalformedQueryString",
    ],
    [
      "a repeated parameter",
      "Action=CreateQueue&QueueName=a&QueueName=b",
      400,
      "Sender",
      "InvalidQueryParameter",
    ],
    [
      "an unknown parameter",
      "Action=CreateQueue&QueueName=a&Colour=red",
      400,
      "Sender",
      "InvalidQueryParameter",
    ],
    [
      "a gap in the entries",
      "Action=SendMessageBatch&QueueUrl=/0/jobs&SendMessageBatchRequestEntry.2.Id=a&SendMessageBatchRequestEntry.2.MessageBody=x",
      400,
      "Sender",
      "InvalidQueryParameter",
    ],
    [
      "a missing parameter",
      "Action=SendMessage&QueueUrl=/0/jobs",
      400,
      "Sender",
      "MissingParameter",
    ],
    [
      "a queue that does not exist",
      "Action=SendMessage&QueueUrl=/0/nope&MessageBody=x",
      400,
      "Sender",
      "AWS.SimpleQueueService.NonExistentQueue",
    ],
    [
      "an empty batch",
      "Action=DeleteMessageBatch&QueueUrl=/0/jobs",
      400,
      "Sender",
      "AWS.SimpleQueueService.EmptyBatchRequest",
    ],
    [
      "repeated batch ids",
      "Action=DeleteMessageBatch&QueueUrl=/0/jobs&DeleteMessageBatchRequestEntry.1.Id=a&DeleteMessageBatchRequestEntry.1.ReceiptHandle=h&DeleteMessageBatchRequestEntry.2.Id=a&DeleteMessageBatchRequestEntry.2.ReceiptHandle=h",
      400,
      "Sender",
      "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    ],
    [
      "a body SQS refuses",
      "Action=SendMessage&QueueUrl=/0/jobs&MessageBody=%01",
      400,
      "Sender",
      "InvalidMessageContents",
    ],
    [
      "an unsupported operation",
      "Action=RemovePermission&QueueUrl=/0/jobs&Label=x",
      400,
      "Sender",
      "AWS.SimpleQueueService.UnsupportedOperation",
    ],
  ];
  for (const [what, body, status, fault, code] of cases) {
    await t.step(what, async () => {
      const answer = await postForm(door.endpoint, body);
      assert.equal(answer.status, status, answer.text);
      assert.equal(answer.type, "text/xml");
      assert.ok(answer.requestId);
      const match = new RegExp(
        '^<\\?xml version="1.0" encoding="UTF-8"\\?><ErrorResponse ' +
          'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>(.*)</Type>' +
          "<Code>(.*)</Code><Message>(.+)</Message><Detail/></Error>" +
          "<RequestId>(.*)</RequestId></ErrorResponse>$",
      ).exec(answer.text);
      assert.ok(match !== null, answer.text);
      assert.deepEqual([match[1], match[2], match[4]], [fault, code, answer.requestId]);
    });
  }
  assert.equal(door.replica.lastIndex, lastIndex, "a refused request proposed something");
  assert.deepEqual(door.errors, []);
});

Deno.test("over HTTP: GET with the parameters in the query string, POST at a queue URL", async () => {
  await using door = startDoor();
  await postForm(door.endpoint, "Action=CreateQueue&QueueName=jobs");
  const sent = await postForm(
    door.endpoint,
    "Action=SendMessage&MessageBody=a%3Cb",
    "/000000000000/jobs",
  );
  assert.equal(sent.status, 200, sent.text);
  assert.match(
    sent.text,
    /<SendMessageResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><SendMessageResult><MessageId>[\da-f]{8}-[\da-f]{4}-8000-8000-[\da-f]{12}<\/MessageId><MD5OfMessageBody>[0-9a-f]{32}<\/MD5OfMessageBody><\/SendMessageResult><ResponseMetadata><RequestId>[\w-]+<\/RequestId><\/ResponseMetadata><\/SendMessageResponse>$/,
  );
  const received = await fetch(
    `${door.endpoint}/000000000000/jobs?Action=ReceiveMessage&Version=2012-11-05`,
  );
  const text = await received.text();
  assert.equal(received.status, 200, text);
  assert.match(text, /<Body>a&lt;b<\/Body>/);
  const listed = await fetch(`${door.endpoint}/?Action=ListQueues`);
  assert.match(
    await listed.text(),
    /<ListQueuesResult><QueueUrl>http:\/\/127\.0\.0\.1:\d+\/000000000000\/jobs<\/QueueUrl><\/ListQueuesResult>/,
  );
  // A parameter in both the query string and the body is given twice.
  const twice = await postForm(door.endpoint, "Action=ListQueues", "/?Action=ListQueues");
  assert.equal(twice.status, 400);
  assert.match(twice.text, /<Code>InvalidQueryParameter<\/Code>/);
  // A request about a queue sent to another queue's URL.
  const elsewhere = await postForm(
    door.endpoint,
    "Action=PurgeQueue&QueueUrl=/0/jobs",
    "/000000000000/other",
  );
  assert.match(elsewhere.text, /<Code>InvalidParameterValue<\/Code>/);
  assert.deepEqual(door.errors, []);
});

Deno.test("over HTTP with keys: an unsigned query request is refused in XML", async () => {
  await using door = startDoor({ keys: [{ secretId: "k", secretKey: "s", allow: ["*"] }] });
  const answer = await postForm(door.endpoint, "Action=ListQueues");
  assert.equal(answer.status, 403);
  assert.match(answer.text, /<Code>MissingAuthenticationToken<\/Code>/);
});
