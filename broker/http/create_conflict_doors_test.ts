/**
 * A create refused because the queue, topic or subscription exists with other settings writes
 * no log entry on any door: the refusal is decided on the state after the read barrier, so a
 * client retrying a conflicting create in a loop costs the cluster no replicated write. Each
 * answer is the one the door gave when the state machine refused the entry at apply (code,
 * message, status), checked here word for word.
 */
import assert from "node:assert/strict";
import { fuzzNode } from "./_door_fuzz.ts";

const base = "http://127.0.0.1:8080";

function json(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return new Request(base + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function sqsJson(operation: string, input: unknown) {
  return json("POST", "/", input, {
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": `AmazonSQS.${operation}`,
  });
}

function form(path: string, fields: Record<string, string>) {
  return new Request(base + path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

Deno.test("a create that conflicts with what exists is refused on every door without a write", async () => {
  await using node = fuzzNode();
  const setup = () => [
    json("PUT", "/v1/queues/jobs", { visibilityTimeoutSeconds: 45, tags: { team: "a" } }),
    json("PUT", "/v1/queues/other", {}),
    json("PUT", "/v1/topics/news", { maxMessageBytes: 1024 }),
    json("PUT", "/v1/topics/news/subscriptions/s", { endpoint: { queue: "jobs" } }),
  ];
  for (const request of setup()) assert.equal((await node.send(request)).status, 201);
  const v1Conflict = (code: string, message: string) => (status: number, text: string) => {
    assert.equal(status, 409);
    const { error } = JSON.parse(text);
    assert.deepEqual({ code: error.code, message: error.message }, { code, message });
  };
  const sqsExists = (what: string) => (status: number, text: string) => {
    assert.equal(status, 400);
    assert.deepEqual(JSON.parse(text), {
      __type: "com.amazonaws.sqs#QueueNameExists",
      message: `A queue already exists with the same name and a different value for ${what}.`,
    });
  };
  const cmqExists = (message: string) => (status: number, text: string) => {
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(text), {
      code: 4460,
      message,
      requestId: JSON.parse(text).requestId,
    });
  };
  const cases: [string, Request, (status: number, text: string) => void][] = [
    [
      "v1 PUT queue with other settings",
      json("PUT", "/v1/queues/jobs", { visibilityTimeoutSeconds: 46 }),
      v1Conflict("QueueAlreadyExists", "queue 'jobs' exists with different attributes"),
    ],
    [
      "v1 PUT queue with other tags",
      json("PUT", "/v1/queues/jobs", { visibilityTimeoutSeconds: 45, tags: { team: "b" } }),
      v1Conflict("QueueAlreadyExists", "queue 'jobs' exists with different attributes"),
    ],
    [
      "v1 PUT topic with other settings",
      json("PUT", "/v1/topics/news", { maxMessageBytes: 2048 }),
      v1Conflict("TopicAlreadyExists", "topic 'news' exists with different attributes"),
    ],
    [
      "v1 PUT subscription with other settings",
      json("PUT", "/v1/topics/news/subscriptions/s", { endpoint: { queue: "other" } }),
      v1Conflict("SubscriptionAlreadyExists", "subscription 's' exists with different attributes"),
    ],
    [
      "SQS CreateQueue with another attribute",
      sqsJson("CreateQueue", { QueueName: "jobs", Attributes: { VisibilityTimeout: "46" } }),
      sqsExists("attribute VisibilityTimeout"),
    ],
    [
      "SQS CreateQueue with other tags",
      sqsJson("CreateQueue", { QueueName: "jobs", tags: { team: "b" } }),
      sqsExists("an attribute or tag"),
    ],
    [
      "SQS query CreateQueue with other tags",
      form("/", {
        Action: "CreateQueue",
        QueueName: "jobs",
        "Tag.1.Key": "team",
        "Tag.1.Value": "b",
      }),
      (status, text) => {
        assert.equal(status, 400);
        const error = text.replace(/<RequestId>[^<]*<\/RequestId>/, "");
        assert.match(
          error,
          /<Error><Type>Sender<\/Type><Code>QueueAlreadyExists<\/Code><Message>A queue already exists with the same name and a different value for an attribute or tag\.<\/Message><Detail\/><\/Error>/,
        );
      },
    ],
    [
      "CMQ CreateQueue of an existing name",
      form("/v2/index.php", { Action: "CreateQueue", queueName: "jobs" }),
      cmqExists("queue 'jobs' already exists"),
    ],
    [
      "CMQ CreateTopic of an existing name",
      form("/v2/index.php", { Action: "CreateTopic", topicName: "news" }),
      cmqExists("topic 'news' already exists"),
    ],
    [
      "CMQ Subscribe of an existing name",
      form("/v2/index.php", {
        Action: "Subscribe",
        topicName: "news",
        subscriptionName: "s",
        protocol: "queue",
        endpoint: "other",
      }),
      cmqExists("subscription 's' already exists"),
    ],
  ];
  const written: Record<string, number> = {};
  for (const [what, request, check] of cases) {
    const before = node.replica.lastIndex;
    const answer = await node.send(request);
    check(answer.status, answer.text);
    written[what] = node.replica.lastIndex - before;
  }
  assert.deepEqual(written, Object.fromEntries(cases.map(([what]) => [what, 0])));
  // Identical creates answer as before (200, the existing one), none with an entry: a topic's and
  // a subscription's used to write one each.
  const before = node.replica.lastIndex;
  for (const request of setup()) {
    const again = await node.send(request);
    assert.equal(again.status, 200, again.text + node.logged.join("\n"));
  }
  assert.equal(node.replica.lastIndex - before, 0, "identical creates are not written");
  assert.deepEqual(node.logged, []);
});
