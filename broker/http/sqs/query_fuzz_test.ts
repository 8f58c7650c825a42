/**
 * Bad input at the query protocol, generated: garbled form bodies and query strings, and
 * requests spelled from each operation's input shape with odd values, all signed so that they
 * reach the query reader. Each gets a well-formed XML answer, never a 5xx: an `ErrorResponse`
 * with a code of the door's table that changed nothing (no command proposed), or the
 * operation's answer. And messages sent through the JSON door with random bodies and attribute
 * values arrive through the query door in XML that parses to the same text.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { sqsErrorKinds } from "./errors.ts";
import { hasRefusedBodyCharacter } from "./input.ts";
import { queryOperations, type Shape, wireName } from "./query_shapes.ts";
import { adminKey, startDoor } from "./_test_server.ts";
import { signedForm } from "./_signed_form.ts";
import { xml2js } from "./_npm_query_test_deps.ts";
import { codeUnitTexts } from "./_text_arbitraries.ts";
import { ListMessageMoveTasksCommand, SendMessageCommand } from "./_npm_test_deps.ts";

const queryCodes = new Set<string>([
  ...Object.values(sqsErrorKinds).map((kind) => kind.queryCode),
  "InvalidAction",
  "MalformedQueryString",
]);

// deno-lint-ignore no-control-regex -- the characters XML 1.0 can't carry
const notXml = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/** Parses a query answer, which must be XML 1.0 (xml2js does not check the characters). */
async function parseAnswer(text: string): Promise<Record<string, unknown>> {
  assert.ok(text.isWellFormed() && !notXml.test(text), `not XML 1.0 text: ${text.slice(0, 300)}`);
  return await xml2js.parseStringPromise(text, { strict: true, explicitArray: false });
}

type Door = ReturnType<typeof startDoor>;

/** Sends a request and checks the answer is XML, its error precise, a refusal changing nothing. */
async function checkAnswer(door: Door, request: Parameters<typeof signedForm>[2]) {
  const before = door.replica.lastIndex;
  const { status, text } = await signedForm(door.endpoint, adminKey, request);
  const shown = `${status} ${text.slice(0, 400)} for ${JSON.stringify(request).slice(0, 400)}`;
  assert.ok(status < 500, shown);
  assert.deepEqual(door.errors, [], shown);
  const document = await parseAnswer(text);
  if (status === 200) {
    assert.ok(!("ErrorResponse" in document), shown);
    // A started task moves in the background: the next request's "changed nothing" check
    // starts once it has ended (only `dlq` is a dead-letter queue).
    if ("StartMessageMoveTaskResponse" in document) await untilTasksEnded(door, "dlq");
    return { status, code: undefined };
  }
  const error = (document.ErrorResponse as { Error: Record<string, string> } | undefined)?.Error;
  assert.ok(error !== undefined, shown);
  assert.ok(queryCodes.has(error.Code), shown);
  assert.ok(error.Message.length > 0, shown);
  // A malformed receipt handle too: the leader answers it without a log entry.
  assert.equal(door.replica.lastIndex, before, `a refusal proposed something: ${shown}`);
  return { status, code: error.Code };
}

