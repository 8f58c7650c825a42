/**
 * JSON bodies that would cost the node far more to parse than their size (nested deeper than 64
 * levels, or holding more than 4096 arrays and objects: `service/json_bounds.ts`) are refused
 * before they are parsed, on the v1 door (its direct path and hono's) and the SQS JSON door, in
 * each door's 400 shape, and change nothing. Large valid bodies, and brackets inside strings
 * (escaped quotes and backslashes around them), are not refused.
 */
import assert from "node:assert/strict";
import { fuzzNode } from "./_door_fuzz.ts";

const base = "http://127.0.0.1:8080";
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
/** A string member long enough that the body is scanned (over 8192 characters). */
const padding = `"pad":"${"p".repeat(9000)}"`;

function v1(method: string, path: string, body: string) {
  return new Request(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body,
  });
}

function sqs(operation: string, body: string) {
  return new Request(base + "/", {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `AmazonSQS.${operation}`,
    },
    body,
  });
}

const tooDeep = "nested too deep: more than 64 levels of arrays and objects";
const tooComplex = "too complex: more than 4096 arrays and objects";
const tooManyMembers = "too complex: more than 16384 object members";
const keys = (count: number) =>
  `{${Array.from({ length: count }, (_, i) => `"k${i}":"v"`).join(",")}}`;

Deno.test("a body nested too deep or holding too many arrays is refused, unparsed, on each door", async () => {
  await using node = fuzzNode();
  assert.equal((await node.send(v1("PUT", "/v1/queues/jobs", "{}"))).status, 201);
  const created = await node.send(sqs("CreateQueue", JSON.stringify({ QueueName: "jobs" })));
  const { QueueUrl } = JSON.parse(created.text);
  const many = (count: number) => `[${Array(count).fill("{}").join(",")}]`;
  const cases: [string, Request, "v1" | "sqs", string][] = [
    [
      "v1 send (direct path), 65 levels",
      v1(
        "POST",
        "/v1/queues/jobs/messages",
        `{"messages":[{"body":"a"}],"x":${nested(65)},${padding}}`,
      ),
      "v1",
      tooDeep,
    ],
    [
      "v1 send, 2 MB of brackets",
      v1("POST", "/v1/queues/jobs/messages", nested(1_000_000)),
      "v1",
      tooDeep,
    ],
    [
      "v1 create (hono's path), 65 levels",
      v1("PUT", "/v1/queues/other", `{"x":${nested(65)},${padding}}`),
      "v1",
      tooDeep,
    ],
    [
      "v1 send, 4097 arrays and objects",
      v1("POST", "/v1/queues/jobs/messages", `{"messages":[{"body":"a"}],"x":${many(4096)}}`),
      "v1",
      tooComplex,
    ],
    [
      "SQS SendMessage, 65 levels",
      sqs(
        "SendMessage",
        `{"QueueUrl":${JSON.stringify(QueueUrl)},"MessageBody":"a","x":${nested(65)},${padding}}`,
      ),
      "sqs",
      tooDeep,
    ],
    ["SQS CreateQueue, 2 MB of brackets", sqs("CreateQueue", nested(1_000_000)), "sqs", tooDeep],
    [
      "v1 send, 300,000 attribute keys",
      v1(
        "POST",
        "/v1/queues/jobs/messages",
        `{"messages":[{"body":"a","attributes":${keys(300_000)}}]}`,
      ),
      "v1",
      tooManyMembers,
    ],
    [
      "SQS CreateQueue, 300,000 tags",
      sqs("CreateQueue", `{"QueueName":"other","tags":${keys(300_000)}}`),
      "sqs",
      tooManyMembers,
    ],
    [
      "SQS SendMessage, 4097 arrays and objects",
      sqs(
        "SendMessage",
        `{"QueueUrl":${JSON.stringify(QueueUrl)},"MessageBody":"a","x":${many(4096)}}`,
      ),
      "sqs",
      tooComplex,
    ],
  ];
  const before = node.replica.lastIndex;
  for (const [what, request, door, problem] of cases) {
    const answer = await node.send(request);
    assert.equal(answer.status, 400, what);
    const body = JSON.parse(answer.text);
    if (door === "v1") {
      assert.equal(body.error.code, "MalformedRequest", what);
      assert.equal(body.error.message, `request body is ${problem}`, what);
    } else {
      assert.deepEqual(body, {
        __type: "com.amazon.coral.service#SerializationException",
        message: `The request body is ${problem}.`,
      }, what);
    }
  }
  // JSON carried in a string (a RedrivePolicy) is bounded too: refused as JSON that is none.
  const policy = sqs(
    "SetQueueAttributes",
    JSON.stringify({ QueueUrl, Attributes: { RedrivePolicy: nested(100_000) } }),
  );
  const refused = await node.send(policy);
  assert.equal(refused.status, 400);
  assert.equal(
    JSON.parse(refused.text).message,
    "Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.",
  );
  assert.equal(node.replica.lastIndex, before, "a refused body wrote nothing");
  assert.equal((await node.broker.getQueue("jobs")).activeMessages, 0);
  assert.deepEqual(
    (await node.broker.listQueues({ offset: 0, limit: 10 })).queues.map((q) => q.name),
    ["jobs"],
  );
  assert.deepEqual(node.logged, []);
});

