/**
 * The XML of the query protocol (`query_xml.ts`): escaping, the answer and error documents, and
 * through the real `aws-sdk` v2 client, every body character SQS allows arriving unchanged and
 * characters XML cannot carry (stored through another door) arriving as U+FFFD with digests the
 * client accepts.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { SqsError } from "./errors.ts";
import { hasRefusedBodyCharacter } from "./input.ts";
import { md5OfBody, md5OfMessageAttributes } from "./md5.ts";
import { elementText, escapeXml, queryAnswerXml, queryErrorXml } from "./query_xml.ts";
import { queryOperations } from "./query_shapes.ts";
import { queryClientOf } from "./_query_client.ts";
import { startDoor } from "./_test_server.ts";
import { codeUnitTexts } from "./_text_arbitraries.ts";

Deno.test("escapeXml escapes markup and CR, and replaces what XML 1.0 cannot carry", () => {
  assert.equal(escapeXml("plain ✓ 😀"), "plain ✓ 😀");
  assert.equal(escapeXml("a<b>&c]]>"), "a&lt;b&gt;&amp;c]]&gt;");
  assert.equal(escapeXml("\"'\t\n"), "\"'\t\n");
  assert.equal(escapeXml("x\r\ny\r"), "x&#13;\ny&#13;");
  assert.equal(escapeXml("\0\x01\x08\x0B\x0C\x0E\x1F\uFFFE\uFFFF"), "\uFFFD".repeat(9));
  assert.equal(escapeXml("a\uD800b\uDC00"), "a\uFFFDb\uFFFD");
  assert.equal(escapeXml("\uD83D\uDE00&"), "\uD83D\uDE00&amp;");
});

Deno.test("white space only is written in CDATA sections, CRs as references", () => {
  assert.equal(elementText(" "), "<![CDATA[ ]]>");
  assert.equal(elementText("\r\n\r"), "&#13;<![CDATA[\n]]>&#13;");
  assert.equal(elementText("\u00a0\t"), "<![CDATA[\u00a0\t]]>");
  assert.equal(elementText("\r"), "&#13;");
  assert.equal(elementText(" \v"), " \uFFFD");
  assert.equal(elementText(" x "), " x ");
  assert.equal(elementText(""), "");
});

Deno.test("answers and errors are SQS's documents", () => {
  assert.equal(
    queryAnswerXml(
      "GetQueueAttributes",
      { Attributes: { VisibilityTimeout: "30", Policy: '{"a":"<b>"}' } },
      queryOperations.GetQueueAttributes.output,
      "req-1",
    ),
    '<?xml version="1.0" encoding="UTF-8"?><GetQueueAttributesResponse ' +
      'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><GetQueueAttributesResult>' +
      "<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>" +
      '<Attribute><Name>Policy</Name><Value>{"a":"&lt;b&gt;"}</Value></Attribute>' +
      "</GetQueueAttributesResult><ResponseMetadata><RequestId>req-1</RequestId>" +
      "</ResponseMetadata></GetQueueAttributesResponse>",
  );
  assert.equal(
    queryAnswerXml("DeleteQueue", {}, queryOperations.DeleteQueue.output, "req-2"),
    '<?xml version="1.0" encoding="UTF-8"?><DeleteQueueResponse ' +
      'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ResponseMetadata>' +
      "<RequestId>req-2</RequestId></ResponseMetadata></DeleteQueueResponse>",
  );
  assert.match(
    queryAnswerXml(
      "DeleteMessageBatch",
      {
        Successful: [{ Id: "a" }],
        Failed: [{ Id: "b", SenderFault: true, Code: "ReceiptHandleIsInvalid", Message: "x" }],
      },
      queryOperations.DeleteMessageBatch.output,
      "r",
    ),
    /<DeleteMessageBatchResult><DeleteMessageBatchResultEntry><Id>a<\/Id><\/DeleteMessageBatchResultEntry><BatchResultErrorEntry><Id>b<\/Id><SenderFault>true<\/SenderFault><Code>ReceiptHandleIsInvalid<\/Code><Message>x<\/Message><\/BatchResultErrorEntry><\/DeleteMessageBatchResult>/,
  );
  const cases: [SqsError, string, string][] = [
    [
      new SqsError("QueueDoesNotExist", "The specified queue does not exist."),
      "Sender",
      "AWS.SimpleQueueService.NonExistentQueue",
    ],
    [new SqsError("QueueNameExists", "x"), "Sender", "QueueAlreadyExists"],
    [new SqsError("UnknownOperationException", "x"), "Sender", "InvalidAction"],
    [new SqsError("SerializationException", "x"), "Sender", "MalformedQueryString"],
    [new SqsError("InternalFailure", "x"), "Receiver", "InternalFailure"],
  ];
  for (const [error, fault, code] of cases) {
    assert.equal(
      queryErrorXml(error, "req-3"),
      '<?xml version="1.0" encoding="UTF-8"?><ErrorResponse ' +
        'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error>' +
        `<Type>${fault}</Type><Code>${code}</Code><Message>${escapeXml(error.message)}</Message>` +
        "<Detail/></Error><RequestId>req-3</RequestId></ErrorResponse>",
    );
  }
});

function clientOf(endpoint: string) {
  return queryClientOf(endpoint, { secretId: "a", secretKey: "b" });
}

Deno.test("every body SQS allows reaches aws-sdk v2 unchanged", async () => {
  await using door = startDoor();
  const sqs = clientOf(door.endpoint);
  const { QueueUrl } = await sqs.createQueue({ QueueName: "texts" }).promise();
  // Tab, LF, CR and the controls around them, ASCII markup, the surrogates' edges (pairs form
  // characters outside the BMP), the last BMP characters, multi-byte UTF-8.
  const texts = codeUnitTexts(
    40,
    [0x0, 0x20],
    [0x20, 0x7f],
    [0xd7f0, 0xe010],
    [0xfff0, 0xffff],
    [0x80, 0x800],
  ).filter((text) => !/^\r*$/.test(text) && !hasRefusedBodyCharacter(text));
  const bodies = [
    // White space only (xml2js drops it unless a CDATA section is there). A body of CRs
    // alone reaches aws-sdk v2 empty (README.md, "The query protocol"): not among these.
    " ",
    "\r\n",
    "\t\n\r ",
    "\u00a0\u3000\ufeff",
    ...fc.sample(texts, { numRuns: 60, seed: 20251204 }),
  ];
  for (let start = 0; start < bodies.length; start += 10) {
    await sqs.sendMessageBatch({
      QueueUrl: QueueUrl!,
      Entries: bodies.slice(start, start + 10).map((MessageBody, index) => ({
        Id: `m${start + index}`,
        MessageBody,
      })),
    }).promise();
  }
  const received: string[] = [];
  while (received.length < bodies.length) {
    const { Messages } = await sqs.receiveMessage({ QueueUrl: QueueUrl!, MaxNumberOfMessages: 10 })
      .promise();
    assert.ok(Messages !== undefined, "messages are missing");
    received.push(...Messages.map((message) => message.Body!));
  }
  assert.deepEqual(received, bodies);
  assert.ok(bodies.some((body) => body.includes("\r")), "the sample has a CR");
  assert.ok(bodies.some((body) => /[<>&]/.test(body)), "the sample has markup");
  assert.deepEqual(door.errors, []);
});

Deno.test("characters XML cannot carry, stored by another door, arrive as U+FFFD", async () => {
  await using door = startDoor();
  const sqs = clientOf(door.endpoint);
  const { QueueUrl } = await sqs.createQueue({ QueueName: "native" }).promise();
  // A native client may store these: the service refuses only lone surrogates.
  await door.broker.sendMessages("native", [{
    body: "a\u0001b\uFFFEc<",
    attributes: { note: "x\u0002y", plain: "ok" },
  }]);
  // The SDK checks MD5OfBody against the body it read: a digest of the stored text would fail.
  const { Messages } = await sqs.receiveMessage({
    QueueUrl: QueueUrl!,
    MessageAttributeNames: ["All"],
  }).promise();
  const [message] = Messages!;
  assert.equal(message.Body, "a\uFFFDb\uFFFDc<");
  assert.equal(message.MD5OfBody, md5OfBody("a\uFFFDb\uFFFDc<"));
  assert.equal(message.MessageAttributes!.note.StringValue, "x\uFFFDy");
  assert.equal(
    message.MD5OfMessageAttributes,
    md5OfMessageAttributes({
      note: { DataType: "String", StringValue: "x\uFFFDy" },
      plain: { DataType: "String", StringValue: "ok" },
    }),
  );
  assert.deepEqual(door.errors, []);
});