/** Resolves once the newest message move task of `sqsName` has ended (polled, at most 20 s). */
async function untilTasksEnded(door: Door, sqsName: string): Promise<void> {
  const SourceArn = `arn:aws:sqs:us-east-1:000000000000:${sqsName}`;
  for (const deadline = Date.now() + 20_000;;) {
    const { Results } = await door.client.send(new ListMessageMoveTasksCommand({ SourceArn }));
    const status = Results?.[0]?.Status;
    if (status !== "RUNNING" && status !== "CANCELLING") return;
    assert.ok(Date.now() < deadline, `waited 20 s for the task: ${JSON.stringify(Results)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A door with keys, a queue `jobs` whose dead-letter queue is `dlq`, one message in each. */
async function fuzzDoor(): Promise<Door> {
  const door = startDoor({ keys: [adminKey], moveTasks: { batchMessages: 1 } });
  const redrive = JSON.stringify({
    deadLetterTargetArn: "arn:aws:sqs:us-east-1:000000000000:dlq",
    maxReceiveCount: 1,
  });
  for (
    const body of [
      "Action=CreateQueue&QueueName=dlq",
      `Action=CreateQueue&QueueName=jobs&Attribute.1.Name=RedrivePolicy&Attribute.1.Value=${
        encodeURIComponent(redrive)
      }`,
      "Action=SendMessage&QueueUrl=/0/dlq&MessageBody=x",
      "Action=SendMessage&QueueUrl=/0/jobs&MessageBody=y",
    ]
  ) {
    const answer = await signedForm(door.endpoint, adminKey, { body });
    assert.equal(answer.status, 200, answer.text);
  }
  return door;
}

/** Pieces of form text: names, separators, escapes good and bad, numbers huge and odd. */
const formPieces = fc.constantFrom(
  "Action=",
  "Action",
  "ListQueues",
  "SendMessage",
  "CreateQueue",
  "TagQueue",
  "StartMessageMoveTask",
  "&",
  "=",
  ".",
  "..",
  "%",
  "%zz",
  "%2",
  "%ED%A0%80",
  "%C3",
  "%F0%9F%98%80",
  "%00",
  "+",
  "1",
  "0",
  "01",
  "99999999999",
  "999999",
  "__proto__",
  "constructor",
  "toString",
  "Attribute",
  "Attribute.1.Name=",
  "Attribute.99999999999.Name=",
  "Attribute.1.Value=",
  "MessageAttribute.1.Name=a",
  "MessageAttribute.1.Value.StringValue=",
  "MessageAttribute.1.Value.DataType=",
  "Tag.1.Key=",
  "Tag.1.Value=",
  "QueueName=",
  "QueueUrl=",
  "%2F0%2Fjobs",
  "MessageBody=",
  "Version=2012-11-05",
  "é",
  "\u{1F600}",
);

const garbledForms = fc.array(formPieces, { maxLength: 30 }).map((pieces) => pieces.join(""));

Deno.test("garbled form bodies get an XML refusal or answer, and a refusal changes nothing", async () => {
  await using door = await fuzzDoor();
  await fc.assert(
    fc.asyncProperty(
      garbledForms,
      fc.constantFrom("/", "/000000000000/jobs"),
      (body, path) => checkAnswer(door, { body, path }).then(() => {}),
    ),
    { numRuns: 400, seed: 20260113 },
  );
});

/** Values that stress the operations once the parameters are read. */
const oddValues = [
  "",
  "1",
  "0",
  "-1",
  "+5",
  "99999999999999999999",
  "9007199254740993",
  "true",
  "__proto__",
  "constructor",
  "String",
  "Number",
  "Binary",
  "String.__proto__",
  "All",
  "jobs",
  "dlq",
  "/000000000000/jobs",
  "/000000000000/dlq",
  "/000000000000/%zz",
  "http://h/000000000000/jobs.fifo",
  "arn:aws:sqs:us-east-1:000000000000:dlq",
  "arn:aws:sqs:eu-west-9:111111111111:dlq",
  "arn:aws:sqs:::",
  "arn:aws:sqs:::dlq",
  "arn:aws:sns:r:a:dlq",
  "arn:aws:sqs:r:a:b:c",
  "arn:aws:sqs:r:a:" + "x".repeat(5000),
  "arn:aws:sqs:r:a:ü",
  btoa(JSON.stringify({ taskId: "x", sourceArn: "arn:aws:sqs:us-east-1:000000000000:dlq" })),
  btoa(JSON.stringify({ taskId: 1, sourceArn: "arn:aws:sqs:r:a:dlq" })),
  btoa("null"),
  btoa("A".repeat(3000)),
  "AAAA",
  "VisibilityTimeout",
  "RedrivePolicy",
  "RedriveAllowPolicy",
  '{"deadLetterTargetArn":"arn:aws:sqs:x:y:dlq","maxReceiveCount":"1e400"}',
  '{"redrivePermission":"byQueue","sourceQueueArns":["__proto__"]}',
  "FifoQueue",
  "MessageRetentionPeriod",
  "1e3",
  "\u{1F600}",
];

/** The parameters of `shape` under `prefix`: items and entries 1 and 2 of lists and maps. */
function parameterNames(shape: Shape, prefix: string, names: string[]): string[] {
  if (typeof shape === "string") {
    names.push(prefix);
  } else if (shape.kind === "struct") {
    for (const [member, memberShape] of Object.entries(shape.members)) {
      const name = wireName(member, memberShape);
      parameterNames(memberShape, prefix === "" ? name : `${prefix}.${name}`, names);
    }
  } else {
    for (const number of [1, 2]) {
      if (shape.kind === "list") {
        parameterNames(shape.of, `${prefix}.${number}`, names);
      } else {
        names.push(`${prefix}.${number}.${shape.key}`);
        parameterNames(shape.of, `${prefix}.${number}.${shape.value}`, names);
      }
    }
  }
  return names;
}

/** Requests of every operation with a random subset of its parameters, each an odd value. */
const shapedRequests = fc.constantFrom(...Object.keys(queryOperations)).chain((action) => {
  const names = parameterNames(queryOperations[action].input, "", []);
  return fc.subarray(names).chain((chosen) =>
    fc.tuple(...chosen.map((name) => fc.constantFrom(...oddValues).map((value) => [name, value])))
      .map((pairs) =>
        [
          `Action=${action}`,
          ...pairs.map(([name, value]) => `${name}=${encodeURIComponent(value)}`),
        ]
          .join("&")
      )
  );
});

Deno.test("every operation with odd values: XML answers, precise refusals that change nothing", async () => {
  await using door = await fuzzDoor();
  await fc.assert(
    fc.asyncProperty(
      shapedRequests,
      fc.constantFrom("/", "/000000000000/jobs", "/000000000000/dlq"),
      fc.boolean(),
      (form, path, asGet) =>
        checkAnswer(door, asGet ? { method: "GET", path, query: form } : { body: form, path })
          .then(() => {}),
    ),
    { numRuns: 500, seed: 20260114 },
  );
});

Deno.test("many parameters, an Action twice or in both places, huge item numbers", async () => {
  await using door = await fuzzDoor();
  const many = Array.from({ length: 10_000 }, (_, index) => `Tag.${index + 1}.Key=k${index}`);
  const arn = "arn:aws:sqs:us-east-1:000000000000";
  const cases: [Parameters<typeof signedForm>[2], string][] = [
    // A task that runs on in the background (`checkAnswer` waits for its end).
    [
      {
        body: `Action=StartMessageMoveTask&SourceArn=${arn}:dlq&DestinationArn=${arn}:jobs` +
          "&MaxNumberOfMessagesPerSecond=1",
      },
      "",
    ],
    [{ body: "Action=ListQueues&" + many.join("&") }, "InvalidQueryParameter"],
    // 51 tags: the service's bound (50) refuses it; 10,000 are over the parameter bound.
    [
      {
        body: "Action=TagQueue&QueueUrl=/0/jobs&" +
          many.slice(0, 51).map((part, index) => `${part}&Tag.${index + 1}.Value=v`).join("&"),
      },
      "InvalidParameterValue",
    ],
    [
      {
        body: "Action=TagQueue&QueueUrl=/0/jobs&" +
          many.map((part, index) => `${part}&Tag.${index + 1}.Value=v`).join("&"),
      },
      "InvalidQueryParameter",
    ],
    [{ body: "Action=ListQueues&Action=ListQueues" }, "InvalidQueryParameter"],
    [{ body: "Action=ListQueues", query: "Action=CreateQueue" }, "InvalidQueryParameter"],
    [{ method: "GET", query: "Action=ListQueues&Action=PurgeQueue" }, "InvalidQueryParameter"],
    [
      { body: "Action=CreateQueue&QueueName=a&Attribute.99999999999.Name=x" },
      "InvalidQueryParameter",
    ],
    [
      { body: "Action=CreateQueue&QueueName=a&Attribute.999999.Name=x&Attribute.999999.Value=1" },
      "InvalidQueryParameter",
    ],
    [
      { body: "Action=SendMessage&QueueUrl=/0/jobs&MessageBody=x&MessageAttribute.1.Name=a" },
      "MissingParameter",
    ],
    [
      {
        body: "Action=SendMessage&QueueUrl=/0/jobs&MessageBody=x&MessageAttribute.1.Name=a" +
          "&MessageAttribute.1.Value.StringValue=v",
      },
      "InvalidParameterValue", // as the JSON door: no DataType is not String, Number or Binary
    ],
    [
      {
        body: "Action=TagQueue&QueueUrl=/0/jobs&Tag.1.Key=constructor&Tag.1.Value=x" +
          "&Tag.2.Key=__proto__&Tag.2.Value=y",
      },
      "InvalidParameterValue", // __proto__ is refused as a key on every door
    ],
    [
      {
        body: "Action=TagQueue&QueueUrl=/0/jobs&Tag.1.Key=constructor&Tag.1.Value=x" +
          "&Tag.2.Key=toString&Tag.2.Value=y",
      },
      "",
    ],
    [{ body: "Action=__proto__" }, "InvalidAction"],
    [{ body: "Action=constructor" }, "InvalidAction"],
    [{ body: "__proto__=1&Action=ListQueues" }, "InvalidQueryParameter"],
    [{ body: "Action=ListQueues&%" }, "MalformedQueryString"],
    [{ body: "Action=ListQueues&a=%ED%A0%80" }, "MalformedQueryString"],
  ];
  for (const [request, code] of cases) {
    const answer = await checkAnswer(door, request);
    assert.equal(answer.code ?? "", code, JSON.stringify(request).slice(0, 200));
  }
});

Deno.test("bodies and attributes sent through the JSON door parse back from the query door's XML", async () => {
  await using door = startDoor({ keys: [adminKey] });
  const created = await signedForm(door.endpoint, adminKey, {
    body: "Action=CreateQueue&QueueName=texts",
  });
  assert.equal(created.status, 200, created.text);
  const QueueUrl = door.queueUrl("texts");
  // CR-only text reaches xml2js empty (README.md, "The query protocol"): left out.
  const allowed = codeUnitTexts(30, [0x9, 0x20], [0x20, 0x7f], [0xd7f0, 0xe010], [0xfff0, 0xffff])
    .filter((text) => !/^\r*$/.test(text) && !hasRefusedBodyCharacter(text));
  await fc.assert(
    fc.asyncProperty(allowed, allowed, async (body, value) => {
      await door.client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: body,
          MessageAttributes: { note: { DataType: "String", StringValue: value } },
        }),
      );
      const { text } = await signedForm(door.endpoint, adminKey, {
        method: "GET",
        path: "/000000000000/texts",
        query: "Action=ReceiveMessage&MessageAttributeName.1=All",
      });
      const document = await parseAnswer(text) as {
        ReceiveMessageResponse: { ReceiveMessageResult: { Message: Record<string, unknown> } };
      };
      const message = document.ReceiveMessageResponse.ReceiveMessageResult.Message as {
        Body: string;
        MessageAttribute: { Name: string; Value: { StringValue: string } };
      };
      assert.equal(message.Body, body);
      assert.equal(message.MessageAttribute.Value.StringValue, value);
      const receipt = String((message as Record<string, unknown>).ReceiptHandle);
      await signedForm(door.endpoint, adminKey, {
        body: `Action=DeleteMessage&QueueUrl=/0/texts&ReceiptHandle=${encodeURIComponent(receipt)}`,
      });
    }),
    { numRuns: 40, seed: 20260115 },
  );
  assert.deepEqual(door.errors, []);
});