Deno.test("large valid bodies, and brackets inside strings, are taken on each door", async () => {
  await using node = fuzzNode();
  assert.equal((await node.send(v1("PUT", "/v1/queues/jobs", "{}"))).status, 201);
  const { QueueUrl } = JSON.parse(
    (await node.send(sqs("CreateQueue", JSON.stringify({ QueueName: "jobs" })))).text,
  );
  // Brackets in strings, behind escaped quotes and runs of backslashes: never counted.
  const tricky = [
    "[".repeat(20_000),
    `"\\"${"{".repeat(20_000)}`,
    `\\\\"${"[".repeat(5_000)}\\`,
  ];
  const bodies = [
    ...Array.from({ length: 256 }, (_, i) => `message ${i} ${"x".repeat(3_000)}`),
    ...tricky,
  ];
  const flat = JSON.stringify({
    messages: bodies.slice(0, 256).map((body) => ({ body, attributes: { a: "[{" } })),
  });
  assert.ok(flat.length > 700_000);
  const sent = await node.send(v1("POST", "/v1/queues/jobs/messages", flat));
  assert.equal(sent.status, 200, sent.text.slice(0, 300));
  const trickyBody = JSON.stringify({ messages: tricky.map((body) => ({ body })) });
  const trickySent = await node.send(v1("POST", "/v1/queues/jobs/messages", trickyBody));
  assert.equal(trickySent.status, 200, trickySent.text.slice(0, 300));
  for (const body of tricky) {
    const answer = await node.send(
      sqs("SendMessage", JSON.stringify({ QueueUrl, MessageBody: body, x: [[[["]]]]"]]]] })),
    );
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
  }
  const batch = JSON.stringify({
    QueueUrl,
    Entries: Array.from(
      { length: 10 },
      (_, i) => ({ Id: `${i}`, MessageBody: "y".repeat(20_000) }),
    ),
  });
  assert.equal((await node.send(sqs("SendMessageBatch", batch))).status, 200);
  const received: string[] = [];
  for (;;) {
    const got = await node.broker.receiveMessages("jobs", {
      maxMessages: 256,
      visibilityTimeoutSeconds: 60,
      waitSeconds: 0,
    });
    if (got.messages.length === 0) break;
    received.push(...got.messages.map((message) => message.body));
  }
  const expected = [...bodies, ...tricky, ...Array(10).fill("y".repeat(20_000))];
  assert.deepEqual(received.toSorted(), expected.toSorted());
  assert.deepEqual(node.logged, []);
});
