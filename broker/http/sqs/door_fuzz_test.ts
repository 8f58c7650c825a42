/**
 * Generated bad input at the SQS door's JSON protocol (and the dispatch between it, the query
 * protocol and the native door), through a whole node's app over the real engine: each
 * operation's input spelled from its shape with a random subset of members, each an odd value
 * or one of the wrong type; targets in odd casing; wrong content types; bodies that are not
 * UTF-8. Each request gets an answer below 500 with nothing logged; a refusal is SQS's JSON
 * error (`__type`, `message`, `x-amzn-query-error`) and proposes nothing.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  contentTypes,
  fuzzNode,
  oddValues as oddJson,
  requestOf,
  type RequestParts,
  runs,
  showParts,
  withInvalidUtf8,
} from "../_door_fuzz.ts";
import { queryOperations, type Shape } from "./query_shapes.ts";

const jobsUrl = "http://127.0.0.1:8080/000000000000/jobs";

/** Odd strings, as JSON text. */
const oddStrings = [
  "",
  "jobs",
  "orders.fifo",
  jobsUrl,
  "http://127.0.0.1:8080/000000000000/orders.fifo",
  "/000000000000/jobs",
  "http://h/000000000000/%zz",
  "http://h/000000000000/%00",
  "http://h/000000000000/a%2Fb",
  "http://h/111111111111/jobs",
  "http://h/000000000000/jobs/extra",
  "http://h/000000000000/" + "q".repeat(81),
  "http://h/000000000000/__proto__",
  "arn:aws:sqs:us-east-1:000000000000:jobs",
  "arn:aws:sqs:::",
  "All",
  "String",
  "Number",
  "Binary",
  "String.x",
  "VisibilityTimeout",
  "RedrivePolicy",
  "FifoQueue",
  "ContentBasedDeduplication",
  "__proto__",
  "constructor",
  "AAAA",
  btoa(String.fromCharCode(...Array.from({ length: 60 }, (_, i) => (i * 97 + 13) & 255))),
  "1e400",
  "-0",
  "\u0000",
  "é",
  "\uD83D\uDE00",
  "x".repeat(300),
].map((text) => JSON.stringify(text));

/** A value for `shape`: mostly of its type with odd content, sometimes of another type. */
function valueOf(shape: Shape, depth: number): fc.Arbitrary<string> {
  const wrong = fc.constantFrom(...oddJson);
  if (shape === "string") {
    return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...oddStrings) }, {
      weight: 1,
      arbitrary: wrong,
    });
  }
  if (shape === "integer" || shape === "boolean") {
    return fc.oneof(wrong, fc.constantFrom("true", "false", '"true"', '"5"'));
  }
  if (depth > 3) return wrong;
  if (shape.kind === "list") {
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc.array(valueOf(shape.of, depth + 1), { maxLength: 12 }).map(
          (items) => `[${items.join(",")}]`,
        ),
      },
      { weight: 1, arbitrary: wrong },
    );
  }
  if (shape.kind === "map") {
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc.array(
          fc.tuple(fc.constantFrom(...oddStrings), valueOf(shape.of, depth + 1)),
          { maxLength: 12 },
        ).map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(",")}}`),
      },
      { weight: 1, arbitrary: wrong },
    );
  }
  const members = Object.entries(shape.members);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.subarray(members).chain((chosen) =>
        fc.tuple(...chosen.map(([name, of]) => valueOf(of, depth + 1).map((v) => [name, v])))
          .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`)
      ),
    },
    { weight: 1, arbitrary: wrong },
  );
}

/** The operations (but DeleteQueue: one that deleted `jobs` would leave little to try). */
const operationNames = Object.keys(queryOperations).filter((name) => name !== "DeleteQueue");

/** The target in odd spellings now and then. */
const targets = fc.tuple(
  fc.constantFrom(...operationNames),
  fc.constantFrom("exact", "exact", "exact", "lower", "upper", "prefix", "odd"),
).map(([name, how]) => {
  switch (how) {
    case "lower":
      return `AmazonSQS.${name.toLowerCase()}`;
    case "upper":
      return `AmazonSQS.${name.toUpperCase()}`;
    case "prefix":
      return `amazonsqs.${name}`;
    case "odd":
      return `AmazonSQS.${
        ["", "__proto__", "constructor", "toString", `${name} `][name.length % 5]
      }`;
    default:
      return `AmazonSQS.${name}`;
  }
});

