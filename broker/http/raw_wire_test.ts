/**
 * Requests no `fetch` can send, written to the socket of a served node: raw bytes in paths and
 * header values that are not UTF-8, escapes that decode to nothing, absolute and odd request
 * targets, oversized headers, repeated headers, bodies that end early. Each gets an HTTP answer
 * below 500 (from the node or from Deno's HTTP server), nothing is logged as internal, nothing
 * is written, and the node serves the next request.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzNode, runs } from "./_door_fuzz.ts";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/**
 * Sends `bytes` on a new connection and answers the status of the response (0: none within a
 * second; a body declared longer than sent waits for the node's stall timeout, which is longer).
 */
async function rawExchange(
  port: number,
  bytes: Uint8Array,
): Promise<{ status: number; head: string }> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await connection.write(bytes).catch(() => 0);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let total = 0; total < 256 * 1024;) {
      const read = await Promise.race([
        connection.read(buffer).catch(() => null),
        new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 1_000)),
      ]);
      if (read === null || read === "timeout") break;
      chunks.push(buffer.slice(0, read));
      total += read;
      const text = new TextDecoder("latin1").decode(concat(chunks));
      if (/\r\n\r\n/.test(text) && answerComplete(text)) break;
    }
    const text = new TextDecoder("latin1").decode(concat(chunks));
    // An interim `100 Continue` comes before the answer.
    const match = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "").match(
      /^HTTP\/1\.[01] (\d{3})/,
    );
    return { status: match === null ? 0 : Number(match[1]), head: text.slice(0, 600) };
  } finally {
    connection.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Whether the whole answer arrived (a content-length's worth, or a chunked body's end). */
function answerComplete(text: string): boolean {
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split).toLowerCase();
  const length = head.match(/content-length: (\d+)/);
  if (length !== null) return text.length - split - 4 >= Number(length[1]);
  return !head.includes("chunked") || text.endsWith("0\r\n\r\n");
}

const targets = [
  "/v1/queues/%zz",
  "/v1/queues/\xff\xfe",
  "/v1/queues/\xc3\xa9",
  "/v1/queues/a%00b/messages",
  "/v1/queues/%ED%A0%80",
  "//v1/queues",
  "/v1/queues/../queues/jobs",
  "/v1//queues/jobs",
  "/v2/index.php?Action=ListQueue&%",
  "/v2/index.php?Action=\xff",
  "/v2/index.php%3FAction=ListQueue",
  "/v2/index.php/",
  "/?Action=ListQueues&%zz",
  "/000000000000/jobs?Action=GetQueueUrl&QueueName=\xe9",
  "/000000000000/%zz?Action=SendMessage&MessageBody=x",
  "http://127.0.0.1/v1/queues",
  "http://other.example/v2/index.php?Action=ListQueue",
  "*",
  "/metrics?\xff",
  "/healthz?x=%zz",
  "/" + "a".repeat(20_000),
  "/v1/queues?prefix=" + "%41".repeat(5_000),
];

const headerSets: string[][] = [
  [],
  ["Content-Type: application/json"],
  ["Content-Type: application/x-amz-json-1.0", "X-Amz-Target: AmazonSQS.ListQueues"],
  ["Content-Type: application/x-www-form-urlencoded"],
  ["Authorization: \xff\xfe"],
  ["Authorization: CMQD1-HMAC-SHA256 Credential=\xe9, Timestamp=1, Nonce=\xff, Signature=x"],
  ["Authorization: AWS4-HMAC-SHA256 Credential=\xe9/1/2/sqs/aws4_request, SignedHeaders=host, Signature=0"],
  ["X-Amz-Target: AmazonSQS.\xff"],
  ["Content-Type: application/json", "Content-Type: text/plain"],
  ["Authorization: Bearer a:b", "Authorization: Bearer c:d"],
  ["Authorization: " + "x".repeat(100_000)],
  ["X-Request-Id: " + "r".repeat(10_000)],
  ["X-Request-Id: \xff"],
  ["Host: \xff"],
  ["Host: "],
  ["Expect: 100-continue"],
];

const bodies = [
  "",
  "{}",
  '{"messages":[{"body":"\xff"}]}',
  "Action=SendMessage&queueName=jobs&msgBody=\xff",
  "Action=ListQueues",
];

/** How the body is framed: as declared, declared longer than sent, chunked, chunked badly. */
const framings = ["length", "short", "chunked", "bad-chunk", "none"] as const;

function requestBytes(
  method: string,
  target: string,
  headers: string[],
  body: string,
  framing: typeof framings[number],
): Uint8Array {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1", ...headers];
  let payload = body;
  if (framing === "length") lines.push(`Content-Length: ${latin1(body).length}`);
  if (framing === "short") lines.push(`Content-Length: ${latin1(body).length + 10}`);
  if (framing === "chunked" || framing === "bad-chunk") {
    lines.push("Transfer-Encoding: chunked");
    payload = framing === "chunked"
      ? `${latin1(body).length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
      : `zz\r\n${body}\r\n`;
  }
  if (framing === "none") payload = "";
  lines.push("Connection: close");
  return latin1(lines.join("\r\n") + "\r\n\r\n" + payload);
}

Deno.test("raw requests get an answer below 500, write nothing, and the node serves on", async () => {
  await using node = fuzzNode();
  const created = await node.app.request("/v1/queues/jobs", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(created.status, 201);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    (request, info) => node.app.fetch(request, info),
  );
  try {
    const { port } = server.addr;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "HEAD"),
        fc.constantFrom(...targets),
        fc.constantFrom(...headerSets),
        fc.constantFrom(...bodies),
        fc.constantFrom(...framings),
        async (method, target, headers, body, framing) => {
          const before = node.replica.lastIndex;
          const bytes = requestBytes(method, target, headers, body, framing);
          const shown = `${method} ${target.slice(0, 80)} ${headers.map((h) => h.slice(0, 80))} ` +
            `${body} ${framing}`;
          const answer = await rawExchange(port, bytes);
          // No answer at all is the server closing a connection it could not parse.
          assert.ok(answer.status < 500, `${answer.head} for ${shown}`);
          assert.deepEqual(node.logged, [], shown);
          if (answer.status >= 400 || answer.status === 0) {
            assert.equal(node.replica.lastIndex, before, `a refusal wrote: ${shown}`);
          }
        },
      ),
      runs(0x5eed51, 150),
    );
    const after = await fetch(`http://127.0.0.1:${port}/v1/queues/jobs`);
    assert.equal(after.status, 200, await after.text());
  } finally {
    await server.shutdown();
  }
});
