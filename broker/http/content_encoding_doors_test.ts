/**
 * A request body sent with a `Content-Encoding` other than `identity` (gzip, deflate, br, …) is
 * refused on every door, unread and in that door's shape, and changes nothing: the broker
 * decodes no content coding. Before, the header was ignored: a gzipped body was refused with
 * words about UTF-8 or JSON that did not say why, and a plain body labelled gzip was taken as if
 * the label were not there.
 */
import assert from "node:assert/strict";
import { fuzzNode } from "./_door_fuzz.ts";

const base = "http://127.0.0.1:8080";

async function gzipped(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function request(
  path: string,
  type: string,
  encoding: string,
  body: BodyInit,
  more: Record<string, string> = {},
): Request {
  return new Request(base + path, {
    method: /^\/v1\/queues\/[a-z]+$/.test(path) ? "PUT" : "POST",
    headers: { "content-type": type, "content-encoding": encoding, ...more },
    body,
  });
}

const v1Send = JSON.stringify({ messages: [{ body: "a" }] });
const sqsJson = "application/x-amz-json-1.0";
const form = "application/x-www-form-urlencoded";

Deno.test("a body with a content coding other than identity is refused on each door, nothing done", async () => {
  await using node = fuzzNode();
  const created = await node.send(
    request("/v1/queues/jobs", "application/json", "identity", "{}"),
  );
  assert.equal(created.status, 201, created.text);
  const { QueueUrl } = JSON.parse(
    (await node.send(
      request("/", sqsJson, "identity", JSON.stringify({ QueueName: "jobs" }), {
        "x-amz-target": "AmazonSQS.CreateQueue",
      }),
    )).text,
  );
  const sqsSend = JSON.stringify({ QueueUrl, MessageBody: "a" });
  const before = node.replica.lastIndex;
  const cases: [string, Request, "v1" | "sqs" | "cmq", string][] = [
    [
      "v1 send, gzipped",
      request("/v1/queues/jobs/messages", "application/json", "gzip", await gzipped(v1Send)),
      "v1",
      "gzip",
    ],
    [
      "v1 send, plain but labelled gzip",
      request("/v1/queues/jobs/messages", "application/json", "GZIP", v1Send),
      "v1",
      "GZIP",
    ],
    [
      "v1 create (hono's path), deflate",
      request("/v1/queues/other", "application/json", "deflate", "{}"),
      "v1",
      "deflate",
    ],
    [
      "v1 send, identity then gzip",
      request("/v1/queues/jobs/messages", "application/json", "identity, gzip", v1Send),
      "v1",
      "identity, gzip",
    ],
    [
      "SQS JSON SendMessage, br",
      request("/", sqsJson, "br", sqsSend, { "x-amz-target": "AmazonSQS.SendMessage" }),
      "sqs",
      "br",
    ],
    [
      "SQS query SendMessage, gzip",
      request(
        "/",
        form,
        "gzip",
        await gzipped(
          `Action=SendMessage&QueueUrl=${encodeURIComponent(QueueUrl)}&MessageBody=a`,
        ),
      ),
      "sqs",
      "gzip",
    ],
    [
      "CMQ SendMessage, gzip",
      request(
        "/v2/index.php",
        form,
        "gzip",
        await gzipped("Action=SendMessage&queueName=jobs&msgBody=a"),
      ),
      "cmq",
      "gzip",
    ],
  ];
  for (const [what, sent, door, coding] of cases) {
    const answer = await node.send(sent);
    const words = `content-encoding ${JSON.stringify(coding)} is not supported: ` +
      "send the body uncompressed";
    if (door === "v1") {
      assert.equal(answer.status, 415, `${what}: ${answer.text}`);
      const body = JSON.parse(answer.text);
      assert.equal(body.error.code, "UnsupportedMediaType", what);
      assert.equal(body.error.message, `request ${words}`, what);
    } else if (door === "sqs") {
      assert.equal(answer.status, 415, `${what}: ${answer.text}`);
      assert.match(answer.text, /UnsupportedMediaType|not supported: send the body uncompressed/);
      assert.ok(answer.text.includes(`not supported: send the body uncompressed`), what);
    } else {
      const body = JSON.parse(answer.text);
      assert.equal(body.code, 4000, `${what}: ${answer.text}`);
      assert.ok(body.message.includes(words), `${what}: ${answer.text}`);
    }
  }
  assert.equal(node.replica.lastIndex, before, "a refused body wrote nothing");
  assert.equal((await node.broker.getQueue("jobs")).activeMessages, 0);
  assert.deepEqual(node.logged, []);
});

Deno.test("identity, or no body at all, is taken as before", async () => {
  await using node = fuzzNode();
  assert.equal(
    (await node.send(request("/v1/queues/jobs", "application/json", "identity", "{}"))).status,
    201,
  );
  const sent = await node.send(
    request("/v1/queues/jobs/messages", "application/json", "Identity", v1Send),
  );
  assert.equal(sent.status, 200, sent.text);
  // An empty body has nothing to decode: a purge labelled gzip is done.
  const purged = await node.send(
    new Request(base + "/v1/queues/jobs/purge", {
      method: "POST",
      headers: { "content-encoding": "gzip", "content-length": "0" },
    }),
  );
  assert.ok(purged.status < 300, purged.text);
  assert.equal((await node.broker.getQueue("jobs")).activeMessages, 0);
  assert.deepEqual(node.logged, []);
});