/** An input of the operation; most name the queue `jobs` (or `orders.fifo`) as they should. */
const shapedBodies = fc.tuple(
  fc.constantFrom(...operationNames),
  fc.constantFrom(jobsUrl, jobsUrl, "http://127.0.0.1:8080/000000000000/orders.fifo", null),
).chain(([name, queueUrl]) =>
  valueOf(queryOperations[name].input, 0).map((body) => {
    const named = queueUrl !== null && body.startsWith("{") && !body.includes('"QueueUrl"');
    const spliced = `{"QueueUrl":${JSON.stringify(queueUrl)}${body === "{}" ? "" : ","}${
      body.slice(1)
    }`;
    return { name, body: named ? spliced : body };
  })
);

const requests: fc.Arbitrary<RequestParts> = fc.tuple(
  shapedBodies,
  targets,
  fc.constantFrom(...contentTypes, "application/x-amz-json-1.0", "application/x-amz-json-1.0"),
  fc.constantFrom(...Array(12).fill("exact"), "target", "target", "utf8", "path", "get"),
).chain(([{ name, body }, target, type, twist]) => {
  const base: RequestParts = {
    method: twist === "get" ? "GET" : "POST",
    path: twist === "path" ? "/000000000000/jobs" : "/",
    headers: [
      ["content-type", twist === "exact" ? "application/x-amz-json-1.0" : type],
      ["x-amz-target", twist === "target" ? target : `AmazonSQS.${name}`],
    ],
    body,
  };
  return twist === "utf8"
    ? withInvalidUtf8(fc.constant(body)).map((bytes) => ({ ...base, body: bytes }))
    : fc.constant(base);
});

async function seeded() {
  const node = fuzzNode();
  for (
    const [operation, input] of [
      ["CreateQueue", { QueueName: "jobs" }],
      ["CreateQueue", { QueueName: "orders.fifo", Attributes: { FifoQueue: "true" } }],
      ["SendMessage", { QueueUrl: jobsUrl, MessageBody: "a" }],
      ["SendMessage", { QueueUrl: jobsUrl, MessageBody: "b" }],
    ] as const
  ) {
    const answer = await node.send(requestOf({
      method: "POST",
      path: "/",
      headers: [["content-type", "application/x-amz-json-1.0"], [
        "x-amz-target",
        `AmazonSQS.${operation}`,
      ]],
      body: JSON.stringify(input),
    }));
    assert.equal(answer.status, 200, `${operation}: ${answer.text}`);
  }
  return node;
}

Deno.test("generated JSON requests at the SQS door get SQS errors or answers, never a 5xx", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(requests, async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed21, 400),
  );
});

/** Query-protocol requests: the action in odd casing, twice, or missing; at `/` or a queue URL. */
const queryRequests: fc.Arbitrary<RequestParts> = fc.tuple(
  fc.constantFrom(...operationNames),
  fc.constantFrom("exact", "lower", "upper", "twice", "missing", "empty", "spaced"),
  fc.constantFrom("/", "/000000000000/jobs", "/000000000000/orders.fifo", "/000000000000/nope"),
  fc.constantFrom(
    "",
    "QueueUrl=" + encodeURIComponent(jobsUrl),
    "QueueName=jobs",
    "MessageBody=x",
    "Version=2012-11-05",
    "Version=2008-01-01",
    "Action=",
    "MaxNumberOfMessages=11",
    "ReceiptHandle=AAAA",
    "Entries.1.Id=a",
    "SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x",
    "%zz=1",
  ),
  fc.boolean(),
).map(([name, how, path, extra, asGet]) => {
  const action = how === "lower"
    ? name.toLowerCase()
    : how === "upper"
    ? name.toUpperCase()
    : how === "spaced"
    ? ` ${name}`
    : how === "empty"
    ? ""
    : name;
  const pieces = how === "missing" ? [] : [`Action=${encodeURIComponent(action)}`];
  if (how === "twice") pieces.push("Action=ListQueues");
  if (extra !== "") pieces.push(extra);
  const form = pieces.join("&");
  return asGet ? { method: "GET", path: `${path}?${form}`, headers: [] } : {
    method: "POST",
    path,
    headers: [["content-type", "application/x-www-form-urlencoded"]] as [string, string][],
    body: form,
  };
});

Deno.test("query-protocol actions in odd casing, twice or missing get XML errors, never a 5xx", async () => {
  await using node = await seeded();
  await fc.assert(
    fc.asyncProperty(queryRequests, async (parts) => {
      await node.check(requestOf(parts), showParts(parts));
    }),
    runs(0x5eed22, 300),
  );
});
